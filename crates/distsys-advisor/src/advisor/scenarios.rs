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

/// The leader (or primary) crashes.
pub fn leader_crash(env: &Environment) -> FailureScenario {
    let t = &env.timing;
    scenario(
        "leader crash",
        format!(
            "Writes stall until a follower's randomised election timeout ({}-{} ms) fires; a candidate \
             needs {} of {} votes and only a node holding every committed entry can win, so no \
             acknowledged write is lost. Expected unavailability: about {} ms plus one round trip.",
            t.election_timeout_min_ms, t.election_timeout_max_ms, env.group.quorum, env.group.size,
            t.election_timeout_max_ms
        ),
        format!(
            "The new leader commits a no-op entry of its term before serving reads; clients retry \
             after {} ms with the same idempotency key, so a write that did commit is applied once.",
            t.request_timeout_ms
        ),
    )
}

/// A minority of at most `f` nodes is cut off.
pub fn minority_partition(env: &Environment) -> FailureScenario {
    let g = &env.group;
    scenario(
        "minority partition",
        format!(
            "Up to {} node(s) isolated: the side with {} or more of {} nodes keeps electing and \
             committing. Isolated nodes cannot win a pre-vote, so they do not inflate terms; an \
             isolated leader stops acting as leader after one election timeout without a majority \
             (check-quorum) and reads go through ReadIndex, so it never serves stale data.",
            g.f, g.quorum, g.size
        ),
        "On heal, isolated nodes learn the current term, drop uncommitted entries that conflict \
         with the leader's log and catch up by AppendEntries or a snapshot."
            .to_string(),
    )
}

/// More than `f` nodes are unreachable: no quorum anywhere.
pub fn quorum_loss(env: &Environment) -> FailureScenario {
    let g = &env.group;
    scenario(
        "majority partition or more than f failures",
        format!(
            "With more than {} of {} nodes unreachable no side holds a quorum of {}: writes and \
             linearizable reads are refused (the system chooses consistency over availability), \
             reads and writes time out rather than return wrong answers.",
            g.f, g.size, g.quorum
        ),
        "Restore connectivity or restart the failed nodes from their durable state; never force \
         a minority to proceed, since that can lose acknowledged writes."
            .to_string(),
    )
}

/// One replica is slow or far behind.
pub fn slow_replica(env: &Environment) -> FailureScenario {
    scenario(
        "slow or lagging replica",
        format!(
            "Commits only wait for the fastest {} of {} nodes, so one slow replica does not slow \
             writes; the leader bounds in-flight appends to it (by count and bytes).",
            env.group.quorum, env.group.size
        ),
        "The replica catches up with pipelined appends; if it fell behind the compaction point, \
         the leader sends a snapshot (InstallSnapshot) and then resumes appends."
            .to_string(),
    )
}

/// Clocks drift or jump, for protocols that only use local timers.
pub fn clock_skew_timers(env: &Environment) -> FailureScenario {
    scenario(
        "clock skew or drift",
        format!(
            "Safety does not depend on clocks: terms and log indexes order events. Timers are \
             measured on each node's monotonic clock; drift only changes when elections start \
             (randomised {}-{} ms). Leader leases are off by default because they assume bounded drift.",
            env.timing.election_timeout_min_ms, env.timing.election_timeout_max_ms
        ),
        "Nothing to repair; keep NTP running if leader leases are enabled, and keep the lease \
         shorter than the election timeout minus the maximum drift."
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
            2 * g.f,
            g.quorum,
            g.quorum,
            2 * g.quorum - g.size
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

/// A whole region is lost. Only meaningful with two or more regions.
pub fn region_loss(env: &Environment) -> Option<FailureScenario> {
    let largest = env.largest_region_share()?;
    let remaining = env.group.size - largest.nodes;
    let survives = remaining >= env.group.quorum;
    Some(scenario(
        "region loss",
        if survives {
            format!(
                "Losing region {} removes {} of {} group members; the {} left still form a quorum \
                 of {}, so the group keeps serving (with the cross-region latency of the rest).",
                largest.region, largest.nodes, env.group.size, remaining, env.group.quorum
            )
        } else {
            format!(
                "Losing region {} removes {} of {} group members; the {} left are fewer than the \
                 quorum of {}, so the group becomes unavailable until the region returns.",
                largest.region, largest.nodes, env.group.size, remaining, env.group.quorum
            )
        },
        if survives {
            "Replace the lost members in a surviving region one at a time (membership change), \
             then move them back when the region returns."
                .to_string()
        } else {
            "Spread members over at least three regions so no region holds f+1 of them; until \
             then, a region outage is an outage."
                .to_string()
        },
    ))
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

/// A replica crashes and loses its disk.
pub fn replica_disk_loss(env: &Environment) -> FailureScenario {
    scenario(
        "replica crash with disk loss",
        format!(
            "The group runs with {} of {} replicas; writes still reach the quorum of {}.",
            env.group.size - 1,
            env.group.size,
            env.group.quorum
        ),
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
            g.f,
            g.size - g.f,
            g.quorum,
            env.timing.election_timeout_min_ms
        ),
        "On heal, the cut-off replicas fetch the last stable checkpoint (proved by 2f+1 matching \
         checkpoint messages) and the requests after it."
            .to_string(),
    )
}
