//! `--model retry-storm` of `distsys simulate`.

use crate::cli::SimulateArgs;
use crate::EXIT_OK;
use std::io::Write;

/// `--model retry-storm`: the same failover under each retry strategy.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write) -> i32 {
    use distsys_sim::retry_storm::{arms, run_storm, StormConfig};
    let config = StormConfig::new(args.seed);
    let _ = writeln!(
        stdout,
        "retry storm: {} clients x {} requests/s against {} attempts/s; a leader failover from {} to {} ms fails every request sent meanwhile at its end",
        config.clients,
        config.rate_per_client,
        config.capacity_per_second,
        config.outage_ms.0,
        config.outage_ms.1
    );
    let _ = writeln!(
        stdout,
        "{:<22} {:>14} {:>22} {:>14} {:>16}",
        "retries", "amplification", "peak / offered (10ms)", "recovery ms", "failed requests"
    );
    for (name, arm) in arms() {
        let o = run_storm(&config, &arm);
        let _ = writeln!(
            stdout,
            "{:<22} {:>14.3} {:>22.1} {:>14} {:>16}",
            name, o.amplification, o.peak_over_offered, o.recovery_ms, o.failed
        );
    }
    EXIT_OK
}
