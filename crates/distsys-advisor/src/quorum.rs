//! Quorum arithmetic for the advisor, in the input's `u32` / `u64` numbers.
//!
//! The formulas live once, in [`distsys_types::QuorumSystem`] (crash majority
//! `floor(n/2) + 1`; byzantine `floor((n + f)/2) + 1`, any two quorums sharing `>= f + 1`
//! nodes); the protocols and the simulator take their thresholds from the same type, so the
//! advice and the running code cannot disagree. These functions only convert.

use distsys_types::{FaultModel, QuorumSystem};

fn count(n: u32) -> usize {
    n as usize
}

fn back(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn count64(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn back64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Size of a crash-fault quorum (strict majority) of `nodes` voters.
pub fn crash_quorum(nodes: u32) -> u32 {
    back(QuorumSystem::crash(count(nodes)).quorum())
}

/// Largest number of crash faults `nodes` voters can survive: `(n - 1) / 2`.
pub fn max_crash_faults(nodes: u32) -> u32 {
    back(QuorumSystem::max_crash_faults(count(nodes)))
}

/// Smallest node count that survives `f` crash faults: `2f + 1`.
pub fn min_nodes_crash(f: u64) -> u64 {
    back64(QuorumSystem::min_nodes(FaultModel::Crash, count64(f)))
}

/// Size of a byzantine quorum of `nodes` replicas tolerating `f` byzantine faults (`f` is
/// capped at the most `nodes` can tolerate).
pub fn byzantine_quorum(nodes: u32, f: u32) -> u32 {
    let f = count(f).min(QuorumSystem::max_byzantine_faults(count(nodes)));
    let system = QuorumSystem::byzantine(count(nodes), f)
        .unwrap_or(QuorumSystem::byzantine_max(count(nodes)));
    back(system.quorum())
}

/// Largest number of byzantine faults `nodes` replicas can survive: `(n - 1) / 3`.
pub fn max_byzantine_faults(nodes: u32) -> u32 {
    back(QuorumSystem::max_byzantine_faults(count(nodes)))
}

/// Smallest node count that survives `f` byzantine faults: `3f + 1`.
pub fn min_nodes_byzantine(f: u64) -> u64 {
    back64(QuorumSystem::min_nodes(FaultModel::Byzantine, count64(f)))
}

/// The minimum overlap of any two quorums of size `quorum` among `nodes` nodes: `2q - n`
/// (zero when they need not intersect).
pub fn quorum_overlap(nodes: u32, quorum: u32) -> u32 {
    back(QuorumSystem::overlap(count(nodes), count(quorum)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_crash_quorums() {
        assert_eq!(crash_quorum(3), 2);
        assert_eq!(crash_quorum(5), 3);
        assert_eq!(crash_quorum(7), 4);
        assert_eq!(crash_quorum(4), 3);
        assert_eq!(crash_quorum(1), 1);
    }

    #[test]
    fn conversions_agree_with_the_quorum_system() {
        for n in 1u32..=1000 {
            assert_eq!(crash_quorum(n), n / 2 + 1);
            for f in 0..=max_byzantine_faults(n) {
                let q = byzantine_quorum(n, f);
                assert_eq!(q, (n + f) / 2 + 1);
                assert!(quorum_overlap(n, q) > f);
                assert!(n - f >= q);
            }
        }
    }
}
