//! The node as a user runs it: `distsys cluster up`, Redis-protocol clients, the admin port
//! (status, metrics, leadership transfer, membership change), a restart that keeps the data,
//! and `cluster down`.

mod common;

use common::cluster;
use distsys_harness::client::Connections;
use distsys_node::resp::Reply;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const BASE: u16 = 25000;

/// Sends one command to the node at `port` (the project's one RESP codec, through the
/// harness's client) and renders the reply as redis-cli would: `+OK`, `:1`, `-ERR ...`, a bulk
/// string's text.
fn resp(port: u16, args: &[&str]) -> String {
    let mut conns = Connections::new(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    match conns.call(0, args).expect("a reply") {
        Reply::Simple(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        Reply::Integer(n) => format!(":{n}"),
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        Reply::Bulk(None) => "$-1".to_string(),
        Reply::Array(items) => format!("*{}", items.len()),
        Reply::Map(pairs) => format!("%{}", pairs.len()),
    }
}

fn http(method: &str, url: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let response = if method == "POST" {
        agent.post(url).send(body.to_string())
    } else {
        agent.get(url).call()
    };
    match response {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

fn leader() -> Option<u16> {
    (1..=3u16).find(|i| {
        http(
            "GET",
            &format!("http://127.0.0.1:{}/status", BASE + 200 + i),
            "",
        )
        .1
        .contains("\"role\":\"leader\"")
    })
}

fn wait_leader(not: Option<u16>) -> u16 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(l) = leader().filter(|l| Some(*l) != not) {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no leader within 20 s");
}

#[test]
fn a_local_cluster_serves_redis_clients_and_obeys_admin_commands() {
    let dir = std::env::temp_dir().join(format!("distsys-node-test-{}", std::process::id()));
    let dir = dir.display().to_string();
    let base = BASE.to_string();
    cluster(&["up", "--nodes", "3", "--dir", &dir, "--base-port", &base]);
    let result = std::panic::catch_unwind(|| {
        let l = wait_leader(None);
        let follower = l % 3 + 1;
        assert_eq!(resp(BASE + l, &["SET", "greeting", "hello"]), "+OK");
        assert_eq!(resp(BASE + l, &["GET", "greeting"]), "hello");
        assert_eq!(resp(BASE + l, &["INCR", "n"]), ":1");
        assert_eq!(resp(BASE + l, &["CAS", "greeting", "hello", "hi"]), ":1");
        assert_eq!(resp(BASE + l, &["CAS", "greeting", "hello", "hey"]), ":0");
        // A follower names the leader's client port.
        assert_eq!(
            resp(BASE + follower, &["GET", "greeting"]),
            format!("-MOVED 0 127.0.0.1:{}", BASE + l)
        );
        // Malformed input: an error, and the node keeps serving.
        assert!(resp(BASE + l, &["NOSUCH"]).starts_with("-ERR unknown command"));
        let (code, metrics) = http(
            "GET",
            &format!("http://127.0.0.1:{}/metrics", BASE + 200 + l),
            "",
        );
        assert_eq!(code, 200);
        assert!(
            metrics.contains("# TYPE leader_elections_total counter"),
            "{metrics}"
        );
        assert!(
            metrics.contains("consensus_latency_seconds_bucket"),
            "{metrics}"
        );
        // Leadership transfer.
        let (code, text) = http(
            "POST",
            &format!(
                "http://127.0.0.1:{}/admin/transfer/{follower}",
                BASE + 200 + l
            ),
            "",
        );
        assert_eq!(code, 200, "{text}");
        let new = wait_leader(Some(l));
        assert_eq!(new, follower);
        // Membership: an unknown member is refused, a known change is accepted.
        let url = format!("http://127.0.0.1:{}/admin/membership", BASE + 200 + new);
        let (code, _) = http("POST", &url, r#"{"voters":[1,2,3,9]}"#);
        assert_eq!(code, 409);
        let (code, _) = http("POST", &url, "not json");
        assert_eq!(code, 400);
        // A leader fresh from a transfer refuses until it has committed an entry of its term
        // (409 with that reason); then it accepts.
        let start = Instant::now();
        let (code, text) = loop {
            let (code, text) = http("POST", &url, r#"{"voters":[1,2,3]}"#);
            if !(code == 409 && text.contains("not committed an entry of its term"))
                || start.elapsed() > Duration::from_secs(5)
            {
                break (code, text);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(code, 200, "{text}");
        assert_eq!(resp(BASE + new, &["GET", "greeting"]), "hi");
    });
    cluster(&["down", "--dir", &dir]);
    // Restarted from disk, the data is still there.
    if result.is_ok() {
        cluster(&["up", "--nodes", "3", "--dir", &dir, "--base-port", &base]);
        let restarted = std::panic::catch_unwind(|| {
            // The restart writes new configurations (a new key) but keeps the data dirs.
            let l = wait_leader(None);
            assert_eq!(resp(BASE + l, &["GET", "greeting"]), "hi");
            assert_eq!(resp(BASE + l, &["INCR", "n"]), ":2");
        });
        cluster(&["down", "--dir", &dir]);
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = restarted {
            std::panic::resume_unwind(e);
        }
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A node process started by a test, killed (SIGKILL) and reaped when dropped.
struct NodeProcess(std::process::Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `distsys serve --config CONFIG`, its output appended to `log`. With `max_file_size`,
/// the process may not grow any file past that many bytes (RLIMIT_FSIZE, with SIGXFSZ
/// ignored, so a write past it fails with EFBIG, as on a full disk); needs no privileges.
fn serve(
    config: &std::path::Path,
    log: &std::path::Path,
    max_file_size: Option<u64>,
) -> NodeProcess {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("distsys"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out);
    if let Some(limit) = max_file_size {
        // SAFETY: between fork and exec the closure calls only async-signal-safe functions
        // (signal, setrlimit) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let rlim = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rlim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    NodeProcess(command.spawn().expect("node starts"))
}

/// Sends `SET key value` until the node (a one-node cluster: it elects itself) answers
/// something else than TRYAGAIN, for at most 20 s.
fn first_answer(conns: &mut Connections, args: &[&str]) -> Reply {
    let start = Instant::now();
    loop {
        match conns.call(0, args) {
            Ok(Reply::Error(e)) if e.starts_with("TRYAGAIN") || e.starts_with("MOVED") => {}
            Ok(reply) => return reply,
            Err(_) => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no leader within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value written under key number `i`: its number, then 16 KiB.
fn big_value(i: usize) -> String {
    format!("{i}:{}", "x".repeat(16 << 10))
}

#[test]
fn a_full_disk_stops_the_node_with_an_error_and_loses_no_acknowledged_write() {
    // The Raft store and the one every other core uses (Multi-Paxos's, as PBFT's).
    for (protocol, port) in [("raft", 26000), ("multipaxos", 26100)] {
        full_disk(protocol, port);
    }
}

fn full_disk(protocol: &str, port: u16) {
    const LIMIT: u64 = 8 << 20;
    let dir = std::env::temp_dir().join(format!(
        "distsys-full-disk-{protocol}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let (node_dir, mut config) = distsys_harness::cluster::layout(1, &dir, port, None)
        .pop()
        .expect("one node");
    config.protocol = protocol.into();
    let path = distsys_harness::cluster::write_config(&node_dir, &config).expect("config");
    let log = node_dir.join("node.log");
    let client = config.me().client;
    let result = std::panic::catch_unwind(|| {
        let mut node = serve(&path, &log, Some(LIMIT));
        let mut conns = Connections::new(vec![client]);
        assert_eq!(
            first_answer(&mut conns, &["SET", "k0", &big_value(0)]),
            Reply::Simple("OK".into())
        );
        let mut acked = vec![0];
        let error = loop {
            let i = acked.len();
            assert!(i < 10_000, "the disk never filled");
            let value = big_value(i);
            match conns.call(0, &["SET", &format!("k{i}"), &value]) {
                Ok(Reply::Simple(ok)) if ok == "OK" => acked.push(i),
                Ok(Reply::Error(e)) => break e,
                other => panic!("write {i}: neither OK nor an error: {other:?}"),
            }
        };
        assert!(
            error.starts_with("ERR storage failure on this node"),
            "{error}"
        );
        assert!(error.contains("not acknowledged"), "{error}");
        // The process stops on its own, with the storage exit code, and did not panic.
        let start = Instant::now();
        let status = loop {
            if let Some(status) = node.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the node did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = std::fs::read_to_string(&log).expect("log");
        assert_eq!(
            status.code(),
            Some(70),
            "{status:?}; the node's log:\n{text}"
        );
        assert!(text.contains("\"event\":\"storage_failed\""), "{text}");
        assert!(text.contains("error: stopped: storage:"), "{text}");
        assert!(!text.contains("panicked"), "{text}");
        let db = std::fs::metadata(config.data_dir.join(format!("{protocol}.redb")))
            .map_or(0, |m| m.len());
        eprintln!(
            "full disk ({protocol}): {} writes of 16 KiB acknowledged before the {LIMIT}-byte limit (database {db} bytes); then: {error}",
            acked.len()
        );
        drop(node);
        // Space back: every acknowledged write is there.
        let _node = serve(&path, &log, None);
        let mut conns = Connections::new(vec![client]);
        for i in &acked {
            let got = first_answer(&mut conns, &["GET", &format!("k{i}")]);
            assert_eq!(
                got,
                Reply::Bulk(Some(big_value(*i).into_bytes())),
                "k{i} lost"
            );
        }
        assert!(
            acked.len() >= 20,
            "only {} writes before the limit",
            acked.len()
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_pbft_cluster_from_cluster_up_answers_on_every_node() {
    let dir = std::env::temp_dir().join(format!("distsys-node-pbft-{}", std::process::id()));
    let dir = dir.display().to_string();
    let base = 25500u16;
    cluster(&[
        "up",
        "--nodes",
        "4",
        "--dir",
        &dir,
        "--base-port",
        &base.to_string(),
        "--protocol",
        "pbft",
    ]);
    let result = std::panic::catch_unwind(|| {
        let config = std::fs::read_to_string(format!("{dir}/n1/config.yaml")).expect("config");
        assert!(config.contains("protocol: pbft"), "{config}");
        let addrs = (1..=4).map(|i| SocketAddr::from(([127, 0, 0, 1], base + i)));
        let mut conns = Connections::new(addrs.collect());
        // The cluster is up once every peer link is (known: a replica whose forwarded request
        // is dropped on a link still connecting times it out alone and can be left in a view
        // change no one else joins; see the closing note of 2026-12-02).
        let status = |i: u16| {
            http(
                "GET",
                &format!("http://127.0.0.1:{}/status", base + 200 + i),
                "",
            )
            .1
        };
        let start = Instant::now();
        while (1..=4).any(|i| {
            let s = status(i);
            s.is_empty() || s.contains("\"connected\":false")
        }) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "peer links not all up within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Every replica executes every command: a write through node 1, reads through each.
        let start = Instant::now();
        while conns.call(0, &["SET", "greeting", "hello"]).ok() != Some(Reply::Simple("OK".into()))
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for node in 0..4 {
            // A replica whose links are still coming up may take a retransmission to order the
            // read (a client timeout, retried); any value it answers must be the write's.
            let start = Instant::now();
            let got = loop {
                match conns.call(node, &["GET", "greeting"]) {
                    Ok(reply) => break reply,
                    Err(e) => assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "node {}: {e}; its status: {}",
                        node + 1,
                        status(node as u16 + 1)
                    ),
                }
            };
            assert_eq!(
                got,
                Reply::Bulk(Some(b"hello".to_vec())),
                "node {}",
                node + 1
            );
        }
        assert_eq!(
            conns.call(3, &["INCR", "n"]).expect("a reply"),
            Reply::Integer(1)
        );
    });
    cluster(&["down", "--dir", &dir]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Raw bytes to `addr` and what comes back before the node closes the connection or 5 s
/// pass (`closed` tells which).
fn exchange(addr: SocketAddr, send: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let _ = stream.write_all(send);
    let start = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while start.elapsed() < wait {
        match stream.read(&mut chunk) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => {}
        }
    }
    (got, false)
}

fn wire(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    distsys_node::resp::encode_command(args, &mut out);
    out
}

#[test]
fn the_node_speaks_hello_and_refuses_what_unauthenticated_or_idle_clients_cannot_have() {
    let dir = std::env::temp_dir().join(format!("distsys-node-hard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (node_dir, mut config) =
        distsys_harness::cluster::layout(1, &dir, 26500, Some("pw".into()))
            .pop()
            .expect("one node");
    config.client_idle_timeout_s = 1;
    let path = distsys_harness::cluster::write_config(&node_dir, &config).expect("config");
    let log = node_dir.join("node.log");
    let client = config.me().client;
    let peer = config.me().peer;
    let result = std::panic::catch_unwind(|| {
        let _node = serve(&path, &log, None);
        let start = Instant::now();
        while std::net::TcpStream::connect(client).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Before AUTH: PING is answered, data is not, HELLO without AUTH is refused.
        let (got, _) = exchange(
            client,
            &[
                wire(&[b"PING"]),
                wire(&[b"GET", b"k"]),
                wire(&[b"HELLO", b"3"]),
            ]
            .concat(),
            Duration::from_millis(600),
        );
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.starts_with(
                "+PONG\r\n-NOAUTH Authentication required.\r\n-NOAUTH HELLO must be called"
            ),
            "{got}"
        );
        // An unauthenticated client may not send a big argument: refused, connection closed.
        let (got, closed) = exchange(
            client,
            &wire(&[b"AUTH", &vec![b'x'; 20_000]]),
            Duration::from_secs(5),
        );
        assert!(closed, "still open");
        assert!(String::from_utf8_lossy(&got).contains("invalid bulk length 20000"));
        // HELLO 3 with AUTH: RESP3 from then on (a map, nil as `_`); HELLO 4: NOPROTO.
        let mut conns = Connections::new(vec![client]);
        first_answer(&mut conns, &["AUTH", "pw"]);
        let (got, _) = exchange(
            client,
            &[
                wire(&[b"HELLO", b"3", b"AUTH", b"default", b"pw", b"SETNAME", b"t"]),
                wire(&[b"GET", b"no-such-key"]),
                wire(&[b"HELLO", b"4"]),
            ]
            .concat(),
            Duration::from_secs(3),
        );
        let (hello, used) = distsys_node::resp::decode_reply(&got)
            .expect("valid")
            .expect("complete");
        let Reply::Map(fields) = hello else {
            panic!("HELLO 3 answered {hello:?}");
        };
        assert!(fields.contains(&(Reply::Bulk(Some(b"proto".to_vec())), Reply::Integer(3))));
        let rest = String::from_utf8_lossy(&got[used..]);
        assert_eq!(rest, "_\r\n-NOPROTO unsupported protocol version\r\n");
        // A pipeline: writes in flight together, replies in order, and a read after writes on
        // the same connection sees them.
        let batch: Vec<Vec<u8>> = [
            &[&b"AUTH"[..], b"pw"][..],
            &[b"SET", b"p", b"1"],
            &[b"INCR", b"p"],
            &[b"INCR", b"p"],
            &[b"GET", b"p"],
            &[b"SET", b"p", b"x"],
            &[b"CAS", b"p", b"x", b"y"],
            &[b"DEL", b"p"],
            &[b"GET", b"p"],
            &[b"INCR", b"p"],
            &[b"PING"],
        ]
        .iter()
        .map(|c| wire(c))
        .collect();
        let (got, _) = exchange(client, &batch.concat(), Duration::from_secs(3));
        assert_eq!(
            String::from_utf8_lossy(&got),
            "+OK\r\n+OK\r\n:2\r\n:3\r\n$1\r\n3\r\n+OK\r\n:1\r\n:1\r\n$-1\r\n:1\r\n+PONG\r\n"
        );
        // An idle connection is closed after the configured second.
        let (_, closed) = exchange(client, b"", Duration::from_secs(5));
        assert!(closed, "an idle client was kept past its timeout");
        // The peer port reads no more than a handshake from a stranger: a 64 MiB length is
        // refused from its four bytes, and the refusal is logged as a warning with its address.
        let (_, closed) = exchange(peer, &(60u32 << 20).to_be_bytes(), Duration::from_secs(5));
        assert!(closed, "the peer port kept a stranger's connection");
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| {
                l.contains("\"event\":\"connection_refused\"") && l.contains("\"port\":\"peer\"")
            }) {
                assert!(line.contains("\"level\":\"WARN\""), "{line}");
                assert!(line.contains("over the 256-byte limit"), "{line}");
                assert!(line.contains("127.0.0.1:"), "{line}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no refusal logged: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Polls the `/status` of the node at `admin` until `field` reaches `at_least`, for at most `within`; the
/// last value seen.
fn wait_status(admin: SocketAddr, field: &str, at_least: u64, within: Duration) -> u64 {
    let start = Instant::now();
    let mut seen = 0;
    while start.elapsed() < within {
        let (_, text) = http("GET", &format!("http://{admin}/status"), "");
        if let Ok(status) = serde_json::from_str::<serde_json::Value>(&text) {
            seen = status[field].as_u64().unwrap_or(0);
            if seen >= at_least {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

#[test]
fn a_follower_catches_up_from_a_snapshot_larger_than_a_frame() {
    // A state machine over 64 MiB (the peer wire's frame limit): its snapshot goes in pieces.
    // Before, the whole snapshot went in one frame every receiver refused, so a follower
    // behind the leader's compaction point never caught up.
    use distsys_harness::cluster::{layout, wait_for_leader, write_config, NodeProgram, Nodes};
    let base = 26050u16;
    let dir = std::env::temp_dir().join(format!("distsys-snapshot-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let configs = layout(3, &dir, base, None);
    let admins: Vec<SocketAddr> = configs.iter().map(|(_, c)| c.admin).collect();
    let paths = configs
        .iter()
        .map(|(node_dir, config)| write_config(node_dir, config).expect("config"))
        .collect();
    let program = NodeProgram::new(assert_cmd::cargo::cargo_bin("distsys"));
    let mut nodes = Nodes::start(program, paths).expect("nodes start");
    let (leader, _) = wait_for_leader(&admins, Duration::from_secs(20)).expect("a leader");
    let behind = (leader + 1) % 3;
    nodes.kill(behind);
    let clients = (1..=3u16)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], base + i)))
        .collect();
    let mut conns = Connections::with_timeout(clients, Duration::from_secs(30));
    // Follows MOVED and waits out TRYAGAIN (an election), as a real client does.
    let mut at = leader;
    let mut set = |key: &[u8], value: &[u8]| {
        let start = Instant::now();
        loop {
            match conns.call(at, &[b"SET".as_slice(), key, value]) {
                Ok(Reply::Simple(ok)) if ok == "OK" => return,
                Ok(Reply::Error(e)) if e.starts_with("MOVED") => {
                    at = conns.moved_to(&e).unwrap_or(at);
                }
                Ok(Reply::Error(e)) if e.starts_with("TRYAGAIN") => {}
                other => panic!("SET: {other:?}"),
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no write within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // 72 MiB of values, then enough small writes for the leader to compact its log past what
    // the stopped follower holds.
    let big = |i: u8| vec![i; 1 << 20];
    for i in 0..72u8 {
        set(&[b"big", &[i][..]].concat(), &big(i));
    }
    // The node keeps 5,000 entries behind each snapshot for followers that lag a little:
    // past that, with compactions every 512 entries, the log no longer holds the big values.
    for i in 0..5_400u32 {
        set(&[b"small", &(i % 10).to_le_bytes()[..]].concat(), b"x");
    }
    let leader = at;
    let (_, text) = http("GET", &format!("http://{}/status", admins[leader]), "");
    let status: serde_json::Value = serde_json::from_str(&text).expect("status");
    let target = status["applied_index"].as_u64().expect("applied index");
    assert!(target > 5_472, "{text}");
    // The leader's log starts past the big values (its snapshot, less the 5,000 entries kept):
    // only the snapshot (over 72 MiB) can catch the stopped follower up.
    let snapshot = status["snapshot_index"].as_u64().expect("snapshot index");
    assert!(snapshot > 5_000 + 73, "{text}");
    nodes.restart(behind).expect("restart");
    let reached = wait_status(
        admins[behind],
        "applied_index",
        target,
        Duration::from_secs(90),
    );
    assert!(
        reached >= target,
        "the restarted follower applied up to {reached} of {target}"
    );
    // It holds the data: made leader, it answers every big value exactly.
    let (code, text) = http(
        "POST",
        &format!("http://{}/admin/transfer/{}", admins[leader], behind + 1),
        "",
    );
    assert_eq!(code, 200, "{text}");
    for i in 0..72u8 {
        let key = [b"big", &[i][..]].concat();
        let start = Instant::now();
        loop {
            // Asked of the restarted node: MOVED or TRYAGAIN until it leads.
            match conns.call(behind, &[b"GET".as_slice(), &key]) {
                Ok(Reply::Bulk(Some(value))) => {
                    assert!(value == big(i), "big{i} differs");
                    break;
                }
                other => assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "GET big{i}: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    nodes.kill_all();
    let _ = std::fs::remove_dir_all(&dir);
}
