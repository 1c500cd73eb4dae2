//! The transaction layer over Raft groups: clean over a seed range with every fault, under
//! both commit protocols; each seeded bug caught within a fixed seed budget with its class.

use distsys_check::txn::TxnVerdict;
use distsys_sim::txn::{run_campaign, CommitProtocol, RunResult, TxnMutant, TxnSimConfig};

/// Seeds per campaign (half list-append, half rw-register).
const SEEDS: u64 = 8;

fn campaign(protocol: CommitProtocol, mutant: Option<TxnMutant>, groups: usize) -> Vec<RunResult> {
    let mut config = TxnSimConfig::new(1, groups);
    config.protocol = protocol;
    config.mutant = mutant;
    run_campaign(&config, SEEDS)
}

fn assert_clean(results: &[RunResult]) {
    for r in results {
        assert!(
            !r.failed(),
            "seed {} ({}): anomalies {:?}, violations {:?}",
            r.seed,
            r.model.name(),
            r.anomalies,
            r.violations
        );
        assert!(
            r.stats.commits.len() > 20,
            "seed {}: too few commits",
            r.seed
        );
    }
}

#[test]
fn parallel_commits_are_serializable_and_atomic_under_every_fault() {
    let results = campaign(CommitProtocol::Parallel, None, 3);
    assert_clean(&results);
    // Faults happened and recovery ran somewhere in the range.
    assert!(results.iter().any(|r| r.stats.indeterminate > 0));
    assert!(results.iter().any(|r| r.stats.recoveries > 0));
}

#[test]
fn classic_2pc_is_serializable_and_atomic_under_every_fault() {
    assert_clean(&campaign(CommitProtocol::TwoPhase, None, 4));
}

#[test]
fn parallel_commits_take_one_round_and_2pc_two_without_faults() {
    let mut median = Vec::new();
    for protocol in [CommitProtocol::Parallel, CommitProtocol::TwoPhase] {
        let mut config = TxnSimConfig::new(2, 3);
        config.protocol = protocol;
        config.faults = false;
        let results = run_campaign(&config, 2);
        assert_clean(&results);
        let mut rounds: Vec<u32> = results
            .iter()
            .flat_map(|r| r.stats.commits.iter().map(|c| c.1))
            .collect();
        rounds.sort_unstable();
        median.push(rounds[rounds.len() / 2]);
    }
    assert_eq!(median, vec![1, 2]);
}

/// Runs the mutant under both protocols; every run's findings, joined.
fn findings(mutant: TxnMutant) -> Vec<String> {
    let mut found = Vec::new();
    for protocol in [CommitProtocol::Parallel, CommitProtocol::TwoPhase] {
        let results = campaign(protocol, Some(mutant), 3);
        let caught = results.iter().filter(|r| r.failed()).count();
        assert!(
            caught > 0,
            "{} not caught under {}",
            mutant.name(),
            protocol.name()
        );
        for r in results {
            found.extend(r.anomalies);
            found.extend(r.violations);
        }
    }
    found
}

fn assert_found(found: &[String], class: &str) {
    assert!(
        found.iter().any(|f| f.starts_with(class)),
        "expected {class}, found {:?}",
        &found[..found.len().min(5)]
    );
}

#[test]
fn skip_ww_conflict_check_is_caught_as_g2_or_lost_update() {
    let found = findings(TxnMutant::SkipWwConflictCheck);
    assert!(found
        .iter()
        .any(|f| f.starts_with("G2") || f.starts_with("G-single") || f == "lost-update"));
}

#[test]
fn read_uncommitted_intents_is_caught_as_g1a() {
    assert_found(&findings(TxnMutant::ReadUncommittedIntents), "G1a");
}

#[test]
fn commit_without_all_prepared_is_caught_as_an_atomicity_violation() {
    assert_found(&findings(TxnMutant::CommitWithoutAllPrepared), "atomicity");
}

#[test]
fn coordinator_only_decision_is_caught_as_an_atomicity_violation() {
    assert_found(&findings(TxnMutant::CoordinatorOnlyDecision), "atomicity");
}

#[test]
fn coordinator_only_decision_loses_an_acknowledged_commit_when_the_coordinator_crashes() {
    // The consequence, not just the missing record: within 16 seeds a coordinator crashes
    // between acknowledging and resolving, a recoverer finds no record and aborts.
    let mut config = TxnSimConfig::new(1, 3);
    config.mutant = Some(TxnMutant::CoordinatorOnlyDecision);
    let found: Vec<String> = run_campaign(&config, 16)
        .into_iter()
        .flat_map(|r| r.violations)
        .collect();
    assert_found(&found, "lost-commit");
}

#[test]
fn non_idempotent_commit_retry_is_caught_as_duplicate_appends() {
    let found = findings(TxnMutant::NonIdempotentCommitRetry);
    assert_found(&found, "duplicate-elements");
    assert_found(&found, "duplicate-install");
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let config = TxnSimConfig::new(7, 2);
    let a = run_campaign(&config, 1);
    let b = run_campaign(&config, 1);
    assert_eq!(a[0].stats, b[0].stats);
    assert_eq!(a[0].violations, b[0].violations);
}

#[test]
fn the_claim_is_session_order_not_real_time_order() {
    // With clock skew, some run orders a transaction before one that finished before it
    // began (not strict serializable), while every run keeps each client's own order.
    let results = campaign(CommitProtocol::Parallel, None, 3);
    assert!(results.iter().all(|r| r.verdict == TxnVerdict::Valid));
    assert!(results.iter().any(|r| r.strict == TxnVerdict::Invalid));
    // Without skew (no faults), the same seeds are strict serializable too.
    let mut config = TxnSimConfig::new(1, 3);
    config.faults = false;
    let calm = run_campaign(&config, 4);
    assert!(calm.iter().all(|r| r.strict == TxnVerdict::Valid));
}

/// A commit wait of twice the clock skew bound makes timestamp order contain real-time order:
/// the runs claim strict serializability and every one holds it under every fault. A wait of
/// only the bound (the acknowledging clock may run that far ahead, the next starter's that far
/// behind) is a deliberately short variant the checker must catch on the same seeds.
#[test]
fn a_commit_wait_of_twice_the_skew_makes_every_run_strict_serializable() {
    let mut config = TxnSimConfig::new(5_000, 3);
    config.commit_wait_ms = config.strict_commit_wait_ms();
    assert_eq!(
        config.claimed(),
        distsys_check::txn::Consistency::StrictSerializable
    );
    let strict = run_campaign(&config, 40);
    assert_clean(&strict);
    assert!(strict.iter().all(|r| r.strict == TxnVerdict::Valid));
    // The short wait claims only session order, and real-time order fails in some run.
    config.commit_wait_ms = config.max_skew_ms;
    assert_eq!(config.claimed(), distsys_sim::txn::CLAIMED);
    let short = run_campaign(&config, 40);
    assert!(short.iter().all(|r| r.verdict == TxnVerdict::Valid));
    assert!(
        short.iter().any(|r| r.strict == TxnVerdict::Invalid),
        "a commit wait of one skew bound must leave a real-time inversion in 40 seeds"
    );
}

/// Orphaned transactions (coordinator crashed or cut off) are taken over and resolved: every
/// one has a recovery time, none is left unresolved, and the times are at least the recovery
/// timeout the recoverers wait for.
#[test]
fn orphaned_transactions_are_recovered_and_timed() {
    let results = campaign(CommitProtocol::Parallel, None, 3);
    let times: Vec<u64> = results
        .iter()
        .flat_map(|r| r.stats.recovery_us.iter().copied())
        .collect();
    assert!(
        !times.is_empty(),
        "crashes orphan some transaction in 8 seeds"
    );
    assert!(results.iter().all(|r| r.stats.unrecovered == 0));
    assert!(
        times.iter().all(|&t| t >= 300_000),
        "recovery starts only for intents older than 300 ms: {times:?}"
    );
}
