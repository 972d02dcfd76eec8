//! Every fuzz entry point over its seed corpus in `fuzz/corpus/<target>/`, plus mutations
//! of it, as ordinary tests.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;

use super::*;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("frame_decoder", frame_decoder),
    ("decode_reply", decode_reply),
    ("decode_request", decode_request),
    ("roundtrip", roundtrip),
    ("session_ops", session_ops),
];

/// Mutated inputs per target, spread over its corpus files.
const MUTATIONS_PER_TARGET: usize = 3000;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                fs::read(&p).expect("read corpus file"),
            )
        })
        .collect()
}

/// One random edit: bit flip, truncation, insertion, deletion, special byte, length
/// field tweak, or chunk duplication.
fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.next() % 3 {
        let len = v.len();
        let at = |rng: &mut XorShift, n: usize| (rng.next() % (n as u64 + 1)) as usize;
        match rng.next() % 7 {
            0 if len > 0 => {
                let i = at(rng, len - 1);
                v[i] ^= 1 << (rng.next() % 8);
            }
            1 => v.truncate(at(rng, len)),
            2 => {
                let i = at(rng, len);
                let b = rng.next() as u8;
                v.insert(i, b);
            }
            3 if len > 0 => {
                let i = at(rng, len - 1);
                let j = (i + 1 + at(rng, 8)).min(len);
                v.drain(i..j);
            }
            4 if len > 0 => {
                let i = at(rng, len - 1);
                v[i] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x02][at(rng, 5)];
            }
            5 if len >= 4 => {
                let i = at(rng, len - 4);
                let old = i32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
                let new = [
                    -1,
                    -2,
                    0,
                    1,
                    i32::MAX,
                    i32::MIN,
                    1_000_000_000,
                    old.wrapping_add(1),
                    old.wrapping_sub(1),
                ][at(rng, 8)];
                v[i..i + 4].copy_from_slice(&new.to_be_bytes());
            }
            6 if len > 0 => {
                let i = at(rng, len - 1);
                let j = (i + 1 + at(rng, 16)).min(len);
                let chunk = v[i..j].to_vec();
                let k = at(rng, v.len());
                v.splice(k..k, chunk);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

/// Every entry point over its corpus plus deterministic mutations: `cargo test` covers
/// the fuzz code without nightly.
#[test]
fn corpus_and_mutations_pass_every_entry_point() {
    for &(name, target) in TARGETS {
        let files = corpus(name);
        assert!(!files.is_empty(), "fuzz/corpus/{name} has no seeds");
        let per_file = (MUTATIONS_PER_TARGET / files.len()).max(10);
        let mut rng = XorShift::new(0x5eed_0000 + name.len() as u64);
        for (path, input) in &files {
            target(input);
            for _ in 0..per_file {
                let m = mutate(&mut rng, input);
                let r = std::panic::catch_unwind(|| target(&m));
                assert!(r.is_ok(), "{name}: mutation of {path} panicked: {m:02x?}");
            }
        }
    }
}

#[test]
fn entry_points_accept_empty_and_tiny_inputs() {
    for &(_, target) in TARGETS {
        target(&[]);
        for b in 0..=255u8 {
            target(&[b]);
            target(&[b, b, b, b, b]);
        }
    }
}

#[test]
fn roundtrip_covers_every_request_and_reply_kind() {
    // Drive the generator through every variant choice; each must round-trip.
    for v in 0..REQUEST_VARIANTS {
        let seed = [0, 1, 2, 3, 4, v, 3, b'/', b'a', 0xc3, 5, 6, 7, 8, 9, 10];
        roundtrip(&seed);
    }
    for (i, _) in REPLY_OPS.iter().enumerate() {
        for err in [1u8, 0] {
            let seed = [1, i as u8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9, err, 3, b'x'];
            roundtrip(&seed);
        }
    }
}

// ---- seed corpus ----

/// A fixed filler that makes the generator produce non-trivial values.
const PATTERN: &[u8] = &[
    3, 2, b'/', b'n', 1, 5, 4, 1, 2, 3, 4, 2, 0, 0, 0, 31, 2, b'i', b'p', 3, b'1', b'.', b'2', 0,
    0, 0, 7, 1, 2, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
    38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
    62, 63, 64, 65, 66, 67, 68, 69, 70,
];

fn seed_of(prefix: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(PATTERN);
    v
}

/// All synthetic seeds: (target, file name, contents).
fn synthetic_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut client_stream = BytesMut::new();
    let mut server_stream = BytesMut::new();

    // Requests: one per Request variant.
    let mut connect = ConnectRequest::new_session(30_000, true);
    encode_connect_request(&connect, &mut client_stream);
    seeds.push((
        "decode_request",
        "seed-connect-request".into(),
        client_stream[4..].to_vec(),
    ));
    connect.read_only = None;
    let mut out = BytesMut::new();
    encode_connect_request(&connect, &mut out);
    seeds.push((
        "decode_request",
        "seed-connect-request-45".into(),
        out[4..].to_vec(),
    ));
    for v in 0..REQUEST_VARIANTS {
        let recipe = seed_of(&[v]);
        let req = gen_request(&mut Gen::new(&recipe));
        let mut out = BytesMut::new();
        encode_request(i32::from(v) + 1, &req, &mut out, usize::MAX).expect("encodes");
        client_stream.extend_from_slice(&out);
        let name = format!("seed-{}", req.op_code().name());
        seeds.push(("decode_request", name.clone(), out[4..].to_vec()));
        seeds.push((
            "roundtrip",
            format!("{name}-request"),
            seed_of(&[0, 0, 0, 0, v + 1, v]),
        ));
    }

    // Replies: a success and an error reply per opcode.
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_0001,
        passwd: Bytes::from_static(&[0x5a; 16]),
        read_only: Some(false),
    };
    encode_connect_response(&resp, &mut server_stream);
    for (i, &op) in REPLY_OPS.iter().enumerate() {
        let recipe = seed_of(&[]);
        let body = gen_response(&mut Gen::new(&recipe), op);
        let header = ReplyHeader {
            xid: i as i32 + 1,
            zxid: 0x42,
            err: ErrorCode::Ok,
        };
        let mut out = BytesMut::new();
        encode_reply(&header, &body, &mut out);
        server_stream.extend_from_slice(&out);
        let mut input = vec![op.as_i32() as i8 as u8];
        input.extend_from_slice(&out[4..]);
        seeds.push(("decode_reply", format!("seed-{}", op.name()), input));
        let err = ReplyHeader {
            err: ErrorCode::NoNode,
            ..header
        };
        let mut out = BytesMut::new();
        encode_reply(&err, &Response::Empty, &mut out);
        let mut input = vec![op.as_i32() as i8 as u8];
        input.extend_from_slice(&out[4..]);
        seeds.push(("decode_reply", format!("seed-{}-error", op.name()), input));
        seeds.push((
            "roundtrip",
            format!("seed-{}-reply", op.name()),
            seed_of(&[1, i as u8]),
        ));
    }
    // A failed multi (PROTOCOL.md §8) and a notification.
    let failed = Response::Multi(vec![
        MultiResult::Error(ErrorCode::Ok),
        MultiResult::Error(ErrorCode::NodeExists),
        MultiResult::Error(ErrorCode::RuntimeInconsistency),
    ]);
    let mut out = BytesMut::new();
    encode_reply(
        &ReplyHeader {
            xid: 99,
            zxid: 7,
            err: ErrorCode::Ok,
        },
        &failed,
        &mut out,
    );
    server_stream.extend_from_slice(&out);
    let mut input = vec![OpCode::Multi.as_i32() as u8];
    input.extend_from_slice(&out[4..]);
    seeds.push(("decode_reply", "seed-multi-failed".into(), input));
    let event = WatcherEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: "/app/config".into(),
    };
    let mut out = BytesMut::new();
    encode_notification(-1, &event, &mut out);
    server_stream.extend_from_slice(&out);
    let mut input = vec![OpCode::Notification.as_i32() as u8];
    input.extend_from_slice(&out[4..]);
    seeds.push(("decode_reply", "seed-notification".into(), input));

    seeds.push((
        "frame_decoder",
        "seed-client-stream".into(),
        client_stream.to_vec(),
    ));
    seeds.push((
        "frame_decoder",
        "seed-server-stream".into(),
        server_stream.to_vec(),
    ));
    for kind in 2..6u8 {
        seeds.push(("roundtrip", format!("seed-kind-{kind}"), seed_of(&[kind])));
    }
    seeds
}

/// Writes the synthetic seeds into `fuzz/corpus/<target>/`. Run after a codec change:
/// `cargo test --lib fuzzing::tests::write_seed_corpus -- --ignored`.
#[test]
#[ignore = "writes files: run by hand to regenerate the seed corpus"]
fn write_seed_corpus() {
    for (target, name, bytes) in synthetic_seeds() {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        fs::write(dir.join(name), bytes).expect("write seed");
    }
}

/// The committed seeds are what the generator makes today (regenerate with
/// `write_seed_corpus` if this fails after an intended change).
#[test]
fn seed_corpus_is_up_to_date() {
    for (target, name, bytes) in synthetic_seeds() {
        let path = corpus_dir(target).join(&name);
        let on_disk = fs::read(&path).unwrap_or_default();
        assert_eq!(on_disk, bytes, "{} is stale or missing", path.display());
    }
}
