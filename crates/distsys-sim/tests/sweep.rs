//! Sizes are a parameter space, not examples: every protocol at every cluster size from its
//! minimum to 13, with every byzantine count PBFT tolerates, passes a short all-faults
//! campaign; one fault beyond tolerance at every size is caught (a violation or a stall), so
//! the sweep is shown able to fail. `distsys sweep` runs the long version.

use distsys_sim::registry::all;
use distsys_sim::sweep::{beyond_tolerance, within_tolerance, Cell};
use distsys_sim::{first_failure, run_campaign};

/// Largest size swept in the suite.
const MAX_NODES: usize = 13;

fn seeds_for(cell: &Cell) -> u64 {
    // Larger clusters cost more per run; every cell still gets several runs.
    if cell.nodes <= 7 {
        3
    } else {
        2
    }
}

#[test]
fn every_protocol_at_every_size_and_fault_count_passes_a_campaign() {
    let mut failures = Vec::new();
    for (i, cell) in within_tolerance(&all(), MAX_NODES).iter().enumerate() {
        let first_seed = 70_000 + 100 * i as u64;
        let summary = run_campaign(&cell.config(4_000), first_seed, seeds_for(cell), &|_, _| {});
        for line in summary.failure_lines() {
            failures.push(format!("{}: {line}", cell.label()));
        }
        // The runs did work: clients completed operations at every size.
        if summary.ops.1 == 0 {
            failures.push(format!("{}: no operation completed", cell.label()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn one_fault_beyond_tolerance_is_caught_at_every_size() {
    let mut missed = Vec::new();
    for cell in beyond_tolerance(&all(), MAX_NODES) {
        match first_failure(&cell.config(4_000), 80_000, 24, 4) {
            Some(report) => {
                let property = report.violation.map(|v| v.property).unwrap_or_default();
                assert!(
                    [
                        "agreement",
                        "chosen_by_majority",
                        "prepared_agreement",
                        "state_machine_safety",
                        "linearizability",
                        "liveness"
                    ]
                    .contains(&property.as_str()),
                    "{}: caught as {property}",
                    cell.label()
                );
            }
            None => missed.push(cell.label()),
        }
    }
    assert!(missed.is_empty(), "never caught: {missed:#?}");
}
