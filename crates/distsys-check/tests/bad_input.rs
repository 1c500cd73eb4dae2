//! Bad histories are rejected with the line and the problem.

use distsys_check::{parse_history, HistoryFormat};

fn error(text: &str) -> String {
    match parse_history(text, None) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn jsonl_problems_name_the_line() {
    let ok = r#"{"process":0,"type":"invoke","f":"write","value":1,"time":1}"#;
    let cases = [
        (
            format!("{ok}\n{{\"process\":0,\"type\":\"ok\",\"f\":\"wri"),
            "line 2",
            "not a history event",
        ),
        (
            format!(
                "{ok}\n{}",
                r#"{"process":0,"type":"ok","f":"frob","value":1,"time":2}"#
            ),
            "line 2",
            "unknown operation",
        ),
        (
            r#"{"process":3,"type":"ok","f":"read","value":1,"time":2}"#.to_string(),
            "line 1",
            "never invoked",
        ),
        (
            format!(
                "{ok}\n{}",
                r#"{"process":0,"type":"invoke","f":"read","value":null,"time":2}"#
            ),
            "line 2",
            "still in flight",
        ),
        (
            format!(
                "{ok}\n{}",
                r#"{"process":0,"type":"ok","f":"read","value":1,"time":2}"#
            ),
            "line 2",
            "completes a read but invoked a write",
        ),
        (
            format!(
                "{ok}\n{}",
                r#"{"process":1,"type":"invoke","f":"read","value":null,"time":0}"#
            ),
            "line 2",
            "earlier",
        ),
        (
            format!(
                "{ok}\n{}",
                r#"{"process":0,"type":"done","f":"write","value":1,"time":2}"#
            ),
            "line 2",
            "unknown event type",
        ),
    ];
    for (text, line, message) in cases {
        let e = error(&text);
        assert!(
            e.contains(line) && e.contains(message),
            "{e} (wanted {line}: {message})"
        );
    }
}

#[test]
fn jepsen_formats_problems_name_the_line() {
    let e = error(
        "INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:invoke\t:read\tnil\n",
    );
    assert!(e.contains("line 2") && e.contains("in flight"), "{e}");
    let e = error("INFO  jepsen.util - 3\t:invoke\t:frob\tnil\n");
    assert!(
        e.contains("line 1") && e.contains("unknown operation"),
        "{e}"
    );
    let e = error("INFO  jepsen.util - 3\t:invoke\n");
    assert!(e.contains("line 1") && e.contains("truncated"), "{e}");
    let e = error("{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x\"}\n{:process 0, :type :ok, :f :append, :key \"0\", :value \"x");
    assert!(e.contains("line 2") && e.contains("unterminated"), "{e}");
    let e = error("{:process 1, :type :ok, :f :get, :key \"0\", :value nil}");
    assert!(e.contains("line 1") && e.contains("never invoked"), "{e}");
}

#[test]
fn formats_are_detected_and_forced() {
    assert_eq!(
        HistoryFormat::detect("\n{\"process\":1}").unwrap(),
        HistoryFormat::Jsonl
    );
    assert_eq!(
        HistoryFormat::detect("{:process 1}").unwrap(),
        HistoryFormat::JepsenKv
    );
    assert_eq!(
        HistoryFormat::detect("INFO  jepsen.util - 1\t:invoke").unwrap(),
        HistoryFormat::JepsenEtcd
    );
    assert!(HistoryFormat::detect("hello").is_err());
    assert!(HistoryFormat::detect("").is_err());
    let forced = parse_history("{:process 1}", Some(HistoryFormat::Jsonl));
    assert!(forced.is_err());
}

#[test]
fn fail_and_info_semantics() {
    let text = [
        r#"{"process":0,"type":"invoke","f":"write","value":1,"time":1}"#,
        r#"{"process":0,"type":"fail","f":"write","value":1,"time":2}"#,
        r#"{"process":1,"type":"invoke","f":"write","value":2,"time":3}"#,
        r#"{"process":1,"type":"info","f":"write","value":2,"time":4}"#,
        r#"{"process":2,"type":"invoke","f":"read","value":null,"time":5}"#,
        r#"{"process":2,"type":"info","f":"read","value":null,"time":6}"#,
        r#"{"process":3,"type":"invoke","f":"cas","key":"k","value":[1,2],"time":7}"#,
    ]
    .join("\n");
    let (history, _) = parse_history(&text, None).expect("parses");
    assert_eq!(history.failed, 1, "the failed write is dropped");
    // The info write and the pending cas stay, with unknown outcome; the info read is dropped.
    assert_eq!(history.operations.len(), 2);
    assert!(history.operations.iter().all(|op| op.ret.is_none()));
}
