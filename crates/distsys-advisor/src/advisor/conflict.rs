//! `problem_type: conflict_resolution`: what happens when replicas accept concurrent writes.
//!
//! Decision rule:
//! - linearizable or sequential -> avoid conflicts: every write goes through one consensus log
//!   per key range (Raft; PBFT when byzantine), so there is never anything to merge.
//! - causal -> dotted version vectors: concurrent writes become siblings, causally older values
//!   are discarded exactly, clients merge siblings; causal delivery between replicas.
//! - eventual -> CRDTs (delta-state) for counters, sets and maps; LWW registers on hybrid
//!   logical clocks for opaque values, with the documented cost of dropping concurrent writes.
//! - byzantine with causal/eventual -> CRDT updates in a hash-linked graph (byzantine eventual
//!   consistency, Kleppmann & Howard 2020): a faulty replica cannot make honest ones diverge.

use super::environment::Environment;
use super::figures::WritePath;
use super::scenarios::{self, scenario};
use super::{consensus, rationale, Answer};
use crate::advice::{Protocol, Warning};
use crate::context::Consistency;

/// The answer for a conflict-resolution problem.
pub fn answer(env: &Environment) -> Answer {
    match env.consistency() {
        Consistency::Linearizable | Consistency::Sequential => avoid(env),
        Consistency::Causal => version_vectors(env),
        Consistency::Eventual => crdts(env),
    }
}

fn avoid(env: &Environment) -> Answer {
    let mut answer = consensus::answer(env);
    answer.protocol.name = format!(
        "Conflict avoidance through a single log ({})",
        answer.protocol.name
    );
    answer.configuration.clock = Some("none".into());
    answer.rationale.insert(
        0,
        rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            "a total order is required, so concurrent writes are ordered by consensus instead of \
             merged afterwards: there is never a conflict to resolve",
        ),
    );
    answer
}

fn mergeable_base(env: &Environment, clock: &str) -> crate::advice::Configuration {
    let mut configuration = env.base_configuration();
    configuration.replication_mode = Some("leaderless".into());
    configuration.replica_count = Some(env.group.size);
    configuration.write_quorum = Some(1);
    configuration.read_quorum = Some(1);
    configuration.quorum_size = 1;
    configuration.election_timeout_max_ms = None;
    configuration.read_path = Some("any_replica".into());
    configuration.clock = Some(clock.into());
    configuration
}

fn version_vectors(env: &Environment) -> Answer {
    let byzantine = env.byzantine();
    Answer {
        write_path: WritePath::Local,
        protocol: Protocol {
            name: if byzantine {
                "Hash-linked causal history with version vectors".into()
            } else {
                "Dotted version vectors with causal delivery".into()
            },
            description: "Every write carries a dotted version vector; a replica discards values \
                          its write causally supersedes and keeps concurrent ones as siblings, \
                          which the next writer merges. Replicas deliver updates in causal order."
                .into(),
            correctness_guarantee: "Causal consistency: no replica shows an effect before its \
                                    causes; concurrent writes are never lost (kept as siblings \
                                    until merged); replicas converge once updates stop."
                .into(),
        },
        configuration: mergeable_base(env, "version_vector"),
        failure_scenarios: vec![
            scenario(
                "concurrent writes to one key",
                "Two replicas accept writes whose version vectors are incomparable.".into(),
                "Both values are kept as siblings and returned together; the client merges them and \
                 its write (with the merged context) supersedes both."
                    .into(),
            ),
            scenario(
                "update arrives before its cause",
                "A replica receives a write whose dependencies it has not applied yet.".into(),
                "Causal delivery buffers it until the dependencies arrive (bounded buffer; \
                 anti-entropy fetches what is missing)."
                    .into(),
            ),
            scenarios::divergent_partition("siblings from both sides are returned and merged"),
            scenarios::replica_disk_loss(env.group.size, 1),
        ],
        rationale: vec![rationale(
            "consistency_requirement=causal",
            "version vectors tell causally-ordered writes (keep the newer) from concurrent ones \
             (keep both): exact, unlike timestamps",
        )],
        warnings: Vec::new(),
    }
}

fn crdts(env: &Environment) -> Answer {
    let mut answer = version_vectors(env);
    answer.protocol = Protocol {
        name: if env.byzantine() {
            "CRDTs over a hash-linked update graph (byzantine eventual consistency)".into()
        } else {
            "CRDTs (delta-state), LWW on hybrid logical clocks for opaque values".into()
        },
        description: "Counters, sets and maps are CRDTs (PN-Counter, OR-Set, OR-Map) whose merge \
                      is commutative, associative and idempotent; replicas ship deltas and merge \
                      in any order. Opaque values use an LWW register ordered by hybrid logical \
                      clock (physical time, logical counter, node id)."
            .into(),
        correctness_guarantee: "Strong eventual consistency: replicas that received the same \
                                updates are in the same state, whatever the order, duplication or \
                                delay of delivery."
            .into(),
    };
    answer.configuration.clock = Some("hlc".into());
    answer.failure_scenarios[0] = scenario(
        "concurrent writes to one key",
        "Two replicas update the same object concurrently.".into(),
        "CRDT merge combines both (both increments count, an add wins over a concurrent remove); \
         an LWW register keeps the write with the larger HLC timestamp and drops the other."
            .into(),
    );
    answer.failure_scenarios.insert(
        1,
        scenario(
            "clock skew",
            "With wall-clock LWW, a node whose clock runs ahead wins every conflict and a later \
             write from a node behind it is silently lost."
                .into(),
            "Hybrid logical clocks never go backwards and carry causality, so a write that saw \
             another always wins over it; CRDT types need no clock at all."
                .into(),
        ),
    );
    answer.rationale = vec![rationale(
        "consistency_requirement=eventual",
        "CRDTs converge without coordination; LWW only where losing a concurrent write is acceptable",
    )];
    answer.warnings.push(Warning {
        code: "lww_drops_concurrent_writes".into(),
        message: "LWW registers keep one of two concurrent writes and drop the other; model data \
                  that must not lose updates (counters, sets) as CRDTs instead"
            .into(),
    });
    answer
}
