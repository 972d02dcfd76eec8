//! The raw client: a minimal blocking client over std `TcpStream`, the ceiling of what the
//! server can do here.

use super::*;

/// A minimal client: std `TcpStream`, blocking; pre-encoded request frames written in large
/// batches; replies counted, only their header read.
pub(super) struct Raw {
    stream: TcpStream,
    inbuf: Vec<u8>,
    /// Bytes of `inbuf` that hold data; frames start at 0.
    filled: usize,
    next_xid: i32,
    /// Sequential nodes the raw create_seq made: `seq` counts from 0 in a fresh parent.
    seq_next: usize,
    server_pid: Option<u32>,
    /// Its `read` and `write` calls (it has no poll: reads block).
    io: IoStats,
}

/// One reply's header: xid and error.
#[derive(Debug, Clone, Copy)]
struct RawHeader {
    xid: i32,
    err: i32,
}

impl Raw {
    pub(super) fn connect(hosts: &str, server_pid: Option<u32>) -> Result<Raw> {
        let first = hosts.split(',').next().unwrap_or(hosts).trim();
        let addr: SocketAddr = first
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| format!("no address for {first:?}"))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(WAIT))?;
        let mut raw = Raw {
            stream,
            inbuf: vec![0; 1 << 20],
            filled: 0,
            next_xid: 1,
            seq_next: 0,
            server_pid,
            io: IoStats::default(),
        };
        let mut out = BytesMut::new();
        let timeout_ms = i32::try_from(SESSION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        encode_connect_request(&ConnectRequest::new_session(timeout_ms, false), &mut out);
        raw.send(&out)?;
        let frame = raw.next_frame()?;
        match decode_connect_reply(&Bytes::from(frame))? {
            ConnectReply::Response(_) => Ok(raw),
            ConnectReply::Refused(code) => {
                Err(format!("server refused the session: {code}").into())
            }
        }
    }

    /// Reads until one whole frame is buffered; returns its body and drops it from the buffer.
    fn next_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            if self.filled >= 4 {
                let len = i32::from_be_bytes([
                    self.inbuf[0],
                    self.inbuf[1],
                    self.inbuf[2],
                    self.inbuf[3],
                ]);
                let len = usize::try_from(len).map_err(|_| "negative frame length")?;
                if self.filled >= 4 + len {
                    let body = self.inbuf[4..4 + len].to_vec();
                    self.inbuf.copy_within(4 + len..self.filled, 0);
                    self.filled -= 4 + len;
                    return Ok(body);
                }
                if 4 + len > self.inbuf.len() {
                    self.inbuf.resize(4 + len, 0);
                }
            }
            self.fill()?;
        }
    }

    /// `write_all`, counting the `write` calls.
    fn send(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let res = self.stream.write(buf);
            self.io.writes += 1;
            match res {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => {
                    self.io.bytes_written += n as u64;
                    buf = &buf[n..];
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<()> {
        let n = self.stream.read(&mut self.inbuf[self.filled..])?;
        self.io.reads += 1;
        self.io.bytes_read += n as u64;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.filled += n;
        Ok(())
    }

    /// Reads what the socket has (one `read`, blocking until something arrives) and calls
    /// `on_reply` with the header of every whole reply.
    fn read_replies(&mut self, mut on_reply: impl FnMut(RawHeader)) -> Result<()> {
        if self.filled == self.inbuf.len() {
            let len = self.inbuf.len();
            self.inbuf.resize(len * 2, 0);
        }
        self.fill()?;
        let mut at = 0;
        while self.filled - at >= 4 + 16 {
            let b = &self.inbuf[at..];
            let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let len = usize::try_from(len).map_err(|_| "negative frame length")?;
            if len < 16 {
                return Err(format!("a {len}-byte reply frame").into());
            }
            if self.filled - at < 4 + len {
                if 4 + len > self.inbuf.len() {
                    self.inbuf.resize(4 + len, 0);
                }
                break;
            }
            let xid = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let err = i32::from_be_bytes([b[16], b[17], b[18], b[19]]);
            on_reply(RawHeader { xid, err });
            at += 4 + len;
        }
        self.inbuf.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(())
    }

    /// Encodes requests into one buffer; returns it and each frame's end offset.
    fn encode(&mut self, reqs: impl Iterator<Item = Request>) -> Result<(Vec<u8>, Vec<usize>)> {
        let mut out = BytesMut::new();
        let mut ends = Vec::new();
        for r in reqs {
            encode_request(self.next_xid, &r, &mut out, DEFAULT_MAX_OUTGOING_FRAME)?;
            self.next_xid += 1;
            ends.push(out.len());
        }
        Ok((out.to_vec(), ends))
    }

    /// Writes `reqs` with at most `window` outstanding, each batch in one `write_all`.
    fn pipelined(&mut self, reqs: Vec<Request>, window: usize) -> Result<Measure> {
        let n = reqs.len();
        let (buf, ends) = self.encode(reqs.into_iter())?;
        let mut sent_at = Vec::with_capacity(n);
        let mut lat = Vec::with_capacity(n);
        let (mut sent, mut done, mut errors) = (0usize, 0usize, 0usize);
        let span = Span::begin(self.server_pid, self.io);
        while done < n {
            if sent < n && sent - done < window {
                let upto = (done + window).min(n);
                let from = if sent == 0 { 0 } else { ends[sent - 1] };
                self.send(&buf[from..ends[upto - 1]])?;
                let now = Instant::now();
                sent_at.resize(upto, now);
                sent = upto;
            }
            let now = Cell::new(None::<Instant>);
            self.read_replies(|h| {
                if h.xid > 0 {
                    let t = now.get().unwrap_or_else(Instant::now);
                    now.set(Some(t));
                    if let Some(s) = sent_at.get(done) {
                        lat.push(t.duration_since(*s).as_secs_f64() * 1e6);
                    }
                    if h.err != 0 {
                        errors += 1;
                    }
                    done += 1;
                }
            })?;
        }
        let (secs, cost) = span.end(n, self.io);
        let (p50_us, p99_us) = percentiles(lat);
        Ok(Measure {
            ops: n,
            secs,
            p50_us,
            p99_us,
            window: Some(window),
            errors,
            cost,
            ..Measure::default()
        })
    }

    /// Registers K data watches (getData with watch), sends the firing requests, and times
    /// until K notifications arrived.
    fn watches(&mut self, base: &str, opts: &Opts, multi: bool) -> Result<Measure> {
        let k = opts.watch_n;
        let mut rounds = Vec::new();
        let mut errors = 0;
        let mut cost = Cost::default();
        for round in 0..opts.watch_rounds {
            let gets = (0..k).map(|i| {
                Request::GetData(PathWatch {
                    path: format!("{base}/w/{i}"),
                    watch: true,
                })
            });
            let m = self.pipelined(gets.collect(), k.max(1))?;
            errors += m.errors;
            let data = Bytes::from(format!("round {round}"));
            let set = |i: usize| SetDataRequest {
                path: format!("{base}/w/{i}"),
                data: Some(data.clone()),
                version: -1,
            };
            let fire: Vec<Request> = if multi {
                vec![Request::Multi(
                    (0..k).map(|i| MultiOp::SetData(set(i))).collect(),
                )]
            } else {
                (0..k).map(|i| Request::SetData(set(i))).collect()
            };
            let replies_due = fire.len();
            let (buf, _) = self.encode(fire.into_iter())?;
            let span = Span::begin(self.server_pid, self.io);
            let t0 = span.start;
            self.send(&buf)?;
            let (mut fired, mut replies) = (0usize, 0usize);
            let mut secs = None;
            while fired < k || replies < replies_due {
                self.read_replies(|h| match h.xid {
                    -1 => fired += 1,
                    x if x > 0 => {
                        replies += 1;
                        if h.err != 0 {
                            errors += 1;
                        }
                    }
                    _ => {}
                })?;
                if fired >= k && secs.is_none() {
                    let (t, c) = span.end(k, self.io);
                    secs = Some(t);
                    cost.add(c);
                }
                if t0.elapsed() > WAIT {
                    return Err(format!("{fired} of {k} watches fired in {WAIT:?}").into());
                }
            }
            rounds.push(secs.unwrap_or_else(|| t0.elapsed().as_secs_f64()));
        }
        Ok(watch_measure(k, rounds, errors, cost))
    }
}

impl Bench for Raw {
    fn warmup(&mut self, base: &str, opts: &Opts) -> Result<()> {
        let data = Bytes::from(vec![1u8; 1024]);
        let reqs = (0..opts.warmup)
            .map(|i| match i % 3 {
                0 => Request::Exists(PathWatch {
                    path: format!("{base}/e"),
                    watch: false,
                }),
                1 => Request::GetData(PathWatch {
                    path: format!("{base}/g"),
                    watch: false,
                }),
                _ => Request::SetData(SetDataRequest {
                    path: format!("{base}/s"),
                    data: Some(data.clone()),
                    version: -1,
                }),
            })
            .collect();
        self.pipelined(reqs, opts.window)?;
        Ok(())
    }

    fn workload(
        &mut self,
        name: &str,
        base: &str,
        opts: &Opts,
        created: &mut Vec<String>,
    ) -> Result<Measure> {
        let (n, w) = (opts.n, opts.window);
        let exists = || {
            Request::Exists(PathWatch {
                path: format!("{base}/e"),
                watch: false,
            })
        };
        match name {
            "exists_all" => self.pipelined((0..n).map(|_| exists()).collect(), n.max(1)),
            "exists_w" => self.pipelined((0..n).map(|_| exists()).collect(), w),
            "get_1k" => {
                let reqs = (0..n)
                    .map(|_| {
                        Request::GetData(PathWatch {
                            path: format!("{base}/g"),
                            watch: false,
                        })
                    })
                    .collect();
                self.pipelined(reqs, w)
            }
            "create_seq" => {
                let data = Bytes::from(vec![3u8; 100]);
                let reqs = (0..n)
                    .map(|_| {
                        Request::Create(CreateRequest {
                            path: format!("{base}/seq/n"),
                            data: Some(data.clone()),
                            acl: Acl::open_unsafe(),
                            flags: CreateMode::PersistentSequential.as_i32(),
                        })
                    })
                    .collect();
                let m = self.pipelined(reqs, w)?;
                // Replies are not decoded: the names follow from the parent's counter, which
                // starts at 0 in the fresh `seq` node.
                created.extend(
                    (self.seq_next..self.seq_next + n).map(|i| format!("{base}/seq/n{i:010}")),
                );
                self.seq_next += n;
                Ok(m)
            }
            "delete" => {
                if created.len() < n {
                    let missing = n - created.len();
                    let fill: Vec<String> = Vec::new();
                    let mut sink = fill;
                    self.workload(
                        "create_seq",
                        base,
                        &Opts {
                            n: missing,
                            ..opts.clone()
                        },
                        &mut sink,
                    )?;
                    created.extend(sink);
                }
                let reqs = created
                    .drain(..n)
                    .map(|path| Request::Delete(DeleteRequest { path, version: -1 }))
                    .collect();
                self.pipelined(reqs, w)
            }
            "set_1k" => {
                let data = Bytes::from(vec![5u8; 1024]);
                let reqs = (0..n)
                    .map(|_| {
                        Request::SetData(SetDataRequest {
                            path: format!("{base}/s"),
                            data: Some(data.clone()),
                            version: -1,
                        })
                    })
                    .collect();
                self.pipelined(reqs, w)
            }
            "exists_lat" => {
                // A ping-pong of the same pre-encoded request, one at a time.
                let (buf, _) = self.encode((0..opts.lat_n).map(|_| exists()))?;
                let frame_len = buf.len().checked_div(opts.lat_n).unwrap_or(0);
                let mut lat = Vec::with_capacity(opts.lat_n);
                let mut errors = 0;
                let span = Span::begin(self.server_pid, self.io);
                for chunk in buf.chunks(frame_len.max(1)) {
                    let t0 = Instant::now();
                    self.send(chunk)?;
                    let mut got = false;
                    while !got {
                        self.read_replies(|h| {
                            if h.xid > 0 {
                                got = true;
                                if h.err != 0 {
                                    errors += 1;
                                }
                            }
                        })?;
                    }
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                let (secs, cost) = span.end(opts.lat_n, self.io);
                let (p50_us, p99_us) = percentiles(lat);
                Ok(Measure {
                    ops: opts.lat_n,
                    secs,
                    p50_us,
                    p99_us,
                    window: Some(1),
                    errors,
                    cost,
                    ..Measure::default()
                })
            }
            "watch_multi" => self.watches(base, opts, true),
            "watch_sets" => self.watches(base, opts, false),
            "mem_request" | "mem_watch" => Ok(Measure::skipped(
                "the raw client keeps no state per request or watch",
            )),
            other => Err(format!("unknown workload {other:?}").into()),
        }
    }

    fn close(mut self: Box<Self>) -> Result<()> {
        let (buf, _) = self.encode(std::iter::once(Request::CloseSession))?;
        self.send(&buf)?;
        let mut closed = false;
        while !closed {
            match self.read_replies(|h| closed |= h.xid > 0) {
                Ok(()) => {}
                // The server may close the socket right after its reply.
                Err(_) => break,
            }
        }
        Ok(())
    }
}
