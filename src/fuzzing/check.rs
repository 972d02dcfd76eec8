//! The codec's invariants: what decodes re-encodes to the same length and decodes to the
//! same value (decode side), and structured values survive encode, decode, encode byte for
//! byte (encode side).

use bytes::{Bytes, BytesMut};

use crate::proto::{self, *};

/// Splits one frame off `out` (which must hold exactly one) and returns its body.
pub(super) fn single_frame(mut out: BytesMut) -> Bytes {
    let frame = FrameDecoder::new(usize::MAX)
        .decode(&mut out)
        .expect("the codec wrote a valid length prefix")
        .expect("the codec wrote a whole frame");
    assert!(out.is_empty(), "the codec wrote more than one frame");
    frame
}

/// If `frame` decodes as a request, it re-encodes to the same length and decodes back.
pub(super) fn check_request_frame(frame: &Bytes) {
    match proto::decode_request(frame) {
        Ok((header, req)) => {
            assert_eq!(header.op, req.op_code().as_i32());
            let mut out = BytesMut::new();
            encode_request(header.xid, &req, &mut out, usize::MAX)
                .expect("a decoded request re-encodes");
            let again = single_frame(out);
            assert_eq!(
                again.len(),
                frame.len(),
                "re-encoded request changed length"
            );
            assert_eq!(proto::decode_request(&again), Ok((header, req)));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Decodes `frame` as a reply to each of `ops` and as a notification; whatever decodes
/// re-encodes to the same length and decodes back.
pub(super) fn check_reply_frame(frame: &Bytes, ops: &[OpCode]) {
    let (header, body) = match decode_reply_header(frame) {
        Ok(v) => v,
        Err(e) => {
            let _ = e.to_string();
            assert!(frame.len() < ReplyHeader::LEN);
            return;
        }
    };
    assert_eq!(body.len() + ReplyHeader::LEN, frame.len());
    for &op in ops {
        match decode_response(op, &header, &body) {
            Ok(resp) => {
                let mut out = BytesMut::new();
                encode_reply(&header, &resp, &mut out);
                let again = single_frame(out);
                assert_eq!(
                    again.len(),
                    frame.len(),
                    "re-encoded {op} reply changed length"
                );
                let (h2, b2) = decode_reply_header(&again).expect("re-encoded header decodes");
                assert_eq!(h2, header);
                assert_eq!(decode_response(op, &h2, &b2), Ok(resp));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    match decode_notification(&body) {
        Ok(event) => {
            let mut out = BytesMut::new();
            encode_notification(header.zxid, &event, &mut out);
            let again = single_frame(out);
            assert_eq!(
                again.len(),
                frame.len(),
                "re-encoded notification changed length"
            );
            let (_, b2) = decode_reply_header(&again).expect("re-encoded header decodes");
            assert_eq!(decode_notification(&b2), Ok(event));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Decodes `frame` as the connect records; whatever decodes re-encodes and decodes back.
pub(super) fn check_connect_frames(frame: &Bytes) {
    if let Ok(req) = ConnectRequest::decode(frame) {
        let mut out = BytesMut::new();
        encode_connect_request(&req, &mut out);
        let again = single_frame(out);
        assert_eq!(again.len(), frame.len());
        assert_eq!(ConnectRequest::decode(&again), Ok(req));
    }
    let plain = ConnectResponse::decode(frame);
    if let Ok(resp) = &plain {
        let mut out = BytesMut::new();
        encode_connect_response(resp, &mut out);
        let again = single_frame(out);
        assert_eq!(again.len(), frame.len());
        assert_eq!(ConnectResponse::decode(&again).as_ref(), Ok(resp));
    }
    match decode_connect_reply(frame) {
        Ok(ConnectReply::Refused(err)) => {
            assert_eq!(frame.len(), ReplyHeader::LEN);
            assert!(!err.is_ok());
        }
        Ok(ConnectReply::Response(resp)) => assert_eq!(plain, Ok(resp)),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

// ---- encode-side round trips ----

pub(super) fn roundtrip_request(xid: i32, req: &Request) {
    let mut out = BytesMut::new();
    encode_request(xid, req, &mut out, usize::MAX).expect("a generated request encodes");
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let (header, back) = proto::decode_request(&frame)
        .unwrap_or_else(|e| panic!("encoded {} request does not decode: {e}", req.op_code()));
    assert_eq!(
        header,
        RequestHeader {
            xid,
            op: req.op_code().as_i32()
        }
    );
    assert_eq!(&back, req);
    let mut again = BytesMut::new();
    encode_request(xid, &back, &mut again, usize::MAX).expect("re-encodes");
    assert_eq!(again.freeze(), bytes);
}

pub(super) fn roundtrip_reply(op: OpCode, header: &ReplyHeader, resp: &Response) {
    let mut out = BytesMut::new();
    encode_reply(header, resp, &mut out);
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let (h, body) = decode_reply_header(&frame).expect("encoded reply header decodes");
    assert_eq!(&h, header);
    let back = decode_response(op, &h, &body)
        .unwrap_or_else(|e| panic!("encoded {op} reply {resp:?} does not decode: {e}"));
    assert_eq!(&back, resp);
    let mut again = BytesMut::new();
    encode_reply(&h, &back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

pub(super) fn roundtrip_connect_request(req: &ConnectRequest) {
    let mut out = BytesMut::new();
    encode_connect_request(req, &mut out);
    let bytes = out.clone().freeze();
    let back = ConnectRequest::decode(&single_frame(out)).expect("ConnectRequest decodes");
    assert_eq!(&back, req);
    let mut again = BytesMut::new();
    encode_connect_request(&back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

pub(super) fn roundtrip_connect_response(resp: &ConnectResponse) {
    let mut out = BytesMut::new();
    encode_connect_response(resp, &mut out);
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let back = ConnectResponse::decode(&frame).expect("ConnectResponse decodes");
    assert_eq!(&back, resp);
    assert_eq!(
        decode_connect_reply(&frame),
        Ok(ConnectReply::Response(resp.clone()))
    );
    let mut again = BytesMut::new();
    encode_connect_response(&back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

pub(super) fn roundtrip_notification(zxid: i64, event: &WatcherEvent) {
    let mut out = BytesMut::new();
    encode_notification(zxid, event, &mut out);
    let frame = single_frame(out);
    let (h, body) = decode_reply_header(&frame).expect("notification header decodes");
    assert_eq!(
        h,
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: ErrorCode::Ok
        }
    );
    assert_eq!(decode_notification(&body).as_ref(), Ok(event));
}

pub(super) fn roundtrip_refusal(header: &ReplyHeader) {
    let mut out = BytesMut::new();
    header.encode(&mut out);
    let frame = out.freeze();
    let got = decode_connect_reply(&frame);
    if header.err.is_ok() {
        assert!(
            got.is_err(),
            "a 16-byte Ok header is neither refusal nor response"
        );
    } else {
        assert_eq!(got, Ok(ConnectReply::Refused(header.err)));
    }
}
