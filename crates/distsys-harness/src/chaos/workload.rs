//! The clients: each a thread running the simulator's workload
//! ([`distsys_sim::workload::next_operation`]: reads, writes, compare-and-sets, sets-if-absent and
//! appends on a few keys) over the Redis protocol, following redirections, recording every
//! operation (invoke, then ok, fail or info) in the shared [`Recorder`].

use super::recorder::Recorder;
use crate::client::Connections;
use distsys_check::history::{Completion, OpKind};
use distsys_consensus::kv::Op;
use distsys_consensus::replica::ClientOp;
use distsys_node::resp::Reply;
use distsys_sim::workload::{next_operation, Operation};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use distsys_sim::workload::KEYS;

/// How one operation ended.
pub enum Outcome {
    /// It took effect; a read's value.
    Ok(Value),
    /// It certainly did not take effect.
    Fail,
    /// It may or may not have taken effect.
    Unknown,
}

/// Sends one command, following redirections, for at most 3 s: the node's answer, or how the
/// operation ended without one (a read that got none, or a write every node refused, did not
/// happen; a write that may have reached a node is unknown). `guess` is the node tried first,
/// and is left at the node that answered.
pub fn perform<A: AsRef<[u8]>>(
    conns: &mut Connections,
    rng: &mut ChaCha8Rng,
    guess: &mut usize,
    args: &[A],
    read: bool,
) -> Result<Reply, Outcome> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let n = conns.addrs.len();
    let mut sent = false;
    while Instant::now() < deadline {
        match conns.call(*guess, args) {
            Ok(Reply::Error(e)) if e.starts_with("MOVED") => {
                *guess = conns.moved_to(&e).unwrap_or_else(|| rng.random_range(0..n));
            }
            Ok(Reply::Error(e)) if e.starts_with("TRYAGAIN") => {
                std::thread::sleep(Duration::from_millis(50));
                *guess = rng.random_range(0..n);
            }
            // A timeout after the node took the request: the outcome is unknown.
            Ok(Reply::Error(_)) if read => return Err(Outcome::Fail),
            Ok(Reply::Error(_)) => return Err(Outcome::Unknown),
            Ok(reply) => return Ok(reply),
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
            // Anything else (a timeout, a closed connection): it may have been taken.
            Err(_) => {
                sent = true;
                break;
            }
        }
    }
    if read || !sent {
        return Err(Outcome::Fail);
    }
    Err(Outcome::Unknown)
}

/// What a node's answer to `operation` means: a read's value; a write, an append (its new
/// length) or a cas that swapped (`1`, or `+OK` for `SET NX`) took effect; a cas that did not
/// swap (`0`, or nil for `SET NX`) did not. Any other answer leaves a read failed and a write
/// unknown.
pub fn outcome_of(operation: &Operation, reply: Reply) -> Outcome {
    let expected_absent = matches!(
        operation.op,
        ClientOp::Write(Op::Cas { expected: None, .. })
    );
    match (operation.kind, reply) {
        (OpKind::Read, Reply::Bulk(v)) => Outcome::Ok(read_value(v)),
        (OpKind::Read, _) => Outcome::Fail,
        (OpKind::Write, Reply::Simple(_)) | (OpKind::Append, Reply::Integer(_)) => {
            Outcome::Ok(Value::Null)
        }
        (OpKind::Cas, Reply::Integer(1)) => Outcome::Ok(Value::Null),
        (OpKind::Cas, Reply::Integer(0)) => Outcome::Fail,
        (OpKind::Cas, Reply::Simple(_)) if expected_absent => Outcome::Ok(Value::Null),
        (OpKind::Cas, Reply::Bulk(None)) if expected_absent => Outcome::Fail,
        _ => Outcome::Unknown,
    }
}

/// A value read, as the history records it (the store holds text the workload wrote).
pub fn read_value(value: Option<Vec<u8>>) -> Value {
    json!(value.map(|b| String::from_utf8_lossy(&b).into_owned()))
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
    let recorder = &shared.recorder;
    while !shared.stop.load(Ordering::Relaxed) {
        let fresh = shared.values.fetch_add(1, Ordering::Relaxed);
        let operation = next_operation(&mut rng, fresh);
        let (kind, key, input) = (operation.kind, &operation.key, &operation.input);
        let read = operation.is_read();
        if random_reads && read {
            guess = rng.random_range(0..n);
        }
        recorder.record(process, None, kind, key, input.clone());
        let outcome = perform(&mut conns, &mut rng, &mut guess, &operation.command(), read)
            .map_or_else(|ended| ended, |reply| outcome_of(&operation, reply));
        match outcome {
            Outcome::Ok(v) => {
                let output = if read { v } else { input.clone() };
                recorder.record(process, Some(Completion::Ok), kind, key, output);
                tally.ok += 1;
            }
            Outcome::Fail => {
                recorder.record(process, Some(Completion::Fail), kind, key, input.clone());
                tally.failed += 1;
            }
            Outcome::Unknown => {
                recorder.record(process, Some(Completion::Info), kind, key, input.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// One operation of each kind the workload draws (a cas expecting a value, one expecting
    /// absence), found by drawing until each has come.
    fn one_of_each() -> Vec<Operation> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut found: Vec<Operation> = Vec::new();
        for fresh in 1..10_000 {
            let o = next_operation(&mut rng, fresh);
            let absent = matches!(o.op, ClientOp::Write(Op::Cas { expected: None, .. }));
            if !found.iter().any(|f| {
                f.kind == o.kind
                    && matches!(f.op, ClientOp::Write(Op::Cas { expected: None, .. })) == absent
            }) {
                found.push(o);
            }
        }
        assert_eq!(found.len(), 5, "read, write, append, cas, cas-if-absent");
        found
    }

    #[test]
    fn each_reply_means_what_the_command_answers() {
        for o in one_of_each() {
            let absent = matches!(o.op, ClientOp::Write(Op::Cas { expected: None, .. }));
            let ok = |r: Reply| matches!(outcome_of(&o, r), Outcome::Ok(_));
            let failed = |r: Reply| matches!(outcome_of(&o, r), Outcome::Fail);
            let unknown = |r: Reply| matches!(outcome_of(&o, r), Outcome::Unknown);
            match o.kind {
                OpKind::Read => {
                    let read = outcome_of(&o, Reply::Bulk(Some(b"v1 v2".to_vec())));
                    assert!(matches!(read, Outcome::Ok(v) if v == json!("v1 v2")));
                    let missing = outcome_of(&o, Reply::Bulk(None));
                    assert!(matches!(missing, Outcome::Ok(Value::Null)));
                    // A read answered with anything else took no effect either way.
                    assert!(failed(Reply::Integer(1)));
                }
                OpKind::Write => {
                    assert!(ok(Reply::Simple("OK".into())));
                    assert!(unknown(Reply::Integer(0)));
                }
                OpKind::Append => {
                    assert!(ok(Reply::Integer(17)));
                    assert!(unknown(Reply::Simple("OK".into())));
                }
                OpKind::Cas if absent => {
                    // SET key value NX: +OK when set, nil when the key exists.
                    assert!(ok(Reply::Simple("OK".into())));
                    assert!(failed(Reply::Bulk(None)));
                    assert!(unknown(Reply::Integer(2)));
                }
                OpKind::Cas => {
                    assert!(ok(Reply::Integer(1)));
                    assert!(failed(Reply::Integer(0)));
                    // Not SET NX: a nil or OK is no answer a CAS gives.
                    assert!(unknown(Reply::Bulk(None)));
                    assert!(unknown(Reply::Simple("OK".into())));
                }
                other => panic!("the workload draws no {other:?}"),
            }
        }
    }
}
