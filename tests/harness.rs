//! The real-ZooKeeper harness (`mio_zookeeper::testing`) against real servers.
//!
//! These tests check the harness itself, so they talk to the servers with four-letter words
//! and with `mini`, a few dozen lines of blocking jute client below, not with the crate's
//! own client.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use mio_zookeeper::testing::{
    digest_id, four_letter, HarnessError, Installation, ServerMode, ZkEnsemble, ZkServer,
};

/// Whether `pid` is a live (or zombie) process.
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn keep_logs() -> bool {
    std::env::var_os("MIO_ZK_KEEP_LOGS").is_some_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn standalone_serves_and_stops() {
    let mut zk = ZkServer::start().unwrap();
    assert_eq!(zk.connect_string(), format!("127.0.0.1:{}", zk.port()));
    assert_eq!(zk.addr().port(), zk.port());
    assert_eq!(zk.four_letter("ruok").unwrap(), "imok");
    assert_eq!(zk.mode(), Some(ServerMode::Standalone));
    assert!(zk.is_running());
    let pid = zk.pid().unwrap();
    assert!(process_exists(pid));

    // The documented defaults.
    let conf = zk.four_letter("conf").unwrap();
    assert!(conf.contains("tickTime=500"), "{conf}");
    assert!(conf.contains("minSessionTimeout=1000"), "{conf}");
    assert!(conf.contains("maxSessionTimeout=10000"), "{conf}");
    assert!(conf.contains("maxClientCnxns=0"), "{conf}");
    assert!(
        zk.log().contains("ZooKeeperServer"),
        "the server logs to its log file"
    );

    zk.stop().unwrap();
    assert!(!zk.is_running());
    assert_eq!(zk.pid(), None);
    assert!(!process_exists(pid), "stop reaps the process");
    assert!(zk.four_letter("ruok").is_err(), "nobody listens any more");
    assert_eq!(zk.mode(), None);
    zk.stop().unwrap(); // a no-op
}

#[test]
fn two_servers_at_once_are_independent() {
    let a = ZkServer::start().unwrap();
    let b = ZkServer::start().unwrap();
    assert_ne!(a.port(), b.port());
    assert_eq!(a.four_letter("ruok").unwrap(), "imok");
    assert_eq!(b.four_letter("ruok").unwrap(), "imok");

    let mut client = mini::Session::connect(a.addr(), None).unwrap();
    assert_eq!(
        client.create("/only-on-a", b"a", mini::PERSISTENT).unwrap(),
        0
    );
    let mut other = mini::Session::connect(b.addr(), None).unwrap();
    assert_eq!(other.get_data("/only-on-a").unwrap(), Err(mini::NONODE));
    assert_eq!(client.get_data("/only-on-a").unwrap(), Ok(b"a".to_vec()));
}

#[test]
fn restart_keeps_port_data_and_sessions() {
    let mut zk = ZkServer::start().unwrap();
    let port = zk.port();
    let mut client = mini::Session::connect(zk.addr(), None).unwrap();
    assert_eq!(client.create("/x", b"data", mini::PERSISTENT).unwrap(), 0);
    assert_eq!(client.create("/eph", b"e", mini::EPHEMERAL).unwrap(), 0);
    let (session_id, passwd) = (client.session_id, client.passwd.clone());
    drop(client); // the TCP connection goes away; the session does not

    let old_pid = zk.pid().unwrap();
    zk.restart().unwrap();
    assert_eq!(zk.port(), port);
    assert_ne!(zk.pid().unwrap(), old_pid);
    assert_eq!(zk.mode(), Some(ServerMode::Standalone));

    // The session survives the restart, so does its ephemeral node.
    let mut client = mini::Session::connect(zk.addr(), Some((session_id, &passwd))).unwrap();
    assert_eq!(client.session_id, session_id);
    assert_eq!(client.get_data("/x").unwrap(), Ok(b"data".to_vec()));
    assert_eq!(client.get_data("/eph").unwrap(), Ok(b"e".to_vec()));
    drop(client);

    // A crash (SIGKILL) keeps the data too.
    zk.kill().unwrap();
    assert!(!zk.is_running());
    assert!(!process_exists(old_pid));
    zk.start_again().unwrap();
    let mut client = mini::Session::connect(zk.addr(), None).unwrap();
    assert_eq!(client.get_data("/x").unwrap(), Ok(b"data".to_vec()));
}

#[test]
fn start_again_reports_a_taken_port() {
    let mut zk = ZkServer::start().unwrap();
    zk.stop().unwrap();
    let squatter = TcpListener::bind(zk.addr()).unwrap();
    match zk.start_again() {
        Err(HarnessError::AddrInUse { tail, .. }) => {
            assert!(tail.contains("Address already in use"), "{tail}")
        }
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    assert!(!zk.is_running());
    drop(squatter);
    zk.start_again().unwrap();
    assert_eq!(zk.four_letter("ruok").unwrap(), "imok");
}

#[test]
fn drop_kills_the_server_and_removes_its_directory() {
    let zk = ZkServer::start().unwrap();
    let pid = zk.pid().unwrap();
    let dir = zk.dir().to_path_buf();
    let addr = zk.addr();
    assert!(dir.join("zoo.cfg").is_file());
    assert!(dir.join("data").is_dir());
    assert!(zk.log_path().starts_with(&dir));
    assert!(process_exists(pid));

    drop(zk);
    assert!(!process_exists(pid), "the process is killed and reaped");
    assert!(four_letter(addr, "ruok", Duration::from_secs(1)).is_err());
    if !keep_logs() {
        assert!(!dir.exists(), "{} should be gone", dir.display());
    }
}

#[test]
fn extended_types_and_super_digest() {
    let plain = ZkServer::start().unwrap();
    let special = ZkServer::builder()
        .extended_types(true)
        .super_digest("super", "test")
        .cfg("maxSessionTimeout", "30000")
        .system_property("zookeeper.mio.test", "1")
        .start()
        .unwrap();
    assert!(special
        .four_letter("conf")
        .unwrap()
        .contains("maxSessionTimeout=30000"));

    // TTL nodes need extended types.
    let mut c = mini::Session::connect(special.addr(), None).unwrap();
    assert_eq!(c.create_ttl("/ttl", b"t", 60_000).unwrap(), 0);
    let mut p = mini::Session::connect(plain.addr(), None).unwrap();
    assert_ne!(p.create_ttl("/ttl", b"t", 60_000).unwrap(), 0);

    // A node only alice may read...
    let alice = digest_id("alice", "pw");
    for client in [&mut c, &mut p] {
        assert_eq!(
            client
                .create_with_acl("/secret", b"s", &[(mini::PERM_ALL, "digest", &alice)], 0)
                .unwrap(),
            0
        );
    }
    // ...is closed to others, open to alice, and to the super user where one is set.
    let mut anon = mini::Session::connect(special.addr(), None).unwrap();
    assert_eq!(anon.get_data("/secret").unwrap(), Err(mini::NOAUTH));
    let mut su = mini::Session::connect(special.addr(), None).unwrap();
    assert_eq!(su.add_auth("digest", b"super:test").unwrap(), 0);
    assert_eq!(su.get_data("/secret").unwrap(), Ok(b"s".to_vec()));
    let mut a = mini::Session::connect(special.addr(), None).unwrap();
    assert_eq!(a.add_auth("digest", b"alice:pw").unwrap(), 0);
    assert_eq!(a.get_data("/secret").unwrap(), Ok(b"s".to_vec()));

    let mut not_su = mini::Session::connect(plain.addr(), None).unwrap();
    assert_eq!(not_su.add_auth("digest", b"super:test").unwrap(), 0);
    assert_eq!(not_su.get_data("/secret").unwrap(), Err(mini::NOAUTH));
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let mut zk = ZkServer::start().unwrap();
    zk.pause().unwrap();
    assert!(zk.is_paused());
    assert!(zk.is_running());
    let started = Instant::now();
    let err = four_letter(zk.addr(), "ruok", Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    zk.resume().unwrap();
    assert!(!zk.is_paused());
    assert_eq!(zk.four_letter("ruok").unwrap(), "imok");

    // A paused server can be stopped.
    zk.pause().unwrap();
    zk.stop().unwrap();
    assert!(!zk.is_running());
}

#[test]
fn errors_say_what_went_wrong() {
    let err = ZkServer::builder()
        .cfg("bad\nkey", "v")
        .start()
        .unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig { .. }), "{err}");
    let err = ZkServer::builder().tick_time(0).start().unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig { .. }), "{err}");
    let err = ZkEnsemble::start(0).unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig { .. }), "{err}");

    let err = four_letter(
        "127.0.0.1:1".parse().unwrap(),
        "toolong",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let err = ZkServer::builder()
        .installation(Installation::new("/nonexistent/bin/java", "x.jar"))
        .start()
        .unwrap_err();
    assert!(matches!(err, HarnessError::Spawn { .. }), "{err}");

    // A server that cannot start: the error quotes its log.
    let java = Installation::find().unwrap().java().to_path_buf();
    let err = ZkServer::builder()
        .installation(Installation::new(java, "/nonexistent/zookeeper.jar"))
        .start()
        .unwrap_err();
    match &err {
        HarnessError::NotReady { reason, tail, .. } => {
            assert!(reason.contains("exited"), "{reason}");
            assert!(tail.contains("ZooKeeperServerMain"), "{tail}");
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert!(err.to_string().contains("ZooKeeperServerMain"));

    // A port that stays taken: start retries on fresh ports, but the override pins it.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port().to_string();
    let err = ZkServer::builder()
        .cfg("clientPort", &taken)
        .start()
        .unwrap_err();
    assert!(matches!(err, HarnessError::AddrInUse { .. }), "{err}");

    let not_installed = HarnessError::NotInstalled {
        reason: "test".into(),
    };
    let msg = not_installed.to_string();
    assert!(msg.contains("scripts/install-zookeeper"), "{msg}");
    assert!(
        msg.contains("apt-get install zookeeper default-jre-headless"),
        "{msg}"
    );
    assert!(
        msg.contains("MIO_ZK_CLASSPATH") && msg.contains("ZOOKEEPER_PATH"),
        "{msg}"
    );
}

#[test]
fn ensemble_elects_and_survives_restarts() {
    let mut zk = ZkEnsemble::start(3).unwrap();
    assert_eq!(zk.len(), 3);
    let addrs = zk.addrs();
    assert_eq!(
        zk.connect_string(),
        addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut ports: Vec<u16> = zk
        .servers()
        .iter()
        .flat_map(|m| [m.port(), m.quorum_port(), m.election_port()])
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 9, "all ports differ");
    assert_eq!(zk.server(2).unwrap().id(), 3);
    assert!(zk.server(3).is_none());
    assert!(matches!(
        zk.stop(3),
        Err(HarnessError::NoSuchServer { index: 3, len: 3 })
    ));

    let leader = zk.leader().expect("one leader after start");
    let modes: Vec<ServerMode> = (0..3).map(|i| zk.mode(i).unwrap()).collect();
    assert_eq!(
        modes.iter().filter(|m| **m == ServerMode::Leader).count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| **m == ServerMode::Follower).count(),
        2,
        "{modes:?}"
    );
    let conf = zk.server(0).unwrap().four_letter("conf").unwrap();
    assert_eq!(conf.matches(":participant;127.0.0.1:").count(), 3, "{conf}");
    assert!(conf.contains(&format!(
        "electionPort={}",
        zk.server(0).unwrap().election_port()
    )));

    // Writes replicate.
    let mut c = mini::Session::connect(addrs[leader], None).unwrap();
    assert_eq!(c.create("/replicated", b"r", mini::PERSISTENT).unwrap(), 0);
    drop(c);
    let read_on = |i: usize| {
        let mut s = mini::Session::connect(addrs[i], None).unwrap();
        assert_eq!(s.sync("/replicated").unwrap(), 0);
        s.get_data("/replicated").unwrap()
    };

    // A follower goes away and comes back.
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    zk.stop(follower).unwrap();
    assert!(!zk.server(follower).unwrap().is_running());
    assert_eq!(
        zk.wait_for_leader().unwrap(),
        leader,
        "two of three keep quorum"
    );
    assert_eq!(read_on(other), Ok(b"r".to_vec()));
    zk.start_again(follower).unwrap();
    assert_eq!(zk.mode(follower), Some(ServerMode::Follower));
    assert_eq!(read_on(follower), Ok(b"r".to_vec()));

    // The leader goes away: the others elect a new one; the old one rejoins as a follower.
    zk.stop(leader).unwrap();
    let new_leader = zk.wait_for_leader().unwrap();
    assert_ne!(new_leader, leader);
    assert_eq!(read_on(follower), Ok(b"r".to_vec()));
    zk.start_again(leader).unwrap();
    assert_eq!(zk.wait_for_leader().unwrap(), new_leader);
    assert_eq!(zk.mode(leader), Some(ServerMode::Follower));

    // A frozen follower: the quorum goes on without it; thawed, it serves again.
    let frozen = (new_leader + 1) % 3;
    zk.pause(frozen).unwrap();
    assert!(zk.server(frozen).unwrap().is_paused());
    assert_eq!(zk.mode(frozen), None);
    assert_eq!(zk.leader(), Some(new_leader));
    zk.resume(frozen).unwrap();
    zk.wait_serving(frozen).unwrap();
    assert_eq!(read_on(frozen), Ok(b"r".to_vec()));

    // A killed server; drop then kills the rest.
    let pids: Vec<u32> = zk.servers().iter().map(|m| m.pid().unwrap()).collect();
    let dir = zk.dir().to_path_buf();
    zk.kill(frozen).unwrap();
    assert!(!process_exists(pids[frozen]));
    drop(zk);
    for pid in pids {
        assert!(!process_exists(pid));
    }
    if !keep_logs() {
        assert!(!dir.exists());
    }
}

/// A minimal blocking ZooKeeper client: just enough jute to check the servers' behaviour.
mod mini {
    use std::io::{self, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    pub(crate) const PERSISTENT: i32 = 0;
    pub(crate) const EPHEMERAL: i32 = 1;
    const PERSISTENT_WITH_TTL: i32 = 5;
    pub(crate) const PERM_ALL: i32 = 31;
    pub(crate) const NONODE: i32 = -101;
    pub(crate) const NOAUTH: i32 = -102;

    const OP_CREATE: i32 = 1;
    const OP_GET_DATA: i32 = 4;
    const OP_SYNC: i32 = 9;
    const OP_CREATE_TTL: i32 = 21;
    const OP_AUTH: i32 = 100;
    const AUTH_XID: i32 = -4;

    pub(crate) struct Session {
        stream: TcpStream,
        xid: i32,
        pub(crate) session_id: i64,
        pub(crate) passwd: Vec<u8>,
    }

    #[derive(Default)]
    struct Out(Vec<u8>);

    impl Out {
        fn i32(&mut self, v: i32) -> &mut Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(&mut self, v: i64) -> &mut Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn buf(&mut self, b: &[u8]) -> &mut Self {
            self.i32(b.len() as i32);
            self.0.extend_from_slice(b);
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.buf(s.as_bytes())
        }
        fn bool(&mut self, b: bool) -> &mut Self {
            self.0.push(u8::from(b));
            self
        }
        fn acl(&mut self, acl: &[(i32, &str, &str)]) -> &mut Self {
            self.i32(acl.len() as i32);
            for (perms, scheme, id) in acl {
                self.i32(*perms).str(scheme).str(id);
            }
            self
        }
    }

    struct In<'a>(&'a [u8]);

    impl In<'_> {
        fn take(&mut self, n: usize) -> io::Result<&[u8]> {
            if self.0.len() < n {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "short reply"));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn i32(&mut self) -> io::Result<i32> {
            Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
        }
        fn i64(&mut self) -> io::Result<i64> {
            Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
        }
        fn buf(&mut self) -> io::Result<Vec<u8>> {
            let n = self.i32()?;
            Ok(self.take(usize::try_from(n).unwrap_or(0))?.to_vec())
        }
    }

    const OPEN_ACL: &[(i32, &str, &str)] = &[(PERM_ALL, "world", "anyone")];

    impl Session {
        /// A new session, or `resume` = (session id, password) of an existing one.
        pub(crate) fn connect(
            addr: SocketAddr,
            resume: Option<(i64, &[u8])>,
        ) -> io::Result<Session> {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            let (id, passwd) = resume.unwrap_or((0, &[0; 16]));
            let mut req = Out::default();
            req.i32(0)
                .i64(0)
                .i32(10_000)
                .i64(id)
                .buf(passwd)
                .bool(false);
            write_frame(&mut stream, &req.0)?;
            let reply = read_frame(&mut stream)?;
            let mut r = In(&reply);
            let _protocol_version = r.i32()?;
            let timeout = r.i32()?;
            let session_id = r.i64()?;
            let passwd = r.buf()?;
            if timeout <= 0 {
                return Err(io::Error::other("session expired"));
            }
            Ok(Session {
                stream,
                xid: 0,
                session_id,
                passwd,
            })
        }

        fn call(&mut self, xid: i32, op: i32, body: &[u8]) -> io::Result<(i32, Vec<u8>)> {
            let mut req = Out::default();
            req.i32(xid).i32(op);
            req.0.extend_from_slice(body);
            write_frame(&mut self.stream, &req.0)?;
            loop {
                let reply = read_frame(&mut self.stream)?;
                let mut r = In(&reply);
                let reply_xid = r.i32()?;
                let _zxid = r.i64()?;
                let err = r.i32()?;
                if reply_xid == -1 || reply_xid == -2 {
                    continue; // a watch event or a ping reply
                }
                assert_eq!(reply_xid, xid, "replies come in order");
                return Ok((err, r.0.to_vec()));
            }
        }

        fn next_xid(&mut self) -> i32 {
            self.xid += 1;
            self.xid
        }

        pub(crate) fn create(&mut self, path: &str, data: &[u8], flags: i32) -> io::Result<i32> {
            self.create_with_acl(path, data, OPEN_ACL, flags)
        }

        pub(crate) fn create_with_acl(
            &mut self,
            path: &str,
            data: &[u8],
            acl: &[(i32, &str, &str)],
            flags: i32,
        ) -> io::Result<i32> {
            let mut body = Out::default();
            body.str(path).buf(data).acl(acl).i32(flags);
            let xid = self.next_xid();
            Ok(self.call(xid, OP_CREATE, &body.0)?.0)
        }

        pub(crate) fn create_ttl(
            &mut self,
            path: &str,
            data: &[u8],
            ttl_ms: i64,
        ) -> io::Result<i32> {
            let mut body = Out::default();
            body.str(path)
                .buf(data)
                .acl(OPEN_ACL)
                .i32(PERSISTENT_WITH_TTL)
                .i64(ttl_ms);
            let xid = self.next_xid();
            Ok(self.call(xid, OP_CREATE_TTL, &body.0)?.0)
        }

        /// The data, or the error code.
        pub(crate) fn get_data(&mut self, path: &str) -> io::Result<Result<Vec<u8>, i32>> {
            let mut body = Out::default();
            body.str(path).bool(false);
            let xid = self.next_xid();
            let (err, reply) = self.call(xid, OP_GET_DATA, &body.0)?;
            if err != 0 {
                return Ok(Err(err));
            }
            Ok(Ok(In(&reply).buf()?))
        }

        pub(crate) fn sync(&mut self, path: &str) -> io::Result<i32> {
            let mut body = Out::default();
            body.str(path);
            let xid = self.next_xid();
            Ok(self.call(xid, OP_SYNC, &body.0)?.0)
        }

        pub(crate) fn add_auth(&mut self, scheme: &str, auth: &[u8]) -> io::Result<i32> {
            let mut body = Out::default();
            body.i32(0).str(scheme).buf(auth);
            Ok(self.call(AUTH_XID, OP_AUTH, &body.0)?.0)
        }
    }

    fn write_frame(stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        stream.write_all(&frame)
    }

    fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let len = usize::try_from(i32::from_be_bytes(len))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative length"))?;
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body)?;
        Ok(body)
    }
}
