//! Reading a `distributed_context` from JSON or YAML text, with every problem reported at once.
//!
//! Pipeline: text -> syntax (serde_json or serde_norway) -> JSON Schema of the Rust types (every
//! structural problem: unknown field, wrong type, out of range, missing) + cross-field rules
//! ([`crate::rules`]) -> typed [`DistributedContext`].

use crate::context::DistributedContext;
use crate::problem::{child_field, pointer_to_field, Problem};
use crate::rules;
use crate::schema::input_validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::fmt;

/// The text formats a context can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2 (a superset of JSON for our purposes).
    Yaml,
}

impl Format {
    /// Guesses the format from a file name: `.json` is JSON, `.yaml`/`.yml` YAML, else unknown.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Guesses the format from the text: a document starting with `{` is JSON, anything else YAML.
    pub fn sniff(text: &str) -> Format {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// Why an input could not be turned into a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// The text is not well-formed JSON/YAML.
    Syntax {
        /// The format the text was parsed as.
        format: Format,
        /// 1-based line of the error, when the parser knows it.
        line: Option<usize>,
        /// 1-based column of the error, when the parser knows it.
        column: Option<usize>,
        /// The field being written where the error was found, when it can be told.
        field: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// The text parsed, but broke one or more rules; every problem is listed.
    Invalid(Vec<Problem>),
}

impl InputError {
    /// The problems, for an `Invalid` input; a syntax error counts as one problem.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            InputError::Invalid(problems) => problems.clone(),
            InputError::Syntax { field, .. } => vec![Problem::new(
                field.clone().unwrap_or_else(|| "(root)".into()),
                "syntax",
                self.to_string(),
            )],
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Syntax {
                format,
                line,
                column,
                field,
                message,
            } => {
                write!(f, "malformed {}", format.name())?;
                if let (Some(line), Some(column)) = (line, column) {
                    write!(f, " at line {line}, column {column}")?;
                }
                if let Some(field) = field {
                    write!(f, " (in field {field})")?;
                }
                write!(f, ": {message}")
            }
            InputError::Invalid(problems) => {
                write!(f, "{} problem(s) in the input:", problems.len())?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InputError {}

/// Parses and validates a context. `format` is the caller's knowledge (a file extension, a
/// flag); when `None` the format is sniffed from the text.
pub fn parse_context(text: &str, format: Option<Format>) -> Result<DistributedContext, InputError> {
    let document = parse_document(text, format)?;
    let mut problems = schema_problems(&document);
    problems.extend(rules::check_document(&document));
    if !problems.is_empty() {
        return Err(InputError::Invalid(problems));
    }
    // The schema and the rules accept the document; what can still fail here is a number the
    // schema's JSON types allow but the Rust field cannot hold (an integer past 32 or 64 bits,
    // which JSON readers give as a float): name the field and say so.
    serde_path_to_error::deserialize(document).map_err(|e| {
        let field = e.path().to_string();
        let field = if field.is_empty() || field == "." { "(root)".to_string() } else { field };
        let message = e.inner().to_string();
        let message = if message.contains("floating point") || message.contains("out of range") {
            format!(
                "{message}: the number is too large for this field (see its range in `distsys schema input`)"
            )
        } else {
            message
        };
        InputError::Invalid(vec![Problem::new(field, "type", message)])
    })
}

/// Parses text into a JSON document without validating it.
pub fn parse_document(text: &str, format: Option<Format>) -> Result<Value, InputError> {
    // A UTF-8 byte-order mark (what some Windows editors write first) is not part of the
    // document: both JSON and YAML readers are given the text after it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = format.unwrap_or_else(|| Format::sniff(text));
    if text.trim().is_empty() {
        return Err(InputError::Invalid(vec![Problem::new(
            "(root)",
            "required",
            "the input is empty: expected a distributed_context document",
        )]));
    }
    match format {
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            InputError::Syntax {
                format,
                line: (line > 0).then_some(line),
                column: (column > 0).then_some(column),
                field: field_at_line(text, line),
                message: explain(text, Some(line), e.to_string()),
            }
        }),
        Format::Yaml => serde_norway::from_str::<crate::strict_yaml::Strict>(text)
            .map(|s| s.0)
            .map_err(|e| {
                let location = e.location();
                let line = location.as_ref().map(|l| l.line());
                InputError::Syntax {
                    format,
                    line,
                    column: location.as_ref().map(|l| l.column()),
                    field: line.and_then(|line| field_at_line(text, line)),
                    message: explain(text, line, e.to_string()),
                }
            }),
    }
}

/// The parser's message, with what it means in words where the parser's own words do not say
/// it: a tab used for indentation (YAML allows only spaces), a number too large for any field.
fn explain(text: &str, line: Option<usize>, message: String) -> String {
    // The position is reported once, by the caller: drop the parser's own trailing copy of it.
    let message = match message.rfind(" at line ") {
        Some(at)
            if message[at + 9..]
                .split(" column ")
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            message[..at].to_string()
        }
        _ => message,
    };
    let indent_has_tab = |raw: &str| raw[..raw.len() - raw.trim_start().len()].contains('\t');
    let lines: Vec<&str> = text.lines().collect();
    // The parser may point at the tab's line or the one after it; else the first such line.
    let mut near = line.into_iter().flat_map(|l| [l.saturating_sub(1), l]);
    let tab_line = near
        .find(|&n| n >= 1 && lines.get(n - 1).is_some_and(|raw| indent_has_tab(raw)))
        .or_else(|| {
            lines
                .iter()
                .position(|raw| indent_has_tab(raw))
                .map(|i| i + 1)
        });
    if let Some(n) = tab_line {
        return format!(
            "line {n} is indented with a tab; YAML allows only spaces for indentation ({message})"
        );
    }
    if message.contains("number out of range") {
        return format!(
            "a number is too large to be read (integers must fit in 64 bits; every field's \
             range is in `distsys schema input`) ({message})"
        );
    }
    message
}

/// Every structural problem the input schema finds, in document order.
fn schema_problems(document: &Value) -> Vec<Problem> {
    let mut problems: Vec<Problem> = input_validator()
        .iter_errors(document)
        .flat_map(|error| {
            let field = pointer_to_field(error.instance_path().as_str());
            match error.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                    .iter()
                    .map(|name| {
                        Problem::new(
                            child_field(&field, name),
                            "unknown_field",
                            format!("unknown field {name:?} (not part of distributed_context)"),
                        )
                    })
                    .collect::<Vec<_>>(),
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    vec![Problem::new(
                        child_field(&field, name),
                        "required",
                        format!("missing required field {name:?}"),
                    )]
                }
                kind => vec![Problem::new(field, kind.keyword(), error.to_string())],
            }
        })
        .collect();
    problems.dedup();
    problems
}

/// Best effort: the dotted path of the mapping key being written on `line` (1-based) of a
/// block-style YAML or pretty JSON document, found from the indentation of the lines above.
fn field_at_line(text: &str, line: usize) -> Option<String> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    for raw in text.lines().take(line) {
        let content = raw.trim_start();
        let indent = raw.len() - content.len();
        let Some(key) = leading_key(content) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
    }
    (!stack.is_empty()).then(|| {
        stack
            .into_iter()
            .map(|(_, k)| k)
            .collect::<Vec<_>>()
            .join(".")
    })
}

/// The mapping key a line starts with (`nodes: 3` or `"nodes": 3`), if any.
fn leading_key(content: &str) -> Option<String> {
    let content = content.trim_start_matches(['{', ',', ' ', '-']);
    let (key, rest) = if let Some(quoted) = content.strip_prefix('"') {
        let end = quoted.find('"')?;
        (&quoted[..end], quoted[end + 1..].trim_start())
    } else {
        let end = content.find(':')?;
        (&content[..end], &content[end..])
    };
    let valid = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_');
    (valid && rest.starts_with(':')).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Consistency, ProblemType};

    fn problems(text: &str) -> Vec<Problem> {
        match parse_context(text, None) {
            Ok(ctx) => panic!("expected an error, parsed {ctx:?}"),
            Err(e) => e.problems(),
        }
    }

    #[test]
    fn minimal_yaml_gets_defaults() {
        let ctx = parse_context(
            "problem_type: consensus\ncluster_config:\n  nodes: 5\n",
            None,
        )
        .unwrap();
        assert_eq!(ctx.problem_type, ProblemType::Consensus);
        assert_eq!(ctx.cluster_config.nodes, 5);
        assert_eq!(ctx.consistency_requirement, Consistency::Eventual);
        assert!(!ctx.byzantine());
    }

    #[test]
    fn json_and_yaml_agree() {
        let json = r#"{"problem_type":"replication","cluster_config":{"nodes":3,"failure_tolerance":1,"regions":["eu","us"]},
            "consistency_requirement":"causal","network_assumptions":{"latency_ms":20,"partition_probability":0.01}}"#;
        let yaml = "problem_type: replication\ncluster_config:\n  nodes: 3\n  failure_tolerance: 1\n  regions: [eu, us]\n\
                    consistency_requirement: causal\nnetwork_assumptions:\n  latency_ms: 20\n  partition_probability: 0.01\n";
        assert_eq!(
            parse_context(json, None).unwrap(),
            parse_context(yaml, Some(Format::Yaml)).unwrap()
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(
            r#"{"cluster_config":{"nodes":0,"colour":"red"},"network_assumptions":{"partition_probability":1.5,"latency_ms":0.5},"extra":1}"#,
        );
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|p| (p.field.as_str(), p.rule.as_str()))
            .collect();
        for expected in [
            ("problem_type", "required"),
            ("cluster_config.nodes", "minimum"),
            ("cluster_config.colour", "unknown_field"),
            ("network_assumptions.partition_probability", "maximum"),
            ("network_assumptions.latency_ms", "minimum"),
            ("extra", "unknown_field"),
        ] {
            assert!(
                pairs.contains(&expected),
                "{expected:?} missing from {pairs:?}"
            );
        }
    }

    #[test]
    fn out_of_range_and_wrong_types_name_the_field() {
        let found = problems(r#"{"problem_type":"consensus","cluster_config":{"nodes":1001}}"#);
        assert_eq!(
            (found[0].field.as_str(), found[0].rule.as_str()),
            ("cluster_config.nodes", "maximum")
        );
        let found = problems(r#"{"problem_type":"gossip","cluster_config":{"nodes":"three"}}"#);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&"problem_type") && fields.contains(&"cluster_config.nodes"),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.message.contains("consensus")),
            "allowed values listed: {found:?}"
        );
    }

    #[test]
    fn schema_and_rule_problems_are_reported_together() {
        let found = problems(
            r#"{"problem_type":"consensus","cluster_config":{"nodes":4,"failure_tolerance":2},"x":1}"#,
        );
        let rules: Vec<&str> = found.iter().map(|p| p.rule.as_str()).collect();
        assert_eq!(rules, vec!["unknown_field", "quorum_possible"]);
    }

    #[test]
    fn malformed_yaml_names_line_and_field() {
        let err = parse_context(
            "problem_type: consensus\ncluster_config:\n  nodes: [3\n",
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, InputError::Syntax { .. }), "{text}");
        assert!(text.contains("cluster_config.nodes"), "{text}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_in_both_formats() {
        let yaml = "\u{feff}problem_type: consensus\ncluster_config:\n  nodes: 3\n";
        assert_eq!(
            parse_context(yaml, None).map(|c| c.cluster_config.nodes),
            Ok(3)
        );
        let json = "\u{feff}{\"problem_type\": \"consensus\", \"cluster_config\": {\"nodes\": 3}}";
        assert_eq!(
            parse_context(json, None).map(|c| c.cluster_config.nodes),
            Ok(3)
        );
    }

    #[test]
    fn a_tab_in_the_indentation_is_named_with_its_line() {
        let text = parse_context(
            "problem_type: consensus\ncluster_config:\n\tnodes: 3\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(text.contains("line 3 is indented with a tab"), "{text}");
        assert!(text.contains("only spaces"), "{text}");
    }

    #[test]
    fn a_number_too_large_is_explained_in_words() {
        let text = parse_context(
            "problem_type: consensus\ncluster_config:\n  nodes: 3\n  failure_tolerance: 1e400\n",
            None,
        )
        .unwrap_err()
        .to_string();
        // YAML reads 1e400 as text, refused as not an integer: the field is named.
        assert!(text.contains("failure_tolerance"), "{text}");
        for document in [
            "problem_type: consensus\ncluster_config:\n  nodes: 3\n  failure_tolerance: 99999999999999999999999\n",
            "{\"problem_type\": \"consensus\", \"cluster_config\": {\"nodes\": 3, \"failure_tolerance\": 99999999999999999999999}}",
        ] {
            let text = parse_context(document, None).unwrap_err().to_string();
            assert!(text.contains("too large"), "{text}");
            assert!(text.contains("failure_tolerance"), "{text}");
        }
    }

    #[test]
    fn malformed_json_names_line() {
        let err = parse_context(
            "{\n  \"problem_type\": \"consensus\",\n  \"cluster_config\": {\"nodes\": 3,}\n}",
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("line 3") && text.contains("cluster_config"),
            "{text}"
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(problems("  \n")[0].rule, "required");
    }
}
