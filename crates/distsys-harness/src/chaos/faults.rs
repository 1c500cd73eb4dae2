//! The fault schedule, in the simulator's fault vocabulary ([`distsys_sim::faults::Fault`]):
//! one episode at a time, every 0.5-1.5 s, each lasting 0.5-2.5 s: a network partition (of
//! the simulator's shapes: a split, an isolated node, one-way links, a bridge), a kill -9 and restart (crash), a SIGSTOP and SIGCONT
//! (pause), half the time aimed at the leader; or a lagging failover (a follower cut off, the
//! leader killed while it is, then the cut healed: the next leader or view is chosen with a
//! replica that lacks recent entries, where a view change that drops prepared requests or an
//! election that ignores log freshness loses acknowledged writes). Message faults (drop,
//! duplicate, reorder) are on for the whole schedule, on every peer link ([`super::proxy`]).

use super::step::Step;
use super::Campaign;
use crate::cluster::{leader, signal};
use distsys_sim::faults::{Fault, Partition};
use nix::sys::signal::Signal;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Injects faults until `seconds` have passed; returns how long each failover after a kill
/// of the leader took. The episodes drawn are those of `campaign.config.faults` (partition,
/// crash, pause; a lagging failover needs partition and crash); the message faults, if any,
/// are on for the whole schedule.
pub fn schedule(campaign: &mut Campaign<'_>, rng: &mut ChaCha8Rng, seconds: u64) -> Vec<Duration> {
    let faults = &campaign.config.faults;
    let mut episodes = Vec::new();
    for (fault, episode) in [
        (Fault::Pause, Episode::Pause),
        (Fault::Crash, Episode::Crash),
        (Fault::Partition, Episode::Partition),
    ] {
        if faults.has(fault) {
            episodes.push(episode);
        }
    }
    if faults.has(Fault::Partition) && faults.has(Fault::Crash) {
        episodes.push(Episode::LaggingFailover);
    }
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
            Episode::Partition => partition(campaign, rng, lasting),
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

/// One fault of the schedule.
#[derive(Debug, Clone, Copy)]
enum Episode {
    Pause,
    Crash,
    Partition,
    LaggingFailover,
}

/// Cuts a partition drawn by the simulator's own [`Partition::cut_random`] (a split, an
/// isolated node, one node's outgoing links, or a bridge node between two halves; aimed at the
/// leader half the time) for `lasting`, then heals it.
fn partition(campaign: &mut Campaign<'_>, rng: &mut ChaCha8Rng, lasting: Duration) {
    let leader = leader(&campaign.admins).map(|(i, _)| i as u64 + 1);
    let mut drawn = Partition::default();
    let shape = drawn.cut_random(rng, &node_ids(campaign), leader);
    cut(campaign, &drawn, shape, lasting);
    std::thread::sleep(lasting);
    heal(campaign);
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
