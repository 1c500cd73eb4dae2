//! Keys and values are bytes end to end: a real cluster (`distsys cluster up`, real
//! processes, the Redis protocol) is driven with random binary keys and values, including
//! ones that differ only in bytes that are not UTF-8 (`bin\xff` / `bin\xfe`), NUL, CR LF and
//! empty strings, through SET, SET NX, SETNX, GET, MSET, MGET, CAS, INCR, APPEND, DEL and EXISTS, and every answer is
//! compared with a model (a map of byte strings). The cluster is then taken down and brought
//! back from disk (past a log compaction, so the snapshot path is used too) and every key
//! must hold exactly the bytes the model says.
//!
//! The run is random: its seed is printed on failure and can be replayed with
//! `DISTSYS_TEST_SEED=<seed>`.

mod common;

use common::cluster;
use distsys_harness::client::Connections;
use distsys_node::resp::Reply;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A client that follows `MOVED` to the leader and waits out `TRYAGAIN` (at most 20 s).
struct Client {
    conns: Connections,
    at: usize,
}

impl Client {
    fn new(base: u16, nodes: u16) -> Client {
        let addrs = (1..=nodes)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], base + i)))
            .collect();
        // Longer than the node's own 10 s answer timeout: every command sent is answered (its
        // result, or TIMEOUT), so the client never resends one whose outcome it does not know.
        Client {
            conns: Connections::with_timeout(addrs, Duration::from_secs(15)),
            at: 0,
        }
    }

    /// Waits until the cluster takes a write (a key outside the key pool, so the model is
    /// unaffected however often it is written).
    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            match self.conns.call(self.at, &args(&[b"SET", b"ready", b"1"])) {
                Ok(Reply::Simple(_)) => return,
                Ok(Reply::Error(e)) if e.starts_with("MOVED") => self.follow(&e),
                _ => {
                    self.at = (self.at + 1) % self.conns.addrs.len();
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!("the cluster took no write within 30 s");
    }

    fn follow(&mut self, moved: &str) {
        if let Some(i) = self.conns.moved_to(moved) {
            self.at = i;
        }
    }

    /// Sends a command until it is answered: again after MOVED or TRYAGAIN (the command was
    /// not taken) or a refused connection (not sent); any other failure leaves its outcome
    /// unknown, so the test stops there rather than resend it (an APPEND sent twice would
    /// apply twice: the node's sessions are per connection).
    fn call(&mut self, args: &[Vec<u8>]) -> Reply {
        let start = Instant::now();
        loop {
            let answer = self.conns.call(self.at, args);
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no answer within 20 s to {:?}: last {answer:?}",
                args.iter()
                    .map(|a| distsys_types::ByteString::from(a.clone()))
                    .collect::<Vec<_>>()
            );
            match answer {
                Ok(Reply::Error(e)) if e.starts_with("MOVED") => self.follow(&e),
                Ok(Reply::Error(e)) if e.starts_with("TRYAGAIN") => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(reply) => return reply,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    self.at = (self.at + 1) % self.conns.addrs.len();
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!(
                    "the outcome of {:?} is unknown ({e}): not resent",
                    args.iter()
                        .map(|a| distsys_types::ByteString::from(a.clone()))
                        .collect::<Vec<_>>()
                ),
            }
        }
    }
}

/// Keys chosen to collide under any lossy text conversion.
fn key_pool(rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let mut keys = vec![
        b"bin\xff".to_vec(),
        b"bin\xfe".to_vec(),
        Vec::new(),
        vec![0],
        b"k\r\n*1\r\n".to_vec(),
        "ключ".as_bytes().to_vec(),
        vec![0xc3, 0x28],
    ];
    for _ in 0..5 {
        let len = rng.random_range(1..12);
        keys.push((0..len).map(|_| rng.random::<u8>()).collect());
    }
    keys
}

fn random_value(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let len = if rng.random_bool(0.05) {
        4096
    } else {
        rng.random_range(0..48)
    };
    (0..len).map(|_| rng.random::<u8>()).collect()
}

fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// One random command, its expected reply from the model, and the model updated.
fn step(rng: &mut ChaCha8Rng, keys: &[Vec<u8>], model: &mut Model) -> (Vec<Vec<u8>>, Reply) {
    let key = keys[rng.random_range(0..keys.len())].clone();
    let other = keys[rng.random_range(0..keys.len())].clone();
    let bulk = |v: Option<&Vec<u8>>| Reply::Bulk(v.cloned());
    match rng.random_range(0..11) {
        0 | 1 => {
            let value = random_value(rng);
            model.insert(key.clone(), value.clone());
            (args(&[b"SET", &key, &value]), Reply::Simple("OK".into()))
        }
        2 => (args(&[b"GET", &key]), bulk(model.get(&key))),
        3 => {
            let (a, b) = (random_value(rng), random_value(rng));
            model.insert(key.clone(), a.clone());
            model.insert(other.clone(), b.clone());
            (
                args(&[b"MSET", &key, &a, &other, &b]),
                Reply::Simple("OK".into()),
            )
        }
        4 => {
            let expected = match model.get(&key) {
                Some(v) if rng.random_bool(0.7) => v.clone(),
                _ => random_value(rng),
            };
            let new = random_value(rng);
            let swapped = model.get(&key) == Some(&expected);
            if swapped {
                model.insert(key.clone(), new.clone());
            }
            (
                args(&[b"CAS", &key, &expected, &new]),
                Reply::Integer(i64::from(swapped)),
            )
        }
        5 => {
            let current = model.get(&key).map(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
            });
            let reply = match current {
                None => Some(1),
                Some(Some(n)) => n.checked_add(1),
                Some(None) => None,
            };
            match reply {
                Some(n) => {
                    model.insert(key.clone(), n.to_string().into_bytes());
                    (args(&[b"INCR", &key]), Reply::Integer(n))
                }
                None => (
                    args(&[b"INCR", &key]),
                    Reply::Error("ERR value is not an integer or out of range".into()),
                ),
            }
        }
        6 => {
            let removed = i64::from(model.remove(&key).is_some())
                + i64::from(key != other && model.remove(&other).is_some());
            let parts: Vec<&[u8]> = if key == other {
                vec![b"DEL", &key]
            } else {
                vec![b"DEL", &key, &other]
            };
            (args(&parts), Reply::Integer(removed))
        }
        8 => {
            let piece = random_value(rng);
            let value = model.entry(key.clone()).or_default();
            value.extend_from_slice(&piece);
            let length = value.len() as i64;
            (args(&[b"APPEND", &key, &piece]), Reply::Integer(length))
        }
        9 | 10 => {
            let value = random_value(rng);
            let absent = !model.contains_key(&key);
            if absent {
                model.insert(key.clone(), value.clone());
            }
            if rng.random_bool(0.5) {
                let reply = if absent {
                    Reply::Simple("OK".into())
                } else {
                    Reply::Bulk(None)
                };
                (args(&[b"SET", &key, &value, b"NX"]), reply)
            } else {
                let reply = Reply::Integer(i64::from(absent));
                (args(&[b"SETNX", &key, &value]), reply)
            }
        }
        _ => {
            if rng.random_bool(0.5) {
                let count =
                    i64::from(model.contains_key(&key)) + i64::from(model.contains_key(&other));
                (args(&[b"EXISTS", &key, &other]), Reply::Integer(count))
            } else {
                (
                    args(&[b"MGET", &key, &other]),
                    Reply::Array(vec![bulk(model.get(&key)), bulk(model.get(&other))]),
                )
            }
        }
    }
}

fn check_every_key(client: &mut Client, keys: &[Vec<u8>], model: &Model, when: &str, seed: u64) {
    for key in keys {
        let got = client.call(&args(&[b"GET", key]));
        assert_eq!(
            got,
            Reply::Bulk(model.get(key).cloned()),
            "seed {seed}, {when}: key {:?}",
            distsys_types::ByteString::from(key.clone())
        );
    }
}

fn run(protocol: &str, base: u16, nodes: u16, restart: bool) {
    let seed = std::env::var("DISTSYS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = std::env::temp_dir().join(format!(
        "distsys-node-bytes-{protocol}-{}",
        std::process::id()
    ));
    let dir = dir.display().to_string();
    let up = [
        "up",
        "--nodes",
        &nodes.to_string(),
        "--dir",
        &dir,
        "--base-port",
        &base.to_string(),
        "--protocol",
        protocol,
    ]
    .map(str::to_string);
    cluster(&up.each_ref().map(String::as_str));
    let keys = key_pool(&mut rng);
    let mut model = Model::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut client = Client::new(base, nodes);
        client.wait_ready();
        for i in 0..300 {
            let (command, expected) = step(&mut rng, &keys, &mut model);
            let got = client.call(&command);
            let shown: Vec<_> = command
                .iter()
                .map(|a| distsys_types::ByteString::from(a.clone()))
                .collect();
            assert_eq!(got, expected, "seed {seed}, command {i}: {shown:?}");
        }
        check_every_key(&mut client, &keys, &model, "before the restart", seed);
        if restart {
            // Past a log compaction, so the restart reads a snapshot holding binary keys.
            for i in 0..600u32 {
                let key = [b"fill\xff".as_slice(), &i.to_le_bytes()].concat();
                let value = random_value(&mut rng);
                assert_eq!(
                    client.call(&args(&[b"SET", &key, &value])),
                    Reply::Simple("OK".into())
                );
            }
        }
    }));
    if result.is_ok() && restart {
        cluster(&["down", "--dir", &dir]);
        cluster(&up.each_ref().map(String::as_str));
        let restarted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut client = Client::new(base, nodes);
            client.wait_ready();
            check_every_key(&mut client, &keys, &model, "after the restart", seed);
        }));
        cluster(&["down", "--dir", &dir]);
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = restarted {
            std::panic::resume_unwind(e);
        }
        return;
    }
    cluster(&["down", "--dir", &dir]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn raft_keeps_binary_keys_and_values_exactly_across_a_restart() {
    run("raft", 27400, 3, true);
}

#[test]
fn pbft_keeps_binary_keys_and_values_exactly() {
    run("pbft", 27000, 4, false);
}
