//! The `distsys simulate` flags that replay a run of a simulated configuration: what a
//! campaign's summary and `advise --evidence` quote next to a failing seed.

use distsys_sim::SimConfig;
use distsys_types::QuorumSystem;

/// Every flag but `--seed` that makes `distsys simulate` run `config` again, bit for bit:
/// protocol, size, faults, duration, clients, latency, timers, and the lease, seeded bug and
/// byzantine replicas when set (`--beyond-tolerance` when there are more than f).
pub fn replay_flags(config: &SimConfig) -> String {
    let mut flags = format!(
        "--protocol {} --nodes {} --faults {} --duration {}ms --clients {} --latency-ms {} --election-timeout-ms {}-{} --heartbeat-ms {}",
        config.protocol.name(),
        config.nodes,
        config.faults.describe(),
        config.duration_ms,
        config.clients,
        config.latency_ms,
        config.election_timeout_ms.0,
        config.election_timeout_ms.1,
        config.heartbeat_ms
    );
    if config.lease_read {
        flags.push_str(" --lease");
    }
    let (lo, hi) = config.write_delay_us;
    if hi > 0 {
        let ms = |us: u64| us as f64 / 1000.0;
        flags.push_str(&format!(" --write-delay-ms {}-{}", ms(lo), ms(hi)));
        if !config.write_pipelining {
            flags.push_str(" --no-pipelining");
        }
    }
    if let Some(m) = config.mutant_name() {
        flags.push_str(&format!(" --mutant {m}"));
    }
    if config.protocol.byzantine() {
        let behaviours: Vec<&str> = config
            .byzantine_behaviours
            .iter()
            .map(|b| b.name())
            .collect();
        flags.push_str(&format!(" --byzantine {}", config.byzantine));
        // With no byzantine replica no behaviour runs (and simulate refuses one).
        if config.byzantine > 0 {
            flags.push_str(&format!(" --byzantine-behaviour {}", behaviours.join(",")));
        }
        if config.byzantine > QuorumSystem::max_byzantine_faults(config.nodes) {
            flags.push_str(" --beyond-tolerance");
        }
    }
    flags
}
