//! The seed corpus of `session_ops`, its regressions, and a debugging aid.

use std::fs;
use std::path::PathBuf;

use super::*;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/session_ops")
}

fn script(config: Config, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    config.encode(&mut out);
    for op in ops {
        op.encode(&mut out);
    }
    out
}

/// Connect, answer the handshake, deliver it.
const HANDSHAKE: [Op; 2] = [
    Op::Connect,
    Op::Serve {
        count: 1,
        choice: 0,
        deliver: true,
    },
];

fn serve(count: u8, choice: u8) -> Op {
    Op::Serve {
        count,
        choice,
        deliver: true,
    }
}

fn submit(kind: u8, path: u8, watch: bool) -> Op {
    Op::Submit {
        kind,
        path,
        watch,
        arg: 3,
    }
}

const EXISTS: u8 = 5;
const GET_DATA: u8 = 6;
const GET_CHILDREN: u8 = 10;
const REMOVE_WATCHES: u8 = 18;
const ADD_WATCH: u8 = 19;
const AUTH: u8 = 20;

/// The handwritten seeds: (name, config, ops).
fn seeds() -> Vec<(String, Config, Vec<Op>)> {
    let plain = Config::default();
    let mut seeds = Vec::new();
    let mut add = |name: &str, config: Config, ops: Vec<Op>| {
        seeds.push((name.to_string(), config, ops));
    };
    // Every request kind, with and without a watch, answered well and with an error.
    for kind in 0..REQUEST_KINDS {
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(kind, 1, true),
            serve(1, 0),
            submit(kind, 2, false),
            serve(1, 5),
            Op::Submit {
                kind,
                path: 3,
                watch: true,
                arg: 201,
            },
            serve(1, 7),
        ]);
        add(&format!("submit-kind-{kind:02}"), plain, ops);
    }
    let watches = [
        submit(EXISTS, 1, true),
        submit(EXISTS, 3, true),
        submit(GET_DATA, 2, true),
        submit(GET_CHILDREN, 1, true),
        Op::Submit {
            kind: ADD_WATCH,
            path: 4,
            watch: false,
            arg: 0,
        },
        Op::Submit {
            kind: ADD_WATCH,
            path: 0,
            watch: false,
            arg: 1,
        },
        serve(1, 0),
        serve(1, 5),
        serve(4, 0),
    ];
    let reconnect = [
        Op::Disconnect,
        Op::ToDeadline { extra_ms: 0 },
        Op::Connect,
        serve(1, 0),
        submit(GET_DATA, 1, false),
        serve(8, 0),
    ];
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend([
        Op::Notify { event: 1, path: 3 },
        Op::Notify { event: 3, path: 1 },
        Op::Notify { event: 4, path: 1 },
        Op::Notify { event: 2, path: 4 },
        Op::Deliver { len: 0 },
    ]);
    add("watches-then-notifications", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend(reconnect);
    add("watches-survive-reconnect", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend([
        Op::RemoveLocal {
            path: 1,
            watcher_type: 1,
        },
        Op::RemoveLocal {
            path: 0,
            watcher_type: 4,
        },
    ]);
    ops.extend(reconnect);
    add("remove-locally-then-reconnect", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend([
        Op::Submit {
            kind: REMOVE_WATCHES,
            path: 4,
            watch: false,
            arg: 3,
        },
        serve(1, 6),
        Op::Submit {
            kind: REMOVE_WATCHES,
            path: 1,
            watch: false,
            arg: 2,
        },
        serve(1, 0),
    ]);
    ops.extend(reconnect);
    add("remove-watches-ok-and-nowatcher", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend([
        Op::ServerExpire { cut: true },
        Op::ToDeadline { extra_ms: 0 },
        Op::Connect,
        serve(1, 0),
        submit(GET_DATA, 1, true),
        serve(4, 0),
    ]);
    add("server-expires-session", plain, ops);
    add(
        "server-expires-no-reconnect",
        Config { flags: 8, ..plain },
        [
            HANDSHAKE.as_slice(),
            &[
                submit(GET_DATA, 1, true),
                Op::ServerExpire { cut: true },
                Op::Connect,
                serve(1, 0),
                submit(GET_DATA, 1, true),
            ],
        ]
        .concat(),
    );
    let mut ops = HANDSHAKE.to_vec();
    ops.extend(watches);
    ops.extend([
        submit(GET_DATA, 2, false),
        Op::Disconnect,
        Op::Advance { unit: 2, amount: 4 },
        Op::Disconnect,
        Op::Advance {
            unit: 2,
            amount: 20,
        },
        Op::ToDeadline { extra_ms: 1 },
        Op::Connect,
        serve(1, 0),
        serve(4, 0),
    ]);
    add("client-side-expiry", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    for _ in 0..4 {
        ops.extend([Op::ToDeadline { extra_ms: 0 }, serve(1, 0)]);
    }
    ops.extend([
        Op::ToDeadline { extra_ms: 0 },
        Op::ToDeadline { extra_ms: 0 },
        Op::ToDeadline { extra_ms: 0 },
    ]);
    add("pings-then-read-timeout", plain, ops);
    for kind in 0..10u8 {
        let mut ops = HANDSHAKE.to_vec();
        ops.extend([
            submit(GET_DATA, 1, true),
            submit(EXISTS, 2, true),
            Op::Garbage {
                kind,
                arg: 0x0102_0304,
            },
            Op::Deliver { len: 0 },
            serve(2, 0),
            Op::ToDeadline { extra_ms: 0 },
            Op::Connect,
            serve(3, 0),
        ]);
        add(&format!("garbage-{kind}"), plain, ops);
    }
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        submit(GET_CHILDREN, 2, true),
        Op::Serve {
            count: 2,
            choice: 0,
            deliver: false,
        },
        Op::Deliver { len: 3 },
        Op::Deliver { len: 20 },
        Op::Cut { len: 7 },
        Op::ToDeadline { extra_ms: 0 },
    ]);
    add("cut-mid-frame", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        Op::Advance {
            unit: 5,
            amount: u16::MAX,
        },
        Op::Advance {
            unit: 4,
            amount: u16::MAX,
        },
        Op::ToDeadline { extra_ms: 255 },
        Op::Connect,
        serve(2, 0),
    ]);
    add("huge-clock-jumps", plain, ops);
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        submit(0, 2, false),
        submit(AUTH, 0, false),
        Op::CloseNow,
        submit(GET_DATA, 1, true),
    ]);
    add("close-now-with-pending", plain, ops);
    add(
        "close-while-connecting",
        plain,
        vec![
            submit(GET_DATA, 1, true),
            Op::Close,
            Op::Connect,
            submit(GET_DATA, 1, true),
        ],
    );
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        Op::Close,
        submit(GET_DATA, 1, true),
        Op::ToDeadline { extra_ms: 0 },
    ]);
    add("close-unanswered", plain, ops);
    add(
        "auth-replayed-and-failed",
        Config { flags: 32, ..plain },
        [
            HANDSHAKE.as_slice(),
            &[
                serve(1, 0),
                Op::AddAuth { which: 1 },
                submit(AUTH, 1, false),
                serve(1, 0),
                Op::Disconnect,
                Op::ToDeadline { extra_ms: 0 },
                Op::Connect,
                serve(1, 0),
                serve(2, 0),
                submit(AUTH, 2, false),
                submit(GET_DATA, 1, false),
                serve(2, 7),
            ],
        ]
        .concat(),
    );
    add(
        "read-only-then-probe",
        Config {
            flags: 2 | 4,
            ..plain
        },
        vec![
            Op::Connect,
            serve(1, 2),
            submit(GET_DATA, 1, true),
            serve(1, 0),
            Op::ToDeadline { extra_ms: 0 },
            Op::Probe {
                host: 1,
                read_write: true,
            },
            Op::Connect,
            serve(1, 0),
            serve(2, 0),
        ],
    );
    add(
        "refused-by-read-only-server",
        Config { flags: 1, ..plain },
        vec![Op::Connect, serve(1, 1), Op::Connect, serve(1, 0)],
    );
    for (i, choice) in [0x10u8, 0x20, 0x30, 0x40].into_iter().enumerate() {
        let mut ops = vec![Op::Connect, serve(1, choice)];
        ops.extend([
            submit(GET_DATA, 1, true),
            Op::ToDeadline { extra_ms: 0 },
            serve(2, 0),
            Op::ToDeadline { extra_ms: 0 },
            Op::ToDeadline { extra_ms: 0 },
        ]);
        add(&format!("negotiated-timeout-{i}"), plain, ops);
    }
    add(
        "queue-while-connecting",
        Config { limits: 3, ..plain },
        vec![
            submit(GET_DATA, 1, true),
            submit(EXISTS, 1, true),
            submit(0, 2, false),
            submit(GET_DATA, 3, false),
            Op::Connect,
            serve(1, 0),
            serve(4, 0),
        ],
    );
    add(
        "backoff-over-hosts",
        Config {
            flags: 2,
            limits: 0b11_0100,
            ..plain
        },
        vec![
            Op::Disconnect,
            Op::Disconnect,
            Op::Disconnect,
            Op::ToDeadline { extra_ms: 0 },
            Op::Disconnect,
            Op::Start,
            Op::ToDeadline { extra_ms: 0 },
            Op::Connect,
            serve(1, 0),
        ],
    );
    add(
        "resume-a-session",
        Config { flags: 16, ..plain },
        vec![
            Op::Connect,
            serve(1, 0),
            submit(GET_DATA, 1, true),
            serve(1, 0),
            Op::ServerExpire { cut: false },
            Op::Disconnect,
            Op::Connect,
            serve(1, 0),
        ],
    );
    for (i, timeout) in [3u8, 5, 6].into_iter().enumerate() {
        add(
            &format!("odd-session-timeout-{i}"),
            Config { timeout, ..plain },
            vec![
                Op::Connect,
                serve(1, 0),
                submit(GET_DATA, 1, true),
                Op::ToDeadline { extra_ms: 0 },
                Op::ToDeadline { extra_ms: 0 },
                Op::Advance { unit: 3, amount: 1 },
            ],
        );
    }
    add(
        "regression-error-reply-with-body",
        plain,
        regression_error_reply_with_body(),
    );
    add(
        "regression-auth-fails-while-closing",
        Config { flags: 32, ..plain },
        regression_auth_fails_while_closing(),
    );
    add(
        "regression-probe-unknown-host",
        Config {
            flags: 2 | 4,
            ..plain
        },
        regression_probe_unknown_host(),
    );
    let mut ops = vec![Op::WriteLimit { bytes: 5 }];
    ops.extend(HANDSHAKE);
    ops.extend([
        submit(GET_DATA, 1, true),
        submit(EXISTS, 2, true),
        Op::Deliver { len: 0 },
        serve(1, 0),
        Op::WriteLimit { bytes: 0 },
        Op::Submit {
            kind: 0,
            path: 0,
            watch: false,
            arg: 0,
        },
        serve(3, 0),
        Op::WriteLimit { bytes: 1 },
        Op::Close,
        Op::ToDeadline { extra_ms: 0 },
    ]);
    add("partial-writes", plain, ops);
    add(
        "regression-expiry-while-closing",
        Config { flags: 8, ..plain },
        regression_expiry_while_closing(),
    );
    seeds
}

/// Writes the seeds into `fuzz/corpus/session_ops/`:
/// `cargo test --lib fuzzing::session_ops::tests::write_seed_corpus -- --ignored`.
#[test]
#[ignore = "writes files: run by hand to regenerate the seed corpus"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    fs::create_dir_all(&dir).expect("create corpus dir");
    for (name, config, ops) in seeds() {
        fs::write(dir.join(format!("seed-{name}")), script(config, &ops)).expect("write");
    }
}

#[test]
fn seed_corpus_is_up_to_date() {
    for (name, config, ops) in seeds() {
        let path = corpus_dir().join(format!("seed-{name}"));
        let on_disk = fs::read(&path).unwrap_or_default();
        assert_eq!(
            on_disk,
            script(config, &ops),
            "{} is stale or missing",
            path.display()
        );
    }
}

#[test]
fn ops_decode_as_encoded() {
    for (name, config, ops) in seeds() {
        let bytes = script(config, &ops);
        let mut g = Gen::new(&bytes);
        assert_eq!(Config::decode(&mut g), config, "{name}");
        let mut decoded = Vec::new();
        while !g.exhausted() {
            decoded.push(Op::decode(&mut g));
        }
        assert_eq!(decoded, ops, "{name}");
    }
}

/// Runs `ops` through the harness (which checks every invariant after each op), without
/// the closing `finish`, and returns the harness to look at.
fn run_ops(config: Config, ops: &[Op]) -> Harness {
    let mut h = Harness::new(&config);
    h.pump();
    for op in ops {
        h.run(op);
    }
    h
}

// ---- regressions the fuzzer found (each also a seed: `seed-regression-*`) ----

/// An error reply that carries a body drops the connection; the request it answered
/// used to be taken off the in-flight list first and then forgotten: it never completed.
#[test]
fn an_error_reply_with_a_body_fails_its_request_with_connection_loss() {
    let h = run_ops(Config::default(), &regression_error_reply_with_body());
    assert!(h.pending.is_empty(), "still pending: {:?}", h.pending);
    assert_eq!(h.s.pending_requests(), 0);
    assert_eq!(h.state, SessionState::Connecting);
}

fn regression_error_reply_with_body() -> Vec<Op> {
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        Op::Garbage { kind: 9, arg: 0 },
        Op::Deliver { len: 0 },
    ]);
    ops
}

/// A reply that failed authentication while closeSession was in flight left the close
/// deadline armed: the AuthFailed session still asked for a timer, and when it fired
/// the terminal state changed to Closed.
#[test]
fn auth_failure_while_closing_stays_auth_failed_and_wants_no_timer() {
    let config = Config {
        flags: 32,
        ..Config::default()
    };
    let mut h = run_ops(config, &regression_auth_fails_while_closing());
    assert_eq!(h.state, SessionState::AuthFailed);
    assert_eq!(h.s.poll_timeout(), None);
    h.run(&Op::Advance { unit: 4, amount: 1 });
    assert_eq!(h.s.state(), SessionState::AuthFailed);
}

fn regression_auth_fails_while_closing() -> Vec<Op> {
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        // The configured credential, replayed at connect, accepted.
        serve(1, 0),
        submit(AUTH, 1, false),
        Op::Close,
        // The user's auth fails (choice 7), then closeSession is answered.
        serve(2, 7),
    ]);
    ops
}

/// A probe result naming a host the session does not have moved the session there:
/// it asked the driver to connect to a host index past the end of its list.
#[test]
fn a_probe_result_for_an_unknown_host_is_ignored() {
    let config = Config {
        flags: 2 | 4,
        ..Config::default()
    };
    let h = run_ops(config, &regression_probe_unknown_host());
    assert_eq!(h.state, SessionState::ConnectedReadOnly);
    assert!(h.connecting.is_none());
}

fn regression_probe_unknown_host() -> Vec<Op> {
    vec![
        Op::Connect,
        // A read-only server (choice 2).
        serve(1, 2),
        Op::Probe {
            host: 3,
            read_write: true,
        },
    ]
}

/// A session that expired (with no reconnect) while its closeSession was unanswered kept
/// the close deadline: a Closed session still asked for a timer.
#[test]
fn expiry_while_closing_leaves_no_timer() {
    let config = Config {
        flags: 8,
        ..Config::default()
    };
    let h = run_ops(config, &regression_expiry_while_closing());
    assert_eq!(h.state, SessionState::Closed);
    assert_eq!(h.s.poll_timeout(), None);
}

fn regression_expiry_while_closing() -> Vec<Op> {
    let mut ops = HANDSHAKE.to_vec();
    ops.extend([
        submit(GET_DATA, 1, true),
        Op::Close,
        // A reply out of order drops the connection while closeSession is in flight.
        Op::Garbage { kind: 0, arg: 0 },
        Op::Deliver { len: 0 },
        // The server expired the session meanwhile: the reconnect hears so.
        Op::ServerExpire { cut: false },
        Op::Connect,
        serve(1, 0),
    ]);
    ops
}

#[test]
fn every_seed_passes() {
    let mut failed = Vec::new();
    for (name, config, ops) in seeds() {
        let bytes = script(config, &ops);
        if std::panic::catch_unwind(|| session_ops(&bytes)).is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "seeds failed: {failed:?}");
}

/// Prints the config and ops of the input in `SESSION_OPS_INPUT` (a file, or hex bytes
/// with `0x`), then runs it: `SESSION_OPS_INPUT=crash-... cargo test --lib
/// fuzzing::session_ops::tests::show_input -- --ignored --nocapture`.
#[test]
#[ignore = "a debugging aid: run by hand"]
fn show_input() {
    let Ok(arg) = std::env::var("SESSION_OPS_INPUT") else {
        return;
    };
    let bytes = match arg.strip_prefix("0x") {
        Some(hex) => (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect(),
        None => std::fs::read(&arg).expect("read input"),
    };
    let mut g = Gen::new(&bytes);
    let config = Config::decode(&mut g);
    eprintln!("{config:?} -> {:?}", config.session_config());
    let mut n = 0;
    while !g.exhausted() && n < MAX_OPS {
        n += 1;
        eprintln!("{:?}", Op::decode(&mut g));
    }
    session_ops(&bytes);
}

/// Found by the fuzzer on the merged session: a read-only server that negotiated a session
/// timeout of i32::MAX ms and never answered closeSession (a garbage frame had announced a
/// long body) kept the close waiting 2T/3, 16 days, while the read-only probe ticked every
/// 2 s: `close` now waits at most `session::CLOSE_WAIT_MAX` (10 s) for the answer.
#[test]
fn close_waits_a_bounded_time_for_a_server_with_a_huge_negotiated_timeout() {
    session_ops(include_bytes!(
        "../../../fuzz/corpus/session_ops/found-close-with-a-huge-negotiated-timeout"
    ));
}
