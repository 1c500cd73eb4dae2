//! A Jepsen-style test of real node processes. It starts a local cluster whose peer links all
//! go through cuttable proxies ([`proxy`]), runs concurrent clients over the Redis protocol
//! that record every operation ([`workload`], [`recorder`]), and meanwhile partitions, kills
//! and restarts, pauses and resumes nodes, half the time aiming at the leader ([`faults`]).
//! When the faults stop it heals everything, kills and restarts every node at once
//! (acknowledged writes must survive), reads every key, checks the whole history with the
//! project's linearizability checker, and checks the nodes' logs for replicas that applied
//! different states at the same index ([`finish`]). Progress is reported as [`Step`]s.

pub mod faults;
pub mod finish;
pub mod proxy;
pub mod recorder;
pub mod step;
pub mod workload;

pub use step::Step;
pub use workload::KEYS;

use crate::cluster::{layout, wait_for_leader, write_config, NodeProgram, Nodes};
use distsys_check::history::Event;
use distsys_check::Verdict;
use distsys_sim::faults::{Fault, FaultSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recorder::Recorder;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{Shared, Workers};

/// Cluster sizes a chaos run takes.
pub const NODES: RangeInclusive<usize> = 3..=9;
/// Client counts a chaos run takes.
pub const CLIENTS: RangeInclusive<usize> = 1..=64;
/// Election timeout maximum of the generated configurations, ms.
pub const ELECTION_MAX_MS: u64 = crate::cluster::layout::ELECTION_TIMEOUT_MS.1;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// The program that runs a node.
    pub program: NodeProgram,
    /// Nodes, within [`NODES`].
    pub nodes: usize,
    /// Concurrent clients, within [`CLIENTS`].
    pub clients: usize,
    /// Seconds of faults (at least 1).
    pub seconds: u64,
    /// Seed of the fault schedule and the workload.
    pub seed: u64,
    /// First port: clients on BASE+i, peers on BASE+100+i, admin on BASE+200+i, the link
    /// proxies on BASE+300 onwards.
    pub base_port: u16,
    /// Run the deliberately broken node (GET answered from any node's local state) and send
    /// reads to random nodes.
    pub unsafe_stale_reads: bool,
    /// Keep the cluster's directory (configurations, data, logs) instead of removing it.
    pub keep: bool,
    /// The protocol every node runs.
    pub protocol: distsys_node::ProtocolName,
    /// A seeded bug of `protocol` every node runs (its broken variant), by name.
    pub mutant: Option<String>,
    /// Byzantine replicas (PBFT only, at most f = (n-1)/3): nodes 1..=this run the
    /// protocol's adversary over what they send ([`distsys_node::NodeConfig::byzantine`]); the
    /// clients talk to the honest nodes only, and only the honest nodes' logs are checked
    /// for divergence.
    pub byzantine: usize,
    /// What the byzantine replicas do: `all` or a list of behaviour names.
    pub byzantine_behaviour: String,
    /// The fault classes injected, in the simulator's vocabulary: partition, crash and pause
    /// as episodes of the schedule (a lagging failover needs both partition and crash), drop,
    /// duplicate and reorder on every peer message while the faults run ([`proxy`]). Clock and
    /// membership faults are the simulator's only ([`SUPPORTED_FAULTS`]).
    pub faults: FaultSet,
    /// The episodes the schedule draws ([`faults::Episode`]); `None`: every one `faults`
    /// allows. Each must have its fault classes in `faults`.
    pub episodes: Option<Vec<faults::Episode>>,
}

/// The fault classes a chaos run injects on real processes.
pub const SUPPORTED_FAULTS: [Fault; 6] = [
    Fault::Drop,
    Fault::Duplicate,
    Fault::Reorder,
    Fault::Partition,
    Fault::Crash,
    Fault::Pause,
];

/// Why a chaos run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// `nodes` or `clients` out of [`NODES`] or [`CLIENTS`], or no seconds of faults.
    #[error("nodes must be in {NODES:?}, clients in {CLIENTS:?} and seconds positive")]
    Size,
    /// A byzantine setting that does not fit (protocol, count, behaviour names).
    #[error("{0}")]
    Byzantine(String),
    /// A fault class real processes do not get (clock, membership).
    #[error("chaos does not inject {0} faults on real processes (the simulator does: `distsys simulate --faults {0}`); chaos takes drop, duplicate, reorder, partition, crash, pause")]
    Unsupported(&'static str),
    /// An episode whose fault classes are not all in the fault set.
    #[error("{0}")]
    Episode(String),
    /// A link proxy could not listen.
    #[error("cannot start the link proxy on {route}: {source}{}", in_use_hint(.source))]
    Proxy {
        /// Its address.
        route: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A configuration could not be written.
    #[error(transparent)]
    Config(std::io::Error),
    /// A node could not be started.
    #[error("cannot start a node: {0}")]
    Start(std::io::Error),
}

/// What to do about a port already in use: the ports chaos binds are fixed by `--base-port`,
/// and inside the kernel's ephemeral range an outgoing connection may already hold one.
fn in_use_hint(error: &std::io::Error) -> &'static str {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        " (another process or an outgoing connection holds it; ports inside the kernel's \
         ephemeral range, /proc/sys/net/ipv4/ip_local_port_range, are handed to outgoing \
         connections: choose a --base-port below it, such as the default 17000)"
    } else {
        ""
    }
}

/// Why the recorded history got no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    /// The recorder produced a history the checker refuses (a harness bug).
    #[error("the recorded history is malformed: {0}")]
    Malformed(String),
    /// The checker could not run.
    #[error("cannot check the history: {0}")]
    Check(String),
}

/// What a run that got its cluster up measured and concluded.
#[derive(Debug)]
pub struct ChaosReport {
    /// Client operations that took effect, failed, and whose outcome is unknown.
    pub ok: u64,
    /// See `ok`.
    pub failed: u64,
    /// See `ok`.
    pub unknown: u64,
    /// Keys read back after the full restart, of [`KEYS`].
    pub final_reads: usize,
    /// How long each failover after a kill -9 of the leader took.
    pub failovers: Vec<Duration>,
    /// A leader was elected within 15 s after the faults stopped.
    pub healed: bool,
    /// A leader was elected within 15 s after the full restart.
    pub recovered: bool,
    /// The whole history, in real-time order (what `--history` writes).
    pub history: Vec<Event>,
    /// The checker's verdict on it.
    pub verdict: Result<Verdict, CheckFailure>,
    /// Replicas that applied different states at the same index, read from the nodes' logs
    /// ([`finish::divergence`]): empty when every replica agreed.
    pub divergence: Vec<String>,
}

impl ChaosReport {
    /// The cluster recovered from everything: a leader after the faults and after the full
    /// restart, and every key read back.
    pub fn lively(&self) -> bool {
        self.healed && self.recovered && self.final_reads == KEYS
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum ChaosOutcome {
    /// No leader within 15 s of starting: nothing was tested.
    NotUp,
    /// The run went through; its report.
    Checked(Box<ChaosReport>),
}

/// A finished run: how it ended, and where its directory was kept, if asked to.
#[derive(Debug)]
pub struct ChaosRun {
    /// How it ended.
    pub outcome: ChaosOutcome,
    /// The cluster directory, when `keep` was set (else it was removed).
    pub kept_dir: Option<PathBuf>,
}

/// A running campaign: the nodes, their addresses, the links, and the progress sink.
pub struct Campaign<'a> {
    config: &'a ChaosConfig,
    nodes: Nodes,
    admins: Vec<SocketAddr>,
    clients: Vec<SocketAddr>,
    links: Arc<proxy::Links>,
    start: Instant,
    on_step: &'a mut dyn FnMut(Duration, &Step),
}

impl Campaign<'_> {
    fn say(&mut self, step: Step) {
        (self.on_step)(self.start.elapsed(), &step);
    }
}

/// Runs a chaos test (see the module documentation); `on_step` hears each step as it happens,
/// with the time since the cluster started. Every node process is killed before this returns;
/// the directory (under the system's temporary directory) is removed unless `config.keep`.
pub fn run(
    config: &ChaosConfig,
    on_step: &mut dyn FnMut(Duration, &Step),
) -> Result<ChaosRun, ChaosError> {
    if !NODES.contains(&config.nodes) || !CLIENTS.contains(&config.clients) || config.seconds == 0 {
        return Err(ChaosError::Size);
    }
    if let Some(fault) = config
        .faults
        .0
        .iter()
        .find(|f| !SUPPORTED_FAULTS.contains(f))
    {
        return Err(ChaosError::Unsupported(fault.name()));
    }
    if let Some(episode) = config
        .episodes
        .iter()
        .flatten()
        .find(|e| !e.fits(&config.faults))
    {
        let needs: Vec<&str> = episode.needs().iter().map(|f| f.name()).collect();
        return Err(ChaosError::Episode(format!(
            "episode {} needs {} in --faults",
            episode.name(),
            needs.join(" and ")
        )));
    }
    check_byzantine(config)?;
    let dir = std::env::temp_dir().join(format!(
        "distsys-chaos-{}-{}",
        std::process::id(),
        config.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let started = start(config, &dir);
    let outcome = started.map(|(nodes, admins, clients, links)| {
        let mut campaign = Campaign {
            config,
            nodes,
            admins,
            clients,
            links,
            start: Instant::now(),
            on_step,
        };
        let mut outcome = campaign_run(&mut campaign);
        campaign.nodes.kill_all();
        if let ChaosOutcome::Checked(report) = &mut outcome {
            let honest: Vec<usize> = (0..config.nodes)
                .filter(|i| !is_byzantine(config, *i))
                .collect();
            report.divergence = finish::divergence(&dir, &honest);
        }
        outcome
    });
    let kept_dir = if config.keep {
        Some(dir)
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        None
    };
    Ok(ChaosRun {
        outcome: outcome?,
        kept_dir,
    })
}

/// A byzantine run needs PBFT, at most f byzantine nodes, and known behaviours.
fn check_byzantine(config: &ChaosConfig) -> Result<(), ChaosError> {
    if config.byzantine == 0 {
        return Ok(());
    }
    if config.protocol != distsys_node::ProtocolName::Pbft {
        return Err(ChaosError::Byzantine(format!(
            "--byzantine: {} tolerates crash faults only; byzantine replicas need --protocol pbft",
            config.protocol.name()
        )));
    }
    let f = (config.nodes - 1) / 3;
    if config.byzantine > f {
        return Err(ChaosError::Byzantine(format!(
            "--byzantine {}: {} PBFT nodes tolerate at most f = {f} byzantine replicas",
            config.byzantine, config.nodes
        )));
    }
    distsys_consensus::pbft::byzantine::Behaviour::parse_list(&config.byzantine_behaviour)
        .map(|_| ())
        .map_err(|e| ChaosError::Byzantine(format!("--byzantine-behaviour: {e}")))
}

/// Whether node index `i` runs as a byzantine replica.
fn is_byzantine(config: &ChaosConfig, i: usize) -> bool {
    i < config.byzantine
}

type Started = (Nodes, Vec<SocketAddr>, Vec<SocketAddr>, Arc<proxy::Links>);

/// Writes the configurations (every peer link routed through a proxy) and starts the nodes.
fn start(config: &ChaosConfig, dir: &std::path::Path) -> Result<Started, ChaosError> {
    let mut cluster = layout(config.nodes, dir, config.base_port, None);
    let links = proxy::Links::new(proxy::MessageFaults::of(&config.faults), config.seed);
    let peer_addrs: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.me().peer).collect();
    for (i, (_, node)) in cluster.iter_mut().enumerate() {
        for (j, target) in peer_addrs.iter().enumerate().filter(|(j, _)| *j != i) {
            let port = config.base_port + 300 + (i * 10 + j) as u16;
            let route = SocketAddr::from(([127, 0, 0, 1], port));
            proxy::start(route, *target, (i, j), links.clone())
                .map_err(|source| ChaosError::Proxy { route, source })?;
            node.peer_routes.insert(j as u64 + 1, route);
        }
    }
    let mut paths = Vec::new();
    for (i, (node_dir, node)) in cluster.iter_mut().enumerate() {
        node.unsafe_stale_reads = config.unsafe_stale_reads;
        node.protocol = config.protocol.name().into();
        node.mutant = config.mutant.clone();
        node.byzantine = is_byzantine(config, i).then(|| config.byzantine_behaviour.clone());
        paths.push(write_config(node_dir, node).map_err(ChaosError::Config)?);
    }
    let nodes = Nodes::start(config.program.clone(), paths).map_err(ChaosError::Start)?;
    let admins = cluster.iter().map(|(_, c)| c.admin).collect();
    // Clients talk to the honest nodes only: a byzantine node may answer anything.
    let clients = cluster
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_byzantine(config, *i))
        .map(|(_, (_, c))| c.me().client)
        .collect();
    Ok((nodes, admins, clients, links))
}

/// The campaign proper: wait for a leader, run the clients through the fault schedule, heal,
/// restart everything, read every key, check the history.
fn campaign_run(campaign: &mut Campaign<'_>) -> ChaosOutcome {
    let config = campaign.config;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    match wait_for_leader(&campaign.admins, Duration::from_secs(15)) {
        Some((i, after)) => {
            campaign.say(Step::Up {
                nodes: config.nodes,
                leader: i + 1,
                after,
            });
            if config.byzantine > 0 {
                campaign.say(Step::Byzantine {
                    nodes: (1..=config.byzantine).collect(),
                    behaviours: config.byzantine_behaviour.clone(),
                });
            }
        }
        None => {
            campaign.say(Step::NotUp);
            return ChaosOutcome::NotUp;
        }
    }
    let shared = Shared {
        recorder: Arc::new(Recorder::new()),
        stop: Arc::new(AtomicBool::new(false)),
        next_process: Arc::new(AtomicU64::new(config.clients as u64 + 1)),
        values: Arc::new(AtomicU64::new(1)),
    };
    let workers = Workers::start(
        config.clients,
        &campaign.clients,
        config.seed,
        config.unsafe_stale_reads,
        &shared,
    );
    let failovers = faults::schedule(campaign, &mut rng, config.seconds);
    campaign.say(Step::FaultsStop);
    let healed = wait_for_leader(&campaign.admins, Duration::from_secs(15)).is_some();
    std::thread::sleep(Duration::from_secs(2));
    let tally = workers.stop();
    if !healed {
        campaign.say(Step::NoLeaderAfterFaults);
    }
    let recovered = finish::full_restart(campaign);
    let reader = shared.next_process.fetch_add(1, Ordering::Relaxed);
    // The clients' list holds the honest nodes only, which come after the byzantine ones.
    let first_guess = recovered.map_or(0, |i| i.saturating_sub(config.byzantine));
    let final_reads = finish::final_reads(campaign, &shared.recorder, reader, first_guess);
    let history = shared.recorder.take();
    let verdict = finish::verdict(&history);
    ChaosOutcome::Checked(Box::new(ChaosReport {
        ok: tally.ok,
        failed: tally.failed,
        unknown: tally.unknown,
        final_reads,
        failovers,
        healed,
        recovered: recovered.is_some(),
        history,
        verdict,
        divergence: Vec::new(),
    }))
}

#[cfg(test)]
mod error_tests {
    use super::ChaosError;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_proxy_port_in_use_says_how_to_choose_another() {
        let route = "127.0.0.1:44310".parse().expect("address");
        let in_use = ChaosError::Proxy {
            route,
            source: Error::from(ErrorKind::AddrInUse),
        }
        .to_string();
        assert!(in_use.contains("127.0.0.1:44310"), "{in_use}");
        assert!(in_use.contains("--base-port below it"), "{in_use}");
        let other = ChaosError::Proxy {
            route,
            source: Error::from(ErrorKind::PermissionDenied),
        }
        .to_string();
        assert!(!other.contains("--base-port"), "{other}");
    }
}
