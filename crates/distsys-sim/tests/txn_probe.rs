use distsys_sim::txn::*;
#[test]
fn probe() {
    for protocol in [CommitProtocol::Parallel, CommitProtocol::TwoPhase] {
        let mut c = TxnSimConfig::new(std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1), 3);
        c.protocol = protocol;
        if let Ok(m) = std::env::var("MUT") { c.mutant = Some(m.parse().unwrap()); }
        let t = std::time::Instant::now();
        let runs = run_campaign(&c, 4);
        for r in &runs {
            let mut lat: Vec<_> = r.stats.commits.iter().map(|x| x.0).collect(); lat.sort();
            let mut rounds: Vec<_> = r.stats.commits.iter().map(|x| x.1).collect(); rounds.sort();
            println!("{:?} seed {} {:?} txns {} attempts {} aborts {} info {} rec {} commits {} p50 {}us p99 {} rounds p50 {} p99 {} verdict {:?} anomalies {:?} viol {:?}",
              protocol, r.seed, r.model, r.stats.transactions, r.stats.attempts, r.stats.aborts, r.stats.indeterminate, r.stats.recoveries, r.stats.commits.len(),
              percentile(&lat, 50.0), percentile(&lat, 99.0), percentile(&rounds, 50.0), percentile(&rounds, 99.0), r.verdict, r.anomalies, &r.violations[..r.violations.len().min(3)]);
        }
        println!("{:?}", t.elapsed());
    }
}
