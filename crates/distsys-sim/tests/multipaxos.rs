//! Multi-Paxos in the same simulator, workload and checks as Raft: a campaign with every fault
//! passes, every seeded bug is caught within a fixed seed budget, and a seed replays.

use distsys_consensus::paxos::PaxosMutant;
use distsys_sim::{first_failure, run_campaign, FaultSet, Protocol, SimConfig, Simulation};

fn config(seed: u64) -> SimConfig {
    let mut c = SimConfig::new(seed);
    c.protocol = Protocol::parse("multipaxos").expect("registered");
    c.faults = FaultSet::all();
    c
}

#[test]
fn correct_multipaxos_passes_a_campaign_with_every_fault() {
    let summary = run_campaign(&config(0), 1, 40, &|_, _| {});
    let failures = summary.failure_lines();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(summary.elections_won >= 40, "{}", summary.elections_won);
    assert!(summary.ops.1 > 10_000, "{:?}", summary.ops);
    for nodes in [1, 3] {
        let mut c = config(5);
        c.nodes = nodes;
        c.faults = FaultSet::default();
        let report = Simulation::new(c).run();
        assert_eq!(report.violation, None, "{nodes} nodes");
        assert!(report.ops_ok > 1000);
    }
}

/// Seeds tried per mutant; every one must be caught within it.
const SEED_BUDGET: u64 = 400;

#[test]
fn every_multipaxos_mutant_is_caught_within_the_seed_budget() {
    for mutant in PaxosMutant::ALL {
        let mut base = config(0);
        base.mutant = Some(base.protocol.bug(mutant.name()).expect("listed"));
        assert!(
            first_failure(&base, 1, SEED_BUDGET, 16).is_some(),
            "{} was not caught in {SEED_BUDGET} seeds",
            mutant.name()
        );
    }
}

#[test]
fn a_multipaxos_seed_replays_bit_for_bit() {
    let run = || {
        let mut c = config(31);
        c.trace = true;
        c.duration_ms = 4_000;
        Simulation::new(c).run().trace
    };
    let (a, b) = (run(), run());
    assert!(a.len() > 100);
    assert_eq!(a, b);
}

#[test]
fn multipaxos_compacts_its_log_and_laggards_catch_up_from_snapshots() {
    // Crashes and partitions leave replicas behind the leader's compacted prefix: they (and a
    // new leader behind an acceptor's snapshot) must catch up from a snapshot, and the safety
    // checks still hold (an installed snapshot is checked against what others applied).
    let mut base = config(0);
    base.faults = "crash,partition,drop".parse().expect("fault list");
    let summary = run_campaign(&base, 100, 16, &|_, _| {});
    assert!(
        summary.failures.is_empty(),
        "{:?}",
        summary.failures.first().map(|r| &r.violation)
    );
    let installed: u64 = (100..116)
        .map(|seed| {
            let mut c = base.clone();
            c.seed = seed;
            Simulation::new(c).run().snapshots_installed
        })
        .sum();
    assert!(installed > 0, "no replica ever installed a snapshot");
}
