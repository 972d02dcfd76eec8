//! Counting the requests a client sent, from the bytes a `testing::Proxy` recorded.

use std::collections::BTreeMap;

use mio_zookeeper::testing::RecordedConnection;

/// The requests in `conns`' client→server bytes by opcode: every frame after each
/// connection's first (the connect), but pings (xid -2) and closeSession (opcode -11).
pub(crate) fn requests(conns: &[RecordedConnection]) -> BTreeMap<i32, usize> {
    let mut by_op = BTreeMap::new();
    for c in conns {
        let mut rest = &c.c2s[..];
        let mut first = true;
        while rest.len() >= 4 {
            let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]).max(0) as usize;
            let Some(frame) = rest.get(4..4 + len) else {
                break;
            };
            rest = &rest[4 + len..];
            if std::mem::take(&mut first) || frame.len() < 8 {
                continue;
            }
            let xid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let op = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            if xid != -2 && op != -11 {
                *by_op.entry(op).or_default() += 1;
            }
        }
    }
    by_op
}

/// `by_op` per op of `ops`: the total, and a note like `create 1.00, delete 1.00`.
pub(crate) fn per_op(by_op: &BTreeMap<i32, usize>, ops: usize) -> (f64, String) {
    let total: usize = by_op.values().sum();
    let note = by_op
        .iter()
        .map(|(&op, &n)| format!("{} {:.2}", name(op), n as f64 / ops as f64))
        .collect::<Vec<_>>()
        .join(", ");
    (total as f64 / ops as f64, note)
}

fn name(op: i32) -> String {
    match op {
        1 => "create".into(),
        2 => "delete".into(),
        3 => "exists".into(),
        4 => "getData".into(),
        5 => "setData".into(),
        8 => "getChildren".into(),
        12 => "getChildren2".into(),
        14 => "multi".into(),
        15 => "create2".into(),
        18 => "removeWatches".into(),
        19 => "createContainer".into(),
        22 => "multiRead".into(),
        101 => "setWatches".into(),
        105 => "setWatches2".into(),
        106 => "addWatch".into(),
        op => format!("op{op}"),
    }
}
