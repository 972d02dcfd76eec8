//! A manual loop: the caller owns the `loop {}` and calls `poll_once`, which drives timers, a
//! spawned task, an async task awaiting a result, and a loopback TCP echo made through the
//! Handler. No ZooKeeper involved.
//!
//! Run with `cargo run --example poll_once`.

use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::Interest;
use mio_zookeeper::handler::{Handler, MioHandler};
use mio_zookeeper::reactor::{Reactor, TcpSocket};
use mio_zookeeper::Error;

fn main() -> Result<(), Box<dyn StdError>> {
    let start = Instant::now();
    let handler = MioHandler::new()?;
    let reactor = handler.reactor().clone();
    let t = move || format!("{:>6.1} ms", start.elapsed().as_secs_f64() * 1e3);

    // 1. Timers, set out of order: they fire in deadline order.
    let timers_left = Rc::new(Cell::new(3));
    for ms in [30u64, 10, 20] {
        let left = timers_left.clone();
        reactor.set_timeout(Duration::from_millis(ms), move || {
            println!("{} [timer] the {ms} ms timer fired", t());
            left.set(left.get() - 1);
        });
    }

    // 2. A spawned closure: runs in the first iteration's queue phase.
    handler.spawn(move || println!("{} [task] a spawned closure ran", t()));

    // 3. An async task awaiting a result that a timer sets.
    let answer = handler.async_result::<u32>();
    let a = answer.clone();
    reactor.set_timeout(Duration::from_millis(25), move || {
        println!("{} [timer] setting the result to 42", t());
        a.set(42).expect("set once");
    });
    let r = reactor.clone();
    let awaited = handler.spawn_future(async move {
        println!("{} [async] awaiting the result", t());
        let v = answer.await?;
        println!("{} [async] got {v}; sleeping 5 ms on a loop timer", t());
        r.sleep_async(Duration::from_millis(5)).await;
        println!("{} [async] done", t());
        Ok::<u32, Error>(v)
    });

    // 4. An echo server on the same loop, driven by readiness callbacks.
    let addr = start_echo_server(&reactor)?;
    println!("{} [echo] server listening on {addr}", t());

    // ... and a client socket from the Handler (a non-blocking connect, registered).
    let client = handler.socket(addr)?;
    let mut sent = false;
    let mut echoed = Vec::new();
    let message = b"hello through the loop";

    // The manual loop.
    let (mut busy, mut idle) = (0u32, 0u32);
    loop {
        if handler.poll_once(Some(Duration::from_millis(100)))? {
            busy += 1;
        } else {
            idle += 1;
        }
        if !sent && client.readiness().is_writable() && client.connect_result()? {
            (&client).write_all(message)?;
            sent = true;
            println!(
                "{} [echo] client connected and sent {} bytes",
                t(),
                message.len()
            );
        }
        if client.readiness().is_readable() {
            let mut buf = [0u8; 64];
            match (&client).read(&mut buf) {
                Ok(n) => {
                    echoed.extend_from_slice(&buf[..n]);
                    println!("{} [echo] client read back {n} bytes", t());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        let done = echoed.len() == message.len() && awaited.ready() && timers_left.get() == 0;
        if done {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the example did not finish in 10 s".into());
        }
    }

    assert_eq!(echoed, message);
    println!(
        "{} [loop] finished: {busy} busy and {idle} idle iterations; async task returned {:?}",
        t(),
        awaited.get_nowait()?
    );
    Ok(())
}

/// A listener whose readiness callback accepts connections; each connection's readiness
/// callback echoes what it reads.
fn start_echo_server(reactor: &Reactor) -> Result<std::net::SocketAddr, Box<dyn StdError>> {
    let mut listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let addr = listener.local_addr()?;
    let token = reactor.register(&mut listener, Interest::READABLE)?;
    let listener = Rc::new(listener);
    let conns: Rc<RefCell<Vec<Rc<TcpSocket>>>> = Rc::default();
    let r = reactor.clone();
    let l = listener.clone();
    reactor.set_on_ready(token, move |_| loop {
        match l.accept() {
            Ok((stream, peer)) => {
                println!("           [echo] server accepted {peer}");
                let sock = match TcpSocket::from_mio(&r, stream) {
                    Ok(s) => Rc::new(s),
                    Err(e) => return eprintln!("registering a connection: {e}"),
                };
                let weak = Rc::downgrade(&sock);
                let res = sock.set_on_ready(move |_| {
                    if let Some(s) = weak.upgrade() {
                        echo(&s);
                    }
                });
                if let Err(e) = res {
                    eprintln!("{e}");
                }
                conns.borrow_mut().push(sock);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return eprintln!("accept: {e}"),
        }
    })?;
    Ok(addr)
}

fn echo(sock: &TcpSocket) {
    let mut buf = [0u8; 4096];
    loop {
        match (&*sock).read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                println!("           [echo] server echoes {n} bytes");
                // Small writes to a fresh loopback socket do not block; a real server
                // would queue what is left and wait for WRITABLE.
                if let Err(e) = (&*sock).write_all(&buf[..n]) {
                    eprintln!("echo write: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return eprintln!("echo read: {e}"),
        }
    }
}
