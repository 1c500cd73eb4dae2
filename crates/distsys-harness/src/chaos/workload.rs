//! The clients: each a thread running reads, writes and compare-and-sets on a few keys over the
//! Redis protocol, following redirections, recording every operation (invoke, then ok, fail or
//! info) in the shared [`Recorder`].

use super::recorder::Recorder;
use crate::client::Connections;
use distsys_check::history::{Completion, OpKind};
use distsys_node::resp::Reply;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keys the clients use (`k0`..`k4`).
pub const KEYS: usize = 5;

/// How one operation ended.
pub enum Outcome {
    /// It took effect; a read's value.
    Ok(Value),
    /// It certainly did not take effect.
    Fail,
    /// It may or may not have taken effect.
    Unknown,
}

/// A redirection's target node, by index, if it names one of `addrs`.
fn moved_to(error: &str, addrs: &[SocketAddr]) -> Option<usize> {
    let target = error.rsplit(' ').next()?.parse::<SocketAddr>().ok()?;
    addrs.iter().position(|a| *a == target)
}

/// Runs one operation, following redirections, for at most 3 s. `guess` is the node tried
/// first, and is left at the node that answered.
pub fn perform(
    conns: &mut Connections,
    rng: &mut ChaCha8Rng,
    guess: &mut usize,
    args: &[&str],
    read: bool,
) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(3);
    let n = conns.addrs.len();
    let mut sent = false;
    while Instant::now() < deadline {
        match conns.call(*guess, args) {
            Ok(Reply::Error(e)) if e.starts_with("MOVED") => {
                *guess = moved_to(&e, &conns.addrs).unwrap_or_else(|| rng.random_range(0..n));
            }
            Ok(Reply::Error(e)) if e.starts_with("TRYAGAIN") => {
                std::thread::sleep(Duration::from_millis(50));
                *guess = rng.random_range(0..n);
            }
            // A timeout after the node took the request: the outcome is unknown.
            Ok(Reply::Error(_)) if read => return Outcome::Fail,
            Ok(Reply::Error(_)) => return Outcome::Unknown,
            Ok(Reply::Simple(_)) => return Outcome::Ok(Value::Null),
            Ok(Reply::Bulk(v)) => {
                return Outcome::Ok(json!(v.map(|b| String::from_utf8_lossy(&b).into_owned())))
            }
            Ok(Reply::Integer(1)) => return Outcome::Ok(Value::Null),
            Ok(Reply::Integer(_)) => return Outcome::Fail,
            // Not connected: the request never left, try another node.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotConnected
                ) =>
            {
                *guess = rng.random_range(0..n);
                std::thread::sleep(Duration::from_millis(20));
            }
            // Anything else (a timeout, a closed connection, a reply no command gets): it may
            // have been taken.
            Ok(Reply::Array(_) | Reply::Map(_)) | Err(_) => {
                sent = true;
                break;
            }
        }
    }
    // A read that did not complete changed nothing, nor did a write every node refused
    // (redirections, no leader, connection refused); a write that may have reached a node is
    // unknown.
    if read || !sent {
        return Outcome::Fail;
    }
    Outcome::Unknown
}

/// What every client shares: the history, the stop flag, the next fresh process id (a
/// process whose operation is unknown is retired, as in Jepsen) and the next unique value.
pub struct Shared {
    /// The history.
    pub recorder: Arc<Recorder>,
    /// Set to stop every client after its current operation.
    pub stop: Arc<AtomicBool>,
    /// The next process id not used yet.
    pub next_process: Arc<AtomicU64>,
    /// The next value written.
    pub values: Arc<AtomicU64>,
}

impl Shared {
    fn clone_handles(&self) -> Shared {
        Shared {
            recorder: self.recorder.clone(),
            stop: self.stop.clone(),
            next_process: self.next_process.clone(),
            values: self.values.clone(),
        }
    }
}

/// Operations counted by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Took effect.
    pub ok: u64,
    /// Did not.
    pub failed: u64,
    /// Unknown.
    pub unknown: u64,
}

/// One operation of the mix: 50% reads, 35% writes, 15% compare-and-sets against a recently
/// written value. Returns (kind, recorded input, command, is a read).
fn next_op(rng: &mut ChaCha8Rng, key: &str, value: &str, written: &[String]) -> Op {
    let roll = rng.random_range(0..100);
    if roll < 50 {
        (
            OpKind::Read,
            Value::Null,
            vec!["GET".into(), key.into()],
            true,
        )
    } else if roll < 85 || written.is_empty() {
        (
            OpKind::Write,
            json!(value),
            vec!["SET".into(), key.into(), value.into()],
            false,
        )
    } else {
        let expected = written[rng.random_range(0..written.len())].clone();
        (
            OpKind::Cas,
            json!([expected, value]),
            vec!["CAS".into(), key.into(), expected, value.into()],
            false,
        )
    }
}

type Op = (OpKind, Value, Vec<String>, bool);

/// Client `id`'s loop until `shared.stop`: seeded by `seed` and `id`; with `random_reads`,
/// each read goes to a random node (what a client does when it trusts every replica).
fn client_loop(
    id: u64,
    addrs: Vec<SocketAddr>,
    seed: u64,
    random_reads: bool,
    shared: Shared,
) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (id << 20));
    let n = addrs.len();
    let mut conns = Connections::new(addrs);
    let mut process = id;
    let mut guess = rng.random_range(0..n);
    let mut tally = Tally::default();
    let mut written: Vec<String> = Vec::new();
    let recorder = &shared.recorder;
    while !shared.stop.load(Ordering::Relaxed) {
        let key = format!("k{}", rng.random_range(0..KEYS));
        let value = format!("v{}", shared.values.fetch_add(1, Ordering::Relaxed));
        let (kind, input, args, read) = next_op(&mut rng, &key, &value, &written);
        if random_reads && read {
            guess = rng.random_range(0..n);
        }
        recorder.record(process, None, kind, &key, input.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match perform(&mut conns, &mut rng, &mut guess, &args, read) {
            Outcome::Ok(v) => {
                let output = if read { v } else { input };
                recorder.record(process, Some(Completion::Ok), kind, &key, output);
                tally.ok += 1;
                if !read {
                    written.push(value);
                    if written.len() > 20 {
                        written.remove(0);
                    }
                }
            }
            Outcome::Fail => {
                recorder.record(process, Some(Completion::Fail), kind, &key, input);
                tally.failed += 1;
            }
            Outcome::Unknown => {
                recorder.record(process, Some(Completion::Info), kind, &key, input);
                tally.unknown += 1;
                process = shared.next_process.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..10)));
    }
    tally
}

/// The running clients.
pub struct Workers {
    handles: Vec<JoinHandle<Tally>>,
    stop: Arc<AtomicBool>,
}

impl Workers {
    /// Starts clients 1..=`clients` against the nodes at `addrs`.
    pub fn start(
        clients: usize,
        addrs: &[SocketAddr],
        seed: u64,
        random_reads: bool,
        shared: &Shared,
    ) -> Workers {
        let handles = (1..=clients as u64)
            .map(|id| {
                let (addrs, shared) = (addrs.to_vec(), shared.clone_handles());
                std::thread::spawn(move || client_loop(id, addrs, seed, random_reads, shared))
            })
            .collect();
        Workers {
            handles,
            stop: shared.stop.clone(),
        }
    }

    /// Stops every client after its current operation and adds up what they did.
    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for handle in self.handles {
            if let Ok(t) = handle.join() {
                total.ok += t.ok;
                total.failed += t.failed;
                total.unknown += t.unknown;
            }
        }
        total
    }
}
