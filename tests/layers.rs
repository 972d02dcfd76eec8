//! DESIGN.md: `proto/` and `session/` never touch sockets, `Rc`/`RefCell`, mio or the clock.
//! They take `now` as an argument, which is what makes them fuzzable and testable without
//! sockets. This test keeps it that way.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        // Unit tests (a `tests.rs` or a `tests/` folder) may read the clock to start their
        // fake one.
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests") {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

#[test]
fn proto_and_session_do_no_io_and_read_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = [
        "mio::",
        "std::net",
        "Rc<",
        "std::rc",
        "RefCell",
        "Instant::now",
        "SystemTime",
        "std::io::Read",
        "std::fs",
        "crate::reactor",
        "crate::client",
        "crate::handler",
        "crate::async_result",
        "unsafe ",
    ];
    let mut files = Vec::new();
    sources(&root.join("proto"), &mut files);
    sources(&root.join("session"), &mut files);
    assert!(files.len() > 5, "found the sources");
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "layer rule broken:\n{}", bad.join("\n"));
}
