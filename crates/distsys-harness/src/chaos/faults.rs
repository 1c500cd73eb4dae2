//! The fault schedule, in the simulator's fault vocabulary ([`distsys_sim::faults::Fault`]):
//! one episode at a time, every 0.5-1.5 s, each lasting 0.5-2.5 s, drawn from those the fault
//! classes allow:
//! - partition: a network partition of the simulator's shapes (a split, an isolated node,
//!   one-way links, a bridge), or Jepsen's majorities ring (every node sees a majority, no
//!   two the same one: two leaders can hold a quorum at once, kept apart only by the nodes in
//!   both quorums refusing the older ballot or term);
//! - crash, pause: a kill -9 and restart, a SIGSTOP and SIGCONT, half the time of the leader;
//! - partition and crash: a lagging failover (a follower cut off, the leader killed while it
//!   is, then the cut healed: the next leader or view is chosen with a replica that lacks
//!   recent entries, where a view change that drops prepared requests or an election that
//!   ignores log freshness loses acknowledged writes);
//! - partition and pause: a minority leader (the leader cut off with a minority whose other
//!   members are stopped and continued in turns, each time answering at once every message
//!   it was resent while stopped).
//!
//! Message faults (drop, duplicate, reorder) are on for the whole schedule, on every peer link
//! ([`super::proxy`]).

use super::step::Step;
use super::Campaign;
use crate::cluster::layout::{ELECTION_TIMEOUT_MS, HEARTBEAT_MS};
use crate::cluster::{leader, signal};
use distsys_sim::faults::{Fault, FaultSet, Partition};
use nix::sys::signal::Signal;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Injects faults until `seconds` have passed; returns how long each failover after a kill
/// of the leader took. The episodes drawn are `campaign.config.episodes`, or every one
/// `campaign.config.faults` allows; the message faults, if any, are on for the whole schedule.
pub fn schedule(campaign: &mut Campaign<'_>, rng: &mut ChaCha8Rng, seconds: u64) -> Vec<Duration> {
    let episodes = campaign
        .config
        .episodes
        .clone()
        .unwrap_or_else(|| Episode::allowed(&campaign.config.faults));
    let messages = campaign.links.message_faults();
    if messages.any() {
        campaign.links.set_message_faults(true);
        campaign.say(Step::MessageFaultsOn {
            what: messages.describe(),
        });
    }
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut failovers = Vec::new();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(rng.random_range(500..1500)));
        if episodes.is_empty() {
            continue;
        }
        let current = leader(&campaign.admins).map(|(i, _)| i);
        let victim = match current {
            Some(l) if rng.random_bool(0.5) => l,
            _ => rng.random_range(0..campaign.nodes.len()),
        };
        let on_leader = current == Some(victim);
        let lasting = Duration::from_millis(rng.random_range(500..2500));
        match episodes[rng.random_range(0..episodes.len())] {
            Episode::LaggingFailover => match current {
                Some(leader) => lagging_failover(campaign, rng, leader, lasting),
                None => partition(campaign, rng, lasting),
            },
            Episode::MinorityLeader => match current {
                Some(leader) => minority_leader(campaign, rng, leader, lasting),
                None => partition(campaign, rng, lasting),
            },
            Episode::Partition => partition(campaign, rng, lasting),
            Episode::MajoritiesRing => majorities_ring(campaign, rng, lasting),
            Episode::Crash => {
                if let Some(failover) = kill_and_restart(campaign, victim, on_leader, lasting) {
                    failovers.push(failover);
                }
            }
            Episode::Pause => pause(campaign, victim, on_leader, lasting),
        }
    }
    if messages.any() {
        campaign.links.set_message_faults(false);
        let tally = campaign.links.tally();
        campaign.say(Step::MessageFaultsOff { tally });
    }
    failovers
}

/// One kind of episode the schedule draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Episode {
    /// SIGSTOP a node (the leader half the time), SIGCONT it later.
    Pause,
    /// kill -9 a node (the leader half the time), restart it later.
    Crash,
    /// A partition of the simulator's random shapes ([`Partition::cut_random`]).
    Partition,
    /// Jepsen's majorities ring ([`Partition::majorities_ring`]).
    MajoritiesRing,
    /// A follower cut off, the leader killed meanwhile, the cut healed.
    LaggingFailover,
    /// The leader cut off in a minority whose other members are stopped and continued in turns.
    MinorityLeader,
}

impl Episode {
    /// Every episode.
    pub const ALL: [Episode; 6] = [
        Episode::Pause,
        Episode::Crash,
        Episode::Partition,
        Episode::MajoritiesRing,
        Episode::LaggingFailover,
        Episode::MinorityLeader,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Episode::Pause => "pause",
            Episode::Crash => "crash",
            Episode::Partition => "partition",
            Episode::MajoritiesRing => "ring",
            Episode::LaggingFailover => "lagging-failover",
            Episode::MinorityLeader => "minority-leader",
        }
    }

    /// The fault classes it injects (all of them must be in the run's fault set).
    pub fn needs(self) -> &'static [Fault] {
        match self {
            Episode::Pause => &[Fault::Pause],
            Episode::Crash => &[Fault::Crash],
            Episode::Partition | Episode::MajoritiesRing => &[Fault::Partition],
            Episode::LaggingFailover => &[Fault::Partition, Fault::Crash],
            Episode::MinorityLeader => &[Fault::Partition, Fault::Pause],
        }
    }

    /// Whether `faults` holds every fault class it needs.
    pub fn fits(self, faults: &FaultSet) -> bool {
        self.needs().iter().all(|f| faults.has(*f))
    }

    /// Every episode `faults` allows.
    pub fn allowed(faults: &FaultSet) -> Vec<Episode> {
        Episode::ALL
            .into_iter()
            .filter(|e| e.fits(faults))
            .collect()
    }

    /// Parses `all` or a comma-separated list of names; the error names the unknown one and
    /// lists the known.
    pub fn parse_list(list: &str) -> Result<Option<Vec<Episode>>, String> {
        if list.trim() == "all" {
            return Ok(None);
        }
        list.split(',')
            .map(|name| {
                Episode::ALL
                    .into_iter()
                    .find(|e| e.name() == name.trim())
                    .ok_or_else(|| {
                        let known: Vec<&str> = Episode::ALL.iter().map(|e| e.name()).collect();
                        format!(
                            "unknown episode {name:?} (all, or any of {})",
                            known.join(",")
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Cuts a partition drawn by the simulator's own [`Partition::cut_random`] (a split, an
/// isolated node, one node's outgoing links, or a bridge node between two halves; aimed at the
/// leader half the time) for `lasting`, then heals it.
fn partition(campaign: &mut Campaign<'_>, rng: &mut ChaCha8Rng, lasting: Duration) {
    let leader = leader(&campaign.admins).map(|(i, _)| i as u64 + 1);
    let mut drawn = Partition::default();
    let shape = drawn.cut_random(rng, &node_ids(campaign), leader);
    hold(campaign, &drawn, shape, lasting);
}

/// Cuts Jepsen's majorities ring ([`Partition::majorities_ring`]) for `lasting`: every node
/// sees a majority, no two the same one, so two leaders can each hold a quorum at once and
/// only the nodes in both quorums refusing the older ballot or term keeps them apart.
fn majorities_ring(campaign: &mut Campaign<'_>, rng: &mut ChaCha8Rng, lasting: Duration) {
    let mut ring = Partition::default();
    let shape = ring.majorities_ring(rng, &node_ids(campaign));
    hold(campaign, &ring, shape, lasting);
}

/// Cuts `partition` (announced as `shape`) for `lasting`, then heals it.
fn hold(campaign: &mut Campaign<'_>, partition: &Partition, shape: String, lasting: Duration) {
    cut(campaign, partition, shape, lasting);
    std::thread::sleep(lasting);
    heal(campaign);
}

/// Cuts `leader` off in a minority ([`Partition::leader_in_minority`]) for `lasting` plus two
/// election timeouts (so the majority elects another leader and takes writes before the heal),
/// its companions there slow all the while: stopped (SIGSTOP) for two thirds of the shortest
/// election timeout at a time, so they never time out the leader themselves, then run for two
/// heartbeats. The old leader resends to them while they are stopped, and they answer every copy
/// at once when they run: a leader that counts answers instead of the distinct nodes answering
/// takes that burst for a quorum.
fn minority_leader(
    campaign: &mut Campaign<'_>,
    rng: &mut ChaCha8Rng,
    leader: usize,
    lasting: Duration,
) {
    let mut cut_off = Partition::default();
    let (companions, shape) =
        cut_off.leader_in_minority(rng, &node_ids(campaign), leader as u64 + 1);
    let held = lasting + Duration::from_millis(2 * ELECTION_TIMEOUT_MS.1);
    cut(campaign, &cut_off, shape, held);
    let slow: Vec<usize> = companions.iter().map(|&id| id as usize - 1).collect();
    stutter(campaign, &slow, held);
    heal(campaign);
}

/// Stops and continues `nodes` in turns for `lasting` (see [`minority_leader`]); a node not
/// running is left alone.
fn stutter(campaign: &mut Campaign<'_>, nodes: &[usize], lasting: Duration) {
    let stopped = Duration::from_millis(ELECTION_TIMEOUT_MS.0 * 2 / 3);
    let running = Duration::from_millis(2 * HEARTBEAT_MS);
    if !nodes.is_empty() {
        campaign.say(Step::Stutter {
            nodes: nodes.iter().map(|i| i + 1).collect(),
            stopped,
            running,
            lasting,
        });
    }
    let end = Instant::now() + lasting;
    while Instant::now() < end {
        let pids: Vec<u32> = nodes
            .iter()
            .filter_map(|&i| campaign.nodes.pid(i))
            .collect();
        pids.iter().for_each(|&pid| signal(pid, Signal::SIGSTOP));
        std::thread::sleep(stopped.min(end.saturating_duration_since(Instant::now())));
        pids.iter().for_each(|&pid| signal(pid, Signal::SIGCONT));
        std::thread::sleep(running.min(end.saturating_duration_since(Instant::now())));
    }
}

/// The nodes' ids as the simulator numbers them (index + 1).
fn node_ids(campaign: &Campaign<'_>) -> Vec<u64> {
    (1..=campaign.nodes.len() as u64).collect()
}

/// Cuts the links `partition` blocks (ids are node index + 1), announced as `shape` lasting
/// `lasting`.
fn cut(campaign: &mut Campaign<'_>, partition: &Partition, shape: String, lasting: Duration) {
    campaign.say(Step::Partition { shape, lasting });
    let links = partition
        .blocked()
        .map(|(a, b)| (a as usize - 1, b as usize - 1));
    campaign.links.cut_links(links);
}

/// Restores every cut link.
fn heal(campaign: &mut Campaign<'_>) {
    campaign.links.heal();
    campaign.say(Step::Healed);
}

/// A follower is cut off for `lasting`; halfway through, the leader is killed; the cut heals,
/// the new leader is awaited (up to 5 s), and the old leader restarts `lasting / 2` after that.
/// No failover time is returned: the cut may hold the failover up on purpose (with one node cut
/// and one dead, a cluster of 5 has no PBFT quorum), so it is not a failover measurement.
fn lagging_failover(
    campaign: &mut Campaign<'_>,
    rng: &mut ChaCha8Rng,
    leader: usize,
    lasting: Duration,
) {
    let n = campaign.nodes.len();
    let follower = (leader + rng.random_range(1..n)) % n;
    let mut cut_off = Partition::default();
    let shape = cut_off.isolate(follower as u64 + 1, &node_ids(campaign));
    cut(campaign, &cut_off, shape, lasting);
    std::thread::sleep(lasting / 2);
    campaign.say(Step::Kill {
        node: leader + 1,
        leader: true,
        restart_in: lasting,
    });
    campaign.nodes.kill(leader);
    std::thread::sleep(lasting / 2);
    heal(campaign);
    await_new_leader(campaign, leader, Instant::now());
    std::thread::sleep(lasting / 2);
    restart(campaign, leader);
}

/// Waits up to 5 s after `since` for a leader other than `victim`; says who and when, and
/// returns how long after `since` it was seen.
fn await_new_leader(
    campaign: &mut Campaign<'_>,
    victim: usize,
    since: Instant,
) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(5) {
        if let Some((i, _)) = leader(&campaign.admins).filter(|(i, _)| *i != victim) {
            let after = since.elapsed();
            campaign.say(Step::NewLeader { node: i + 1, after });
            return Some(after);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Kills `victim`, measures the failover if it led (up to 5 s), restarts it after `lasting`.
fn kill_and_restart(
    campaign: &mut Campaign<'_>,
    victim: usize,
    on_leader: bool,
    lasting: Duration,
) -> Option<Duration> {
    campaign.say(Step::Kill {
        node: victim + 1,
        leader: on_leader,
        restart_in: lasting,
    });
    campaign.nodes.kill(victim);
    let failover = if on_leader {
        await_new_leader(campaign, victim, Instant::now())
    } else {
        None
    };
    std::thread::sleep(lasting);
    restart(campaign, victim);
    failover
}

/// Starts `victim` again and says how that went.
pub fn restart(campaign: &mut Campaign<'_>, victim: usize) {
    let step = match campaign.nodes.restart(victim) {
        Ok(()) => Step::Restarted { node: victim + 1 },
        Err(e) => Step::CannotRestart {
            node: victim + 1,
            error: e.to_string(),
        },
    };
    campaign.say(step);
}

/// Pauses `victim` with SIGSTOP for `lasting`, then resumes it (nothing if it is not running).
fn pause(campaign: &mut Campaign<'_>, victim: usize, on_leader: bool, lasting: Duration) {
    let Some(pid) = campaign.nodes.pid(victim) else {
        return;
    };
    campaign.say(Step::Pause {
        node: victim + 1,
        leader: on_leader,
        lasting,
    });
    signal(pid, Signal::SIGSTOP);
    std::thread::sleep(lasting);
    signal(pid, Signal::SIGCONT);
    campaign.say(Step::Resume { node: victim + 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fault_classes_decide_which_episodes_are_drawn() {
        let allowed = |list: &str| Episode::allowed(&list.parse().expect("fault list"));
        assert_eq!(allowed("none"), vec![]);
        assert_eq!(allowed("drop,duplicate"), vec![]);
        assert_eq!(
            allowed("partition"),
            vec![Episode::Partition, Episode::MajoritiesRing]
        );
        assert_eq!(
            allowed("pause,partition"),
            vec![
                Episode::Pause,
                Episode::Partition,
                Episode::MajoritiesRing,
                Episode::MinorityLeader
            ]
        );
        assert_eq!(allowed("partition,crash,pause"), Episode::ALL.to_vec());
        for episode in Episode::ALL {
            let needs: FaultSet = FaultSet(episode.needs().iter().copied().collect());
            assert!(Episode::allowed(&needs).contains(&episode), "{episode:?}");
        }
    }

    #[test]
    fn episode_lists_parse_by_name() {
        assert_eq!(Episode::parse_list("all"), Ok(None));
        for episode in Episode::ALL {
            assert_eq!(Episode::parse_list(episode.name()), Ok(Some(vec![episode])));
        }
        assert_eq!(
            Episode::parse_list("ring, minority-leader"),
            Ok(Some(vec![Episode::MajoritiesRing, Episode::MinorityLeader]))
        );
        let err = Episode::parse_list("ring,meteor").expect_err("unknown");
        assert!(
            err.contains("\"meteor\"") && err.contains("lagging-failover"),
            "{err}"
        );
        assert!(Episode::parse_list("").is_err());
    }
}
