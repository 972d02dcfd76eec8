//! Golden bytes, checked by hand against PROTOCOL.md's layouts.

mod proto_samples;

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::*;
use proto_samples::*;

/// Hex bytes separated by whitespace; a token in single quotes is ASCII text.
fn wire(spec: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for tok in spec.split_whitespace() {
        if let Some(text) = tok.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            out.extend_from_slice(text.as_bytes());
        } else {
            assert!(tok.len() % 2 == 0, "odd hex token {tok}");
            for i in (0..tok.len()).step_by(2) {
                out.push(u8::from_str_radix(&tok[i..i + 2], 16).expect("hex"));
            }
        }
    }
    out
}

fn body(spec: &str) -> Bytes {
    Bytes::from(wire(spec))
}

#[test]
fn connect_request_is_49_bytes_on_the_wire() {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x1_0000_0002,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_0001,
        passwd: Bytes::from_static(&[0x11; 16]),
        read_only: Some(true),
    };
    let expected = wire(
        "0000002d 00000000 0000000100000002 00007530 0100000000000001 00000010
         11111111111111111111111111111111 01",
    );
    let mut out = BytesMut::new();
    encode_connect_request(&req, &mut out);
    assert_eq!(out.len(), 49);
    assert_eq!(&out[..], &expected[..]);
    assert_eq!(
        ConnectRequest::decode(&body(&hex_tail(&expected))),
        Ok(req.clone())
    );

    // Without the read-only byte (as several Rust clients send it): 45 on the wire.
    let mut out = BytesMut::new();
    encode_connect_request(
        &ConnectRequest {
            read_only: None,
            ..req
        },
        &mut out,
    );
    assert_eq!(out.len(), 48);
    assert_eq!(&out[..4], &[0, 0, 0, 44]);
}

/// The frame body of a framed byte string, as hex again (drops the 4-byte prefix).
fn hex_tail(framed: &[u8]) -> String {
    framed[4..].iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn new_session_request_has_16_zero_bytes_of_password() {
    let mut out = BytesMut::new();
    encode_connect_request(&ConnectRequest::new_session(10_000, false), &mut out);
    let expected = wire(
        "0000002d 00000000 0000000000000000 00002710 0000000000000000 00000010
         00000000000000000000000000000000 00",
    );
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn connect_response_is_37_or_36_bytes() {
    let with =
        body("00000000 00004e20 0100000000000001 00000010 22222222222222222222222222222222 00");
    assert_eq!(with.len(), 37);
    let resp = ConnectResponse::decode(&with).unwrap();
    assert_eq!(
        resp,
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 20_000,
            session_id: 0x0100_0000_0000_0001,
            passwd: Bytes::from_static(&[0x22; 16]),
            read_only: Some(false),
        }
    );
    let without = with.slice(..36);
    let resp36 = ConnectResponse::decode(&without).unwrap();
    assert_eq!(resp36.read_only, None);
    assert_eq!(resp36.passwd, resp.passwd);

    let mut out = BytesMut::new();
    encode_connect_response(&resp, &mut out);
    assert_eq!(&out[4..], &with[..]);
    assert_eq!(&out[..4], &[0, 0, 0, 37]);
}

#[test]
fn reply_header_is_16_bytes() {
    let bytes = body("00000001 0000000000000010 ffffff9b");
    let h = ReplyHeader::decode(&bytes).unwrap();
    assert_eq!(
        h,
        ReplyHeader {
            xid: 1,
            zxid: 16,
            err: ErrorCode::NoNode
        }
    );
    let mut out = BytesMut::new();
    h.encode(&mut out);
    assert_eq!(out.freeze(), bytes);
}

#[test]
fn exists_reply_carries_a_68_byte_stat() {
    let frame = body(
        "00000007 0000000100000009 00000000
         0000000100000003 0000000100000004 0000018bcfe56800 0000018bcfe56801
         00000002 00000003 00000004 0100000000000001 00000005 00000006 0000000100000005",
    );
    assert_eq!(frame.len(), 16 + 68);
    let (h, resp) = decode_reply(OpCode::Exists, &frame).unwrap();
    assert_eq!(h.xid, 7);
    assert_eq!(
        resp,
        Response::Stat(Stat {
            czxid: 0x1_0000_0003,
            mzxid: 0x1_0000_0004,
            ctime: 0x18b_cfe5_6800,
            mtime: 0x18b_cfe5_6801,
            version: 2,
            cversion: 3,
            aversion: 4,
            ephemeral_owner: 0x0100_0000_0000_0001,
            data_length: 5,
            num_children: 6,
            pzxid: 0x1_0000_0005,
        })
    );
    assert_eq!(reply_frame(&h, &resp), frame);
}

#[test]
fn get_data_request() {
    let req = Request::GetData(PathWatch {
        path: "/a".into(),
        watch: true,
    });
    let mut out = BytesMut::new();
    encode_request(1, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    assert_eq!(
        &out[..],
        &wire("0000000f 00000001 00000004 00000002 '/a' 01")[..]
    );
}

#[test]
fn create_request_with_open_acl() {
    let req = Request::Create(CreateRequest {
        path: "/n".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: Acl::open_unsafe(),
        flags: CreateMode::Ephemeral.flags(),
    });
    let mut out = BytesMut::new();
    encode_request(2, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    let expected = wire(
        "00000032 00000002 00000001 00000002 '/n' 00000001 'x'
         00000001 0000001f 00000005 'world' 00000006 'anyone' 00000001",
    );
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn multi_request_headers_and_terminator() {
    let req = Request::Multi(vec![
        MultiOp::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        }),
    ]);
    let mut out = BytesMut::new();
    encode_request(3, &req, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    let expected = wire(
        "00000037 00000003 0000000e
         0000000d 00 ffffffff 00000002 '/a' 00000001
         00000002 00 ffffffff 00000002 '/a' ffffffff
         ffffffff 01 ffffffff",
    );
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn multi_read_get_data_carries_a_false_watch_flag() {
    let req = Request::MultiRead(vec![MultiOp::GetData("/a".into())]);
    let frame = request_frame(4, &req);
    assert_eq!(
        frame,
        body("00000004 00000016 00000004 00 ffffffff 00000002 '/a' 00 ffffffff 01 ffffffff")
    );
    // The watch flag is accepted either way (the server ignores it in a multiRead).
    let with_watch =
        body("00000004 00000016 00000004 00 ffffffff 00000002 '/a' 01 ffffffff 01 ffffffff");
    assert_eq!(decode_request(&with_watch).unwrap().1, req);
}

#[test]
fn failed_multi_reply() {
    let frame = body(
        "00000003 0000000000000005 00000000
         ffffffff 00 00000000 00000000
         ffffffff 00 ffffff9b ffffff9b
         ffffffff 01 ffffffff",
    );
    let expected = Response::Multi(vec![
        MultiResult::Error(ErrorCode::Ok),
        MultiResult::Error(ErrorCode::NoNode),
    ]);
    let (h, resp) = decode_reply(OpCode::Multi, &frame).unwrap();
    assert!(h.err.is_ok());
    assert_eq!(resp, expected);
    assert_eq!(reply_frame(&h, &resp), frame);
}

#[test]
fn multi_terminator_type_and_err_are_not_checked() {
    // As in the Java client: only `done` ends the list.
    let frame = body("00000003 0000000000000005 00000000 00000000 01 00000000");
    assert_eq!(
        decode_reply(OpCode::Multi, &frame).unwrap().1,
        Response::Multi(vec![])
    );
}

#[test]
fn notification_frame() {
    let mut out = BytesMut::new();
    encode_notification(
        -1,
        &WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/a".into(),
        },
        &mut out,
    );
    let expected =
        wire("0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 00000002 '/a'");
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn auth_and_ping_and_close_session() {
    let mut out = BytesMut::new();
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Some(Bytes::from_static(b"u:p")),
    });
    encode_request(xid::AUTH, &auth, &mut out, DEFAULT_MAX_OUTGOING_FRAME).unwrap();
    encode_request(
        xid::PING,
        &Request::Ping,
        &mut out,
        DEFAULT_MAX_OUTGOING_FRAME,
    )
    .unwrap();
    encode_request(
        7,
        &Request::CloseSession,
        &mut out,
        DEFAULT_MAX_OUTGOING_FRAME,
    )
    .unwrap();
    let expected = wire(
        "0000001d fffffffc 00000064 00000000 00000006 'digest' 00000003 'u:p'
         00000008 fffffffe 0000000b
         00000008 00000007 fffffff5",
    );
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn add_watch_reply_is_an_error_response_body() {
    let frame = body("00000009 0000000000000001 00000000 00000000");
    assert_eq!(
        decode_reply(OpCode::AddWatch, &frame).unwrap().1,
        Response::AddWatch { err: ErrorCode::Ok }
    );
}

#[test]
fn null_and_empty_strings_both_decode_as_empty_paths() {
    // PROTOCOL.md §10: Java writes "" as length 0, kazoo as -1 (null).
    for path in ["ffffffff", "00000000"] {
        let req = body(&format!("00000001 00000003 {path} 00"));
        assert_eq!(
            decode_request(&req).unwrap().1,
            Request::Exists(PathWatch {
                path: String::new(),
                watch: false
            })
        );
        let reply = body(&format!("00000001 0000000000000001 00000000 {path}"));
        assert_eq!(
            decode_reply(OpCode::Sync, &reply).unwrap().1,
            Response::Sync {
                path: String::new()
            }
        );
    }
    // A null children vector decodes as empty.
    let reply = body("00000001 0000000000000001 00000000 ffffffff");
    assert_eq!(
        decode_reply(OpCode::GetChildren, &reply).unwrap().1,
        Response::GetChildren { children: vec![] }
    );
    // Null data stays None, empty data stays Some("").
    let null = body(&format!(
        "00000001 0000000000000001 00000000 ffffffff {}",
        "00".repeat(68)
    ));
    let Response::GetData { data, .. } = decode_reply(OpCode::GetData, &null).unwrap().1 else {
        panic!()
    };
    assert_eq!(data, None);
    let empty = body(&format!(
        "00000001 0000000000000001 00000000 00000000 {}",
        "00".repeat(68)
    ));
    let Response::GetData { data, .. } = decode_reply(OpCode::GetData, &empty).unwrap().1 else {
        panic!()
    };
    assert_eq!(data, Some(Bytes::new()));
}

#[test]
fn read_only_server_refusal_is_a_bare_reply_header() {
    // PROTOCOL.md §10: err -119 instead of a ConnectResponse.
    let frame = body("00000000 0000000000000000 ffffff89");
    assert_eq!(
        decode_connect_reply(&frame),
        Ok(ConnectReply::Refused(ErrorCode::NotReadOnly))
    );
}
