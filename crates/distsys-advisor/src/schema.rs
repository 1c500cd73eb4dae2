//! JSON Schemas of the input (`distributed_context`) and of the advisor's output, generated from
//! the Rust types so that the schema, the parser and the documentation cannot drift apart.

use crate::advice::Advice;
use crate::context::DistributedContext;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The JSON Schema (draft 2020-12) of a `distributed_context` document.
pub fn input_schema() -> Value {
    tidy(schemars::schema_for!(DistributedContext).to_value())
}

/// The JSON Schema (draft 2020-12) of the advisor's answer.
pub fn output_schema() -> Value {
    tidy(schemars::schema_for!(Advice).to_value())
}

/// A compiled validator of [`input_schema`], built once per process.
pub fn input_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(&input_schema()))
}

/// A compiled validator of [`output_schema`], built once per process.
pub fn output_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(&output_schema()))
}

fn compile(schema: &Value) -> jsonschema::Validator {
    // The schemas are generated from our own types; failing to compile one is a bug of this
    // crate, caught by the tests, never a consequence of user input.
    jsonschema::validator_for(schema).expect("generated schema compiles")
}

/// Rewrites every `oneOf` made only of `const` alternatives (what schemars emits for a
/// documented unit enum) into a plain `enum`, so that validation errors list the allowed values
/// instead of saying "not valid under any of the schemas".
fn tidy(mut schema: Value) -> Value {
    rewrite_const_one_of(&mut schema);
    schema
}

fn rewrite_const_one_of(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(values) = const_alternatives(object) {
                let described: Vec<String> = object
                    .get("oneOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|alt| {
                        let name = alt.get("const")?.as_str()?;
                        let description = alt.get("description")?.as_str()?;
                        Some(format!("`{name}`: {description}"))
                    })
                    .collect();
                object.remove("oneOf");
                object.insert("enum".into(), Value::Array(values));
                if !described.is_empty() {
                    let head = object
                        .get("description")
                        .and_then(Value::as_str)
                        .map(|d| format!("{d}\n"))
                        .unwrap_or_default();
                    object.insert(
                        "description".into(),
                        Value::String(head + &described.join("\n")),
                    );
                }
            }
            object.values_mut().for_each(rewrite_const_one_of);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_const_one_of),
        _ => {}
    }
}

fn const_alternatives(object: &Map<String, Value>) -> Option<Vec<Value>> {
    let alternatives = object.get("oneOf")?.as_array()?;
    alternatives
        .iter()
        .map(|alt| alt.get("const").cloned())
        .collect::<Option<Vec<Value>>>()
        .filter(|values| !values.is_empty())
}
