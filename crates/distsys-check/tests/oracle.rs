//! Differential tests: the checker (its rewrites of unknown outcomes, its search, its
//! explanation) against the brute-force oracle on random tiny histories rich in what breaks
//! rewrites (nulls, deletes, repeated values, strings that look like numbers, appends that
//! rebuild a put's value, unknown outcomes), and on the cases that broke the old pre-pass.
//!
//! `DISTSYS_ORACLE_CASES=100000 cargo nextest run -p distsys-check --test oracle` runs more.

use distsys_check::generate::{
    small_history, small_kv_append_history, small_kv_put_append_history,
    small_unique_cas_register_history, small_unique_register_history,
};
use distsys_check::oracle::linearizable;
use distsys_check::{check, CheckOptions, History, ModelKind, OpKind, Operation, Verdict};
use serde_json::{json, Value};

fn cases() -> u64 {
    std::env::var("DISTSYS_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// Runs `cases()` random histories of one model; returns (disagreements, violations seen).
fn differential(model: ModelKind, seed_base: u64) {
    let mut disagreements = Vec::new();
    let (mut violations, mut unknown_ops) = (0usize, 0usize);
    let cases = cases();
    for seed in 0..cases {
        let history = small_history(model, seed_base ^ seed.wrapping_mul(0x9E37_79B9), 9);
        unknown_ops += history
            .operations
            .iter()
            .filter(|op| op.ret.is_none())
            .count();
        let expected = linearizable(model, &history.operations).expect("oracle takes it");
        // Explain a violation on every 4th case (the core must itself be a violation).
        let mut options = CheckOptions::new(model);
        options.explain = seed % 4 == 0;
        let verdict = check(&history, &options).expect("model accepts").verdict;
        let agrees = match (&verdict, expected) {
            (Verdict::Linearizable, true) => true,
            (Verdict::Violation(v), false) => {
                violations += 1;
                let core_ok = linearizable(model, &v.core).expect("oracle takes the core");
                if core_ok {
                    disagreements.push(format!("seed {seed}: core is linearizable: {:?}", v.core));
                }
                true
            }
            _ => false,
        };
        if !agrees {
            disagreements.push(format!(
                "seed {seed}: oracle {expected}, checker {verdict:?}: {:#?}",
                history.operations
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {cases} {} histories disagree; first: {}",
        disagreements.len(),
        model.name(),
        disagreements[0]
    );
    // The generator must exercise both verdicts and unknown outcomes, or the test proves little.
    let share = violations as f64 / cases as f64;
    assert!(
        (0.1..0.9).contains(&share),
        "violations {violations} of {cases}"
    );
    assert!(unknown_ops as u64 > cases / 2, "unknown ops {unknown_ops}");
    eprintln!(
        "{}: {cases} histories, {violations} violations, {unknown_ops} unknown ops, 0 disagreements",
        model.name()
    );
}

#[test]
fn register_agrees_with_the_oracle() {
    differential(ModelKind::Register, 1);
}

#[test]
fn cas_register_agrees_with_the_oracle() {
    differential(ModelKind::CasRegister, 2);
}

#[test]
fn kv_agrees_with_the_oracle() {
    differential(ModelKind::Kv, 3);
}

#[test]
fn set_agrees_with_the_oracle() {
    differential(ModelKind::Set, 4);
}

fn unique_values(model: ModelKind, generate: fn(u64, usize) -> History) {
    let cases = cases();
    let (mut by_zones, mut violations) = (0u64, 0u64);
    for seed in 0..cases {
        let history = generate(seed ^ 0x5EED, 9);
        let expected = linearizable(model, &history.operations).expect("oracle");
        violations += u64::from(!expected);
        for fast_paths in [true, false] {
            let mut options = CheckOptions::new(model);
            options.explain = false;
            options.fast_paths = fast_paths;
            let result = check(&history, &options).expect("accepts");
            if fast_paths && result.algorithm == distsys_check::model::ZONES {
                by_zones += 1;
            }
            assert_eq!(
                result.verdict == Verdict::Linearizable,
                expected,
                "seed {seed} (fast paths {fast_paths}, {}): {:#?}",
                result.algorithm,
                history.operations
            );
        }
    }
    // Most of these histories must be decided by the zone algorithm, or it is not tested.
    assert!(
        by_zones * 10 > cases * 6,
        "zones decided {by_zones} of {cases}"
    );
    assert!(
        violations * 10 > cases && violations * 10 < cases * 9,
        "{violations}"
    );
    eprintln!(
        "unique {}: {cases} histories, {by_zones} by zones, {violations} violations, 0 disagreements",
        model.name()
    );
}

#[test]
fn unique_value_registers_agree_with_the_oracle_by_zones_and_by_search() {
    unique_values(ModelKind::Register, small_unique_register_history);
}

#[test]
fn unique_value_cas_registers_agree_with_the_oracle_by_zones_and_by_search() {
    unique_values(ModelKind::CasRegister, small_unique_cas_register_history);
}

#[test]
fn append_only_kv_keys_agree_with_the_oracle_by_zones_and_by_search() {
    unique_values(ModelKind::Kv, small_kv_append_history);
}

#[test]
fn kv_keys_of_unique_puts_and_appends_agree_with_the_oracle_by_zones_and_by_search() {
    unique_values(ModelKind::Kv, small_kv_put_append_history);
}

#[test]
fn kv_keys_of_unique_puts_and_cas_agree_with_the_oracle_by_zones_and_by_search() {
    unique_values(ModelKind::Kv, small_unique_cas_register_history);
}

fn op(kind: OpKind, input: Value, output: Option<Value>, call: u64, ret: Option<u64>) -> Operation {
    Operation {
        process: call,
        kind,
        key: None,
        input,
        output: output.map(Into::into),
        call,
        ret,
        line: call as usize,
    }
}

fn both(model: ModelKind, ops: Vec<Operation>) -> (bool, bool) {
    let oracle = linearizable(model, &ops).expect("small");
    let history = History {
        operations: ops,
        failed: 0,
        unknown_reads: 0,
    };
    let checker = check(&history, &CheckOptions::new(model)).expect("accepts");
    (oracle, checker.verdict == Verdict::Linearizable)
}

#[test]
fn unknown_cas_to_null_may_never_happen() {
    // cas [1, null] with outcome unknown, then a read of null: the cas may never have happened.
    let ops = vec![
        op(OpKind::Cas, json!([1, null]), None, 0, None),
        op(OpKind::Read, Value::Null, Some(Value::Null), 1, Some(2)),
    ];
    assert_eq!(both(ModelKind::CasRegister, ops), (true, true));
    let ops = vec![
        op(OpKind::Write, Value::Null, None, 0, None),
        op(OpKind::Write, json!(1), None, 1, Some(2)),
        op(OpKind::Read, Value::Null, Some(Value::Null), 3, Some(4)),
        op(OpKind::Read, Value::Null, Some(Value::Null), 5, Some(6)),
    ];
    assert_eq!(both(ModelKind::Register, ops), (true, true));
}

#[test]
fn unknown_put_rebuilt_by_appends_may_land_last() {
    // put "ab" unknown; append "a"; append "b"; read "ab"; put "x"; read "ab": the put lands last.
    let ops = vec![
        op(OpKind::Write, json!("ab"), None, 0, None),
        op(OpKind::Append, json!("a"), None, 1, Some(2)),
        op(OpKind::Append, json!("b"), None, 3, Some(4)),
        op(OpKind::Read, Value::Null, Some(json!("ab")), 5, Some(6)),
        op(OpKind::Write, json!("x"), None, 7, Some(8)),
        op(OpKind::Read, Value::Null, Some(json!("ab")), 9, Some(10)),
    ];
    assert_eq!(both(ModelKind::Kv, ops), (true, true));
}

#[test]
fn values_compare_by_strict_json_equality() {
    for model in [ModelKind::Register, ModelKind::Kv] {
        let ops = vec![
            op(OpKind::Write, json!(1), None, 0, Some(1)),
            op(OpKind::Read, Value::Null, Some(json!("1")), 2, Some(3)),
        ];
        assert_eq!(both(model, ops), (false, false), "{}", model.name());
        let ops = vec![
            op(OpKind::Write, json!(1), None, 0, Some(1)),
            op(OpKind::Read, Value::Null, Some(json!(1)), 2, Some(3)),
        ];
        assert_eq!(both(model, ops), (true, true), "{}", model.name());
    }
    // kv keeps Jepsen's convention: an absent key reads as null or "".
    let ops = vec![
        op(OpKind::Delete, Value::Null, None, 0, Some(1)),
        op(OpKind::Read, Value::Null, Some(json!("")), 2, Some(3)),
    ];
    assert_eq!(both(ModelKind::Kv, ops), (true, true));
}
