//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The workspace root (where `examples/` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file in `examples/`.
pub fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "examples/ has at least one context per problem type plus byzantine and multi-region"
    );
    files
}

/// Runs the CLI in-process; returns (exit code, stdout, stderr).
pub fn run_in_process(args: &[&str], stdin: &str) -> (i32, String, String) {
    run_in_process_bytes(args, stdin.as_bytes())
}

/// [`run_in_process`] with standard input of any bytes.
pub fn run_in_process_bytes(args: &[&str], mut stdin: &[u8]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["distsys"];
    argv.extend_from_slice(args);
    let code = distsys::run(argv, &mut stdin, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Runs `distsys cluster ARGS...` (up, down, status) and returns its standard output; panics
/// with the whole output if it fails.
pub fn cluster(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("distsys")
        .expect("binary")
        .arg("cluster")
        .args(args)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
