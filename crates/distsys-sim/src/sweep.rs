//! Cluster sizes as a parameter space: every protocol at every size it accepts, with every
//! fault count it tolerates, and the same sizes just beyond tolerance, where the checks must
//! find a violation or a stall (so a clean sweep means something).
//!
//! A cell is one (protocol, nodes, byzantine replicas, crashed-for-good nodes) point; a sweep
//! runs a campaign in every cell ([`plan`] lays the cells out with their seed ranges,
//! [`run_cell`] runs one and judges it). `distsys sweep` runs the long version and prints; the
//! test suite a short one.

use crate::campaign::{first_failure, run_campaign};
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

/// Seeds between the first seeds of two consecutive cells: cell `k` of a sweep from seed `s`
/// runs seeds `s + SEEDS_PER_CELL * k ..`.
pub const SEEDS_PER_CELL: u64 = 1_000_000;

/// Most cells a sweep's seed ranges are laid out for (the check on the first seed assumes it).
pub const MAX_CELLS: u64 = 200;

/// Whether a sweep from `seed` with `seeds` per cell keeps every cell's seed range within
/// 64 bits.
pub fn seeds_fit(seed: u64, seeds: u64) -> bool {
    seed.checked_add(SEEDS_PER_CELL * MAX_CELLS)
        .and_then(|s| s.checked_add(seeds))
        .is_some()
}

/// One cell of a sweep, with its position (which decides its seeds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedCell {
    /// Position in the whole sweep (shards keep the positions of the unsharded sweep).
    pub index: usize,
    /// The cell.
    pub cell: Cell,
    /// Its first seed: the sweep's first seed + [`SEEDS_PER_CELL`] x `index`.
    pub first_seed: u64,
}

/// The cells of a sweep of `protocols` up to `max_nodes`: within tolerance, then (unless
/// `within_only`) one fault beyond; with `shard = (i, n)` only every n-th cell from the i-th.
/// `seed` is the sweep's first seed; it must pass [`seeds_fit`].
pub fn plan(
    protocols: &[Protocol],
    max_nodes: usize,
    within_only: bool,
    shard: Option<(u64, u64)>,
    seed: u64,
) -> Vec<PlannedCell> {
    let mut cells = within_tolerance(protocols, max_nodes);
    if !within_only {
        cells.extend(beyond_tolerance(protocols, max_nodes));
    }
    debug_assert!(
        cells.len() as u64 <= MAX_CELLS,
        "seed ranges laid out for MAX_CELLS"
    );
    cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(index, shards)| *i as u64 % shards == index))
        .map(|(index, cell)| PlannedCell {
            index,
            cell,
            first_seed: seed + SEEDS_PER_CELL * index as u64,
        })
        .collect()
}

/// What one cell's campaign showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellOutcome {
    /// Runs done (beyond tolerance: until the first caught failure).
    pub runs: u64,
    /// One line: `0 failures`, `FAILED (...); first seed S`, `caught: KIND at seed S`, `NOT
    /// CAUGHT: ...`.
    pub outcome: String,
    /// Whether the cell holds: within tolerance no failure, beyond it a violation or stall
    /// caught.
    pub ok: bool,
}

/// Runs one cell's campaign of `seeds` runs of `duration_ms` from `first` and judges it
/// (beyond tolerance, it stops at the first failure, searching 8 seeds at a time).
pub fn run_cell(cell: &Cell, duration_ms: u64, first: u64, seeds: u64) -> CellOutcome {
    match cell.tolerance {
        Tolerance::Within => {
            let summary = run_campaign(&cell.config(duration_ms), first, seeds, &|_, _| {});
            let outcome = match summary.failures.first() {
                None => "0 failures".to_string(),
                Some(f) => format!(
                    "FAILED ({}); first seed {}",
                    summary.failures_summary(),
                    f.seed
                ),
            };
            CellOutcome {
                runs: summary.runs,
                outcome,
                ok: summary.failures.is_empty(),
            }
        }
        Tolerance::Beyond => match first_failure(&cell.config(duration_ms), first, seeds, 8) {
            Some(f) => {
                let kind = f.violation.as_ref().map_or("?", |v| v.kind().name());
                CellOutcome {
                    runs: f.seed - first + 1,
                    outcome: format!("caught: {kind} at seed {}", f.seed),
                    ok: true,
                }
            }
            None => CellOutcome {
                runs: seeds,
                outcome: "NOT CAUGHT: no violation or stall".to_string(),
                ok: false,
            },
        },
    }
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
