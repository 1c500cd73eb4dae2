//! End-to-end tests of the `distsys` binary: the Foundation issue's acceptance points.

mod common;

use assert_cmd::Command;
use common::{example_files, run_in_process};
use serde_json::Value;

fn distsys() -> Command {
    Command::cargo_bin("distsys").expect("binary built")
}

fn schema(which: &str) -> jsonschema::Validator {
    let out = distsys().args(["schema", which]).output().expect("runs");
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_is_advised_and_validates_against_both_schemas() {
    let input = schema("input");
    let output = schema("output");
    for file in example_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let document: Value = serde_norway::from_str(&text).expect("example parses");
        assert_eq!(
            errors(&input, &document),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
        let out = distsys().arg("advise").arg(&file).output().expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let advice: Value = serde_json::from_slice(&out.stdout).expect("advice is JSON");
        assert_eq!(
            errors(&output, &advice),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
        assert!(advice["failure_scenarios"].as_array().expect("list").len() >= 3);
    }
}

/// Each bad input exits 2 and stderr names the field (and the rule where one applies).
#[test]
fn bad_inputs_exit_2_naming_field_and_rule() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"problem_type":"consensus","cluster_config":{"nodes":4,"failure_tolerance":2}}"#,
            &["quorum_possible", "f=2 needs at least 5 nodes, got 4", "cluster_config.nodes"],
        ),
        (
            r#"{"problem_type":"consensus","cluster_config":{"nodes":6,"failure_tolerance":2},"network_assumptions":{"byzantine":true}}"#,
            &["byzantine_nodes", "f=2 needs at least 7 nodes, got 6"],
        ),
        (r#"{"problem_type":"consensus","cluster_config":{"nodes":0}}"#, &["cluster_config.nodes", "minimum"]),
        (r#"{"problem_type":"consensus","cluster_config":{"nodes":1001}}"#, &["cluster_config.nodes", "maximum"]),
        (
            "problem_type: consensus\ncluster_config: {nodes: 3}\nnetwork_assumptions: {partition_probability: 1.5}\n",
            &["network_assumptions.partition_probability", "maximum"],
        ),
        (
            r#"{"problem_type":"consensus","cluster_config":{"nodes":3,"replicas":2}}"#,
            &["cluster_config.replicas", "unknown_field"],
        ),
        (r#"{"cluster_config":{"nodes":3}}"#, &["problem_type", "required"]),
        ("problem_type: consensus\ncluster_config:\n  nodes: [3\n", &["malformed YAML", "cluster_config.nodes"]),
        (r#"{"problem_type":"consensus","cluster_config":{"nodes":"3"}}"#, &["cluster_config.nodes", "type"]),
        (r#"{"problem_type":"paxos","cluster_config":{"nodes":3}}"#, &["problem_type", "enum", "consensus"]),
    ];
    for (input, expected) in cases {
        for command in ["validate", "advise"] {
            let out = distsys()
                .args([command, "-"])
                .write_stdin(*input)
                .output()
                .expect("runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {input}: {stderr}");
            assert!(
                out.stdout.is_empty(),
                "nothing on stdout for a rejected input"
            );
            for needle in *expected {
                assert!(
                    stderr.contains(needle),
                    "{command} {input}: stderr lacks {needle:?}:\n{stderr}"
                );
            }
        }
    }
}

#[test]
fn valid_input_from_file_and_stdin_agree() {
    let file = common::workspace_root().join("examples/consensus.yaml");
    let text = std::fs::read_to_string(&file).expect("readable");
    let from_file = distsys().arg("advise").arg(&file).output().expect("runs");
    let from_stdin = distsys()
        .args(["advise", "-"])
        .write_stdin(text)
        .output()
        .expect("runs");
    assert_eq!(from_file.stdout, from_stdin.stdout);
    let ok = distsys().arg("validate").arg(&file).output().expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("valid"));
}

#[test]
fn yaml_and_text_formats() {
    let file = common::workspace_root().join("examples/byzantine.json");
    let path = file.to_str().expect("utf-8 path");
    let (code, yaml, _) = run_in_process(&["advise", path, "--format", "yaml"], "");
    assert_eq!(code, 0);
    let (_, json, _) = run_in_process(&["advise", path], "");
    let from_yaml: Value = serde_norway::from_str(&yaml).expect("yaml output parses");
    let from_json: Value = serde_json::from_str(&json).expect("json output parses");
    assert_eq!(from_yaml, from_json);
    let (code, text, _) = run_in_process(&["advise", path, "--format", "text"], "");
    assert_eq!(code, 0);
    for section in [
        "PROTOCOL  PBFT",
        "CONFIGURATION",
        "quorum_size",
        "FAILURE SCENARIOS",
        "RATIONALE",
        "WARNINGS",
    ] {
        assert!(
            text.contains(section),
            "text report lacks {section}:\n{text}"
        );
    }
}

#[test]
fn usage_errors_and_missing_files_exit_2() {
    assert_eq!(
        run_in_process(&["advise", "/nonexistent/ctx.yaml"], "").0,
        2
    );
    assert_eq!(run_in_process(&["schema", "neither"], "").0, 2);
    assert_eq!(run_in_process(&["frobnicate"], "").0, 2);
    assert_eq!(run_in_process(&["advise", "-", "--format", "xml"], "").0, 2);
    let (code, _, err) = run_in_process(&["advise", "-"], "");
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
    assert_eq!(run_in_process(&["--help"], "").0, 0);
}

#[test]
fn advise_evidence_quotes_simulation_measurements() {
    let root = common::workspace_root();
    let replication = root.join("examples/replication.yaml");
    let (code, out, err) = run_in_process(
        &["advise", &replication.to_string_lossy(), "--evidence"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let advice: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let measured: Vec<&serde_json::Value> = advice["rationale"]
        .as_array()
        .expect("rationale")
        .iter()
        .filter(|r| {
            r["input"]
                .as_str()
                .is_some_and(|i| i.starts_with("measured in simulation"))
        })
        .collect();
    assert_eq!(measured.len(), 3, "one per replication mode");
    let sync = measured[0]["choice"].as_str().expect("text");
    assert!(sync.contains("0 acknowledged write(s) lost"), "{sync}");
    // Without the flag, no simulation runs.
    let (_, plain, _) = run_in_process(&["advise", &replication.to_string_lossy()], "");
    assert!(!plain.contains("measured in simulation"));
}

#[test]
fn advise_evidence_runs_pbft_with_byzantine_replicas_for_a_byzantine_context() {
    let root = common::workspace_root();
    let byzantine = root.join("examples/byzantine.json");
    let (code, out, err) = run_in_process(
        &[
            "advise",
            &byzantine.to_string_lossy(),
            "--evidence",
            "--format",
            "text",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pbft runs of 5 s"), "{out}");
    assert!(out.contains("byzantine replica(s) per run"), "{out}");
    assert!(
        out.contains("0 failing run(s) (safety 0, linearizability 0, liveness 0, runaway 0"),
        "{out}"
    );
    assert!(!out.contains("evidence_unsafe"), "{out}");
}
