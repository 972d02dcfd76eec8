//! Malformed input gives a `DecodeError` naming the record and field, never a panic.

mod proto_samples;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::*;
use proto_samples::*;

fn bytes(v: Vec<u8>) -> Bytes {
    Bytes::from(v)
}

/// Concatenates big-endian pieces.
fn cat(parts: &[&[u8]]) -> Bytes {
    bytes(parts.concat())
}

fn be32(v: i32) -> [u8; 4] {
    v.to_be_bytes()
}

fn header(xid: i32, err: i32) -> Vec<u8> {
    [&be32(xid)[..], &7i64.to_be_bytes(), &be32(err)].concat()
}

#[test]
fn every_request_truncated_at_every_offset_is_an_error() {
    for (i, req) in requests().iter().enumerate() {
        let frame = request_frame(i as i32, req);
        for cut in 0..frame.len() {
            let got = decode_request(&frame.slice(..cut));
            assert!(got.is_err(), "{req:?} cut at {cut} decoded: {got:?}");
        }
    }
}

#[test]
fn every_reply_truncated_at_every_offset_is_an_error() {
    for (op, resp) in replies() {
        let frame = reply_frame(&ok_header(1), &resp);
        for cut in 0..frame.len() {
            let got = decode_reply(op, &frame.slice(..cut));
            assert!(got.is_err(), "{op} {resp:?} cut at {cut} decoded: {got:?}");
        }
    }
}

#[test]
fn connect_records_and_notifications_truncated_are_errors() {
    let mut out = BytesMut::new();
    encode_connect_request(&connect_request(), &mut out);
    let frame = one_frame(out);
    for cut in 0..frame.len() {
        let got = ConnectRequest::decode(&frame.slice(..cut));
        if cut == frame.len() - 1 {
            // Only the optional read-only byte may be missing.
            assert_eq!(got.unwrap().read_only, None);
        } else {
            assert!(got.is_err(), "cut at {cut}: {got:?}");
        }
    }
    let mut out = BytesMut::new();
    encode_connect_response(&connect_response(), &mut out);
    let frame = one_frame(out);
    for cut in 0..frame.len() {
        let got = ConnectResponse::decode(&frame.slice(..cut));
        if cut == frame.len() - 1 {
            assert_eq!(got.unwrap().read_only, None);
        } else {
            assert!(got.is_err(), "cut at {cut}: {got:?}");
            let _ = decode_connect_reply(&frame.slice(..cut)); // must not panic
        }
    }
    for ev in events() {
        let mut out = BytesMut::new();
        encode_notification(-1, &ev, &mut out);
        let (_, body) = decode_reply_header(&one_frame(out)).unwrap();
        for cut in 0..body.len() {
            assert!(decode_notification(&body.slice(..cut)).is_err());
        }
    }
}

#[test]
fn error_messages_name_record_and_field() {
    let frame = reply_frame(&ok_header(1), &Response::Stat(stat(1)));
    let err = decode_reply(OpCode::Exists, &frame.slice(..16 + 63)).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnexpectedEnd {
            record: "Stat",
            field: "pzxid",
            need: 8,
            left: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "Stat.pzxid: frame ends early (need 8 bytes, 3 left)"
    );
    let err = decode_reply_header(&frame.slice(..10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ReplyHeader.zxid: frame ends early (need 8 bytes, 6 left)"
    );
}

#[test]
fn bad_lengths_are_refused() {
    // getData request, path length -2.
    let f = cat(&[&be32(1), &be32(4), &be32(-2), &[0]]);
    assert_eq!(
        decode_request(&f),
        Err(DecodeError::InvalidLength {
            record: "GetDataRequest",
            field: "path",
            len: -2,
            left: 1
        })
    );
    // Path length beyond the bytes left.
    let f = cat(&[&be32(1), &be32(4), &be32(100), b"/ab", &[0]]);
    assert_eq!(
        decode_request(&f),
        Err(DecodeError::InvalidLength {
            record: "GetDataRequest",
            field: "path",
            len: 100,
            left: 4
        })
    );
    // getData reply, data length -2.
    let f = cat(&[&header(1, 0), &be32(-2), &[0; 68]]);
    assert!(matches!(
        decode_reply(OpCode::GetData, &f),
        Err(DecodeError::InvalidLength {
            record: "GetDataResponse",
            field: "data",
            len: -2,
            ..
        })
    ));
    // ConnectRequest password length i32::MIN.
    let f = cat(&[
        &be32(0),
        &0i64.to_be_bytes(),
        &be32(1),
        &0i64.to_be_bytes(),
        &be32(i32::MIN),
    ]);
    assert!(matches!(
        ConnectRequest::decode(&f),
        Err(DecodeError::InvalidLength {
            field: "passwd",
            ..
        })
    ));
}

#[test]
fn huge_counts_fail_fast_before_allocating() {
    // A 20-byte frame claiming 10^9 children (allocation is checked in proto_alloc.rs).
    let frame = cat(&[&header(1, 0), &be32(1_000_000_000)]);
    assert_eq!(frame.len(), 20);
    let start = Instant::now();
    for op in [
        OpCode::GetChildren,
        OpCode::GetChildren2,
        OpCode::GetEphemerals,
        OpCode::GetAcl,
        OpCode::WhoAmI,
    ] {
        let err = decode_reply(op, &frame).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::InvalidLength {
                    len: 1_000_000_000,
                    left: 0,
                    ..
                }
            ),
            "{op}: {err}"
        );
    }
    let req = cat(&[&be32(-8), &be32(101), &0i64.to_be_bytes(), &be32(i32::MAX)]);
    assert!(matches!(
        decode_request(&req),
        Err(DecodeError::InvalidLength {
            record: "SetWatches",
            field: "dataWatches",
            ..
        })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_count_that_fits_the_bytes_but_not_the_elements_is_an_error() {
    // 4 children claimed, room for 4 lengths, but the strings are 1 byte each.
    let frame = cat(&[
        &header(1, 0),
        &be32(4),
        &be32(1),
        b"a",
        &be32(1),
        b"b",
        &be32(1),
    ]);
    assert!(matches!(
        decode_reply(OpCode::GetChildren, &frame),
        Err(DecodeError::InvalidLength { .. }) | Err(DecodeError::UnexpectedEnd { .. })
    ));
}

#[test]
fn invalid_utf8_is_an_error() {
    let bad: &[u8] = &[0xc3, 0x28];
    let req = cat(&[&be32(1), &be32(3), &be32(2), bad, &[1]]);
    assert_eq!(
        decode_request(&req),
        Err(DecodeError::InvalidUtf8 {
            record: "ExistsRequest",
            field: "path"
        })
    );
    let reply = cat(&[&header(1, 0), &be32(1), &be32(2), bad]);
    assert_eq!(
        decode_reply(OpCode::GetChildren, &reply),
        Err(DecodeError::InvalidUtf8 {
            record: "GetChildrenResponse",
            field: "children"
        })
    );
    let acl = cat(&[
        &header(1, 0),
        &be32(1),
        &be32(31),
        &be32(2),
        bad,
        &be32(0),
        &[0; 68],
    ]);
    assert_eq!(
        decode_reply(OpCode::GetAcl, &acl),
        Err(DecodeError::InvalidUtf8 {
            record: "Id",
            field: "scheme"
        })
    );
}

#[test]
fn trailing_bytes_are_an_error() {
    let frame = reply_frame(&ok_header(1), &Response::Stat(stat(1)));
    let long = cat(&[&frame, &[0]]);
    assert_eq!(
        decode_reply(OpCode::Exists, &long),
        Err(DecodeError::TrailingBytes {
            record: "ExistsResponse",
            count: 1
        })
    );
    // A reply that should be empty but is not.
    let delete = cat(&[&header(1, 0), &[1, 2]]);
    assert_eq!(
        decode_reply(OpCode::Delete, &delete),
        Err(DecodeError::TrailingBytes {
            record: "ReplyHeader",
            count: 2
        })
    );
    // An error reply with a body.
    let err = cat(&[&header(1, -101), &[0; 68]]);
    assert_eq!(
        decode_reply(OpCode::Exists, &err),
        Err(DecodeError::TrailingBytes {
            record: "ReplyHeader",
            count: 68
        })
    );
    // A ping with a body; a ConnectRequest with a byte after the read-only byte.
    let ping = cat(&[&be32(-2), &be32(11), &[0]]);
    assert_eq!(
        decode_request(&ping),
        Err(DecodeError::TrailingBytes {
            record: "RequestHeader",
            count: 1
        })
    );
    let mut out = BytesMut::new();
    encode_connect_request(&connect_request(), &mut out);
    let conn = cat(&[&one_frame(out), &[1]]);
    assert_eq!(
        ConnectRequest::decode(&conn),
        Err(DecodeError::TrailingBytes {
            record: "ConnectRequest",
            count: 1
        })
    );
    // Bytes after a multi terminator.
    let multi = cat(&[&header(1, 0), &be32(-1), &[1], &be32(-1), &[9]]);
    assert_eq!(
        decode_reply(OpCode::Multi, &multi),
        Err(DecodeError::TrailingBytes {
            record: "MultiResponse",
            count: 1
        })
    );
}

#[test]
fn bool_bytes_other_than_0_and_1_are_errors() {
    let req = cat(&[&be32(1), &be32(3), &be32(2), b"/a", &[2]]);
    assert_eq!(
        decode_request(&req),
        Err(DecodeError::InvalidBool {
            record: "ExistsRequest",
            field: "watch",
            value: 2
        })
    );
    let mut out = BytesMut::new();
    encode_connect_request(&connect_request(), &mut out);
    let mut conn = one_frame(out).to_vec();
    *conn.last_mut().unwrap() = 0xff;
    assert_eq!(
        ConnectRequest::decode(&bytes(conn)),
        Err(DecodeError::InvalidBool {
            record: "ConnectRequest",
            field: "readOnly",
            value: 0xff
        })
    );
    let multi = cat(&[&header(1, 0), &be32(2), &[2], &be32(0)]);
    assert_eq!(
        decode_reply(OpCode::Multi, &multi),
        Err(DecodeError::InvalidBool {
            record: "MultiHeader",
            field: "done",
            value: 2
        })
    );
}

#[test]
fn unknown_event_types_and_states_decode_as_unknown() {
    // A newer server's event is kept (and delivered), not a decode error that would drop
    // the connection (and make a reconnect loop if the server keeps sending it).
    let ev = |t: i32, s: i32| cat(&[&be32(t), &be32(s), &be32(2), b"/a"]);
    let decoded = |t, s| decode_notification(&ev(t, s)).unwrap();
    assert_eq!(decoded(8, 3).event_type, EventType::Unknown(8));
    assert_eq!(decoded(0, 3).event_type, EventType::Unknown(0));
    assert_eq!(decoded(1, 2).state, KeeperState::Unknown(2));
    assert_eq!(decoded(1, -113).state, KeeperState::Unknown(-113));
    assert_eq!(decoded(1, -1).state, KeeperState::Unknown(-1));
    let e = decoded(i32::MIN, i32::MAX);
    assert_eq!(
        (e.event_type, e.state, e.path.as_str()),
        (
            EventType::Unknown(i32::MIN),
            KeeperState::Unknown(i32::MAX),
            "/a"
        )
    );
    // Re-encoded as received.
    let mut out = bytes::BytesMut::new();
    encode_notification(-1, &e, &mut out);
    assert_eq!(&out[20..], &ev(i32::MIN, i32::MAX)[..]);
    let known = decoded(1, 3);
    assert_eq!(
        (known.event_type, known.state),
        (EventType::NodeCreated, KeeperState::SyncConnected)
    );
}

#[test]
fn unknown_multi_types_are_errors() {
    // In a request: sync (9) is not a multi op; 99 is no op at all.
    for t in [9, 99, 0, 19 + 100] {
        let req = cat(&[
            &be32(1),
            &be32(14),
            &be32(t),
            &[0],
            &be32(-1),
            &be32(2),
            b"/a",
        ]);
        assert_eq!(
            decode_request(&req),
            Err(DecodeError::UnknownMultiType(t)),
            "{t}"
        );
    }
    // In a response: createContainer (19) results are reported as create2; 3 is exists.
    for t in [19, 21, 3, 77] {
        let resp = cat(&[&header(1, 0), &be32(t), &[0], &be32(0)]);
        assert_eq!(
            decode_reply(OpCode::Multi, &resp),
            Err(DecodeError::UnknownMultiType(t)),
            "{t}"
        );
    }
}

#[test]
fn unknown_and_unexpected_opcodes_are_errors() {
    for op in [10, 23, 108, 1000, -2] {
        let req = cat(&[&be32(1), &be32(op)]);
        assert_eq!(decode_request(&req), Err(DecodeError::UnknownOpCode(op)));
    }
    for op in [
        OpCode::Notification,
        OpCode::CreateSession,
        OpCode::DeleteContainer,
        OpCode::Error,
    ] {
        let req = cat(&[&be32(1), &be32(op.as_i32())]);
        assert!(matches!(
            decode_request(&req),
            Err(DecodeError::UnexpectedOpCode { .. })
        ));
        let h = ok_header(1);
        assert!(matches!(
            decode_response(op, &h, &Bytes::new()),
            Err(DecodeError::UnexpectedOpCode { .. })
        ));
    }
}

#[test]
fn unknown_error_codes_are_kept_not_fatal() {
    let (h, resp) = decode_reply(OpCode::GetData, &cat(&[&header(3, -200)])).unwrap();
    assert_eq!(h.err, ErrorCode::Unknown(-200));
    assert_eq!(resp, Response::Empty);
    assert_eq!(h.err.to_string(), "Unknown (-200)");

    let multi = cat(&[
        &header(1, 0),
        &be32(-1),
        &[0],
        &be32(-300),
        &be32(-300),
        &be32(-1),
        &[1],
        &be32(-1),
    ]);
    assert_eq!(
        decode_reply(OpCode::Multi, &multi).unwrap().1,
        Response::Multi(vec![MultiResult::Error(ErrorCode::Unknown(-300))])
    );
    let add = cat(&[&header(1, 0), &be32(-400)]);
    assert_eq!(
        decode_reply(OpCode::AddWatch, &add).unwrap().1,
        Response::AddWatch {
            err: ErrorCode::Unknown(-400)
        }
    );
}

#[test]
fn frame_decoder_refuses_bad_prefixes_from_the_prefix_alone() {
    let dec = FrameDecoder::new(1000);
    for (prefix, want) in [
        (be32(-1), FrameError::NegativeLength { len: -1 }),
        (be32(i32::MIN), FrameError::NegativeLength { len: i32::MIN }),
        (
            be32(1001),
            FrameError::TooLarge {
                len: 1001,
                limit: 1000,
            },
        ),
        (
            *b"ruok",
            FrameError::TooLarge {
                len: 0x7275_6f6b,
                limit: 1000,
            },
        ),
    ] {
        let mut buf = BytesMut::from(&prefix[..]);
        assert_eq!(dec.decode(&mut buf), Err(want));
        assert_eq!(check_prefix(prefix, 1000), Err(want));
    }
    let msg = FrameError::TooLarge {
        len: 1001,
        limit: 1000,
    }
    .to_string();
    assert!(msg.contains("1001") && msg.contains("1000"), "{msg}");
}

#[test]
fn frame_decoder_partial_frames_return_none_and_keep_the_bytes() {
    let dec = FrameDecoder::default();
    let mut full = BytesMut::new();
    encode_request(1, &requests()[0], &mut full, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    for cut in 0..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        assert_eq!(dec.decode(&mut buf), Ok(None), "cut {cut}");
        assert_eq!(&buf[..], &full[..cut], "partial bytes must stay");
    }
    let mut buf = full.clone();
    assert_eq!(
        dec.decode(&mut buf).unwrap().unwrap(),
        full.freeze().slice(4..)
    );
}

#[test]
fn frame_decoder_splits_many_frames_from_one_buffer() {
    let reqs = requests();
    let mut buf = BytesMut::new();
    for (i, r) in reqs.iter().enumerate() {
        encode_request(i as i32, r, &mut buf, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    }
    let dec = FrameDecoder::default();
    for (i, r) in reqs.iter().enumerate() {
        let frame = dec.decode(&mut buf).unwrap().expect("frame");
        let (h, back) = decode_request(&frame).unwrap();
        assert_eq!(h.xid, i as i32);
        assert_eq!(&back, r);
    }
    assert_eq!(dec.decode(&mut buf), Ok(None));
}

#[test]
fn a_request_above_max_frame_is_refused_with_size_and_limit() {
    let req = Request::SetData(SetDataRequest {
        path: "/big".into(),
        data: Some(Bytes::from(vec![0u8; 1_048_576])),
        version: -1,
    });
    let mut out = BytesMut::from(&b"earlier bytes"[..]);
    let err = encode_request(1, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap_err();
    // header 8 + path 4+4 + data 4+1048576 + version 4
    assert_eq!(
        err,
        EncodeError::FrameTooLarge {
            size: 1_048_600,
            limit: 1_048_575
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("1048600") && msg.contains("1048575"), "{msg}");
    assert!(
        msg.contains("jute.maxbuffer") && msg.contains("max_outgoing_frame"),
        "{msg}"
    );
    assert_eq!(&out[..], b"earlier bytes", "out must be unchanged on error");

    // Exactly at the limit is fine.
    let fits = Request::SetData(SetDataRequest {
        path: "/big".into(),
        data: Some(Bytes::from(vec![0u8; 1_048_576 - 25])),
        version: -1,
    });
    let mut out = BytesMut::new();
    encode_request(1, &fits, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    assert_eq!(out.len(), 4 + DEFAULT_MAX_OUTGOING_FRAME);
}
