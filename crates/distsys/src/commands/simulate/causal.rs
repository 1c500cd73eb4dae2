//! `--model causal` of `distsys simulate`.

use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use std::io::Write;

/// `--model causal`: causal broadcast checked for causality; LWW losses on skewed clocks.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    use distsys_sim::causal::{run_causal, CausalConfig};
    let broken = match args.mutant.as_deref() {
        None => false,
        Some("deliver-on-arrival") => true,
        Some(other) => {
            return fail(
                stderr,
                &format!("--model causal knows one mutant, deliver-on-arrival; got {other:?}"),
            )
        }
    };
    let seeds = args.seeds.unwrap_or(1).max(1);
    let (mut writes, mut buffered, mut conflicts, mut wall, mut hlc) = (0, 0, 0, 0, 0);
    let mut violations = Vec::new();
    for seed in args.seed..args.seed + seeds {
        let mut config = CausalConfig::new(seed);
        config.deliver_on_arrival = broken;
        config.trace = seed == args.seed && args.trace.is_some();
        let r = run_causal(&config);
        if let (Some(path), true) = (&args.trace, config.trace) {
            let mut text = r.trace.join("\n");
            text.push('\n');
            if let Err(e) = std::fs::write(path, text) {
                return fail(stderr, &format!("cannot write trace {path}: {e}"));
            }
        }
        writes += r.writes;
        buffered += r.buffered;
        conflicts += r.conflicts_resolved;
        wall += r.lost_with_wall_clocks;
        hlc += r.lost_with_hlc;
        if let Some(v) = r.violation {
            violations.push((seed, v));
        }
    }
    let _ = writeln!(
        stdout,
        "simulate causal: 4 replicas, 3 keys, 60 writes each, clocks up to 50 ms apart, {seeds} run(s){}",
        if broken { ", mutant deliver-on-arrival" } else { "" }
    );
    let _ = writeln!(
        stdout,
        "writes:              {writes}, {buffered} arrival(s) waited for a cause"
    );
    let _ = writeln!(
        stdout,
        "causality:           {} violating run(s)",
        violations.len()
    );
    if let Some((seed, v)) = violations.first() {
        let _ = writeln!(stdout, "  seed {seed}: {v}");
    }
    let _ = writeln!(
        stdout,
        "conflicts resolved:  {conflicts} concurrent write pair(s), last writer wins on HLC"
    );
    let _ = writeln!(
        stdout,
        "LWW lost updates:    {wall} with wall clocks, {hlc} with hybrid logical clocks (a write beaten by its own cause)"
    );
    if violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    }
}
