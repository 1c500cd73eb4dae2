//! The figures a user decides with, computed from the answer's own configuration and placement:
//! commit and read latency, failover time, messages per write, availability and cost.
//!
//! Latency model (stated in every answer's `figures.model`): the group's members are placed per
//! region as `configuration.placement` says (one region when none is given); the leader (or
//! primary, or coordinator) sits in the region holding the most members, next to the writers.
//! One-way latency is `latency_ms` between regions and `intra_region_latency_ms` (1 ms by
//! default) inside one (with one region,
//! `latency_ms` between every pair). Disk writes, CPU and queueing are not counted: the
//! figures are the network's floor.

use super::environment::Environment;
use crate::advice::{Configuration, Figures, ReadLatency};
use crate::timing::DEFAULT_LATENCY_MS_LOCAL;

/// How a write of the design reaches durability: what the figures are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// A leader waits for `acks` other members (Raft, Multi-Paxos, sync replication, a
    /// semi-sync primary with `k` backups, consensus groups under partitioning or 2PC);
    /// `rounds` such rounds per write (2PC: prepare and decision).
    /// A failed leader is replaced automatically; `fencing` is what orders leaders.
    Leader {
        /// Acknowledgements from other members a write waits for.
        acks: u32,
        /// Sequential rounds per write.
        rounds: u32,
        /// The number that orders successive leaders (and fences a deposed one).
        fencing: Fencing,
    },
    /// PBFT: pre-prepare, prepare and commit among a quorum, then the replies.
    Byzantine,
    /// A coordinator waits for `w - 1` other replicas of `n` (itself included); reads ask `r`.
    Leaderless {
        /// Replicas per key.
        n: u32,
        /// Write quorum.
        w: u32,
        /// Read quorum.
        r: u32,
    },
    /// The write is applied where it arrives and propagated in the background.
    Local,
}

/// The number that orders successive leaders of a design, carried by every write as its
/// fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fencing {
    /// Raft's term.
    Term,
    /// Multi-Paxos's ballot.
    Ballot,
    /// A primary's (or owner's) epoch, bumped at every failover or ownership change.
    Epoch,
}

impl Fencing {
    /// Its name in the answer's text.
    pub fn word(self) -> &'static str {
        match self {
            Fencing::Term => "term",
            Fencing::Ballot => "ballot",
            Fencing::Epoch => "epoch",
        }
    }
}

impl WritePath {
    /// A leader committing on the group's quorum (itself plus `quorum - 1` others) in `rounds`
    /// sequential rounds per write.
    pub fn quorum_leader(env: &Environment, rounds: u32, fencing: Fencing) -> WritePath {
        WritePath::Leader {
            acks: env.group.quorum - 1,
            rounds,
            fencing,
        }
    }
}

/// Round trips from the leader's seat to every other member, fastest first, in ms.
fn peer_rtts(env: &Environment, members: u32) -> Vec<f64> {
    let (local, remote) = one_way_ms(env);
    let mut rtts = Vec::new();
    if env.regions().len() > 1 && !env.placement.is_empty() {
        for (i, region) in env.placement.iter().enumerate() {
            let peers = if i == 0 {
                region.nodes.saturating_sub(1)
            } else {
                region.nodes
            };
            let one_way = if i == 0 { local } else { remote };
            rtts.extend(std::iter::repeat_n(2.0 * one_way, peers as usize));
        }
    } else {
        rtts.extend(std::iter::repeat_n(
            2.0 * remote,
            members.saturating_sub(1) as usize,
        ));
    }
    rtts.truncate(members.saturating_sub(1) as usize);
    rtts.sort_by(f64::total_cmp);
    rtts
}

/// `(inside one region, between regions)` one-way latency in ms.
fn one_way_ms(env: &Environment) -> (f64, f64) {
    let between = env.timing.latency_ms;
    if env.regions().len() > 1 {
        let inside = env
            .context
            .network_assumptions
            .intra_region_latency_ms
            .unwrap_or(DEFAULT_LATENCY_MS_LOCAL);
        (inside.min(between), between)
    } else {
        (between, between)
    }
}

/// The round trip of the `k`-th fastest acknowledgement (0 when none is awaited).
fn kth(rtts: &[f64], k: u32) -> f64 {
    match k {
        0 => 0.0,
        k => rtts
            .get(k as usize - 1)
            .or(rtts.last())
            .copied()
            .unwrap_or(0.0),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What one write path costs, before rounding.
struct PathFigures {
    commit: f64,
    reads: Vec<ReadLatency>,
    failover: Option<u64>,
    messages: u64,
    /// Members a write needs reachable.
    needed: u32,
    rounds_crossing: u32,
}

/// The figures of `path` over round trips `rtts` (fastest first) from the leader's seat.
fn path_figures(
    env: &Environment,
    configuration: &Configuration,
    path: WritePath,
    rtts: &[f64],
) -> PathFigures {
    let n = configuration.group_size;
    let members = configuration.replica_count.unwrap_or(n);
    let (local, _) = one_way_ms(env);
    let cross = |ms: f64| u32::from(env.regions().len() > 1 && ms > 2.0 * local);
    let learners = configuration.learners.unwrap_or(0);
    let t = &env.timing;
    let (commit, reads, failover, messages, needed, rounds_crossing) = match path {
        WritePath::Leader { acks, rounds, .. } => {
            let round = kth(rtts, acks);
            let mut reads = vec![ReadLatency::new("lease", 0.0)];
            if configuration.read_path.as_deref() == Some("read_index") {
                reads.insert(0, ReadLatency::new("read_index", round));
            }
            reads.push(ReadLatency::new(
                "follower (stale, bounded by the lag)",
                0.0,
            ));
            (
                // A commit wait runs from the transaction's timestamp, overlapping its rounds.
                (f64::from(rounds) * round).max(configuration.commit_wait_ms.unwrap_or(0) as f64),
                reads,
                Some(t.election_timeout_max_ms + kth(rtts, acks).ceil() as u64),
                u64::from(rounds) * (2 * u64::from(n.saturating_sub(1)) + u64::from(learners)),
                acks + 1,
                rounds * cross(round),
            )
        }
        WritePath::Byzantine => {
            let q = configuration.quorum_size;
            let round = kth(rtts, q.saturating_sub(1));
            let n64 = u64::from(n);
            let m = n64.saturating_sub(1);
            (
                1.5 * round,
                vec![ReadLatency::new("quorum", kth(rtts, q.saturating_sub(1)))],
                Some(t.election_timeout_min_ms + (2.0 * round).ceil() as u64),
                m + m * m + n64 * m + n64,
                q,
                3 * cross(round),
            )
        }
        WritePath::Leaderless { n, w, r } => {
            let round = kth(rtts, w.saturating_sub(1));
            (
                round,
                vec![ReadLatency::new("quorum", kth(rtts, r.saturating_sub(1)))],
                None,
                2 * u64::from(n),
                w,
                cross(round),
            )
        }
        WritePath::Local => (
            0.0,
            vec![ReadLatency::new("any_replica", 0.0)],
            None,
            u64::from(members.saturating_sub(1)),
            1,
            0,
        ),
    };
    PathFigures {
        commit,
        reads,
        failover,
        messages,
        needed,
        rounds_crossing,
    }
}

/// The figures of a design whose writes take `path`, for `configuration`.
pub fn figures(env: &Environment, configuration: &Configuration, path: WritePath) -> Figures {
    let n = configuration.group_size;
    let members = configuration.replica_count.unwrap_or(n);
    let rtts = peer_rtts(env, members.max(n));
    let (local, remote) = one_way_ms(env);
    let p = env.context.network_assumptions.partition_probability;
    let path_figures = path_figures(env, configuration, path, &rtts);
    let needed = path_figures.needed;
    let reachable_of = match path {
        WritePath::Leaderless { n, .. } => n,
        _ => members,
    };
    Figures {
        commit_latency_ms: round1(path_figures.commit),
        client_hop_ms: round1(2.0 * local),
        read_latency_ms: path_figures
            .reads
            .into_iter()
            .map(|r| ReadLatency {
                latency_ms: round1(r.latency_ms),
                ..r
            })
            .collect(),
        failover_ms: path_figures.failover,
        messages_per_write: path_figures.messages,
        write_availability: p.map(|p| {
            let exact = super::environment::quorum_availability(reachable_of, needed, p);
            (exact * 1e6).round() / 1e6
        }),
        nodes: env.nodes,
        regions: env.regions().len().max(1) as u32,
        cross_region_rounds_per_write: path_figures.rounds_crossing,
        leader_region: env
            .placement
            .first()
            .filter(|_| env.regions().len() > 1)
            .map(|r| r.region.clone()),
        model: format!(
            "{}; the leader (or coordinator) in the region with the most members, clients next \
             to it; disk, CPU and queueing not counted; availability: each node independently \
             unreachable with partition_probability, a write needs {needed} of {reachable_of} \
             reachable",
            if env.regions().len() > 1 {
                format!("one-way latency {remote} ms between regions, {local} ms inside one")
            } else {
                format!("one-way latency {remote} ms between every pair of nodes (one region)")
            }
        ),
    }
}
