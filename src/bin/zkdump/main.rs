//! zkdump: decode raw ZooKeeper traffic into one JSON object per frame.
//!
//! ```text
//! zkdump --c2s FILE --s2c FILE                                     # installed (--features cli)
//! cargo run --features cli --bin zkdump -- --c2s FILE --s2c FILE   # from a checkout
//! ```
//!
//! Each file is one direction of one TCP connection, raw (for example the two halves of a
//! `tcpflow` or proxy capture), starting with the connect handshake. Either may be omitted.
//! Client-to-server frames are printed first, then server-to-client frames; replies are paired
//! with requests by xid to know their opcode. Fields use the jute names of PROTOCOL.md.
//!
//! A multi or multiRead request lists its `ops`, each `{op, body}` (a multiRead's getData and
//! getChildren with their `watch` byte); its reply lists its `results`, each `{op, err, body}`,
//! the body `{}` for the ops that return nothing (delete, check).
//!
//! A frame that does not decode prints `{"dir", "index", "error"}` and decoding goes on with
//! the next frame; a broken length prefix ends that direction. The exit status is 0 when every
//! frame decoded, 1 otherwise, 2 on a usage error.

// The decoding lives in dump.rs, shared by path with tests/zkdump.rs and tools/wire.rs; this
// file is only the command line.
mod dump;

use std::process::ExitCode;

use dump::dump;

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
