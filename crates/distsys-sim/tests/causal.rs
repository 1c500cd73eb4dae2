//! Causal delivery checked by the causal checker, its broken variant caught, and what LWW on
//! skewed wall clocks loses that LWW on hybrid logical clocks does not.

use distsys_sim::causal::{run_causal, CausalConfig};

#[test]
fn causal_broadcast_passes_the_checker_and_delivery_on_arrival_fails_it() {
    let mut waited = 0;
    for seed in 0..40 {
        let report = run_causal(&CausalConfig::new(seed));
        assert_eq!(report.violation, None, "seed {seed}");
        waited += report.buffered;
    }
    assert!(
        waited > 0,
        "some writes arrived before their causes and had to wait"
    );
    let caught = (0..40).find(|seed| {
        let mut config = CausalConfig::new(*seed);
        config.deliver_on_arrival = true;
        run_causal(&config).violation.is_some()
    });
    assert!(caught.is_some(), "the broken delivery was never caught");
}

#[test]
fn lww_on_skewed_wall_clocks_loses_updates_and_hlc_does_not() {
    let (mut wall, mut hlc, mut conflicts) = (0, 0, 0);
    for seed in 0..20 {
        let mut config = CausalConfig::new(seed);
        config.trace = seed == 0;
        let report = run_causal(&config);
        wall += report.lost_with_wall_clocks;
        hlc += report.lost_with_hlc;
        conflicts += report.conflicts_resolved;
        if seed == 0 {
            let line = report.trace.first().expect("conflict_resolved events");
            let event: serde_json::Value = serde_json::from_str(line).expect("JSON");
            assert_eq!(event["event"], "conflict_resolved");
            assert_eq!(event["skill"], "distributed-systems");
            assert!(event["context"]["winner"].is_array());
        }
    }
    assert_eq!(hlc, 0);
    assert!(wall > 0);
    assert!(conflicts > 0);
    // Without skew, wall clocks lose nothing either (the loss is the skew's doing).
    let mut config = CausalConfig::new(3);
    config.skew_ms = 0;
    assert_eq!(run_causal(&config).lost_with_wall_clocks, 0);
}
