//! Every record round-trips: encode -> decode -> equal, and re-encoding gives the same bytes.

mod proto_samples;

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::*;
use proto_samples::*;

#[test]
fn every_request_round_trips() {
    let mut seen = HashSet::new();
    for (i, req) in requests().into_iter().enumerate() {
        let xid = i as i32 + 1;
        let frame = request_frame(xid, &req);
        let (header, back) =
            decode_request(&frame).unwrap_or_else(|e| panic!("{req:?} does not decode: {e}"));
        assert_eq!(
            header,
            RequestHeader {
                xid,
                op: req.op_code().as_i32()
            }
        );
        assert_eq!(header.op_code(), Some(req.op_code()));
        assert_eq!(back, req);
        assert_eq!(
            request_frame(xid, &back),
            frame,
            "re-encoding changed bytes"
        );
        seen.insert(req.op_code());
    }
    for op in client_ops() {
        assert!(seen.contains(&op), "no request sample for {op}");
    }
}

#[test]
fn every_reply_round_trips() {
    let mut seen = HashSet::new();
    for (i, (op, resp)) in replies().into_iter().enumerate() {
        let header = ok_header(i as i32 + 1);
        let frame = reply_frame(&header, &resp);
        let (h, back) = decode_reply(op, &frame).unwrap_or_else(|e| panic!("{op} {resp:?}: {e}"));
        assert_eq!(h, header);
        assert_eq!(back, resp, "{op}");
        assert_eq!(reply_frame(&h, &back), frame, "re-encoding changed bytes");
        seen.insert(op);
    }
    for op in client_ops() {
        assert!(seen.contains(&op), "no reply sample for {op}");
    }
}

#[test]
fn error_replies_are_header_only_for_every_opcode() {
    for op in client_ops() {
        for err in [
            ErrorCode::NoNode,
            ErrorCode::NotReadOnly,
            ErrorCode::Unknown(-126),
        ] {
            let header = ReplyHeader {
                xid: 5,
                zxid: 77,
                err,
            };
            let frame = reply_frame(&header, &Response::Empty);
            assert_eq!(frame.len(), 16);
            assert_eq!(
                decode_reply(op, &frame),
                Ok((header, Response::Empty)),
                "{op}"
            );
        }
    }
}

#[test]
fn multi_with_every_write_op_and_multi_read_with_every_read_op() {
    let multi = Request::Multi(write_ops());
    let kinds: HashSet<_> = write_ops().iter().map(MultiOp::op_code).collect();
    assert_eq!(kinds.len(), 7);
    let (_, back) = decode_request(&request_frame(9, &multi)).unwrap();
    assert_eq!(back, multi);

    let read = Request::MultiRead(read_ops());
    let (_, back) = decode_request(&request_frame(10, &read)).unwrap();
    assert_eq!(back, read);
    assert!(read_ops().iter().all(MultiOp::is_read));

    // Every result kind in one multi response.
    let resp = Response::Multi(all_results());
    for op in [OpCode::Multi, OpCode::MultiRead] {
        let frame = reply_frame(&ok_header(3), &resp);
        assert_eq!(decode_reply(op, &frame).unwrap().1, resp);
    }
}

#[test]
fn failed_multi_keeps_every_sub_result() {
    let frame = reply_frame(&ok_header(4), &failed_multi());
    let (h, resp) = decode_reply(OpCode::Multi, &frame).unwrap();
    assert!(
        h.err.is_ok(),
        "a failed multi has header err 0 (PROTOCOL.md §8)"
    );
    let Response::Multi(results) = resp else {
        panic!("not a multi: {resp:?}")
    };
    let errs: Vec<_> = results.iter().map(MultiResult::err).collect();
    assert_eq!(
        errs,
        [
            ErrorCode::Ok,
            ErrorCode::NodeExists,
            ErrorCode::RuntimeInconsistency,
            ErrorCode::RuntimeInconsistency
        ]
    );
    // A multi reply with an error header and a body still decodes its results.
    let header = ReplyHeader {
        err: ErrorCode::MarshallingError,
        ..ok_header(5)
    };
    let frame = reply_frame(&header, &failed_multi());
    assert_eq!(
        decode_reply(OpCode::Multi, &frame).unwrap().1,
        failed_multi()
    );
}

#[test]
fn connect_records_round_trip_with_and_without_read_only_byte() {
    for read_only in [Some(true), Some(false), None] {
        let req = ConnectRequest {
            read_only,
            ..connect_request()
        };
        let mut out = BytesMut::new();
        encode_connect_request(&req, &mut out);
        let frame = one_frame(out);
        assert_eq!(frame.len(), if read_only.is_some() { 45 } else { 44 });
        assert_eq!(ConnectRequest::decode(&frame).unwrap(), req);

        let resp = ConnectResponse {
            read_only,
            ..connect_response()
        };
        let mut out = BytesMut::new();
        encode_connect_response(&resp, &mut out);
        let frame = one_frame(out);
        assert_eq!(frame.len(), if read_only.is_some() { 37 } else { 36 });
        assert_eq!(ConnectResponse::decode(&frame).unwrap(), resp);
        assert_eq!(
            decode_connect_reply(&frame).unwrap(),
            ConnectReply::Response(resp)
        );
    }
}

#[test]
fn expired_session_connect_response_decodes() {
    // PROTOCOL.md §10: timeout 0, session 0, zero password.
    let expired = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 0,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    encode_connect_response(&expired, &mut out);
    let got = decode_connect_reply(&one_frame(out)).unwrap();
    assert_eq!(got, ConnectReply::Response(expired));
}

#[test]
fn notifications_round_trip_for_every_event_type() {
    for zxid in [-1, 0x1_0000_0099] {
        for ev in events() {
            let mut out = BytesMut::new();
            encode_notification(zxid, &ev, &mut out);
            let frame = one_frame(out);
            let (h, body) = decode_reply_header(&frame).unwrap();
            assert_eq!(
                h,
                ReplyHeader {
                    xid: xid::NOTIFICATION,
                    zxid,
                    err: ErrorCode::Ok
                }
            );
            assert_eq!(decode_notification(&body).unwrap(), ev);
        }
    }
    for &state in KeeperState::ALL {
        let ev = WatcherEvent {
            event_type: EventType::None,
            state,
            path: String::new(),
        };
        let mut out = BytesMut::new();
        encode_notification(-1, &ev, &mut out);
        let (_, body) = decode_reply_header(&one_frame(out)).unwrap();
        assert_eq!(decode_notification(&body).unwrap(), ev);
    }
}

#[test]
fn data_payloads_are_slices_of_the_frame() {
    let resp = Response::GetData {
        data: Some(Bytes::from(vec![7u8; 1000])),
        stat: stat(1),
    };
    let frame = reply_frame(&ok_header(1), &resp);
    let (_, decoded) = decode_reply(OpCode::GetData, &frame).unwrap();
    let Response::GetData {
        data: Some(data), ..
    } = decoded
    else {
        panic!("{decoded:?}")
    };
    // header 16 + length 4: the payload starts 20 bytes into the frame.
    assert_eq!(data.as_ptr(), frame[20..].as_ptr());
    assert_eq!(data.len(), 1000);
}

#[test]
fn multiple_frames_in_one_buffer_decode_in_order() {
    let mut wire = BytesMut::new();
    encode_connect_response(&connect_response(), &mut wire);
    let replies = replies();
    for (i, (_, resp)) in replies.iter().enumerate() {
        encode_reply(&ok_header(i as i32), resp, &mut wire);
    }
    let dec = FrameDecoder::default();
    let first = dec.decode(&mut wire).unwrap().unwrap();
    assert_eq!(ConnectResponse::decode(&first).unwrap(), connect_response());
    for (i, (op, resp)) in replies.iter().enumerate() {
        let frame = dec.decode(&mut wire).unwrap().unwrap();
        let (h, back) = decode_reply(*op, &frame).unwrap();
        assert_eq!(h.xid, i as i32);
        assert_eq!(&back, resp);
    }
    assert_eq!(dec.decode(&mut wire).unwrap(), None);
    assert!(wire.is_empty());
}
