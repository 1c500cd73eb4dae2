//! The catalogue of failure scenarios. Each function fills in the numbers of one environment;
//! the per-problem modules pick the scenarios that matter for their answer.

use super::environment::Environment;
use crate::advice::FailureScenario;

pub(crate) fn scenario(name: &str, behavior: String, recovery: String) -> FailureScenario {
    FailureScenario {
        scenario: name.to_string(),
        behavior,
        recovery,
    }
}

/// The protocol a scenario is written for: each has its own words (terms or ballots, how a
/// lagging replica catches up), so no answer carries another protocol's mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Raft: terms, pre-vote, check-quorum, ReadIndex, InstallSnapshot.
    Raft,
    /// Multi-Paxos: ballots, phase 1 over the open slots, no-op hole filling.
    MultiPaxos,
    /// A primary with backups, failover decided by a consensus-elected coordinator.
    PrimaryBackup,
}

impl Family {
    /// The number that orders this family's leaders: its fencing token.
    pub fn fencing(self) -> super::figures::Fencing {
        use super::figures::Fencing;
        match self {
            Family::Raft => Fencing::Term,
            Family::MultiPaxos => Fencing::Ballot,
            Family::PrimaryBackup => Fencing::Epoch,
        }
    }
}

/// The leader (or primary) crashes.
pub fn leader_crash(env: &Environment, family: Family) -> FailureScenario {
    let t = &env.timing;
    let g = &env.group;
    if g.spare() == 0 {
        return scenario(
            "leader crash",
            format!(
                "No failover is possible: the {} surviving node(s) of {} are fewer than the quorum \
                 of {} a new leader needs, so writes and linearizable reads stop until the crashed \
                 node returns with its disk (no acknowledged write is lost).",
                g.size - 1,
                g.size,
                g.quorum
            ),
            "Restart the node from its durable state; to survive a crash, add a voter (3 nodes, \
             or 2 plus a witness that votes and stores only the log's metadata)."
                .to_string(),
        );
    }
    let (behavior, recovery) = match family {
        Family::Raft => (
            format!(
                "Writes stall until a follower's randomised election timeout ({}-{} ms) fires; a \
                 candidate needs {} of {} votes and only a node holding every committed entry can \
                 win, so no acknowledged write is lost. Expected unavailability: about {} ms plus \
                 one round trip.",
                t.election_timeout_min_ms,
                t.election_timeout_max_ms,
                g.quorum,
                g.size,
                t.election_timeout_max_ms
            ),
            format!(
                "The new leader commits a no-op entry of its term before serving reads; clients \
                 retry after {} ms with the same idempotency key, so a write that did commit is \
                 applied once.",
                t.request_timeout_ms
            ),
        ),
        Family::MultiPaxos | Family::PrimaryBackup => (
            format!(
                "Writes stall until a replica's leader-failure timeout ({}-{} ms) fires; it runs \
                 phase 1 with a higher ballot and needs promises from {} of {} acceptors, which \
                 report every value they accepted in the open slots, so no chosen value is lost. \
                 Expected unavailability: about {} ms plus one round trip.",
                t.election_timeout_min_ms,
                t.election_timeout_max_ms,
                g.quorum,
                g.size,
                t.election_timeout_max_ms
            ),
            format!(
                "The new leader re-proposes the highest-ballot value of each open slot and fills \
                 holes with no-ops before serving; clients retry after {} ms with the same \
                 idempotency key, so a write that was chosen is applied once.",
                t.request_timeout_ms
            ),
        ),
    };
    scenario("leader crash", behavior, recovery)
}

/// A minority of at most `n - q` nodes is cut off.
pub fn minority_partition(env: &Environment, family: Family) -> FailureScenario {
    let g = &env.group;
    let cut = g.spare();
    if g.size == 1 {
        return scenario(
            "network partition",
            "A single node has no peer to be cut off from: clients cut off from it wait; every \
             write that reached it is on it."
                .to_string(),
            "On heal clients reach it again; nothing was lost, but nothing was served to the \
             clients that were cut off."
                .to_string(),
        );
    }
    if cut == 0 {
        return scenario(
            "network partition",
            format!(
                "Any cut separates the {} nodes into sides smaller than the quorum of {}, so \
                 writes and linearizable reads stop on both sides until the network heals (they \
                 time out rather than return wrong answers).",
                g.size, g.quorum
            ),
            "On heal the nodes exchange what they missed and resume; no acknowledged write is lost."
                .to_string(),
        );
    }
    let (behavior, recovery) = match family {
        Family::Raft => (
            format!(
                "Up to {cut} node(s) isolated: the side with {} or more of {} nodes keeps electing \
                 and committing. Isolated nodes cannot win a pre-vote, so they do not inflate \
                 terms; an isolated leader stops acting as leader after one election timeout \
                 without a majority (check-quorum) and reads go through ReadIndex, so it never \
                 serves stale data.",
                g.quorum, g.size
            ),
            "On heal, isolated nodes learn the current term, drop uncommitted entries that \
             conflict with the leader's log and catch up by AppendEntries or a snapshot."
                .to_string(),
        ),
        Family::MultiPaxos => (
            format!(
                "Up to {cut} node(s) isolated: the side with {} or more of {} acceptors keeps \
                 choosing values; a leader cut off from them gets no accepts, so it chooses nothing \
                 and its ballot is superseded; reads go through the log (or a leader read barrier \
                 confirmed by {} acceptors), so none is stale.",
                g.quorum, g.size, g.quorum
            ),
            "On heal, isolated acceptors see the higher ballot, reject the old leader's messages \
             and learn the values chosen meanwhile from the leader."
                .to_string(),
        ),
        Family::PrimaryBackup => (
            format!(
                "Up to {cut} node(s) isolated: the coordinator group ({} of {} to decide) keeps one \
                 primary; a primary cut off from it is fenced by its epoch (the backups and the \
                 coordinator refuse writes of an older epoch), so two primaries never both \
                 acknowledge writes.",
                g.quorum, g.size
            ),
            "On heal, isolated replicas learn the current epoch, truncate what the new primary \
             does not have and resync from its log."
                .to_string(),
        ),
    };
    scenario("minority partition", behavior, recovery)
}

/// More than `n - q` nodes are unreachable: no quorum anywhere.
pub fn quorum_loss(env: &Environment) -> FailureScenario {
    let g = &env.group;
    scenario(
        "majority partition or too many failures",
        format!(
            "With more than {} of {} nodes unreachable no side holds a quorum of {}: writes and \
             linearizable reads are refused (the system chooses consistency over availability), \
             reads and writes time out rather than return wrong answers.",
            g.spare(),
            g.size,
            g.quorum
        ),
        "Restore connectivity or restart the failed nodes from their durable state; never force \
         a minority to proceed, since that can lose acknowledged writes."
            .to_string(),
    )
}

/// One replica is slow or far behind.
pub fn slow_replica(env: &Environment, family: Family) -> FailureScenario {
    let g = &env.group;
    let behavior = if g.spare() == 0 {
        format!(
            "A commit waits for all {} nodes (the quorum is {} of {}), so one slow node slows \
             every write.",
            g.size, g.quorum, g.size
        )
    } else {
        format!(
            "Commits only wait for the fastest {} of {} nodes, so one slow replica does not slow \
             writes; the leader bounds in-flight messages to it (by count and bytes).",
            g.quorum, g.size
        )
    };
    let recovery = match family {
        Family::Raft => {
            "The replica catches up with pipelined appends; if it fell behind the compaction \
             point, the leader sends a snapshot (InstallSnapshot) and then resumes appends."
        }
        Family::MultiPaxos => {
            "The leader re-sends the values chosen in the slots the replica missed; below the \
             compaction point it sends a snapshot of the state machine instead."
        }
        Family::PrimaryBackup => {
            "The backup replays the primary's log from its last applied position; below the \
             primary's retained log it is rebuilt from a snapshot first."
        }
    };
    scenario("slow or lagging replica", behavior, recovery.to_string())
}

/// One replica of a BFT group is slow or far behind.
pub fn slow_replica_bft(env: &Environment) -> FailureScenario {
    let g = &env.group;
    let behavior = match g.spare() {
        0 => format!(
            "A request waits for all {} replicas (the quorum is {} of {}), so one slow replica \
             slows every request.",
            g.size, g.quorum, g.size
        ),
        slack => format!(
            "A request commits with the fastest {} of {} replicas, so up to {slack} slow \
             replica(s) do not slow it; a replica below the low watermark ignores requests it \
             cannot place.",
            g.quorum, g.size
        ),
    };
    scenario(
        "slow or lagging replica",
        behavior,
        format!(
            "The replica fetches the last stable checkpoint (proved by {} matching checkpoint \
             messages) and the requests after it, then rejoins the agreement.",
            g.quorum
        ),
    )
}

/// Clocks drift or jump, for protocols that only use local timers.
pub fn clock_skew_timers(env: &Environment, family: Family) -> FailureScenario {
    let order = match family {
        Family::Raft => "terms and log indexes",
        Family::MultiPaxos => "ballots and slot numbers",
        Family::PrimaryBackup => "epochs and log positions",
    };
    scenario(
        "clock skew or drift",
        format!(
            "Safety does not depend on clocks: {order} order events. Timers are measured on each \
             node's monotonic clock; drift only changes when a failover starts (randomised {}-{} \
             ms). Leader leases are off by default because they assume bounded drift.",
            env.timing.election_timeout_min_ms, env.timing.election_timeout_max_ms
        ),
        "Nothing to repair; keep NTP running if leader leases are enabled, and keep the lease \
         shorter than the failure-detection timeout minus the maximum drift."
            .to_string(),
    )
}

/// A byzantine primary equivocates.
pub fn byzantine_equivocation(env: &Environment) -> FailureScenario {
    let g = &env.group;
    scenario(
        "byzantine equivocation",
        format!(
            "A faulty primary sends different pre-prepares for one sequence number. A request is \
             prepared only with the pre-prepare plus {} matching prepares and committed with {} \
             matching commits; any two sets of {} replicas share at least {} and so an honest one, \
             which never prepares two requests at one sequence number.",
            g.quorum - 1,
            g.quorum,
            g.quorum,
            crate::quorum::quorum_overlap(g.size, g.quorum)
        ),
        format!(
            "Backups that see no progress within {} ms start a view change; the new primary's \
             new-view carries {} view-change messages with their prepared certificates, so every \
             request that may have committed is kept.",
            env.timing.election_timeout_min_ms, g.quorum
        ),
    )
}

/// Byzantine replicas forge or replay messages.
pub fn byzantine_forgery(env: &Environment) -> FailureScenario {
    scenario(
        "forged or replayed messages",
        format!(
            "Every message carries an authenticator (HMAC-SHA256 per pair of replicas); forged, \
             altered or replayed messages are rejected and counted. Up to {} faulty replica(s) can \
             only stay silent or send well-formed lies, which quorums of {} outvote.",
            env.group.f, env.group.quorum
        ),
        "Rotate the keys of replicas found lying and replace them; clients accept a reply only on \
         f+1 matching answers."
            .to_string(),
    )
}

/// A whole region is lost, in a design that needs `quorum` of the group's members for a write.
/// Only meaningful with two or more regions.
pub fn region_loss(env: &Environment, quorum: u32) -> Option<FailureScenario> {
    let largest = env.largest_region_share()?;
    let remaining = env.group.size - largest.nodes;
    let survives = remaining >= quorum;
    Some(scenario(
        "region loss",
        if survives {
            format!(
                "Losing region {} removes {} of {} group members; the {} left still form a quorum \
                 of {}, so the group keeps serving (with the cross-region latency of the rest).",
                largest.region, largest.nodes, env.group.size, remaining, quorum
            )
        } else {
            format!(
                "Losing region {} removes {} of {} group members; the {} left are fewer than the \
                 quorum of {}, so the group becomes unavailable until the region returns.",
                largest.region, largest.nodes, env.group.size, remaining, quorum
            )
        },
        if survives {
            "Replace the lost members in a surviving region one at a time (membership change), \
             then move them back when the region returns."
                .to_string()
        } else {
            format!(
                "{}; until then, a region outage is an outage.",
                spread_to_survive(env.group.size, quorum)
            )
        },
    ))
}

/// How to place `members` needing `quorum` of them so that losing any one region leaves a
/// quorum: at most `members - quorum` per region, so at least that many regions.
pub fn spread_to_survive(members: u32, quorum: u32) -> String {
    let per_region = members.saturating_sub(quorum);
    if per_region == 0 {
        return format!(
            "No placement survives a region loss: a quorum of {quorum} needs all {members} \
             members, so add members first"
        );
    }
    format!(
        "Spread the {members} members over at least {} regions with at most {per_region} in each, \
         so losing any one leaves {quorum} or more",
        members.div_ceil(per_region)
    )
}

/// Both sides of a partition accept writes (AP designs).
pub fn divergent_partition(resolution: &str) -> FailureScenario {
    scenario(
        "network partition (both sides keep writing)",
        "Every replica that can reach a client accepts writes, so both sides stay available and \
         their states diverge; reads on one side do not see the other side's writes."
            .to_string(),
        format!("On heal, anti-entropy exchanges the missing updates and {resolution}."),
    )
}

/// A replica crashes and loses its disk, in a set of `members` copies that needs `quorum` of
/// them for a write.
pub fn replica_disk_loss(members: u32, quorum: u32) -> FailureScenario {
    let left = members.saturating_sub(1);
    let behavior = if left >= quorum {
        format!(
            "The data runs on {left} of {members} replicas; writes still reach the quorum of \
             {quorum}."
        )
    } else {
        format!(
            "The {left} replica(s) left of {members} are fewer than the write quorum of {quorum}: \
             writes stop until the replica is replaced (reads of what the survivors hold go on)."
        )
    };
    scenario(
        "replica crash with disk loss",
        behavior,
        "Replace the node through a membership change; it is rebuilt from a snapshot plus the \
         log (or Merkle-tree anti-entropy for leaderless stores) before it votes or serves."
            .to_string(),
    )
}

/// A minority partition in a BFT group (no leader lease, view changes instead of elections).
pub fn minority_partition_bft(env: &Environment) -> FailureScenario {
    let g = &env.group;
    scenario(
        "minority partition",
        format!(
            "Up to {} replica(s) cut off: the {} or more that still talk gather quorums of {} and \
             keep committing; if the primary is on the cut-off side the others change view after \
             {} ms.",
            g.spare(),
            g.quorum,
            g.quorum,
            env.timing.election_timeout_min_ms
        ),
        format!(
            "On heal, the cut-off replicas fetch the last stable checkpoint (proved by {} matching \
             checkpoint messages) and the requests after it.",
            g.quorum
        ),
    )
}
