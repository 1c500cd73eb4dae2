//! Cluster sizes as a parameter space: every protocol at every size it accepts, with every
//! fault count it tolerates, and the same sizes just beyond tolerance, where the checks must
//! find a violation or a stall (so a clean sweep means something).
//!
//! A cell is one (protocol, nodes, byzantine replicas, crashed-for-good nodes) point; a sweep
//! runs a campaign in every cell. `distsys sweep` runs the long version; the test suite a
//! short one.

use crate::registry::Protocol;
use crate::sim::SimConfig;
use crate::FaultSet;
use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_types::QuorumSystem;

/// Whether a cell stays within what the protocol tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// At most the faults the protocol tolerates: every campaign must pass.
    Within,
    /// One fault more than tolerated: some seed must break safety or stall.
    Beyond,
}

/// One point of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The protocol.
    pub protocol: Protocol,
    /// Cluster size.
    pub nodes: usize,
    /// Byzantine replicas per run (protocols with a byzantine fault model only).
    pub byzantine: usize,
    /// Nodes crashed for good when the faults heal.
    pub down_after_heal: usize,
    /// What the byzantine replicas may do (each draws a non-empty subset per run).
    pub behaviours: &'static [Behaviour],
    /// Within or beyond tolerance.
    pub tolerance: Tolerance,
}

impl Cell {
    /// A short label: `pbft n=7 byzantine=2`, `raft n=3 down=2 (beyond)`.
    pub fn label(&self) -> String {
        let mut out = format!("{} n={}", self.protocol.name(), self.nodes);
        if self.protocol.byzantine() {
            out.push_str(&format!(" byzantine={}", self.byzantine));
        }
        if self.down_after_heal > 0 {
            out.push_str(&format!(" down={}", self.down_after_heal));
        }
        if self.tolerance == Tolerance::Beyond {
            out.push_str(" (beyond tolerance)");
        }
        out
    }

    /// The campaign template of this cell: every fault, every byzantine behaviour, runs of
    /// `duration_ms` virtual milliseconds.
    pub fn config(&self, duration_ms: u64) -> SimConfig {
        let mut config = SimConfig::new(0);
        config.protocol = self.protocol;
        config.nodes = self.nodes;
        config.byzantine = self.byzantine;
        config.byzantine_behaviours = self.behaviours.to_vec();
        config.down_after_heal = self.down_after_heal;
        config.faults = FaultSet::all();
        config.duration_ms = duration_ms;
        config
    }
}

/// The smallest cluster a protocol runs on (its descriptor's `min_nodes`): 1 for crash-fault
/// protocols, 4 for PBFT (3f+1 with f = 1; smaller groups tolerate no byzantine replica and
/// are refused by the CLI).
pub fn min_nodes(protocol: Protocol) -> usize {
    protocol.min_nodes
}

/// The cells within tolerance for sizes up to `max_nodes`: every crash-fault protocol at every
/// size (crashes, pauses and partitions of any minority come from the fault schedule);
/// byzantine-fault protocols (PBFT) at every size from their minimum with every byzantine count
/// from 0 to `f = (n-1)/3`.
pub fn within_tolerance(protocols: &[Protocol], max_nodes: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &protocol in protocols {
        for nodes in min_nodes(protocol)..=max_nodes {
            let byzantine_counts = if protocol.byzantine() {
                0..=protocol.fault_model.max_faults(nodes)
            } else {
                0..=0
            };
            for byzantine in byzantine_counts {
                cells.push(Cell {
                    protocol,
                    nodes,
                    byzantine,
                    down_after_heal: 0,
                    behaviours: &Behaviour::ALL,
                    tolerance: Tolerance::Within,
                });
            }
        }
    }
    cells
}

/// The cells one fault beyond tolerance for sizes up to `max_nodes`: crash-fault protocols
/// with `(n-1)/2 + 1` nodes crashed for good at the heal (no majority left); PBFT with `f + 1`
/// byzantine replicas: where the honest replicas alone form no quorum (`n = 3f + 1`, `3f + 2`)
/// they equivocate or fall silent (silence stalls the group); where they still do
/// (`n = 3f + 3`) they all equivocate together, as two quorums can then meet in liars only.
/// Random mixes of every behaviour rarely show either.
pub fn beyond_tolerance(protocols: &[Protocol], max_nodes: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &protocol in protocols {
        for nodes in min_nodes(protocol)..=max_nodes {
            let beyond = protocol.fault_model.max_faults(nodes) + 1;
            let (byzantine, down_after_heal) = if protocol.byzantine() {
                (beyond, 0)
            } else {
                (0, beyond)
            };
            let honest_quorum_left = QuorumSystem::byzantine_max(nodes).survives(byzantine);
            let behaviours: &'static [Behaviour] = if honest_quorum_left {
                &[Behaviour::Equivocate]
            } else {
                &[Behaviour::Equivocate, Behaviour::Silent]
            };
            cells.push(Cell {
                protocol,
                nodes,
                byzantine,
                down_after_heal,
                behaviours,
                tolerance: Tolerance::Beyond,
            });
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{all, lookup};

    #[test]
    fn the_space_covers_every_size_and_fault_count() {
        let cells = within_tolerance(&all(), 13);
        let (raft, pbft_protocol) = (lookup("raft").unwrap(), lookup("pbft").unwrap());
        for protocol in [raft, lookup("multipaxos").unwrap()] {
            let sizes: Vec<usize> = cells
                .iter()
                .filter(|c| c.protocol == protocol)
                .map(|c| c.nodes)
                .collect();
            assert_eq!(sizes, (1..=13).collect::<Vec<_>>());
        }
        let pbft: Vec<(usize, usize)> = cells
            .iter()
            .filter(|c| c.protocol == pbft_protocol)
            .map(|c| (c.nodes, c.byzantine))
            .collect();
        // n = 4..=6: f = 1; 7..=9: 2; 10..=12: 3; 13: 4 -> 3*2 + 3*3 + 3*4 + 5 cells.
        assert_eq!(pbft.len(), 32);
        assert!(pbft.contains(&(5, 1)) && pbft.contains(&(13, 4)) && !pbft.contains(&(6, 2)));
        let beyond = beyond_tolerance(&all(), 13);
        assert!(beyond
            .iter()
            .any(|c| c.protocol == raft && c.nodes == 5 && c.down_after_heal == 3));
        assert!(beyond
            .iter()
            .any(|c| c.protocol == pbft_protocol && c.nodes == 5 && c.byzantine == 2));
    }
}
