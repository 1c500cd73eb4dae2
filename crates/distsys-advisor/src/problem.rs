//! One problem found in a user's input: which field, which rule, what is wrong.

use serde::Serialize;
use std::fmt;

/// A single validation problem. `field` is a dotted path into the input
/// (`cluster_config.nodes`, `cluster_config.regions[1]`), `rule` a stable machine-readable name
/// (`quorum_possible`, `minimum`, `unknown_field`...), `message` a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted path of the offending field, or `(root)` for the document itself.
    pub field: String,
    /// Stable name of the rule that was broken.
    pub rule: String,
    /// What is wrong, with the actual numbers where there are some.
    pub message: String,
}

impl Problem {
    /// Builds a problem from its three parts.
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.field, self.rule, self.message)
    }
}

/// Turns a JSON Pointer (`/cluster_config/regions/0`) into the dotted form used in messages
/// (`cluster_config.regions[0]`); the empty pointer is `(root)`.
pub fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::new();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            field.push('[');
            field.push_str(&segment);
            field.push(']');
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&segment);
        }
    }
    if field.is_empty() {
        "(root)".to_string()
    } else {
        field
    }
}

/// Joins a dotted parent path and a child field name.
pub fn child_field(parent: &str, child: &str) -> String {
    if parent == "(root)" {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_fields() {
        assert_eq!(pointer_to_field(""), "(root)");
        assert_eq!(
            pointer_to_field("/cluster_config/nodes"),
            "cluster_config.nodes"
        );
        assert_eq!(
            pointer_to_field("/cluster_config/regions/1"),
            "cluster_config.regions[1]"
        );
        assert_eq!(pointer_to_field("/a~1b"), "a/b");
        assert_eq!(child_field("(root)", "x"), "x");
        assert_eq!(child_field("a", "x"), "a.x");
    }
}
