//! Quorum arithmetic for crash-fault and byzantine-fault tolerant groups.
//!
//! Formulas (n nodes, f tolerated faults):
//! - crash faults: a quorum is a strict majority, `q = floor(n/2) + 1`; any two quorums intersect
//!   (`2q > n`) and a quorum survives f crashes when `n >= 2f + 1`.
//! - byzantine faults: `q = floor((n + f)/2) + 1` (= `2f + 1` when `n = 3f + 1`); any two quorums
//!   share at least `2q - n >= f + 1` nodes, so at least one honest node, and a quorum of honest
//!   nodes exists when `n >= 3f + 1`.

/// Size of a crash-fault quorum (strict majority) of `nodes` voters.
pub fn crash_quorum(nodes: u32) -> u32 {
    debug_assert!(nodes >= 1);
    nodes / 2 + 1
}

/// Largest number of crash faults `nodes` voters can survive: `(n - 1) / 2`.
pub fn max_crash_faults(nodes: u32) -> u32 {
    nodes.saturating_sub(1) / 2
}

/// Smallest node count that survives `f` crash faults: `2f + 1`.
pub fn min_nodes_crash(f: u64) -> u64 {
    f.saturating_mul(2).saturating_add(1)
}

/// Size of a byzantine quorum of `nodes` replicas tolerating `f` byzantine faults.
pub fn byzantine_quorum(nodes: u32, f: u32) -> u32 {
    debug_assert!(u64::from(nodes) >= min_nodes_byzantine(u64::from(f)));
    (nodes + f) / 2 + 1
}

/// Largest number of byzantine faults `nodes` replicas can survive: `(n - 1) / 3`.
pub fn max_byzantine_faults(nodes: u32) -> u32 {
    nodes.saturating_sub(1) / 3
}

/// Smallest node count that survives `f` byzantine faults: `3f + 1`.
pub fn min_nodes_byzantine(f: u64) -> u64 {
    f.saturating_mul(3).saturating_add(1)
}

/// The minimum overlap of any two quorums of size `quorum` among `nodes` nodes: `2q - n`
/// (zero when they need not intersect).
pub fn quorum_overlap(nodes: u32, quorum: u32) -> u32 {
    (2 * quorum).saturating_sub(nodes)
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
    fn byzantine_quorum_is_2f_plus_1_at_3f_plus_1() {
        for f in 0..50 {
            let n = 3 * f + 1;
            assert_eq!(byzantine_quorum(n, f), 2 * f + 1);
        }
    }

    #[test]
    fn max_faults() {
        assert_eq!(max_crash_faults(1), 0);
        assert_eq!(max_crash_faults(5), 2);
        assert_eq!(max_crash_faults(6), 2);
        assert_eq!(max_byzantine_faults(4), 1);
        assert_eq!(max_byzantine_faults(6), 1);
        assert_eq!(max_byzantine_faults(7), 2);
    }

    proptest::proptest! {
        #[test]
        fn crash_quorums_intersect_and_survive(n in 1u32..=1000) {
            let q = crash_quorum(n);
            proptest::prop_assert!(2 * q > n);
            proptest::prop_assert!(n - max_crash_faults(n) >= q);
        }

        #[test]
        fn byzantine_quorums_share_an_honest_node_and_survive(n in 1u32..=1000, f_pick in 0u32..400) {
            let f = f_pick.min(max_byzantine_faults(n));
            let q = byzantine_quorum(n, f);
            proptest::prop_assert!(quorum_overlap(n, q) > f);
            proptest::prop_assert!(n - f >= q, "n={} f={} q={}", n, f, q);
        }
    }
}
