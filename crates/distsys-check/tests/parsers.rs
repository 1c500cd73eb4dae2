//! Every reader (JSON Lines, Jepsen etcd logs, Jepsen kv maps) on arbitrary input never panics
//! or overflows its stack, bounds nesting with a clear error, and reads the formats as their
//! producers write them: re-spaced, CRLF, trailing blank lines, keys in any order, comments.

use distsys_check::{parse_history, HistoryFormat};
use proptest::prelude::*;
use std::path::PathBuf;

const FORMATS: [Option<HistoryFormat>; 4] = [
    None,
    Some(HistoryFormat::Jsonl),
    Some(HistoryFormat::JepsenEtcd),
    Some(HistoryFormat::JepsenKv),
];

fn data(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/conformance")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Pieces that make the parsers take their deeper paths when glued at random.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "#{",
    "#_",
    "#inst ",
    ":",
    "\"",
    "\\",
    "\\u00",
    ";",
    " ",
    "\t",
    "\n",
    "\r\n",
    ",",
    "nil",
    "-1",
    "1.5",
    "1N",
    "x",
    ":invoke",
    ":ok",
    ":info",
    ":fail",
    ":write",
    ":read",
    ":cas",
    ":process",
    ":type",
    ":f",
    ":key",
    ":value",
    "INFO  jepsen.util - ",
    "0",
    "{:process 0, :type :invoke, :f :read, :value nil}",
    "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":1}",
    "INFO  jepsen.util - 1\t:invoke\t:write\t3",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        for format in FORMATS {
            let _ = parse_history(&text, format);
        }
    }

    #[test]
    fn glued_fragments_never_panic(pieces in prop::collection::vec(0..FRAGMENTS.len(), 0..80)) {
        let text: String = pieces.iter().map(|&i| FRAGMENTS[i]).collect();
        for format in FORMATS {
            let _ = parse_history(&text, format);
        }
    }
}

#[test]
fn deep_nesting_is_a_clear_error_in_every_reader() {
    let deep = "[".repeat(100_000);
    let lines = [
        format!("{{:process 0, :type :invoke, :f :write, :value {deep}}}"),
        format!("INFO  jepsen.util - 0\t:invoke\t:write\t{deep}"),
        format!(
            "{{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":{deep},\"time\":1}}"
        ),
        format!(
            "{{:process 0, :type :invoke, :f :write, :value {}1}}",
            "#_".repeat(100_000)
        ),
    ];
    for line in lines {
        let error = parse_history(&line, None)
            .expect_err("too deep")
            .to_string();
        assert!(
            error.contains("line 1") && (error.contains("deeper") || error.contains("recursion")),
            "{error}"
        );
    }
}

/// A deterministic re-spacing of a file: a whitespace run for every separator.
struct Respacer(u64);

impl Respacer {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn gap(&mut self) -> &'static str {
        ["\t", " ", "  ", " \t ", "\t\t", "    "][(self.next() % 6) as usize]
    }
    fn eol(&mut self) -> &'static str {
        if self.next().is_multiple_of(3) {
            "\r\n"
        } else {
            "\n"
        }
    }
}

#[test]
fn space_separated_etcd_logs_read_like_their_tab_separated_twins() {
    let expected = data("jepsen-etcd/expected.txt");
    for (seed, line) in expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        let file = line.split_whitespace().next().expect("file");
        let original = data(&format!("jepsen-etcd/{file}"));
        let mut r = Respacer(seed as u64 + 1);
        let mut respaced = String::new();
        for line in original.lines() {
            let mut first = true;
            for field in line.split('\t') {
                if !first {
                    respaced.push_str(r.gap());
                }
                first = false;
                respaced.push_str(field);
            }
            if r.next().is_multiple_of(4) {
                respaced.push(' ');
            }
            respaced.push_str(r.eol());
        }
        respaced.push_str("\n\r\n  \n");
        let (a, fa) = parse_history(&original, None).expect("original");
        let (b, fb) = parse_history(&respaced, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(fa, fb, "{file}");
        assert_eq!(a, b, "{file}");
    }
}

#[test]
fn jepsen_kv_maps_in_any_key_order_spacing_and_comments() {
    for (seed, file) in ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt"]
        .iter()
        .enumerate()
    {
        let original = data(&format!("kv/{file}"));
        let mut r = Respacer(seed as u64 + 100);
        let mut rewritten = String::from("; a history, with a comment line first\n");
        for line in original.lines() {
            let inner = line
                .trim()
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .expect("a map per line");
            let mut entries: Vec<&str> = inner.split(", :").collect();
            // Rotate the keys by a random amount.
            let turn = (r.next() as usize) % entries.len();
            entries.rotate_left(turn);
            let mut text = format!("{{{}", r.gap());
            for (i, entry) in entries.iter().enumerate() {
                let entry = entry.strip_prefix(':').unwrap_or(entry);
                let (key, value) = entry.split_once(' ').expect("key value");
                if i > 0 {
                    text.push_str([",", ", ", " ", ",\t", " , "][(r.next() % 5) as usize]);
                }
                text.push_str(&format!(":{key}{}{value}", r.gap()));
            }
            text.push_str(&format!("{}}}", r.gap()));
            if r.next().is_multiple_of(5) {
                text.push_str(" ; trailing comment {:not \"a map\"");
            }
            rewritten.push_str(&text);
            rewritten.push_str(r.eol());
        }
        rewritten.push_str("\n\n");
        let (a, _) = parse_history(&original, None).expect("original");
        let (b, format) = parse_history(&rewritten, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format, HistoryFormat::JepsenKv);
        // One comment line more at the top: every line number moves by one.
        assert_eq!(a.operations.len(), b.operations.len(), "{file}");
        for (x, y) in a.operations.iter().zip(&b.operations) {
            assert_eq!(
                (
                    x.process,
                    x.kind,
                    &x.key,
                    &x.input,
                    &x.output,
                    x.ret.is_some()
                ),
                (
                    y.process,
                    y.kind,
                    &y.key,
                    &y.input,
                    &y.output,
                    y.ret.is_some()
                ),
                "{file}"
            );
            assert_eq!((x.line + 1, x.call + 1), (y.line, y.call), "{file}");
        }
    }
}
