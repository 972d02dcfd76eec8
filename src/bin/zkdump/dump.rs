//! zkdump's decoder: raw bytes of each direction in, one JSON line per frame out.
//!
//! Shared by path (`#[path = ".../src/bin/zkdump/dump.rs"] mod dump;`) with the tests
//! (`tests/zkdump.rs`) and `tools/wire.rs`, which print what they capture in the same
//! format; it depends on nothing of zkdump's `main.rs`, and brings its JSON writer with it
//! (a `#[path]` relative to this file, so that the include works from anywhere).

#[path = "json.rs"]
mod json;

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::{
    decode_connect_reply, decode_notification, decode_reply_header, decode_request,
    decode_response, xid, ConnectReply, ConnectRequest, FrameDecoder, MultiOp, MultiResult, OpCode,
    ReplyHeader, Request, Response,
};

use json::Obj;

/// Decodes both directions into `out`, one JSON line per frame. Returns whether every frame
/// decoded.
pub(crate) fn dump(
    c2s: Option<&[u8]>,
    s2c: Option<&[u8]>,
    max_frame: usize,
    out: &mut String,
) -> bool {
    let mut all_ok = true;
    // xid -> opcodes of the requests sent with it, oldest first (xids can repeat: -8, wraps).
    let mut ops: HashMap<i32, VecDeque<OpCode>> = HashMap::new();
    if let Some(bytes) = c2s {
        let (frames, tail) = split("c2s", bytes, max_frame);
        for (index, frame) in frames.iter().enumerate() {
            let line = if index == 0 {
                connect_request(frame)
            } else {
                request(frame, &mut ops)
            };
            emit(out, "c2s", index, frame.len(), line, &mut all_ok);
        }
        finish_direction(out, tail, &mut all_ok);
    }
    if let Some(bytes) = s2c {
        let (frames, tail) = split("s2c", bytes, max_frame);
        for (index, frame) in frames.iter().enumerate() {
            let line = if index == 0 {
                connect_reply(frame)
            } else {
                reply(frame, &mut ops)
            };
            emit(out, "s2c", index, frame.len(), line, &mut all_ok);
        }
        finish_direction(out, tail, &mut all_ok);
    }
    all_ok
}

/// Splits a stream into frames. A broken length prefix, or bytes left over that are not a
/// whole frame, end the direction with an error line (returned as the second value).
fn split(dir: &str, bytes: &[u8], max_frame: usize) -> (Vec<Bytes>, Option<String>) {
    let decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    let error = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) if buf.is_empty() => break None,
            Ok(None) => {
                break Some(format!(
                    "stream ends inside a frame: {} bytes left over, not a whole frame",
                    buf.len()
                ))
            }
            Err(e) => break Some(format!("broken length prefix: {e}")),
        }
    };
    let tail = error.map(|e| {
        let mut o = Obj::new();
        o.str("dir", dir)
            .num("index", frames.len() as i64)
            .str("error", &e);
        o.finish()
    });
    (frames, tail)
}

fn finish_direction(out: &mut String, tail: Option<String>, all_ok: &mut bool) {
    if let Some(line) = tail {
        *all_ok = false;
        out.push_str(&line);
        out.push('\n');
    }
}

/// One decoded frame: its fields after dir/index/len, or an error message.
type Line = Result<Obj, String>;

fn emit(out: &mut String, dir: &str, index: usize, len: usize, line: Line, all_ok: &mut bool) {
    let mut o = Obj::new();
    o.str("dir", dir).num("index", index as i64);
    match line {
        Ok(fields) => {
            o.num("len", len as i64);
            o.merge(fields);
        }
        Err(e) => {
            *all_ok = false;
            o.str("error", &e);
        }
    }
    out.push_str(&o.finish());
    out.push('\n');
}

fn connect_request(frame: &Bytes) -> Line {
    let r = ConnectRequest::decode(frame).map_err(|e| e.to_string())?;
    let mut body = Obj::new();
    body.num("protocolVersion", r.protocol_version.into())
        .num("lastZxidSeen", r.last_zxid_seen)
        .num("timeOut", r.timeout_ms.into())
        .num("sessionId", r.session_id)
        .buffer("passwd", Some(&r.passwd));
    if let Some(ro) = r.read_only {
        body.bool("readOnly", ro);
    }
    let mut o = Obj::new();
    o.str("op", "connect").obj("body", body);
    Ok(o)
}

fn connect_reply(frame: &Bytes) -> Line {
    let mut o = Obj::new();
    o.str("op", "connect");
    match decode_connect_reply(frame).map_err(|e| e.to_string())? {
        ConnectReply::Response(r) => {
            let mut body = Obj::new();
            body.num("protocolVersion", r.protocol_version.into())
                .num("timeOut", r.timeout_ms.into())
                .num("sessionId", r.session_id)
                .buffer("passwd", Some(&r.passwd));
            if let Some(ro) = r.read_only {
                body.bool("readOnly", ro);
            }
            o.obj("body", body);
        }
        ConnectReply::Refused(code) => {
            // A read-only server's bare ReplyHeader instead of a ConnectResponse (§10).
            o.num("err", code.as_i32().into());
        }
    }
    Ok(o)
}

fn request(frame: &Bytes, ops: &mut HashMap<i32, VecDeque<OpCode>>) -> Line {
    // Remember the opcode for pairing even when the body does not decode.
    if frame.len() >= 8 {
        let xid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let op = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if let Some(op) = OpCode::from_i32(op) {
            if xid != xid::PING {
                ops.entry(xid).or_default().push_back(op);
            }
        }
    }
    let (header, req) = decode_request(frame).map_err(|e| e.to_string())?;
    let watches = match req {
        Request::Multi(_) | Request::MultiRead(_) => read_op_watches(frame),
        _ => Vec::new(),
    };
    let mut o = Obj::new();
    o.str("op", req.op_code().name())
        .num("xid", header.xid.into());
    if let Some(body) = request_body(&req, &watches) {
        o.obj("body", body);
    }
    Ok(o)
}

/// The fields of a request's body; `watches` are the watch bytes of a multi's read ops, by
/// op index (see [`read_op_watches`]).
fn request_body(req: &Request, watches: &[Option<bool>]) -> Option<Obj> {
    let mut b = Obj::new();
    match req {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            b.str("path", &r.path)
                .buffer("data", r.data.as_ref())
                .acls("acl", &r.acl)
                .num("flags", r.flags.into());
        }
        Request::CreateTtl(r) => {
            b.str("path", &r.path)
                .buffer("data", r.data.as_ref())
                .acls("acl", &r.acl)
                .num("flags", r.flags.into())
                .num("ttl", r.ttl);
        }
        Request::Delete(r) => {
            b.str("path", &r.path).num("version", r.version.into());
        }
        Request::Exists(r)
        | Request::GetData(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => {
            b.str("path", &r.path).bool("watch", r.watch);
        }
        Request::SetData(r) => {
            b.str("path", &r.path)
                .buffer("data", r.data.as_ref())
                .num("version", r.version.into());
        }
        Request::GetAcl(r) | Request::Sync(r) | Request::GetAllChildrenNumber(r) => {
            b.str("path", &r.path);
        }
        Request::GetEphemerals(r) => {
            b.str("prefixPath", &r.path);
        }
        Request::SetAcl(r) => {
            b.str("path", &r.path)
                .acls("acl", &r.acl)
                .num("version", r.version.into());
        }
        Request::Check(r) => {
            b.str("path", &r.path).num("version", r.version.into());
        }
        Request::Multi(ops) | Request::MultiRead(ops) => {
            let items = ops
                .iter()
                .enumerate()
                .map(|(i, op)| multi_op(op, watches.get(i).copied().flatten()))
                .collect();
            b.arr("ops", items);
        }
        Request::Reconfig(r) => {
            b.opt_str("joiningServers", r.joining_servers.as_deref())
                .opt_str("leavingServers", r.leaving_servers.as_deref())
                .opt_str("newMembers", r.new_members.as_deref())
                .num("curConfigId", r.cur_config_id);
        }
        Request::CheckWatches(r) | Request::RemoveWatches(r) => {
            b.str("path", &r.path).num("type", r.watcher_type.into());
        }
        Request::AddWatch(r) => {
            b.str("path", &r.path).num("mode", r.mode.into());
        }
        Request::SetWatches(r) => {
            b.num("relativeZxid", r.relative_zxid)
                .strs("dataWatches", &r.data_watches)
                .strs("existWatches", &r.exist_watches)
                .strs("childWatches", &r.child_watches);
        }
        Request::SetWatches2(r) => {
            b.num("relativeZxid", r.relative_zxid)
                .strs("dataWatches", &r.data_watches)
                .strs("existWatches", &r.exist_watches)
                .strs("childWatches", &r.child_watches)
                .strs("persistentWatches", &r.persistent_watches)
                .strs(
                    "persistentRecursiveWatches",
                    &r.persistent_recursive_watches,
                );
        }
        Request::Auth(r) => {
            b.num("type", r.auth_type.into())
                .str("scheme", &r.scheme)
                .buffer("auth", r.auth.as_ref());
        }
        Request::Sasl(r) => {
            b.buffer("token", r.token.as_ref());
        }
        Request::WhoAmI | Request::Ping | Request::CloseSession => return None,
    }
    Some(b)
}

/// The watch byte of each leading getData / getChildren op of a multi or multiRead request
/// frame, in op order. The codec checks these bytes but does not keep them (the server
/// ignores them inside a multiRead), so they are read here from the frame, which
/// `decode_request` has already accepted. The walk stops at the first op of another kind,
/// whose length it does not know: a multiRead holds only reads.
fn read_op_watches(frame: &[u8]) -> Vec<Option<bool>> {
    let i32_at = |at: usize| {
        let bytes = frame.get(at..at.checked_add(4)?)?;
        Some(i32::from_be_bytes(bytes.try_into().ok()?))
    };
    let reads = [OpCode::GetData.as_i32(), OpCode::GetChildren.as_i32()];
    let mut watches = Vec::new();
    // After the RequestHeader {xid, type}: MultiHeader {type, done, err}, then the op's
    // GetDataRequest / GetChildrenRequest {path, watch}, until a header with done set.
    let mut at = 8;
    while let (Some(op), Some(0)) = (i32_at(at), frame.get(at + 4).copied()) {
        if !reads.contains(&op) {
            break;
        }
        let Some(path_len) = i32_at(at + 9) else {
            break;
        };
        // -1 is a null path: no bytes.
        at += 9 + 4 + usize::try_from(path_len).unwrap_or(0);
        let Some(&watch) = frame.get(at) else {
            break;
        };
        watches.push(Some(watch != 0));
        at += 1;
    }
    watches
}

/// One multi op; `watch` is a read op's watch byte, when [`read_op_watches`] found it.
fn multi_op(op: &MultiOp, watch: Option<bool>) -> String {
    let (name, req) = match op {
        MultiOp::Create(r) => ("create", Request::Create(r.clone())),
        MultiOp::Create2(r) => ("create2", Request::Create2(r.clone())),
        MultiOp::CreateContainer(r) => ("createContainer", Request::CreateContainer(r.clone())),
        MultiOp::CreateTtl(r) => ("createTTL", Request::CreateTtl(r.clone())),
        MultiOp::Delete(r) => ("delete", Request::Delete(r.clone())),
        MultiOp::SetData(r) => ("setData", Request::SetData(r.clone())),
        MultiOp::Check(r) => ("check", Request::Check(r.clone())),
        MultiOp::GetData(p) | MultiOp::GetChildren(p) => {
            let name = if matches!(op, MultiOp::GetData(_)) {
                "getData"
            } else {
                "getChildren"
            };
            let mut b = Obj::new();
            b.str("path", p);
            if let Some(watch) = watch {
                b.bool("watch", watch);
            }
            let mut o = Obj::new();
            o.str("op", name).obj("body", b);
            return o.finish();
        }
    };
    let mut o = Obj::new();
    o.str("op", name);
    if let Some(body) = request_body(&req, &[]) {
        o.obj("body", body);
    }
    o.finish()
}

fn reply(frame: &Bytes, ops: &mut HashMap<i32, VecDeque<OpCode>>) -> Line {
    let (header, body) = decode_reply_header(frame).map_err(|e| e.to_string())?;
    let op = match header.xid {
        xid::NOTIFICATION => Some(OpCode::Notification),
        xid::PING => Some(OpCode::Ping),
        x => ops.get_mut(&x).and_then(|q| q.pop_front()),
    };
    let mut o = Obj::new();
    match op {
        Some(OpCode::Notification) => {
            o.str("op", "notification");
        }
        Some(op) => {
            o.str("op", op.name());
        }
        None => {
            o.null("op");
        }
    }
    header_fields(&mut o, &header);
    match op {
        Some(OpCode::Notification) => {
            let ev = decode_notification(&body).map_err(|e| e.to_string())?;
            let mut b = Obj::new();
            b.num("type", ev.event_type.as_i32().into())
                .num("state", ev.state.as_i32().into())
                .str("path", &ev.path);
            o.obj("body", b);
        }
        Some(op) => {
            let resp = decode_response(op, &header, &body).map_err(|e| e.to_string())?;
            if let Some(b) = response_body(&resp) {
                o.obj("body", b);
            }
        }
        None if body.is_empty() => {}
        None => {
            // No request with this xid in the c2s stream: show the raw body.
            o.buffer("body", Some(&body));
        }
    }
    Ok(o)
}

fn header_fields(o: &mut Obj, h: &ReplyHeader) {
    o.num("xid", h.xid.into())
        .num("zxid", h.zxid)
        .num("err", h.err.as_i32().into());
}

fn response_body(resp: &Response) -> Option<Obj> {
    let mut b = Obj::new();
    match resp {
        Response::Empty => return None,
        Response::Create { path } | Response::Sync { path } => {
            b.str("path", path);
        }
        Response::Create2 { path, stat } => {
            b.str("path", path).stat("stat", stat);
        }
        Response::Stat(stat) => {
            b.stat("stat", stat);
        }
        Response::GetData { data, stat } => {
            b.buffer("data", data.as_ref()).stat("stat", stat);
        }
        Response::GetAcl { acl, stat } => {
            b.acls("acl", acl).stat("stat", stat);
        }
        Response::GetChildren { children } => {
            b.strs("children", children);
        }
        Response::GetChildren2 { children, stat } => {
            b.strs("children", children).stat("stat", stat);
        }
        Response::Multi(results) => {
            let items = results.iter().map(multi_result).collect();
            b.arr("results", items);
        }
        Response::Sasl { token } => {
            b.buffer("token", token.as_ref());
        }
        Response::GetEphemerals { ephemerals } => {
            b.strs("ephemerals", ephemerals);
        }
        Response::GetAllChildrenNumber { total } => {
            b.num("totalNumber", (*total).into());
        }
        Response::AddWatch { err } => {
            b.num("err", err.as_i32().into());
        }
        Response::WhoAmI(infos) => {
            let items = infos
                .iter()
                .map(|i| {
                    let mut o = Obj::new();
                    o.str("authScheme", &i.auth_scheme).str("user", &i.user);
                    o.finish()
                })
                .collect();
            b.arr("clientInfo", items);
        }
    }
    Some(b)
}

fn multi_result(r: &MultiResult) -> String {
    let mut o = Obj::new();
    let mut b = Obj::new();
    // Every entry carries a body, `{}` for the ops that return nothing.
    let (name, err) = match r {
        MultiResult::Create { path } => {
            b.str("path", path);
            ("create", 0)
        }
        MultiResult::Create2 { path, stat } => {
            b.str("path", path).stat("stat", stat);
            ("create2", 0)
        }
        MultiResult::Delete => ("delete", 0),
        MultiResult::SetData(stat) => {
            b.stat("stat", stat);
            ("setData", 0)
        }
        MultiResult::Check => ("check", 0),
        MultiResult::GetData { data, stat } => {
            b.buffer("data", data.as_ref()).stat("stat", stat);
            ("getData", 0)
        }
        MultiResult::GetChildren { children } => {
            b.strs("children", children);
            ("getChildren", 0)
        }
        MultiResult::Error(code) => {
            b.num("err", code.as_i32().into());
            ("error", code.as_i32())
        }
    };
    o.str("op", name).num("err", err.into()).obj("body", b);
    o.finish()
}
