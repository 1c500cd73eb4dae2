//! Property tests: generated histories are linearizable; one stale read makes them not.

use distsys_check::generate::{generate, history_of, GenConfig, OpMix};
use distsys_check::{check, CheckOptions, History, ModelKind, OpKind, Operation, Verdict};
use proptest::prelude::*;
use serde_json::json;

fn config(
    seed: u64,
    operations: usize,
    processes: usize,
    keys: usize,
    mix: OpMix,
    info: f64,
) -> GenConfig {
    GenConfig {
        operations,
        processes,
        keys,
        info_probability: info,
        mix,
        seed,
    }
}

fn model_for(mix: OpMix) -> ModelKind {
    match mix {
        OpMix::Register => ModelKind::Register,
        OpMix::CasRegister => ModelKind::CasRegister,
        OpMix::Kv => ModelKind::Kv,
    }
}

/// Makes one completed read return a value that was certainly overwritten before the read
/// began: written by a write that completed before another completed mutation of the same key
/// was invoked, which itself completed before the read was invoked. Values are distinct, so no
/// later write can bring it back. Returns `None` if the history has no such read.
fn make_one_read_stale(history: &History, pick: usize) -> Option<History> {
    let ops = &history.operations;
    let candidates: Vec<(usize, serde_json::Value)> = ops
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == OpKind::Read && r.ret.is_some())
        .filter_map(|(ri, read)| {
            let same_key = |op: &&Operation| op.key == read.key && op.ret.is_some();
            ops.iter()
                .filter(same_key)
                .filter(|w| w.kind == OpKind::Write)
                .find_map(|w| {
                    let overwritten = ops.iter().filter(same_key).any(|w2| {
                        w2.kind.is_mutation()
                            && w2.call > w.ret.unwrap_or(u64::MAX)
                            && w2.ret.unwrap_or(u64::MAX) < read.call
                    });
                    (overwritten && read.output.as_ref().is_none_or(|o| *o != w.input))
                        .then(|| (ri, w.input.clone()))
                })
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let (index, stale) = candidates[pick % candidates.len()].clone();
    let mut mutated = history.clone();
    mutated.operations[index].output = Some(stale.into());
    Some(mutated)
}

fn mix() -> impl Strategy<Value = OpMix> {
    prop::sample::select(vec![OpMix::Register, OpMix::CasRegister, OpMix::Kv])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_histories_are_linearizable(seed in any::<u64>(), ops in 1usize..300, procs in 1usize..8,
                                            keys in 1usize..5, mix in mix(), info in 0.0f64..0.2) {
        let history = history_of(&generate(&config(seed, ops, procs, keys, mix, info)));
        let result = check(&history, &CheckOptions::new(model_for(mix))).expect("model accepts");
        prop_assert_eq!(result.verdict, Verdict::Linearizable);
    }

}

proptest! {
    // Non-linearizable histories are the expensive ones: fewer cases, each bounded above.
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn one_stale_read_is_a_violation(seed in any::<u64>(), ops in 20usize..300, procs in 1usize..8,
                                     keys in 1usize..4, mix in mix(), info in 0.0f64..0.2, pick in any::<usize>()) {
        let history = history_of(&generate(&config(seed, ops, procs, keys, mix, info)));
        let mutated = make_one_read_stale(&history, pick);
        prop_assume!(mutated.is_some());
        let mutated = mutated.expect("checked");
        // The verdict is what is tested here; shrinking is covered by the conformance tests.
        // A non-linearizable history with many indeterminate operations can need an exponential
        // search (the search must exhaust every order to say no), so each case is bounded; what
        // must never happen is the verdict "linearizable".
        let mut options = CheckOptions::new(model_for(mix));
        options.explain = false;
        options.timeout = Some(std::time::Duration::from_secs(5));
        let result = check(&mutated, &options).expect("model accepts");
        prop_assert_ne!(result.verdict, Verdict::Linearizable, "stale read not caught");
    }
}

#[test]
fn classic_small_histories() {
    let op = |process,
              kind,
              input: serde_json::Value,
              output: Option<serde_json::Value>,
              call,
              ret: Option<u64>| Operation {
        process,
        kind,
        key: None,
        input,
        output: output.map(Into::into),
        call,
        ret,
        line: call as usize,
    };
    let verdict = |ops: Vec<Operation>| {
        check(
            &History {
                operations: ops,
                failed: 0,
                unknown_reads: 0,
            },
            &CheckOptions::new(ModelKind::CasRegister),
        )
        .expect("checks")
        .verdict
    };
    // Overlapping write and read may see either value.
    let overlapping = vec![
        op(0, OpKind::Write, json!(1), None, 0, Some(10)),
        op(1, OpKind::Read, json!(null), Some(json!(1)), 5, Some(6)),
        op(2, OpKind::Read, json!(null), Some(json!(null)), 5, Some(6)),
    ];
    assert_eq!(verdict(overlapping), Verdict::Linearizable);
    // A read after a completed write must not see the old value.
    let stale = vec![
        op(0, OpKind::Write, json!(1), None, 0, Some(10)),
        op(
            1,
            OpKind::Read,
            json!(null),
            Some(json!(null)),
            11,
            Some(12),
        ),
    ];
    assert!(matches!(verdict(stale), Verdict::Violation(_)));
    // An unknown write may take effect late...
    let late = vec![
        op(0, OpKind::Write, json!(1), None, 0, None),
        op(
            1,
            OpKind::Read,
            json!(null),
            Some(json!(null)),
            11,
            Some(12),
        ),
        op(1, OpKind::Read, json!(null), Some(json!(1)), 13, Some(14)),
    ];
    assert_eq!(verdict(late), Verdict::Linearizable);
    // ...but not un-happen once observed.
    let flicker = vec![
        op(0, OpKind::Write, json!(1), None, 0, None),
        op(1, OpKind::Read, json!(null), Some(json!(1)), 11, Some(12)),
        op(
            1,
            OpKind::Read,
            json!(null),
            Some(json!(null)),
            13,
            Some(14),
        ),
    ];
    assert!(matches!(verdict(flicker), Verdict::Violation(_)));
    // A completed cas must have seen its expected value; an unknown one may have failed.
    let cas_ok_wrong = vec![op(0, OpKind::Cas, json!([5, 6]), None, 0, Some(1))];
    assert!(matches!(verdict(cas_ok_wrong), Verdict::Violation(_)));
    let cas_unknown = vec![
        op(0, OpKind::Cas, json!([5, 6]), None, 0, None),
        op(1, OpKind::Read, json!(null), Some(json!(null)), 2, Some(3)),
    ];
    assert_eq!(verdict(cas_unknown), Verdict::Linearizable);
}

#[test]
fn timeout_gives_unknown_instead_of_hanging() {
    // Many concurrent unknown writes and a contradictory read at the end: the search must
    // explore a huge space, so a tiny timeout must stop it.
    let mut ops: Vec<Operation> = (0..40)
        .map(|i| Operation {
            process: i,
            kind: OpKind::Write,
            key: None,
            input: json!(i),
            output: None,
            call: i,
            ret: Some(1000 + i),
            line: i as usize + 1,
        })
        .collect();
    ops.push(Operation {
        process: 99,
        kind: OpKind::Read,
        key: None,
        input: json!(null),
        output: Some(json!(12345).into()),
        call: 2000,
        ret: Some(2001),
        line: 100,
    });
    let mut options = CheckOptions::new(ModelKind::Register);
    options.timeout = Some(std::time::Duration::from_millis(50));
    let start = std::time::Instant::now();
    let result = check(
        &History {
            operations: ops,
            failed: 0,
            unknown_reads: 0,
        },
        &options,
    )
    .expect("checks");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        matches!(result.verdict, Verdict::Unknown(_) | Verdict::Violation(_)),
        "{:?}",
        result.verdict
    );
}

#[test]
fn a_violation_in_one_key_stops_the_search_of_the_others() {
    // Key "hard": 40 overlapping writes of 20 values (no unique-value algorithm applies) and a
    // read of a value nobody wrote: the search must try every order of the writes, far more
    // than any test can wait for. Key "easy": a stale read. The verdict must come from "easy"
    // and the search of "hard" must be cancelled, not run to its memory limit.
    let write = |key: &str, i: u64, value: u64| Operation {
        process: i,
        kind: OpKind::Write,
        key: Some(key.to_string()),
        input: json!(value),
        output: None,
        call: i,
        ret: Some(1000 + i),
        line: i as usize + 1,
    };
    let read = |key: &str, process: u64, value: u64, call: u64| Operation {
        process,
        kind: OpKind::Read,
        key: Some(key.to_string()),
        input: json!(null),
        output: Some(json!(value).into()),
        call,
        ret: Some(call + 1),
        line: process as usize + 1,
    };
    let mut ops: Vec<Operation> = (0..40).map(|i| write("hard", i, i % 20)).collect();
    ops.push(read("hard", 99, 12345, 2000));
    ops.push(write("easy", 100, 1));
    ops.push(Operation {
        call: 1150,
        ret: Some(1151),
        ..write("easy", 101, 2)
    });
    ops.push(read("easy", 102, 1, 1200));
    let history = History {
        operations: ops,
        failed: 0,
        unknown_reads: 0,
    };
    let mut options = CheckOptions::new(ModelKind::Kv);
    options.explain = false;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    let result = pool.install(|| distsys_check::decide(&history, &options).expect("checks"));
    match &result.verdict {
        Verdict::Violation(v) => assert_eq!(v.key.as_deref(), Some("easy")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        result.cancelled_keys, 1,
        "the search of \"hard\" was not cancelled"
    );
}

#[test]
fn keys_too_slow_for_the_calling_thread_are_decided_by_the_pool() {
    // Two keys: "big", a generated register history searched without the zone algorithm (far
    // longer than the inline budget of a key, so its first try is cut short), and "small",
    // two operations. The verdict must be the one known by construction, never `Unknown`.
    use distsys_check::generate::{family, history_of, Family, FamilyConfig, Plant};
    for (plant, linearizable) in [(Plant::None, true), (Plant::StaleRead, false)] {
        let (events, expected) = family(&FamilyConfig {
            family: Family::Register,
            operations: 500,
            clients: 8,
            keys: 1,
            info_share: 0.02,
            plant,
            seed: 7,
        });
        assert_eq!(expected, linearizable);
        let mut history = history_of(&events);
        for op in &mut history.operations {
            op.key = Some("big".into());
        }
        let small =
            |kind, input: serde_json::Value, output: Option<serde_json::Value>, call| Operation {
                process: 1_000_000 + call,
                kind,
                key: Some("small".into()),
                input,
                output: output.map(Into::into),
                call,
                ret: Some(call + 1),
                line: 0,
            };
        history
            .operations
            .push(small(OpKind::Write, json!(1), None, 0));
        history
            .operations
            .push(small(OpKind::Read, json!(null), Some(json!(1)), 2));
        let mut options = CheckOptions::new(ModelKind::Register);
        options.explain = false;
        options.fast_paths = false;
        let start = std::time::Instant::now();
        let result = distsys_check::decide(&history, &options).expect("checks");
        assert!(
            start.elapsed() > std::time::Duration::from_micros(200),
            "the big key must outlast its inline budget for this test to mean anything"
        );
        match (&result.verdict, linearizable) {
            (Verdict::Linearizable, true) => {}
            (Verdict::Violation(v), false) => assert_eq!(v.key.as_deref(), Some("big")),
            (other, _) => panic!("{plant:?}: {other:?}"),
        }
    }
}
