//! `distsys chaos`: a Jepsen-style test of real node processes. It starts a local cluster, runs
//! concurrent clients over the Redis protocol that record every operation (invoke, then ok,
//! fail or info), and meanwhile kills nodes with SIGKILL and restarts them, pauses them with
//! SIGSTOP and resumes them, half the time aiming at the leader. When the faults stop it heals
//! everything, kills and restarts every node at once (acknowledged writes must survive), reads
//! every key, and checks the whole history with the project's linearizability checker.

use super::cluster::{configs, signal, spawn, write_config};
use super::cluster::{leader as cluster_leader, wait_for_leader as wait_cluster};
use super::fail;
use super::resp_client::{Answer, Connections};
use crate::cli::ChaosArgs;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK};
use distsys_check::history::{Completion, Event, HistoryBuilder, OpKind};
use distsys_check::{check, CheckOptions, ModelKind, Verdict};
use distsys_node::NodeConfig;
use nix::sys::signal::Signal;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys the clients use.
const KEYS: usize = 5;
/// Election timeout maximum of the generated configurations, ms.
const ELECTION_MAX_MS: u64 = 600;

/// The history being recorded, in real-time order.
struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    fn record(
        &self,
        process: u64,
        completion: Option<Completion>,
        kind: OpKind,
        key: &str,
        value: Value,
    ) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let line = events.len() + 1;
        events.push(Event {
            line,
            process,
            completion,
            kind,
            key: Some(key.to_string()),
            value,
            time: self.start.elapsed().as_nanos() as u64,
        });
    }
}

enum Outcome {
    Ok(Value),
    Fail,
    Unknown,
}

/// Runs one operation, following redirections, for at most 3 s.
fn perform(
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
            Ok(Answer::Error(e)) if e.starts_with("MOVED") => {
                let target = e
                    .rsplit(' ')
                    .next()
                    .and_then(|a| a.parse::<SocketAddr>().ok());
                match target.and_then(|t| conns.addrs.iter().position(|a| *a == t)) {
                    Some(i) => *guess = i,
                    None => *guess = rng.random_range(0..n),
                }
            }
            Ok(Answer::Error(e)) if e.starts_with("TRYAGAIN") => {
                std::thread::sleep(Duration::from_millis(50));
                *guess = rng.random_range(0..n);
            }
            Ok(Answer::Error(_)) => {
                // A timeout after the node took the request: the outcome is unknown.
                return if read {
                    Outcome::Fail
                } else {
                    Outcome::Unknown
                };
            }
            Ok(Answer::Simple(_)) => return Outcome::Ok(Value::Null),
            Ok(Answer::Bulk(v)) => return Outcome::Ok(json!(v)),
            Ok(Answer::Integer(i)) => {
                return if i == 1 {
                    Outcome::Ok(Value::Null)
                } else {
                    Outcome::Fail
                };
            }
            Err(e) => {
                // Not connected: the request never left, try another node. Anything else: it may
                // have been taken.
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    || e.kind() == std::io::ErrorKind::NotConnected
                {
                    *guess = rng.random_range(0..n);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
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

#[allow(clippy::too_many_arguments)]
fn client_loop(
    id: u64,
    addrs: Vec<SocketAddr>,
    seed: u64,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    next_process: Arc<AtomicU64>,
    values: Arc<AtomicU64>,
    random_reads: bool,
) -> (u64, u64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (id << 20));
    let n = addrs.len();
    let mut conns = Connections::new(addrs);
    let mut process = id;
    let mut guess = rng.random_range(0..n);
    let (mut ok, mut failed, mut unknown) = (0, 0, 0);
    let mut written: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let key = format!("k{}", rng.random_range(0..KEYS));
        let roll = rng.random_range(0..100);
        let value = format!("v{}", values.fetch_add(1, Ordering::Relaxed));
        let (kind, input, args, read): (OpKind, Value, Vec<String>, bool) = if roll < 50 {
            (
                OpKind::Read,
                Value::Null,
                vec!["GET".into(), key.clone()],
                true,
            )
        } else if roll < 85 || written.is_empty() {
            (
                OpKind::Write,
                json!(value),
                vec!["SET".into(), key.clone(), value.clone()],
                false,
            )
        } else {
            let expected = written[rng.random_range(0..written.len())].clone();
            (
                OpKind::Cas,
                json!([expected, value]),
                vec!["CAS".into(), key.clone(), expected, value.clone()],
                false,
            )
        };
        if random_reads && read {
            // Reads go to any node (what a client does when it trusts every replica).
            guess = rng.random_range(0..n);
        }
        recorder.record(process, None, kind, &key, input.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match perform(&mut conns, &mut rng, &mut guess, &args, read) {
            Outcome::Ok(v) => {
                let output = if read { v } else { input };
                recorder.record(process, Some(Completion::Ok), kind, &key, output);
                ok += 1;
                if !read {
                    written.push(value);
                    if written.len() > 20 {
                        written.remove(0);
                    }
                }
            }
            Outcome::Fail => {
                recorder.record(process, Some(Completion::Fail), kind, &key, input);
                failed += 1;
            }
            Outcome::Unknown => {
                recorder.record(process, Some(Completion::Info), kind, &key, input);
                unknown += 1;
                // As in Jepsen, a process whose operation is unknown is retired.
                process = next_process.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..10)));
    }
    (ok, failed, unknown)
}

fn parse_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    t.strip_suffix('s')
        .unwrap_or(t)
        .parse()
        .ok()
        .filter(|s| *s > 0)
}

/// `distsys chaos`.
pub fn run(args: &ChaosArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let Some(seconds) = parse_seconds(&args.duration) else {
        return fail(
            stderr,
            &format!(
                "--duration must be a positive number of seconds, got {:?}",
                args.duration
            ),
        );
    };
    if !(3..=9).contains(&args.nodes) || !(1..=64).contains(&args.clients) {
        return fail(stderr, &"--nodes must be 3..=9 and --clients 1..=64");
    }
    let dir = std::env::temp_dir().join(format!(
        "distsys-chaos-{}-{}",
        std::process::id(),
        args.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cluster = configs(args.nodes, &dir, args.base_port, None);
    // Every peer link goes through a proxy the fault schedule can cut.
    let cuts = Arc::new(Mutex::new(BTreeSet::new()));
    let peer_addrs: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.me().peer).collect();
    for (i, (_, config)) in cluster.iter_mut().enumerate() {
        for (j, target) in peer_addrs.iter().enumerate() {
            if i == j {
                continue;
            }
            let port = args.base_port + 300 + (i * 10 + j) as u16;
            let route = SocketAddr::from(([127, 0, 0, 1], port));
            if let Err(e) = proxy::start(route, *target, (i, j), cuts.clone()) {
                return fail(
                    stderr,
                    &format!("cannot start the link proxy on {route}: {e}"),
                );
            }
            config.peer_routes.insert(j as u64 + 1, route);
        }
    }
    let mut paths = Vec::new();
    for (node_dir, config) in &mut cluster {
        config.unsafe_stale_reads = args.unsafe_stale_reads;
        match write_config(node_dir, config) {
            Ok(p) => paths.push(p),
            Err(e) => return fail(stderr, &e),
        }
    }
    let mut children: Vec<Option<Child>> = Vec::new();
    for p in &paths {
        match spawn(p) {
            Ok(c) => children.push(Some(c)),
            Err(e) => return fail(stderr, &format!("cannot start a node: {e}")),
        }
    }
    let code = campaign(
        args,
        seconds,
        &cluster,
        &paths,
        &mut children,
        &cuts,
        stdout,
    );
    for child in children.iter_mut().flatten() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if args.keep {
        let _ = writeln!(stdout, "cluster directory kept: {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

fn campaign(
    args: &ChaosArgs,
    seconds: u64,
    cluster: &[(PathBuf, NodeConfig)],
    paths: &[PathBuf],
    children: &mut [Option<Child>],
    cuts: &proxy::Cuts,
    stdout: &mut dyn Write,
) -> i32 {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let admins: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.admin).collect();
    let start = Instant::now();
    let say = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "t={:>6.2}s {text}", start.elapsed().as_secs_f64());
    };
    match wait_cluster(&admins, Duration::from_secs(15)) {
        Some((i, t)) => say(
            stdout,
            format!(
                "cluster of {} up, leader node {} after {} ms",
                args.nodes,
                i + 1,
                t.as_millis()
            ),
        ),
        None => {
            say(
                stdout,
                "no leader within 15 s: the cluster did not start (see the node logs)".into(),
            );
            return EXIT_BAD_INPUT;
        }
    }
    let addrs: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.me().client).collect();
    let recorder = Arc::new(Recorder {
        start: Instant::now(),
        events: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let next_process = Arc::new(AtomicU64::new(args.clients as u64 + 1));
    let values = Arc::new(AtomicU64::new(1));
    let workers: Vec<_> = (1..=args.clients as u64)
        .map(|id| {
            let (addrs, recorder, stop, next, values) = (
                addrs.clone(),
                recorder.clone(),
                stop.clone(),
                next_process.clone(),
                values.clone(),
            );
            let (seed, random_reads) = (args.seed, args.unsafe_stale_reads);
            std::thread::spawn(move || {
                client_loop(id, addrs, seed, recorder, stop, next, values, random_reads)
            })
        })
        .collect();
    // The faults, one at a time.
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut failovers = Vec::new();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(rng.random_range(500..1500)));
        let current = cluster_leader(&admins).map(|(i, _)| i);
        let victim = match current {
            Some(l) if rng.random_bool(0.5) => l,
            _ => rng.random_range(0..cluster.len()),
        };
        let on_leader = current == Some(victim);
        let role = if on_leader { " (the leader)" } else { "" };
        let down_for = Duration::from_millis(rng.random_range(500..2500));
        let fault = rng.random_range(0..3);
        if fault == 2 {
            // A network partition: the victim alone (often the leader), or a random split.
            let n = cluster.len();
            let side: BTreeSet<usize> = if rng.random_bool(0.5) {
                BTreeSet::from([victim])
            } else {
                (0..n).filter(|_| rng.random_bool(0.5)).collect()
            };
            let names: Vec<usize> = side.iter().map(|i| i + 1).collect();
            say(
                stdout,
                format!(
                    "partition {names:?} from the rest for {} ms",
                    down_for.as_millis()
                ),
            );
            if let Ok(mut cut) = cuts.lock() {
                for a in 0..n {
                    for b in 0..n {
                        if side.contains(&a) != side.contains(&b) {
                            cut.insert((a, b));
                        }
                    }
                }
            }
            std::thread::sleep(down_for);
            if let Ok(mut cut) = cuts.lock() {
                cut.clear();
            }
            say(stdout, "partition healed".into());
        } else if fault == 1 {
            say(
                stdout,
                format!(
                    "kill -9 node {}{role}, restart in {} ms",
                    victim + 1,
                    down_for.as_millis()
                ),
            );
            if let Some(mut child) = children[victim].take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if on_leader {
                let t = Instant::now();
                while t.elapsed() < Duration::from_secs(5) {
                    if let Some((i, _)) = cluster_leader(&admins) {
                        if i != victim {
                            failovers.push(t.elapsed());
                            say(
                                stdout,
                                format!(
                                    "  new leader node {} after {} ms",
                                    i + 1,
                                    t.elapsed().as_millis()
                                ),
                            );
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            std::thread::sleep(down_for.saturating_sub(Duration::from_millis(0)));
            match spawn(&paths[victim]) {
                Ok(c) => children[victim] = Some(c),
                Err(e) => say(stdout, format!("cannot restart node {}: {e}", victim + 1)),
            }
            say(stdout, format!("restarted node {}", victim + 1));
        } else if let Some(child) = &children[victim] {
            let pid = child.id();
            say(
                stdout,
                format!(
                    "SIGSTOP node {}{role} for {} ms",
                    victim + 1,
                    down_for.as_millis()
                ),
            );
            signal(pid, Signal::SIGSTOP);
            std::thread::sleep(down_for);
            signal(pid, Signal::SIGCONT);
            say(stdout, format!("SIGCONT node {}", victim + 1));
        }
    }
    say(stdout, "faults stop; waiting for a leader".into());
    let healed = wait_cluster(&admins, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed, mut unknown) = (0, 0, 0);
    for w in workers {
        if let Ok((o, f, u)) = w.join() {
            ok += o;
            failed += f;
            unknown += u;
        }
    }
    if healed.is_none() {
        say(
            stdout,
            "no leader within 15 s after the faults stopped (liveness)".into(),
        );
    }
    // Every node killed at once and restarted: what was acknowledged must still be there.
    say(stdout, "kill -9 every node, restart all".into());
    for (i, slot) in children.iter_mut().enumerate() {
        if let Some(mut child) = slot.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        match spawn(&paths[i]) {
            Ok(c) => *slot = Some(c),
            Err(e) => say(stdout, format!("cannot restart node {}: {e}", i + 1)),
        }
    }
    let recovered = wait_cluster(&admins, Duration::from_secs(15));
    match recovered {
        Some((i, t)) => say(
            stdout,
            format!("leader node {} after {} ms", i + 1, t.as_millis()),
        ),
        None => say(
            stdout,
            "no leader within 15 s after the full restart".into(),
        ),
    }
    // Final reads of every key, recorded like any other operation.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0xF17A1);
    let mut conns = Connections::new(addrs.clone());
    let mut guess = recovered.map_or(0, |(i, _)| i);
    let reader = next_process.fetch_add(1, Ordering::Relaxed);
    let mut final_reads = 0;
    for k in 0..KEYS {
        let key = format!("k{k}");
        // A few attempts: a loaded machine may still be settling after the restart.
        for _ in 0..5 {
            recorder.record(reader, None, OpKind::Read, &key, Value::Null);
            if let Outcome::Ok(v) = perform(&mut conns, &mut rng, &mut guess, &["GET", &key], true)
            {
                final_reads += 1;
                recorder.record(reader, Some(Completion::Ok), OpKind::Read, &key, v);
                break;
            }
            recorder.record(
                reader,
                Some(Completion::Fail),
                OpKind::Read,
                &key,
                Value::Null,
            );
        }
    }
    let events = std::mem::take(&mut *recorder.events.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(path) = &args.history {
        let _ = std::fs::write(path, distsys_check::generate::to_jsonl(&events));
    }
    let worst = failovers
        .iter()
        .max()
        .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
    let _ = writeln!(
        stdout,
        "\noperations: {ok} ok, {failed} failed, {unknown} unknown; final reads {final_reads}/{KEYS}\nleader failovers after kill -9: {} (worst {worst}; 2 election timeouts = {} ms)",
        failovers.len(),
        2 * ELECTION_MAX_MS
    );
    let mut builder = HistoryBuilder::new();
    for e in events {
        if let Err(e) = builder.push(e) {
            let _ = writeln!(stdout, "the recorded history is malformed: {e}");
            return EXIT_CHECK_FAILED;
        }
    }
    let history = builder.finish();
    let mut options = CheckOptions::new(ModelKind::Kv);
    options.timeout = Some(Duration::from_secs(60));
    let verdict = match check(&history, &options) {
        Ok(r) => r.verdict,
        Err(e) => {
            let _ = writeln!(stdout, "cannot check the history: {e}");
            return EXIT_CHECK_FAILED;
        }
    };
    let lively = healed.is_some() && recovered.is_some() && final_reads == KEYS;
    match verdict {
        Verdict::Linearizable if lively => {
            let _ = writeln!(
                stdout,
                "verdict: linearizable, no acknowledged write lost (0 violations)"
            );
            EXIT_OK
        }
        Verdict::Linearizable => {
            let _ = writeln!(
                stdout,
                "verdict: linearizable, but the cluster did not recover (liveness violation)"
            );
            EXIT_CHECK_FAILED
        }
        Verdict::Violation(v) => {
            let _ = writeln!(
                stdout,
                "verdict: NOT linearizable\n{}",
                distsys_check::report::violation_text(&v)
            );
            EXIT_CHECK_FAILED
        }
        Verdict::Unknown(reason) => {
            let _ = writeln!(stdout, "verdict: unknown ({reason:?})");
            crate::EXIT_UNKNOWN
        }
    }
}

/// Fault-injecting TCP proxies, one per directed peer link: a cut link drops its connection and
/// refuses new ones until healed.
mod proxy {
    use std::collections::BTreeSet;
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// The links cut now, as (from node index, to node index).
    pub type Cuts = Arc<Mutex<BTreeSet<(usize, usize)>>>;

    fn is_cut(cuts: &Cuts, link: (usize, usize)) -> bool {
        cuts.lock().is_ok_and(|c| c.contains(&link))
    }

    /// Forwards connections made to `listen` to `target` while `link` is not cut.
    pub fn start(
        listen: SocketAddr,
        target: SocketAddr,
        link: (usize, usize),
        cuts: Cuts,
    ) -> std::io::Result<()> {
        let listener = TcpListener::bind(listen)?;
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(inbound) = incoming else { continue };
                if is_cut(&cuts, link) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_millis(500))
                else {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                };
                for (from, to) in [(&inbound, &outbound), (&outbound, &inbound)] {
                    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    let cuts = cuts.clone();
                    std::thread::spawn(move || {
                        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
                        let mut buf = [0u8; 16 << 10];
                        loop {
                            if is_cut(&cuts, link) {
                                break;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Ok(())
    }
}
