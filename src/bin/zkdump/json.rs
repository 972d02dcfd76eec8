//! A tiny JSON writer for zkdump's lines: objects with keys in insertion order, the
//! protocol's records (stats, ACLs, buffers) in zkdump's spelling.

use std::fmt::Write as _;

use bytes::Bytes;
use mio_zookeeper::{Acl, Stat};

/// A tiny JSON object writer: keys in insertion order, values already encoded.
pub(super) struct Obj {
    fields: Vec<(String, String)>,
}

impl Obj {
    pub(super) fn new() -> Obj {
        Obj { fields: Vec::new() }
    }
    pub(super) fn raw(&mut self, k: &str, v: String) -> &mut Obj {
        self.fields.push((k.to_string(), v));
        self
    }
    pub(super) fn str(&mut self, k: &str, v: &str) -> &mut Obj {
        self.raw(k, quote(v))
    }
    pub(super) fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }
    pub(super) fn null(&mut self, k: &str) -> &mut Obj {
        self.raw(k, "null".into())
    }
    pub(super) fn num(&mut self, k: &str, v: i64) -> &mut Obj {
        self.raw(k, v.to_string())
    }
    pub(super) fn bool(&mut self, k: &str, v: bool) -> &mut Obj {
        self.raw(k, v.to_string())
    }
    pub(super) fn obj(&mut self, k: &str, v: Obj) -> &mut Obj {
        self.raw(k, v.finish())
    }
    pub(super) fn arr(&mut self, k: &str, items: Vec<String>) -> &mut Obj {
        self.raw(k, format!("[{}]", items.join(",")))
    }
    pub(super) fn strs(&mut self, k: &str, v: &[String]) -> &mut Obj {
        self.arr(k, v.iter().map(|s| quote(s)).collect())
    }
    pub(super) fn buffer(&mut self, k: &str, v: Option<&Bytes>) -> &mut Obj {
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
    pub(super) fn acls(&mut self, k: &str, acl: &[Acl]) -> &mut Obj {
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
    pub(super) fn stat(&mut self, k: &str, s: &Stat) -> &mut Obj {
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
    pub(super) fn merge(&mut self, other: Obj) {
        self.fields.extend(other.fields);
    }
    pub(super) fn finish(self) -> String {
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

pub(super) fn quote(s: &str) -> String {
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
