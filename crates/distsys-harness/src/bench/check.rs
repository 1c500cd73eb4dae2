//! `distsys bench check`'s measurements: the checker side by side with Porcupine in the same
//! run, on the same files: every conformance history, and generated families (register,
//! cas-register, kv-append) at 1k/10k/100k operations, with and without a planted violation,
//! 1/10/50 clients. Porcupine is built from its Go source (copied to a temporary folder) and
//! timed verdict-only (`CheckEventsTimeout`) by its own harness; distsys is timed verdict-only
//! and with the explanation. Peak RSS: distsys's own per history (Linux `clear_refs` resets
//! the peak), Porcupine's per process (`/usr/bin/time`). Also the differential run against the
//! brute-force oracle. The CLI prints; nothing here asserts a figure.

use distsys_check::generate::{
    family, small_history, small_kv_append_history, small_unique_cas_register_history,
    small_unique_register_history, to_jepsen_etcd, to_jepsen_kv, Family, FamilyConfig, Plant,
};
use distsys_check::{check, decide, oracle, parse_history, CheckOptions, ModelKind, Verdict};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Timing repetitions of the verdict-only check; the median is reported.
pub const REPEATS: usize = 3;

/// Porcupine's per-check timeout, seconds.
const PORCUPINE_TIMEOUT_S: u64 = 30;

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "linearizable",
        Verdict::Violation(_) => "violation",
        Verdict::Unknown(_) => "unknown",
    }
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets this process's peak RSS (Linux), so the next `peak_rss_mib` covers what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One history's figures from both checkers.
#[derive(Debug, Clone)]
pub struct Row {
    /// The history's name (file name, or generated family and size).
    pub name: String,
    /// Its group in the per-family summary.
    pub group: String,
    /// Operations in it.
    pub ops: usize,
    /// The verdict it must get (`linearizable` or `violation`).
    pub expected: &'static str,
    /// distsys's verdict.
    pub ours: &'static str,
    /// distsys's verdict-only time, median of [`REPEATS`], ms.
    pub ours_ms: f64,
    /// distsys's time with the explanation, ms.
    pub ours_explained_ms: f64,
    /// distsys's peak RSS, MiB.
    pub ours_rss_mib: Option<f64>,
    /// Porcupine's verdict (`-` without Porcupine).
    pub theirs: String,
    /// Porcupine's time, ms.
    pub theirs_ms: Option<f64>,
    /// Porcupine's process peak RSS, MiB.
    pub theirs_rss_mib: Option<f64>,
}

/// Porcupine's (verdict, ms) on one history, and its process's peak RSS in MiB.
type PorcupineFigures = (Option<(String, f64)>, Option<f64>);

/// Porcupine's test binary, built in a temporary folder (removed on drop).
pub struct Porcupine {
    dir: PathBuf,
    binary: PathBuf,
}

impl Porcupine {
    /// Copies the source to a temporary folder and compiles its test binary there. `Err(None)`:
    /// the folder could not be made; `Err(Some(why))`: why the build failed, as a line to show.
    pub fn build(source: &Path) -> Result<Porcupine, Option<String>> {
        let dir = std::env::temp_dir().join(format!("distsys-porcupine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::create_dir_all(&dir).is_err() {
            return Err(None);
        }
        if let Err(e) = copy_tree(source, &dir) {
            return Err(Some(format!(
                "porcupine: cannot copy {}: {e}",
                source.display()
            )));
        }
        let binary = dir.join("porcupine.test");
        let status = Command::new("go")
            .args(["test", "-c", "-o"])
            .arg(&binary)
            .arg(".")
            .current_dir(&dir)
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOCACHE", dir.join(".gocache"))
            .status();
        match status {
            Ok(s) if s.success() => Ok(Porcupine { dir, binary }),
            Ok(s) => Err(Some(format!("porcupine: go test -c failed ({s})"))),
            Err(e) => Err(Some(format!(
                "porcupine: cannot run go ({e}); scripts/setup.sh porcupine installs it"
            ))),
        }
    }

    /// Checks files of one format in one process: (verdict, ms) per file, and the process's
    /// peak RSS.
    pub fn check(&self, files: &[PathBuf], kv: bool) -> (Vec<Option<(String, f64)>>, Option<f64>) {
        let hist = files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let rss_file = self.dir.join("rss.txt");
        let time = Path::new("/usr/bin/time");
        let mut command = if time.exists() {
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%M")
                .arg("-o")
                .arg(&rss_file)
                .arg(&self.binary);
            c
        } else {
            Command::new(&self.binary)
        };
        let output = command
            .args(["-test.run", "TestZZFiles", "-test.count", "1", "-test.v"])
            .current_dir(&self.dir)
            .env("HIST", hist)
            .env("FORMAT", if kv { "kv" } else { "etcd" })
            .env("TIMEOUT_S", PORCUPINE_TIMEOUT_S.to_string())
            .output();
        let stdout = output
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let results = files
            .iter()
            .map(|f| {
                let name = f.to_string_lossy();
                stdout.lines().find_map(|line| {
                    let mut parts = line.split_whitespace();
                    match (parts.next(), parts.next(), parts.next(), parts.next()) {
                        (Some("PORC"), Some(file), Some(verdict), Some(ms)) if file == name => {
                            Some((verdict.to_string(), ms.parse().ok()?))
                        }
                        _ => None,
                    }
                })
            })
            .collect();
        let rss = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| t.lines().last()?.trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0);
        (results, rss)
    }
}

/// Copies a folder (files and subfolders; Porcupine embeds `visualization/`).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

impl Drop for Porcupine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn porcupine_verdict(v: &str) -> String {
    match v {
        "Ok" => "linearizable".into(),
        "Illegal" => "violation".into(),
        other => other.to_lowercase(),
    }
}

/// Times distsys on one history file: verdict-only median, then with the explanation.
fn time_ours(text: &str) -> Result<(&'static str, f64, f64, Option<f64>, usize), String> {
    let (history, format) = parse_history(text, None).map_err(|e| e.to_string())?;
    let model = ModelKind::default_for(&history, format);
    let mut verdict_only = CheckOptions::new(model);
    verdict_only.explain = false;
    reset_peak_rss();
    let mut verdict = "unknown";
    let mut times: Vec<Duration> = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let start = Instant::now();
        let result = decide(&history, &verdict_only).map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        verdict = verdict_name(&result.verdict);
    }
    times.sort();
    let start = Instant::now();
    let _ = check(&history, &CheckOptions::new(model));
    let explained = start.elapsed();
    let rss = peak_rss_mib();
    Ok((
        verdict,
        times[REPEATS / 2].as_secs_f64() * 1e3,
        explained.as_secs_f64() * 1e3,
        rss,
        history.operations.len(),
    ))
}

/// One history of the bench: (group, name, path, expected verdict, kv format).
type Case = (String, String, PathBuf, &'static str, bool);

/// The conformance histories of `dir` (`jepsen-etcd/` and `kv/`, each with its `expected.txt`).
fn conformance_cases(dir: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    for sub in ["jepsen-etcd", "kv"] {
        let folder = Path::new(dir).join(sub);
        let Ok(expected) = std::fs::read_to_string(folder.join("expected.txt")) else {
            return Err(format!(
                "cannot read {}/expected.txt (run from the repository root or pass --dir)",
                folder.display()
            ));
        };
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.split_whitespace();
            let (Some(file), Some(verdict)) = (parts.next(), parts.next()) else {
                continue;
            };
            let path =
                std::fs::canonicalize(folder.join(file)).map_err(|e| format!("{file}: {e}"))?;
            let expected = if verdict == "linearizable" {
                "linearizable"
            } else {
                "violation"
            };
            cases.push((
                format!("conformance {sub}"),
                file.to_string(),
                path,
                expected,
                sub == "kv",
            ));
        }
    }
    Ok(cases)
}

/// The generated families written to `work`: 1k, 10k, ... up to `max_ops` operations; register,
/// cas-register, kv-append and kv-put-append; 1, 10 and 50 clients; with and without a planted violation.
fn generated_cases(work: &Path, max_ops: usize) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut size = 1_000;
    while size <= max_ops {
        for family_kind in [
            Family::Register,
            Family::CasRegister,
            Family::KvAppend,
            Family::KvPutAppend,
        ] {
            for clients in [1, 10, 50] {
                for plant in [Plant::None, Plant::StaleRead] {
                    let plant = match (family_kind, plant) {
                        (Family::KvAppend, Plant::StaleRead) => Plant::DuplicatedAppend,
                        (_, p) => p,
                    };
                    let config = FamilyConfig {
                        family: family_kind,
                        operations: size,
                        clients,
                        // About 100 operations per key, so values stay short (Porcupine reads lines
                        // of at most 4 KiB).
                        keys: (size / 100).max(10),
                        info_share: 0.02,
                        plant,
                        seed: size as u64 * 31 + clients as u64,
                    };
                    let (events, linearizable) = family(&config);
                    let kv = family_kind.is_kv();
                    let text = if kv {
                        to_jepsen_kv(&events)
                    } else {
                        to_jepsen_etcd(&events)
                    };
                    let name = format!(
                        "{}-{}k-c{clients}-{}",
                        family_kind.name(),
                        size / 1000,
                        if plant == Plant::None { "ok" } else { "bad" }
                    );
                    let path = work.join(format!("{name}.txt"));
                    if std::fs::write(&path, text).is_err() {
                        return Err(format!("cannot write {}", path.display()));
                    }
                    let group = format!(
                        "{} {}",
                        family_kind.name(),
                        if plant == Plant::None {
                            "ok"
                        } else {
                            "violation"
                        }
                    );
                    let expected = if linearizable {
                        "linearizable"
                    } else {
                        "violation"
                    };
                    cases.push((group, name, path, expected, kv));
                }
            }
        }
        size *= 10;
    }
    Ok(cases)
}

/// Porcupine's verdict, time and RSS per case (empty without Porcupine).
fn porcupine_figures(porcupine: Option<&Porcupine>, cases: &[Case]) -> Vec<PorcupineFigures> {
    // Porcupine: one process per generated file (so its RSS is per history), one per
    // conformance folder.
    let mut theirs: Vec<PorcupineFigures> = vec![(None, None); cases.len()];
    if let Some(p) = porcupine {
        for kv in [false, true] {
            let indices: Vec<usize> = (0..cases.len())
                .filter(|&i| cases[i].0.starts_with("conformance") && cases[i].4 == kv)
                .collect();
            let files: Vec<PathBuf> = indices.iter().map(|&i| cases[i].2.clone()).collect();
            let (results, rss) = p.check(&files, kv);
            for (&i, r) in indices.iter().zip(results) {
                theirs[i] = (r, rss);
            }
        }
        for (i, case) in cases.iter().enumerate() {
            if case.0.starts_with("conformance") {
                continue;
            }
            let (results, rss) = p.check(std::slice::from_ref(&case.2), case.4);
            theirs[i] = (results.into_iter().next().flatten(), rss);
        }
    }
    theirs
}

/// The bench's rows: every conformance history of `dir` and the generated families up to
/// `max_ops` operations (written to a temporary folder, removed after), each checked by
/// distsys and, when `porcupine` is built, by Porcupine. An error names the history or file
/// that could not be read or written.
pub fn rows(dir: &str, max_ops: usize, porcupine: Option<&Porcupine>) -> Result<Vec<Row>, String> {
    let work = std::env::temp_dir().join(format!("distsys-bench-check-{}", std::process::id()));
    if std::fs::create_dir_all(&work).is_err() {
        return Err(format!("cannot create {}", work.display()));
    }
    let cases = conformance_cases(dir).and_then(|mut cases| {
        cases.extend(generated_cases(&work, max_ops)?);
        Ok(cases)
    })?;
    let theirs = porcupine_figures(porcupine, &cases);
    let mut rows = Vec::new();
    for (case, (their, their_rss)) in cases.iter().zip(theirs) {
        let text = std::fs::read_to_string(&case.2).map_err(|e| format!("{}: {e}", case.1))?;
        let (ours, ours_ms, ours_explained_ms, ours_rss_mib, ops) =
            time_ours(&text).map_err(|e| format!("{}: {e}", case.1))?;
        rows.push(Row {
            name: case.1.clone(),
            group: case.0.clone(),
            ops,
            expected: case.3,
            ours,
            ours_ms,
            ours_explained_ms,
            ours_rss_mib,
            theirs: their
                .as_ref()
                .map_or("-".into(), |(v, _)| porcupine_verdict(v)),
            theirs_ms: their.map(|(_, ms)| ms),
            theirs_rss_mib: their_rss,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(rows)
}

/// One generator's figures in the differential run against the brute-force oracle.
#[derive(Debug, Clone)]
pub struct OracleRow {
    /// The generator.
    pub name: &'static str,
    /// Histories generated.
    pub cases: u64,
    /// Of which not linearizable (both agree).
    pub violations: u64,
    /// Operations with an unknown outcome, all histories.
    pub unknown_ops: usize,
    /// Histories per algorithm distsys chose.
    pub algorithms: BTreeMap<&'static str, u64>,
    /// Histories where distsys and the oracle disagree (or the oracle gave up).
    pub disagreements: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The differential run against the brute-force oracle, `cases` tiny histories per generator:
/// the general ones of every model and the unique-value ones the zone algorithm takes.
/// `on_row` sees each generator's figures as soon as they are known; returns the total number
/// of disagreements.
pub fn oracle_differential(cases: u64, on_row: &mut dyn FnMut(&OracleRow)) -> u64 {
    type Generate = fn(u64) -> distsys_check::History;
    let generators: [(&str, ModelKind, Generate); 8] = [
        ("register", ModelKind::Register, |s| {
            small_history(ModelKind::Register, s, 9)
        }),
        ("cas-register", ModelKind::CasRegister, |s| {
            small_history(ModelKind::CasRegister, s, 9)
        }),
        ("kv", ModelKind::Kv, |s| small_history(ModelKind::Kv, s, 9)),
        ("set", ModelKind::Set, |s| {
            small_history(ModelKind::Set, s, 9)
        }),
        ("unique register", ModelKind::Register, |s| {
            small_unique_register_history(s, 9)
        }),
        ("unique cas-register", ModelKind::CasRegister, |s| {
            small_unique_cas_register_history(s, 9)
        }),
        ("unique kv put/cas", ModelKind::Kv, |s| {
            small_unique_cas_register_history(s, 9)
        }),
        ("unique kv-append", ModelKind::Kv, |s| {
            small_kv_append_history(s, 9)
        }),
    ];
    let mut total_disagreements = 0u64;
    for (index, (name, model, generate)) in generators.into_iter().enumerate() {
        let start = Instant::now();
        let (mut violations, mut disagreements, mut unknown_ops) = (0u64, 0u64, 0usize);
        let mut algorithms: BTreeMap<&'static str, u64> = BTreeMap::new();
        for seed in 0..cases {
            let history = generate(((index as u64 + 1) << 40) | seed);
            unknown_ops += history
                .operations
                .iter()
                .filter(|op| op.ret.is_none())
                .count();
            let Ok(expected) = oracle::linearizable(model, &history.operations) else {
                disagreements += 1;
                continue;
            };
            let mut options = CheckOptions::new(model);
            options.explain = false;
            let result = decide(&history, &options);
            if let Ok(r) = &result {
                *algorithms.entry(r.algorithm).or_default() += 1;
            }
            match (result.map(|r| r.verdict), expected) {
                (Ok(Verdict::Linearizable), true) => {}
                (Ok(Verdict::Violation(_)), false) => violations += 1,
                _ => disagreements += 1,
            }
        }
        total_disagreements += disagreements;
        on_row(&OracleRow {
            name,
            cases,
            violations,
            unknown_ops,
            algorithms,
            disagreements,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    total_disagreements
}
