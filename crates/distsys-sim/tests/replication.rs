//! Primary-backup replication simulated: what each mode loses on failover, and what it costs.

use distsys_patterns::replication::{async_lag, ReplicationMode};
use distsys_sim::replication::{
    run_replication, run_replication_campaign, FailureScenario, ReplicationConfig,
};

fn campaign(mode: ReplicationMode, seeds: u64) -> distsys_sim::replication::ReplicationReport {
    run_replication_campaign(&ReplicationConfig::new(1_000, mode), seeds)
}

#[test]
fn only_async_loses_acknowledged_writes_on_failover() {
    let sync = campaign(ReplicationMode::Sync, 200);
    let semi = campaign(ReplicationMode::SemiSync { k: 1 }, 200);
    let asynchronous = campaign(ReplicationMode::Async, 200);
    assert_eq!(sync.lost_acknowledged, 0);
    assert_eq!(semi.lost_acknowledged, 0);
    assert!(asynchronous.lost_acknowledged > 0, "async lost nothing");
    // Every run crashed and recovered.
    assert_eq!(sync.rto_ms.len(), 200);
    assert!(asynchronous.rto_ms.iter().all(|r| *r < 1_000.0));
    // What sync pays: it waits for the slowest backup, and stalls while one is cut off.
    let p50 = |r: &distsys_sim::replication::ReplicationReport| r.latency_ms(0.5).unwrap_or(0.0);
    assert!(p50(&sync) > p50(&asynchronous));
    // Every mode loses the writes offered while no primary is up; sync also stalls while a
    // backup is cut off.
    assert!(
        sync.timed_out > 2 * semi.timed_out,
        "sync {} semi {}",
        sync.timed_out,
        semi.timed_out
    );
}

fn scenario_campaign(
    mode: ReplicationMode,
    scenario: FailureScenario,
    backups: usize,
    far_latency_ms: Option<f64>,
) -> distsys_sim::replication::ReplicationReport {
    let mut base = ReplicationConfig::new(2_000, mode);
    base.scenario = scenario;
    base.backups = backups;
    base.far_latency_ms = far_latency_ms;
    run_replication_campaign(&base, 16)
}

const SEMI: ReplicationMode = ReplicationMode::SemiSync { k: 1 };

#[test]
fn semi_sync_loses_acknowledged_writes_when_the_acking_backup_dies_with_the_primary() {
    use FailureScenario::PrimaryAndBackupCrash as Double;
    // Two zones: the primary and backup 1 near each other (1 ms), three backups 20 ms away.
    // Semi-sync (k = 1) is acknowledged by the near backup; when both die, the far majority
    // elects one of its own and the writes only the dead pair held are gone.
    let semi = scenario_campaign(SEMI, Double, 4, Some(20.0));
    assert!(semi.lost_acknowledged > 0, "{semi:?}");
    assert_eq!(semi.failovers, 16);
    // Sync waits for every backup: nothing acknowledged is lost, and with a backup dead it
    // acknowledges nothing more (the price).
    let sync = scenario_campaign(ReplicationMode::Sync, Double, 4, Some(20.0));
    assert_eq!(sync.lost_acknowledged, 0);
    assert_eq!(sync.unrecovered, 16);
    // With 3 members, the lone survivor cannot win a majority: no failover, nothing lost.
    let three = scenario_campaign(SEMI, Double, 2, None);
    assert_eq!((three.failovers, three.without_primary), (0, 16));
    assert_eq!(three.lost_acknowledged, 0);
}

#[test]
fn semi_sync_survives_one_crash_only_where_its_acks_meet_every_electing_majority() {
    use FailureScenario::PrimaryCrash;
    // 3 members: an acknowledged write is on 2, a majority is 2: they always meet, and the
    // up-to-date vote elects a backup that holds every acknowledged write.
    let three = scenario_campaign(SEMI, PrimaryCrash, 2, Some(20.0));
    assert_eq!(three.lost_acknowledged, 0);
    assert_eq!(three.failovers, 16);
    // 5 members: 2 copies and a majority of 3 need not meet; the far majority can elect
    // without the near backup that acknowledged.
    let five = scenario_campaign(SEMI, PrimaryCrash, 4, Some(20.0));
    assert!(five.lost_acknowledged > 0, "{five:?}");
}

#[test]
fn an_isolated_primary_is_fenced_and_only_async_loses_what_it_acknowledged_alone() {
    use FailureScenario::PrimaryIsolated;
    for mode in [ReplicationMode::Sync, SEMI] {
        let r = scenario_campaign(mode, PrimaryIsolated, 2, None);
        assert_eq!(r.lost_acknowledged, 0, "{mode:?}");
        assert_eq!((r.failovers, r.unrecovered, r.without_primary), (16, 0, 0));
        // Recovery waits for the detector: at least the suspicion timeout.
        assert!(r.rto_ms.iter().all(|ms| *ms >= 300.0), "{:?}", r.rto_ms);
    }
    // Async: the old primary acknowledges alone until its clients move; its writes are cut
    // from its log once it hears the new epoch.
    let r = scenario_campaign(ReplicationMode::Async, PrimaryIsolated, 2, None);
    assert!(r.lost_acknowledged > 16 * 100, "{r:?}");
}

#[test]
fn async_lag_matches_the_rate_model() {
    let mut config = ReplicationConfig::new(3, ReplicationMode::Async);
    config.fault_at_ms = None;
    config.partition_ms = None;
    config.writes_per_second = 1_000;
    config.apply_per_second = 800;
    config.duration_ms = 10_000;
    let report = run_replication(&config);
    let model = async_lag(1_000.0, 800.0, 10.0);
    let measured = report.max_lag as f64;
    assert!(
        (measured - model).abs() <= 0.05 * model,
        "measured {measured}, model {model}"
    );
}

#[test]
fn jitter_and_a_budget_tame_the_retry_storm_after_a_failover() {
    use distsys_sim::retry_storm::{arms, run_storm, StormConfig};
    let config = StormConfig::new(9);
    let [plain, seed_jitter, full, budget] = arms().map(|(_, arm)| run_storm(&config, &arm));
    // Without jitter the retries come back in synchronised waves.
    assert!(plain.peak_over_offered > seed_jitter.peak_over_offered);
    assert!(plain.peak_over_offered > full.peak_over_offered);
    assert!(plain.recovery_ms > 2 * seed_jitter.recovery_ms);
    // The budget caps what retrying adds.
    assert!(budget.amplification < full.amplification);
    assert!(plain.amplification > budget.amplification);
    assert!(
        budget.failed > 0,
        "the budget turns some retries into fast failures"
    );
    assert_eq!(plain.failed, 0);
}

#[test]
fn leaderless_quorums_overlap_only_when_r_plus_w_exceeds_n() {
    use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
    let strict = run_leaderless_campaign(&LeaderlessConfig::new(40, 3, 2, 2), 60);
    let sloppy = run_leaderless_campaign(&LeaderlessConfig::new(40, 3, 1, 1), 60);
    assert!(strict.reads > 1_000 && strict.writes > 1_000);
    assert_eq!(
        strict.stale_reads, 0,
        "R+W>N: every read sees the latest completed write"
    );
    assert!(sloppy.stale_reads > 0, "R+W<=N: some read misses it");
    assert!(
        strict.partitions > 0,
        "the default faults include partitions"
    );
    // Read repair, hinted handoff and anti-entropy all did work, and every run converged.
    assert!(strict.read_repairs > 0 && strict.hints_delivered > 0 && strict.anti_entropy_keys > 0);
    assert_eq!(strict.diverged_runs + sloppy.diverged_runs, 0);
}

/// Sloppy quorums (hinted replicas counting toward W) lose R + W > N's overlap under
/// partitions, and every stale read is attributed to them; without any fault they are as fresh
/// as strict quorums. The attribution can fail: strict R+W<=N stale reads are not sloppy.
#[test]
fn sloppy_quorums_read_stale_under_partitions_and_say_why() {
    use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
    let mut config = LeaderlessConfig::new(500, 3, 2, 2);
    config.sloppy = true;
    let sloppy = run_leaderless_campaign(&config, 40);
    assert!(sloppy.stale_reads > 0 && sloppy.sloppy_writes > 0);
    assert_eq!(sloppy.stale_sloppy, sloppy.stale_reads);
    config.sloppy = false;
    let strict = run_leaderless_campaign(&config, 40);
    assert_eq!(strict.stale_reads, 0);
    assert_eq!(strict.sloppy_writes, 0);
    config.sloppy = true;
    (config.crashes, config.loss, config.partitions) = (false, false, false);
    let calm = run_leaderless_campaign(&config, 10);
    assert_eq!((calm.stale_reads, calm.sloppy_writes), (0, 0));
    let weak = run_leaderless_campaign(&LeaderlessConfig::new(500, 3, 1, 1), 40);
    assert!(weak.stale_reads > 0);
    assert_eq!(weak.stale_sloppy, 0, "strict quorums never count as sloppy");
    // Monotonic reads are counted apart: R = W = 1 lets a client read older after newer.
    assert!(weak.monotonic_read_violations > 0);
}

/// The repair mechanisms matter: without hinted handoff and anti-entropy (read repair alone)
/// some runs end with replicas that disagree; with them every run converges.
#[test]
fn without_handoff_and_anti_entropy_replicas_diverge() {
    use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
    let mut config = LeaderlessConfig::new(600, 3, 2, 2);
    let repaired = run_leaderless_campaign(&config, 40);
    assert_eq!(repaired.diverged_runs, 0);
    (config.hinted_handoff, config.anti_entropy) = (false, false);
    let bare = run_leaderless_campaign(&config, 40);
    assert!(bare.diverged_runs > 0, "{bare:?}");
    assert_eq!((bare.hints_delivered, bare.anti_entropy_keys), (0, 0));
}
