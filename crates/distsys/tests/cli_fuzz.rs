//! Property tests: whatever the input, `advise` and `validate` exit 0 or 2 and never panic;
//! exit 0 happens exactly for inputs the validator accepts.

mod common;

use common::run_in_process;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON values, biased toward the shape of a context.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        prop::sample::select(vec![
            "consensus",
            "replication",
            "eventual",
            "linearizable",
            "",
            "x"
        ])
        .prop_map(|s| json!(s)),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "problem_type",
                    "cluster_config",
                    "nodes",
                    "failure_tolerance",
                    "regions",
                    "consistency_requirement",
                    "network_assumptions",
                    "latency_ms",
                    "partition_probability",
                    "byzantine",
                    "other",
                ])
                .prop_map(String::from),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Near-valid contexts: the right shape with values drawn from around the edges of each rule.
fn near_valid() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["consensus", "replication", "partitioning", "transaction", "conflict_resolution", "bogus"]),
        prop_oneof![Just(json!(0)), Just(json!(1001)), (1u32..=1000).prop_map(|n| json!(n)), Just(json!(2.5))],
        prop_oneof![Just(Value::Null), (0u32..600).prop_map(|f| json!(f)), Just(json!(-1))],
        prop::sample::select(vec!["linearizable", "sequential", "causal", "eventual", "strong"]),
        prop_oneof![Just(json!(0.5)), (1.0f64..500.0).prop_map(|x| json!(x))],
        prop_oneof![(0.0f64..=1.0).prop_map(|x| json!(x)), Just(json!(1.5)), Just(json!(-0.1))],
        any::<bool>(),
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", ""]), 0..4),
    )
        .prop_map(|(problem, nodes, f, consistency, latency, p, byzantine, regions)| {
            let mut cluster = json!({"nodes": nodes, "regions": regions});
            if !f.is_null() {
                cluster["failure_tolerance"] = f;
            }
            json!({
                "problem_type": problem,
                "cluster_config": cluster,
                "consistency_requirement": consistency,
                "network_assumptions": {"latency_ms": latency, "partition_probability": p, "byzantine": byzantine},
            })
        })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let (validate_code, _, validate_err) = run_in_process(&["validate", "-"], text);
    let (advise_code, advice, advise_err) = run_in_process(&["advise", "-"], text);
    prop_assert!(
        validate_code == 0 || validate_code == 2,
        "validate exit {validate_code}"
    );
    prop_assert_eq!(validate_code, advise_code, "validate and advise agree");
    if advise_code == 0 {
        let parsed: Value =
            serde_json::from_str(&advice).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let errors: Vec<String> = distsys_advisor::schema::output_validator()
            .iter_errors(&parsed)
            .map(|e| e.to_string())
            .collect();
        prop_assert!(errors.is_empty(), "{:?}", errors);
    } else {
        prop_assert!(
            validate_err.starts_with("error: "),
            "stderr explains: {validate_err}"
        );
        prop_assert!(!advise_err.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        check(&value.to_string())?;
    }

    #[test]
    fn arbitrary_yaml_never_panics(value in json_value()) {
        let yaml = serde_norway::to_string(&value).unwrap_or_default();
        check(&yaml)?;
    }

    #[test]
    fn near_valid_contexts_never_panic(value in near_valid()) {
        check(&value.to_string())?;
        check(&serde_norway::to_string(&value).unwrap_or_default())?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,200}") {
        check(&text)?;
    }
}
