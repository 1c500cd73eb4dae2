//! String read results held as shared prefixes ([`distsys_check::SharedText`]): the
//! representation must never change a value or a verdict. The histories of the oracle tests are
//! rebuilt through [`HistoryBuilder`] (which shares every non-empty string a read returned) and
//! checked against the brute-force oracle; the builder is property-tested on reads that extend,
//! repeat, shorten and contradict each other, more texts per key than it keeps, multi-byte
//! characters; and the reader is tested on buffers smaller than a line.

use distsys_check::generate::{family, small_history, small_kv_append_history, FamilyConfig};
use distsys_check::generate::{to_jepsen_kv, to_jsonl, Family, Plant};
use distsys_check::history::{Completion, Event, HistoryBuilder};
use distsys_check::oracle::linearizable;
use distsys_check::{
    check, parse_history, parse_history_reader, CheckOptions, History, HistoryFormat, ModelKind,
    OpKind, ReadValue, Verdict,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;

fn cases() -> u64 {
    std::env::var("DISTSYS_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// The events of a history (an invocation at `call`, a completion at `ret`; none for an
/// unknown outcome), in time order.
fn events_of(history: &History) -> Vec<Event> {
    let mut events: Vec<(u64, bool, Event)> = Vec::new();
    for (i, op) in history.operations.iter().enumerate() {
        let process = i as u64;
        let event = |completion, value: Value, time| Event {
            line: 0,
            process,
            completion,
            kind: op.kind,
            key: op.key.clone(),
            value,
            time,
        };
        events.push((op.call, false, event(None, op.input.clone(), op.call)));
        if let Some(ret) = op.ret {
            let value = match op.kind {
                OpKind::Read => op.output.as_ref().map_or(Value::Null, ReadValue::to_json),
                _ => op.input.clone(),
            };
            events.push((ret, true, event(Some(Completion::Ok), value, ret)));
        }
    }
    // Invocations before completions at one instant: a process's own come in order.
    events.sort_by_key(|(time, completion, _)| (*time, *completion));
    events
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut e))| {
            e.line = i + 1;
            e
        })
        .collect()
}

/// The history rebuilt through the builder: string read results become shared texts.
fn rebuilt(history: &History) -> History {
    let mut builder = HistoryBuilder::new();
    for event in events_of(history) {
        builder.push(event).expect("well-formed");
    }
    builder.finish()
}

/// How many reads share their text with another read (the representation at work).
fn sharing_reads(history: &History) -> usize {
    let mut bases: HashMap<usize, usize> = HashMap::new();
    for op in &history.operations {
        if let Some(ReadValue::Text(t)) = &op.output {
            *bases.entry(t.base()).or_default() += 1;
        }
    }
    bases.values().filter(|&&n| n > 1).sum()
}

fn differential(model: ModelKind, generate: impl Fn(u64) -> History) {
    let cases = cases();
    let (mut shared, mut violations) = (0usize, 0usize);
    for seed in 0..cases {
        let history = generate(seed);
        let expected = linearizable(model, &history.operations).expect("oracle takes it");
        let again = rebuilt(&history);
        assert_eq!(again.operations.len(), history.operations.len());
        shared += sharing_reads(&again);
        for fast_paths in [true, false] {
            let mut options = CheckOptions::new(model);
            options.fast_paths = fast_paths;
            options.explain = seed.is_multiple_of(8);
            let verdict = check(&again, &options).expect("accepts").verdict;
            let agrees = match (&verdict, expected) {
                (Verdict::Linearizable, true) => true,
                (Verdict::Violation(v), false) => linearizable(model, &v.core).ok() == Some(false),
                _ => false,
            };
            assert!(
                agrees,
                "seed {seed} (fast paths {fast_paths}): oracle {expected}, checker on shared texts {verdict:?}: {:#?}",
                again.operations
            );
        }
        violations += usize::from(!expected);
    }
    // Some reads must share a text, and both verdicts occur, or the test proves little.
    assert!(shared as u64 > cases / 50, "reads sharing a text: {shared}");
    assert!(
        violations > 0 && (violations as u64) < cases,
        "{violations}"
    );
    eprintln!(
        "{}: {cases} histories, {shared} sharing reads, 0 disagreements",
        model.name()
    );
}

#[test]
fn kv_histories_with_shared_texts_agree_with_the_oracle() {
    differential(ModelKind::Kv, |seed| {
        small_history(ModelKind::Kv, seed.wrapping_mul(0x9E37_79B9) ^ 0x5eed, 9)
    });
}

#[test]
fn kv_append_histories_with_shared_texts_agree_with_the_oracle() {
    differential(ModelKind::Kv, |seed| {
        small_kv_append_history(seed.wrapping_mul(0x9E37_79B9) ^ 0xa99e, 9)
    });
}

#[test]
fn register_histories_with_shared_texts_agree_with_the_oracle() {
    differential(ModelKind::CasRegister, |seed| {
        small_history(
            ModelKind::CasRegister,
            seed.wrapping_mul(0x9E37_79B9) ^ 0x7e6,
            9,
        )
    });
}

/// A generated kv-append history, checked as built (shared texts), as plain JSON values, by
/// the zone algorithm and by the search: one verdict, the one known by construction.
#[test]
fn generated_kv_append_same_verdict_shared_or_not() {
    for (seed, plant) in [
        (1, Plant::None),
        (2, Plant::LostWrite),
        (3, Plant::DuplicatedAppend),
        (4, Plant::None),
    ] {
        let (events, linearizable) = family(&FamilyConfig {
            family: Family::KvAppend,
            operations: 120,
            clients: 4,
            keys: 2,
            info_share: 0.05,
            plant,
            seed,
        });
        let text = to_jepsen_kv(&events);
        let (shared, _) = parse_history(&text, None).expect("parses");
        assert!(sharing_reads(&shared) > 10, "seed {seed}");
        let mut plain = shared.clone();
        for op in &mut plain.operations {
            op.output = op.output.as_ref().map(|o| ReadValue::Json(o.to_json()));
        }
        assert_eq!(sharing_reads(&plain), 0);
        for history in [&shared, &plain] {
            for fast_paths in [true, false] {
                let mut options = CheckOptions::new(ModelKind::Kv);
                options.fast_paths = fast_paths;
                options.explain = false;
                let verdict = check(history, &options).expect("accepts").verdict;
                assert_eq!(
                    verdict == Verdict::Linearizable,
                    linearizable,
                    "seed {seed} {plant:?} fast {fast_paths}: {verdict:?}"
                );
            }
        }
    }
}

#[test]
fn strict_json_equality_holds_across_representations() {
    let (history, _) = parse_history(
        "{:process 0, :type :invoke, :f :get, :key \"k\", :value nil}\n\
         {:process 0, :type :ok, :f :get, :key \"k\", :value \"1\"}\n\
         {:process 0, :type :invoke, :f :get, :key \"k\", :value nil}\n\
         {:process 0, :type :ok, :f :get, :key \"k\", :value \"12\"}\n",
        None,
    )
    .expect("parses");
    let a = history.operations[0].output.clone().expect("read");
    let b = history.operations[1].output.clone().expect("read");
    assert!(matches!((&a, &b), (ReadValue::Text(_), ReadValue::Text(_))));
    assert_eq!(a, ReadValue::Json(json!("1")));
    assert_ne!(a, ReadValue::Json(json!(1)));
    assert_ne!(a, ReadValue::Json(json!(1.0)));
    assert_ne!(a, b);
    assert_eq!(b, ReadValue::Json(json!("12")));
    assert_eq!(a.to_string(), "\"1\"");
    assert_eq!(serde_json::to_value(&b).expect("serialises"), json!("12"));
}

/// One read: key index and string.
fn reads() -> impl Strategy<Value = Vec<(u8, String)>> {
    let piece = prop::sample::select(vec!["a", "b", "é", "1", "\"", "\\", "x 1 2 y"]);
    let text = prop::collection::vec(piece, 0..12).prop_map(|p| p.concat());
    prop::collection::vec((0u8..3, text), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever the reads (prefixes, extensions, repeats, contradictions, more texts per key
    /// than kept), every read holds exactly its string, and equal strings compare equal.
    #[test]
    fn builder_keeps_every_read_string(reads in reads()) {
        let mut builder = HistoryBuilder::new();
        for (i, (key, text)) in reads.iter().enumerate() {
            let event = |completion, value| Event {
                line: 2 * i + 1,
                process: 0,
                completion,
                kind: OpKind::Read,
                key: Some(key.to_string()),
                value,
                time: 2 * i as u64,
            };
            builder.push(event(None, Value::Null)).expect("invoke");
            let done = Event { time: 2 * i as u64 + 1, ..event(Some(Completion::Ok), json!(text)) };
            if i % 2 == 0 {
                builder.push(done).expect("complete");
            } else {
                builder.push_str(Event { value: Value::Null, ..done }, text).expect("complete");
            }
        }
        let history = builder.finish();
        prop_assert_eq!(history.operations.len(), reads.len());
        for (op, (key, text)) in history.operations.iter().zip(&reads) {
            prop_assert_eq!(op.key.clone(), Some(key.to_string()));
            let output = op.output.as_ref().expect("completed");
            prop_assert_eq!(output.to_json(), json!(text));
            prop_assert_eq!(output.as_str(), Some(text.as_str()));
        }
        for (a, (_, ta)) in history.operations.iter().zip(&reads) {
            for (b, (_, tb)) in history.operations.iter().zip(&reads) {
                prop_assert_eq!(a.output == b.output, ta == tb);
            }
        }
    }

    /// The reader gives the same history whatever its buffer size (lines across the buffer's
    /// end are copied, the others borrowed), with LF or CRLF line ends, in every format.
    #[test]
    fn reader_buffer_size_does_not_matter(seed in 0u64..1000, capacity in 1usize..200, crlf: bool) {
        let (events, _) = family(&FamilyConfig {
            family: Family::KvAppend,
            operations: 60,
            clients: 3,
            keys: 2,
            info_share: 0.1,
            plant: Plant::None,
            seed,
        });
        for text in [to_jepsen_kv(&events), to_jsonl(&events)] {
            let text = if crlf { text.replace('\n', "\r\n") } else { text };
            let whole = parse_history(&text, None).expect("parses");
            let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
            let streamed = parse_history_reader(reader, None).expect("parses");
            prop_assert_eq!(&whole, &streamed);
            let format = Some(whole.1);
            let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
            let given: (History, HistoryFormat) = parse_history_reader(reader, format).expect("parses");
            prop_assert_eq!(&whole, &given);
        }
    }
}

#[test]
fn reader_names_the_line_that_is_not_utf8() {
    let mut bytes = b"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n".to_vec();
    bytes.extend_from_slice(
        b"{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":\"\xff\",\"time\":2}\n",
    );
    let error = parse_history_reader(&bytes[..], None).expect_err("not UTF-8");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("UTF-8"), "{error}");
}
