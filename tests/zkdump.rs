//! zkdump (src/bin/zkdump) over traffic captured from a real server, and over bad input.

#[allow(dead_code)]
#[path = "../src/bin/zkdump/dump.rs"]
mod dump;

use std::path::PathBuf;

use serde_json::Value;

fn captures() -> Vec<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("testdata/captures exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "c2s") {
            pairs.push((path.clone(), path.with_extension("s2c")));
        }
    }
    pairs.sort();
    assert!(!pairs.is_empty(), "no captures in {}", dir.display());
    pairs
}

fn run(c2s: Option<&[u8]>, s2c: Option<&[u8]>) -> (bool, Vec<Value>) {
    let mut out = String::new();
    let ok = dump::dump(c2s, s2c, 64 << 20, &mut out);
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (ok, lines)
}

#[test]
fn decodes_every_captured_frame_both_directions() {
    let mut ops_seen = std::collections::BTreeSet::new();
    for (c2s, s2c) in captures() {
        let a = std::fs::read(&c2s).unwrap();
        let b = std::fs::read(&s2c).unwrap();
        let (ok, lines) = run(Some(&a), Some(&b));
        for l in &lines {
            assert!(l.get("error").is_none(), "{}: {l}", c2s.display());
        }
        assert!(ok, "{}", c2s.display());
        // Client frames first, then server frames, each indexed from 0.
        let c: Vec<_> = lines.iter().filter(|l| l["dir"] == "c2s").collect();
        let s: Vec<_> = lines.iter().filter(|l| l["dir"] == "s2c").collect();
        assert_eq!(c.len() + s.len(), lines.len());
        assert_eq!(c[0]["op"], "connect");
        assert_eq!(c[0]["index"], 0);
        if let Some(first) = s.first() {
            assert_eq!(first["op"], "connect");
            assert!(first["body"]["sessionId"].is_i64());
        }
        for (i, l) in s.iter().enumerate() {
            assert_eq!(l["index"], i as i64);
            assert!(l["len"].as_i64().unwrap() >= 16 || i == 0);
        }
        for l in &lines {
            if let Some(op) = l["op"].as_str() {
                ops_seen.insert(format!("{}:{op}", l["dir"].as_str().unwrap()));
            }
        }
    }
    // The scripted capture covers every opcode in both directions, but for a standalone
    // check (3.8.0 closes the connection on it; check is covered inside multi) and sasl
    // (the throwaway server has no SASL set up).
    for op in [
        "create",
        "create2",
        "createContainer",
        "createTTL",
        "delete",
        "exists",
        "getData",
        "setData",
        "getACL",
        "setACL",
        "getChildren",
        "getChildren2",
        "sync",
        "multi",
        "multiRead",
        "reconfig",
        "checkWatches",
        "removeWatches",
        "addWatch",
        "setWatches",
        "setWatches2",
        "auth",
        "getEphemerals",
        "getAllChildrenNumber",
        "whoAmI",
        "ping",
        "closeSession",
    ] {
        assert!(
            ops_seen.contains(&format!("c2s:{op}")),
            "no c2s {op}: {ops_seen:?}"
        );
        assert!(
            ops_seen.contains(&format!("s2c:{op}")),
            "no s2c {op}: {ops_seen:?}"
        );
    }
    assert!(ops_seen.contains("s2c:notification"));
}

/// Every multi and multiRead result entry carries a `body`: what the op returned, `{}` for
/// the ops that return nothing (delete, check).
#[test]
fn every_multi_result_entry_has_a_body() {
    let mut empty_bodies = 0;
    for (c2s, s2c) in captures() {
        let (_, lines) = run(
            Some(&std::fs::read(&c2s).unwrap()),
            Some(&std::fs::read(&s2c).unwrap()),
        );
        let replies = lines
            .iter()
            .filter(|l| l["dir"] == "s2c" && (l["op"] == "multi" || l["op"] == "multiRead"));
        for reply in replies {
            for entry in reply["body"]["results"].as_array().expect("results") {
                let body = entry["body"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{}: no body in {entry}", c2s.display()));
                if entry["op"] == "delete" || entry["op"] == "check" {
                    assert!(body.is_empty(), "{}: {entry}", c2s.display());
                    empty_bodies += 1;
                }
            }
        }
    }
    assert!(
        empty_bodies > 0,
        "the captures hold no delete or check result"
    );
}

/// The first frame of a capture's client side: a connect request, for hand-made streams.
fn connect_frame() -> Vec<u8> {
    let (c2s, _) = captures().remove(0);
    let bytes = std::fs::read(c2s).unwrap();
    let len = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    bytes[..4 + len].to_vec()
}

/// A multiRead request frame (xid 1) of getData / getChildren ops on `/a` with the given
/// opcodes and watch bytes, as the wire has them.
fn multi_read_frame(ops: &[(i32, u8)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(1i32.to_be_bytes());
    body.extend(22i32.to_be_bytes());
    for &(op, watch) in ops {
        body.extend(op.to_be_bytes());
        body.push(0);
        body.extend((-1i32).to_be_bytes());
        body.extend(2i32.to_be_bytes());
        body.extend(b"/a");
        body.push(watch);
    }
    body.extend((-1i32).to_be_bytes());
    body.push(1);
    body.extend((-1i32).to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// multiRead ops show their `watch` flag as the bytes have it: false in the captures (every
/// client sends false), true when a frame says so.
#[test]
fn multi_read_ops_carry_their_watch_flag() {
    let mut seen = 0;
    for (c2s, _) in captures() {
        let (_, lines) = run(Some(&std::fs::read(&c2s).unwrap()), None);
        for l in lines.iter().filter(|l| l["op"] == "multiRead") {
            for op in l["body"]["ops"].as_array().expect("ops") {
                assert_eq!(op["body"]["watch"], false, "{}: {op}", c2s.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "the captures hold no multiRead");

    let mut stream = connect_frame();
    stream.extend(multi_read_frame(&[(4, 1), (8, 0), (8, 1)]));
    let (ok, lines) = run(Some(&stream), None);
    assert!(ok, "{lines:?}");
    let ops = &lines[1]["body"]["ops"];
    assert_eq!(ops[0]["op"], "getData");
    assert_eq!(ops[0]["body"]["path"], "/a");
    assert_eq!(ops[0]["body"]["watch"], true, "{ops}");
    assert_eq!(ops[1]["op"], "getChildren");
    assert_eq!(ops[1]["body"]["watch"], false, "{ops}");
    assert_eq!(ops[2]["body"]["watch"], true, "{ops}");
}

#[test]
fn fields_use_jute_names() {
    let (c2s, s2c) = captures()
        .into_iter()
        .find(|(c, _)| {
            c.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("raw-0")
        })
        .expect("raw-0 capture");
    let (_, lines) = run(
        Some(&std::fs::read(c2s).unwrap()),
        Some(&std::fs::read(s2c).unwrap()),
    );
    let find = |dir: &str, op: &str| {
        lines
            .iter()
            .find(|l| l["dir"] == dir && l["op"] == op)
            .unwrap_or_else(|| panic!("no {dir} {op}"))
            .clone()
    };
    let create = find("c2s", "create");
    assert_eq!(create["body"]["path"], "/cap");
    assert_eq!(create["body"]["data"]["len"], 7);
    assert_eq!(create["body"]["data"]["hex"], "63617074757265");
    assert_eq!(create["body"]["acl"][0]["perms"], 31);
    assert_eq!(create["body"]["acl"][0]["id"]["scheme"], "world");
    assert_eq!(create["body"]["acl"][0]["id"]["id"], "anyone");

    let get = find("s2c", "getData");
    let stat = &get["body"]["stat"];
    for f in [
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "version",
        "cversion",
        "aversion",
        "ephemeralOwner",
        "dataLength",
        "numChildren",
        "pzxid",
    ] {
        assert!(stat[f].is_i64(), "stat.{f} in {get}");
    }
    assert!(get["zxid"].is_i64() && get["err"] == 0 && get["xid"].is_i64());

    // A 1500-byte buffer shows its length and the hex of its first 64 bytes.
    let set = lines
        .iter()
        .find(|l| l["dir"] == "c2s" && l["op"] == "setData" && l["body"]["data"]["len"] == 1500)
        .expect("the large setData");
    assert_eq!(set["body"]["data"]["hex"].as_str().unwrap().len(), 128);

    let multi = find("c2s", "multi");
    assert_eq!(multi["body"]["ops"][0]["op"], "create");
    assert_eq!(multi["body"]["ops"][0]["body"]["path"], "/cap/m1");
    let multi_reply = find("s2c", "multi");
    assert_eq!(multi_reply["body"]["results"][0]["op"], "create");
    assert_eq!(multi_reply["body"]["results"][0]["err"], 0);

    let note = find("s2c", "notification");
    assert_eq!(note["xid"], -1);
    assert!(note["body"]["type"].is_i64() && note["body"]["state"] == 3);
    assert!(note["body"]["path"].as_str().unwrap().starts_with("/cap"));

    let nonode = lines
        .iter()
        .find(|l| l["dir"] == "s2c" && l["err"] == -101)
        .expect("a NoNode reply");
    assert!(
        nonode.get("body").is_none(),
        "error replies are header-only"
    );
}

#[test]
fn a_bad_frame_is_reported_and_decoding_goes_on() {
    let (c2s, s2c) = captures()[0].clone();
    let mut a = std::fs::read(c2s).unwrap();
    let b = std::fs::read(s2c).unwrap();
    // Append a frame with a valid header but a truncated body (a create with no path), then a
    // good ping frame.
    a.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 1, 0, 0]);
    a.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);
    let (ok, lines) = run(Some(&a), Some(&b));
    assert!(!ok);
    let c: Vec<_> = lines.iter().filter(|l| l["dir"] == "c2s").collect();
    let bad = c[c.len() - 2];
    let msg = bad["error"].as_str().expect("an error line");
    assert!(msg.contains("path"), "names the field: {msg}");
    assert!(bad["index"].is_i64());
    assert_eq!(c[c.len() - 1]["op"], "ping", "decoding continues");
    // The server direction is still decoded.
    assert!(lines.iter().any(|l| l["dir"] == "s2c"));
}

#[test]
fn a_broken_length_prefix_ends_the_direction() {
    let (c2s, _) = captures()[0].clone();
    let mut a = std::fs::read(c2s).unwrap();
    let good = run(Some(&a), None).1.len();
    a.extend_from_slice(&[0xff, 0xff, 0xff, 0xf0, 1, 2, 3]);
    a.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);
    let (ok, lines) = run(Some(&a), None);
    assert!(!ok);
    assert_eq!(lines.len(), good + 1);
    let last = lines.last().unwrap();
    assert_eq!(last["index"], good as i64);
    assert!(last["error"].as_str().unwrap().contains("length"), "{last}");

    // A stream that stops inside a frame is reported too.
    let (ok, lines) = run(Some(&[0, 0, 0, 45, 0, 0]), None);
    assert!(!ok);
    assert!(lines[0]["error"].as_str().unwrap().contains("left over"));
}

#[test]
fn no_input_makes_it_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (c2s, s2c) = captures()[0].clone();
    let a = std::fs::read(c2s).unwrap();
    let b = std::fs::read(s2c).unwrap();
    for _ in 0..300 {
        let mut a2 = a.clone();
        let mut b2 = b.clone();
        for buf in [&mut a2, &mut b2] {
            for _ in 0..4 {
                let i = (next() as usize) % buf.len();
                buf[i] ^= 1 << (next() % 8);
            }
            let cut = (next() as usize) % (buf.len() + 1);
            buf.truncate(cut.max(buf.len() / 2));
        }
        let mut out = String::new();
        let _ = dump::dump(Some(&a2), Some(&b2), 64 << 20, &mut out);
        for l in out.lines() {
            serde_json::from_str::<Value>(l).expect("every line is JSON");
        }
    }
}
