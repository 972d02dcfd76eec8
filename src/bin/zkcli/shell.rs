//! The shell: commands read from stdin, one per line, while the client's loop keeps running.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use mio_zookeeper::Client;

use crate::args::{synopsis, Command, Usage};
use crate::commands::Zk;
use crate::failure::Failure;

/// Reads commands from stdin until `quit`, `exit` or the end of the input; each failure
/// is told and the shell goes on. The exit status is 0 unless stdin cannot be read.
pub(crate) fn shell(zk: &Zk, hosts: &str) -> ExitCode {
    let interactive = io::stdin().is_terminal();
    // Stdin is read on a thread of its own, so that the loop keeps running (pings, watch
    // events, reconnects) while the shell waits for a line; the thread wakes the loop for
    // each line it reads.
    let lines = spawn_reader(zk.client.handler().loop_waker());
    loop {
        if interactive {
            eprint!("zkcli {hosts}> ");
            let _ = io::stderr().flush();
        }
        let line = match next_line(&zk.client, &lines) {
            Ok(Some(line)) => line,
            Ok(None) => {
                if interactive {
                    eprintln!();
                }
                return ExitCode::SUCCESS;
            }
            Err(f) => return f.report(true),
        };
        if line.trim_ascii_start().starts_with(b"#") {
            continue;
        }
        let words = match split_line(&line) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(m) => {
                eprintln!("zkcli: {m}");
                continue;
            }
        };
        if matches!(words[0].as_slice(), b"quit" | b"exit") {
            return ExitCode::SUCCESS;
        }
        let command = match Command::parse(&words) {
            Ok(c) => c,
            Err(Usage { message, command }) => {
                match command {
                    Some(c) => eprintln!("zkcli: {message}\nusage: {}", synopsis(c)),
                    None => eprintln!("zkcli: {message}"),
                }
                continue;
            }
        };
        if let Err(f) = command.run(zk, &mut io::stdout().lock(), true) {
            if let Failure::Output(e) = &f {
                // Nobody reads our output any more: stop.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            f.report(true);
        }
    }
}

/// A line from stdin, or an error reading it.
type LineResult = io::Result<Vec<u8>>;

/// Starts the thread that reads stdin line by line into the returned channel, waking the
/// loop after each; the channel closes at the end of the input.
fn spawn_reader(waker: mio_zookeeper::handler::LoopWaker) -> mpsc::Receiver<LineResult> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let read = stdin.read_until(b'\n', &mut line);
            let done = !matches!(read, Ok(n) if n > 0);
            let item = match read {
                Ok(0) => None,
                Ok(_) => Some(Ok(line)),
                Err(e) => Some(Err(e)),
            };
            let sent = match item {
                Some(item) => tx.send(item).is_ok(),
                None => true,
            };
            waker.wake();
            if done || !sent {
                // Dropping `tx` closes the channel: the end of the input.
                return;
            }
        }
    });
    rx
}

/// The next line from the reader, running the loop while there is none yet; `None` at the
/// end of the input.
fn next_line(zk: &Client, lines: &mpsc::Receiver<LineResult>) -> Result<Option<Vec<u8>>, Failure> {
    loop {
        match lines.try_recv() {
            Ok(Ok(line)) => return Ok(Some(line)),
            Ok(Err(e)) => {
                return Err(Failure::Output(io::Error::new(
                    e.kind(),
                    format!("reading stdin: {e}"),
                )))
            }
            Err(mpsc::TryRecvError::Disconnected) => return Ok(None),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        zk.poll_once(None)
            .map_err(Failure::zk("waiting for input"))?;
    }
}

/// Splits a shell line into arguments: blanks separate them; `"..."` quotes (with `\"` and
/// `\\` escapes), `'...'` quotes literally; quoted and unquoted parts next to each other
/// make one argument, and `""` is an empty one.
fn split_line(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut words = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        i += 1;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => words.extend(word.take()),
            b'"' => {
                let w = word.get_or_insert_with(Vec::new);
                loop {
                    match line.get(i) {
                        None => return Err("unterminated \" quote".into()),
                        Some(b'"') => break,
                        Some(b'\\') if matches!(line.get(i + 1), Some(b'"' | b'\\')) => {
                            i += 1;
                            w.push(line[i]);
                        }
                        Some(&c) => w.push(c),
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                let w = word.get_or_insert_with(Vec::new);
                let Some(end) = line[i..].iter().position(|&c| c == b'\'') else {
                    return Err("unterminated ' quote".into());
                };
                w.extend_from_slice(&line[i..i + end]);
                i += end + 1;
            }
            c => word.get_or_insert_with(Vec::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}
