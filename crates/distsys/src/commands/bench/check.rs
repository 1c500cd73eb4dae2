//! `distsys bench check`: checker time on the conformance histories, side by side with
//! Porcupine's figures, and on generated histories of growing size.

use super::peak_rss_mib;
use crate::{EXIT_BAD_INPUT, EXIT_OK};
use distsys_check::generate::{generate, history_of, GenConfig, OpMix};
use distsys_check::{check, parse_history, CheckOptions, History, HistoryFormat, Verdict};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Porcupine's `CheckEvents` time per history (ns, mean of 3), measured on a machine of this
/// kind: Porcupine commit 55508eb, Go 1.19, GOMAXPROCS=2 (shared/anchors/porcupine.md, run 1).
/// Porcupine needs Go and its source, which this machine cannot fetch, so the figures are quoted.
const PORCUPINE_NS: &[(&str, u64)] = &[
    ("etcd_000.log", 346478),
    ("etcd_001.log", 341737),
    ("etcd_002.log", 222292562),
    ("etcd_003.log", 175774),
    ("etcd_004.log", 114507),
    ("etcd_005.log", 239195),
    ("etcd_006.log", 266432),
    ("etcd_007.log", 146660908),
    ("etcd_008.log", 95832),
    ("etcd_009.log", 194345),
    ("etcd_010.log", 120055),
    ("etcd_011.log", 205091),
    ("etcd_012.log", 176262),
    ("etcd_013.log", 127643),
    ("etcd_014.log", 104922),
    ("etcd_015.log", 171969),
    ("etcd_016.log", 121243),
    ("etcd_017.log", 232772),
    ("etcd_018.log", 986925),
    ("etcd_019.log", 270648),
    ("etcd_020.log", 128374),
    ("etcd_021.log", 171047),
    ("etcd_022.log", 146093),
    ("etcd_023.log", 135398),
    ("etcd_024.log", 119477),
    ("etcd_025.log", 311322),
    ("etcd_026.log", 112043),
    ("etcd_027.log", 147850),
    ("etcd_028.log", 178215),
    ("etcd_029.log", 378699),
    ("etcd_030.log", 168103),
    ("etcd_031.log", 107480),
    ("etcd_032.log", 115799),
    ("etcd_033.log", 117007),
    ("etcd_034.log", 156546),
    ("etcd_035.log", 126528),
    ("etcd_036.log", 136700),
    ("etcd_037.log", 235169),
    ("etcd_038.log", 136272),
    ("etcd_039.log", 124822),
    ("etcd_040.log", 13144891),
    ("etcd_041.log", 83227),
    ("etcd_042.log", 103968),
    ("etcd_043.log", 67974),
    ("etcd_044.log", 355745),
    ("etcd_045.log", 93422),
    ("etcd_046.log", 71296),
    ("etcd_047.log", 142375),
    ("etcd_048.log", 131225),
    ("etcd_049.log", 140799),
    ("etcd_050.log", 118413),
    ("etcd_051.log", 188019),
    ("etcd_052.log", 158345),
    ("etcd_053.log", 2492037),
    ("etcd_054.log", 151956),
    ("etcd_055.log", 138265),
    ("etcd_056.log", 531927),
    ("etcd_057.log", 72196960),
    ("etcd_058.log", 88431),
    ("etcd_059.log", 121080),
    ("etcd_060.log", 102222),
    ("etcd_061.log", 208580),
    ("etcd_062.log", 50145),
    ("etcd_063.log", 192246),
    ("etcd_064.log", 67273),
    ("etcd_065.log", 172152),
    ("etcd_066.log", 169652),
    ("etcd_067.log", 87106),
    ("etcd_068.log", 71002),
    ("etcd_069.log", 113288),
    ("c01-ok.txt", 109539),
    ("c01-bad.txt", 68465),
    ("c10-ok.txt", 853718),
    ("c10-bad.txt", 456130),
];

/// Timing repetitions per history; the median is reported.
const REPEATS: usize = 5;

fn median_time(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[REPEATS / 2]
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "linearizable",
        Verdict::Violation(_) => "violation",
        Verdict::Unknown(_) => "unknown",
    }
}

pub fn run(dir: &str, max_ops: usize, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let mut histories: Vec<(String, History, HistoryFormat, String)> = Vec::new();
    for sub in ["jepsen-etcd", "kv"] {
        let folder = Path::new(dir).join(sub);
        let Ok(expected) = std::fs::read_to_string(folder.join("expected.txt")) else {
            let _ = writeln!(
                stderr,
                "error: cannot read {}/expected.txt (run from the repository root or pass --dir)",
                folder.display()
            );
            return EXIT_BAD_INPUT;
        };
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.split_whitespace();
            let (Some(file), Some(verdict)) = (parts.next(), parts.next()) else {
                continue;
            };
            let text = match std::fs::read_to_string(folder.join(file)) {
                Ok(t) => t,
                Err(e) => {
                    let _ = writeln!(stderr, "error: {file}: {e}");
                    return EXIT_BAD_INPUT;
                }
            };
            match parse_history(&text, None) {
                Ok((history, format)) => {
                    histories.push((file.to_string(), history, format, verdict.to_string()))
                }
                Err(e) => {
                    let _ = writeln!(stderr, "error: {file}: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
    }
    let _ = writeln!(stdout, "linearizability checker: verdict time per history (median of {REPEATS}), against Porcupine");
    let _ = writeln!(
        stdout,
        "{:<14} {:>5} {:>13} {:>6} {:>11} {:>14} {:>8}",
        "history", "ops", "verdict", "agrees", "distsys ms", "porcupine ms", "speedup"
    );
    let (mut ours_total, mut theirs_total, mut explain_total) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut disagreements = 0;
    let mut slowest = (Duration::ZERO, String::new());
    for (file, history, format, expected) in &histories {
        let model = super::super::check_history::default_model(history, *format);
        let mut verdict_only = CheckOptions::new(model);
        verdict_only.explain = false;
        let mut verdict = Verdict::Unknown(distsys_check::UnknownReason::Timeout);
        let ours = median_time(|| {
            verdict = check(history, &verdict_only)
                .map(|r| r.verdict)
                .unwrap_or(Verdict::Unknown(distsys_check::UnknownReason::Timeout));
        });
        if matches!(verdict, Verdict::Violation(_)) {
            let start = Instant::now();
            let _ = check(history, &CheckOptions::new(model));
            explain_total += start.elapsed().saturating_sub(ours);
        }
        let agrees = verdict_name(&verdict) == expected;
        disagreements += usize::from(!agrees);
        let theirs = PORCUPINE_NS
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, ns)| Duration::from_nanos(*ns));
        ours_total += ours;
        if let Some(t) = theirs {
            theirs_total += t;
        }
        if ours > slowest.0 {
            slowest = (ours, file.clone());
        }
        let _ = writeln!(
            stdout,
            "{:<14} {:>5} {:>13} {:>6} {:>11.3} {:>14} {:>8}",
            file,
            history.operations.len(),
            verdict_name(&verdict),
            if agrees { "yes" } else { "NO" },
            ours.as_secs_f64() * 1e3,
            theirs.map_or("-".to_string(), |t| format!("{:.3}", t.as_secs_f64() * 1e3)),
            theirs.map_or("-".to_string(), |t| format!(
                "{:.1}x",
                t.as_secs_f64() / ours.as_secs_f64().max(1e-9)
            )),
        );
    }
    let _ = writeln!(stdout, "---");
    let _ = writeln!(
        stdout,
        "total: {} histories, distsys {:.1} ms, porcupine {:.1} ms, speedup {:.1}x (goal >= 5x); verdicts that disagree with expected.txt: {disagreements}",
        histories.len(),
        ours_total.as_secs_f64() * 1e3,
        theirs_total.as_secs_f64() * 1e3,
        theirs_total.as_secs_f64() / ours_total.as_secs_f64().max(1e-9)
    );
    let _ = writeln!(stdout, "slowest: {} {:.3} ms (goal < 1000 ms); shrinking the violations to their cores took {:.1} ms more in total", slowest.1, slowest.0.as_secs_f64() * 1e3, explain_total.as_secs_f64() * 1e3);
    let _ = writeln!(
        stdout,
        "peak RSS so far: {}",
        peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.1} MiB"))
    );
    let _ = writeln!(stdout, "\ngenerated linearizable kv histories (16 clients, 100 ops per key on average, 2% unknown outcomes)");
    let _ = writeln!(
        stdout,
        "{:>9} {:>7} {:>11} {:>10} {:>14}",
        "ops", "keys", "check ms", "ns/op", "peak RSS MiB"
    );
    let mut size = 10_000;
    while size <= max_ops.max(10_000) {
        let config = GenConfig {
            operations: size,
            processes: 16,
            keys: (size / 100).max(1),
            info_probability: 0.02,
            mix: OpMix::Kv,
            seed: size as u64,
        };
        let history = history_of(&generate(&config));
        let start = Instant::now();
        let result = check(&history, &CheckOptions::new(distsys_check::ModelKind::Kv));
        let elapsed = start.elapsed();
        let verdict = result.map(|r| verdict_name(&r.verdict)).unwrap_or("error");
        let _ = writeln!(
            stdout,
            "{:>9} {:>7} {:>11.1} {:>10.0} {:>14}   {verdict}",
            size,
            config.keys,
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_nanos() as f64 / size as f64,
            peak_rss_mib().map_or("?".into(), |m| format!("{m:.1}"))
        );
        size *= 10;
    }
    EXIT_OK
}
