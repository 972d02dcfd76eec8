//! zkdump: decode raw ZooKeeper traffic into one JSON object per frame.
//!
//! ```text
//! cargo run --example zkdump -- --c2s FILE --s2c FILE
//! ```
//!
//! Each file is one direction of one TCP connection, raw (for example the two halves of a
//! `tcpflow` or proxy capture), starting with the connect handshake. Either may be omitted.
//! Client-to-server frames are printed first, then server-to-client frames; replies are paired
//! with requests by xid to know their opcode. Fields use the jute names of PROTOCOL.md.
//!
//! A frame that does not decode prints `{"dir", "index", "error"}` and decoding goes on with
//! the next frame; a broken length prefix ends that direction. The exit status is 0 when every
//! frame decoded, 1 otherwise, 2 on a usage error.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::{
    decode_connect_reply, decode_notification, decode_reply_header, decode_request,
    decode_response, xid, Acl, ConnectReply, ConnectRequest, FrameDecoder, MultiOp, MultiResult,
    OpCode, ReplyHeader, Request, Response, Stat,
};

const USAGE: &str = "usage: zkdump [--c2s FILE] [--s2c FILE] [--max-frame BYTES]";

fn main() -> ExitCode {
    let mut c2s = None;
    let mut s2c = None;
    let mut max_frame = 64 * 1024 * 1024;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--c2s" => c2s = args.next(),
            "--s2c" => s2c = args.next(),
            "--max-frame" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => max_frame = v,
                None => {
                    eprintln!("zkdump: --max-frame needs a number of bytes\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("zkdump: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if c2s.is_none() && s2c.is_none() {
        eprintln!("zkdump: give at least one of --c2s and --s2c\n{USAGE}");
        return ExitCode::from(2);
    }
    let read = |path: &Option<String>| -> Result<Option<Vec<u8>>, String> {
        match path {
            None => Ok(None),
            Some(p) => std::fs::read(p)
                .map(Some)
                .map_err(|e| format!("zkdump: cannot read {p}: {e}")),
        }
    };
    let (c2s, s2c) = match (read(&c2s), read(&s2c)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut out = String::new();
    let ok = dump(c2s.as_deref(), s2c.as_deref(), max_frame, &mut out);
    print!("{out}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Decodes both directions into `out`, one JSON line per frame. Returns whether every frame
/// decoded. (`pub` so that `tests/zkdump.rs` can include this file as a module.)
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
    let mut o = Obj::new();
    o.str("op", req.op_code().name())
        .num("xid", header.xid.into());
    if let Some(body) = request_body(&req) {
        o.obj("body", body);
    }
    Ok(o)
}

fn request_body(req: &Request) -> Option<Obj> {
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
            let items = ops.iter().map(multi_op).collect();
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

fn multi_op(op: &MultiOp) -> String {
    let (name, req) = match op {
        MultiOp::Create(r) => ("create", Request::Create(r.clone())),
        MultiOp::Create2(r) => ("create2", Request::Create2(r.clone())),
        MultiOp::CreateContainer(r) => ("createContainer", Request::CreateContainer(r.clone())),
        MultiOp::CreateTtl(r) => ("createTTL", Request::CreateTtl(r.clone())),
        MultiOp::Delete(r) => ("delete", Request::Delete(r.clone())),
        MultiOp::SetData(r) => ("setData", Request::SetData(r.clone())),
        MultiOp::Check(r) => ("check", Request::Check(r.clone())),
        MultiOp::GetData(p) => {
            let mut b = Obj::new();
            b.str("path", p);
            let mut o = Obj::new();
            o.str("op", "getData").obj("body", b);
            return o.finish();
        }
        MultiOp::GetChildren(p) => {
            let mut b = Obj::new();
            b.str("path", p);
            let mut o = Obj::new();
            o.str("op", "getChildren").obj("body", b);
            return o.finish();
        }
    };
    let mut o = Obj::new();
    o.str("op", name);
    if let Some(body) = request_body(&req) {
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
    let (name, err, body) = match r {
        MultiResult::Create { path } => {
            b.str("path", path);
            ("create", 0, true)
        }
        MultiResult::Create2 { path, stat } => {
            b.str("path", path).stat("stat", stat);
            ("create2", 0, true)
        }
        MultiResult::Delete => ("delete", 0, false),
        MultiResult::SetData(stat) => {
            b.stat("stat", stat);
            ("setData", 0, true)
        }
        MultiResult::Check => ("check", 0, false),
        MultiResult::GetData { data, stat } => {
            b.buffer("data", data.as_ref()).stat("stat", stat);
            ("getData", 0, true)
        }
        MultiResult::GetChildren { children } => {
            b.strs("children", children);
            ("getChildren", 0, true)
        }
        MultiResult::Error(code) => {
            b.num("err", code.as_i32().into());
            ("error", code.as_i32(), true)
        }
    };
    o.str("op", name).num("err", err.into());
    if body {
        o.obj("body", b);
    }
    o.finish()
}

/// A tiny JSON object writer: keys in insertion order, values already encoded.
struct Obj {
    fields: Vec<(String, String)>,
}

impl Obj {
    fn new() -> Obj {
        Obj { fields: Vec::new() }
    }
    fn raw(&mut self, k: &str, v: String) -> &mut Obj {
        self.fields.push((k.to_string(), v));
        self
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Obj {
        self.raw(k, quote(v))
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }
    fn null(&mut self, k: &str) -> &mut Obj {
        self.raw(k, "null".into())
    }
    fn num(&mut self, k: &str, v: i64) -> &mut Obj {
        self.raw(k, v.to_string())
    }
    fn bool(&mut self, k: &str, v: bool) -> &mut Obj {
        self.raw(k, v.to_string())
    }
    fn obj(&mut self, k: &str, v: Obj) -> &mut Obj {
        self.raw(k, v.finish())
    }
    fn arr(&mut self, k: &str, items: Vec<String>) -> &mut Obj {
        self.raw(k, format!("[{}]", items.join(",")))
    }
    fn strs(&mut self, k: &str, v: &[String]) -> &mut Obj {
        self.arr(k, v.iter().map(|s| quote(s)).collect())
    }
    fn buffer(&mut self, k: &str, v: Option<&Bytes>) -> &mut Obj {
        match v {
            None => self.null(k),
            Some(b) => {
                let mut hex = String::with_capacity(128);
                for byte in b.iter().take(64) {
                    let _ = write!(hex, "{byte:02x}");
                }
                self.raw(k, format!("{{\"len\":{},\"hex\":\"{hex}\"}}", b.len()))
            }
        }
    }
    fn acls(&mut self, k: &str, acl: &[Acl]) -> &mut Obj {
        let items = acl
            .iter()
            .map(|a| {
                let mut id = Obj::new();
                id.str("scheme", &a.id.scheme).str("id", &a.id.id);
                let mut o = Obj::new();
                o.num("perms", a.perms.0.into()).obj("id", id);
                o.finish()
            })
            .collect();
        self.arr(k, items)
    }
    fn stat(&mut self, k: &str, s: &Stat) -> &mut Obj {
        let mut o = Obj::new();
        o.num("czxid", s.czxid)
            .num("mzxid", s.mzxid)
            .num("ctime", s.ctime)
            .num("mtime", s.mtime)
            .num("version", s.version.into())
            .num("cversion", s.cversion.into())
            .num("aversion", s.aversion.into())
            .num("ephemeralOwner", s.ephemeral_owner)
            .num("dataLength", s.data_length.into())
            .num("numChildren", s.num_children.into())
            .num("pzxid", s.pzxid);
        self.obj(k, o)
    }
    fn merge(&mut self, other: Obj) {
        self.fields.extend(other.fields);
    }
    fn finish(self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&quote(k));
            s.push(':');
            s.push_str(v);
        }
        s.push('}');
        s
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
