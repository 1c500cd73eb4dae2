//! The traps of a workload the user named (`workload`), and of reads across a WAN: each a
//! warning with the design change that avoids it.

use super::environment::Environment;
use super::warning;
use crate::advice::{Configuration, Warning};
use crate::context::{ProblemType, Workload};

/// From this one-way latency on, a quorum read is slow enough to offer local alternatives.
pub const WAN_READ_LATENCY_MS: f64 = 100.0;

/// Warnings for the named workload and for quorum reads over a WAN.
pub fn workload_warnings(env: &Environment, configuration: &Configuration) -> Vec<Warning> {
    let mut out = Vec::new();
    let problem = env.context.problem_type;
    match env.context.workload {
        Some(Workload::TimeSeries) => out.push(warning(
            "time_ordered_keys",
            "keys ordered by time send every insert to the newest range, whatever the split \
             policy (the hot spot moves with time, so load splitting does not fix it): prefix \
             keys with a hash bucket (e.g. 16 buckets, read back with one scan per bucket) or \
             hash-partition them"
                .into(),
        )),
        Some(Workload::CollaborativeText) => out.push(warning(
            "needs_sequence_crdt",
            "concurrent edits inside one document need a sequence CRDT (RGA, YATA as in Yjs, \
             Automerge) or operational transformation: version vectors or LWW keep or drop whole \
             values, losing one user's edits"
                .into(),
        )),
        Some(Workload::HotKeys) => out.push(warning(
            "hot_keys",
            "partitioning spreads keys, not the load of one key: cache hot keys, salt them into \
             several sub-keys, or serve their reads from replicas"
                .into(),
        )),
        Some(Workload::LockService) if problem != ProblemType::Consensus || env.byzantine() => {
            out.push(warning(
                "lock_service_needs_consensus",
                "locks and leases need one agreed owner: put them in a crash-fault consensus group \
                 (problem_type consensus) and hand out fencing tokens (the lock's term or index) \
                 that the protected resource checks"
                    .into(),
            ))
        }
        Some(Workload::LockService) | None => {}
    }
    let latency = env.timing.latency_ms;
    if configuration.read_path.as_deref() == Some("read_index") && latency >= WAN_READ_LATENCY_MS {
        out.push(warning(
            "wan_quorum_reads",
            format!(
                "every linearizable read waits for a quorum round of about {} ms: lease reads \
                 (leader-local, safe under bounded clock drift, see safety_mechanisms) or \
                 bounded-staleness follower reads answer within the region",
                2.0 * latency
            ),
        ));
    }
    out
}
