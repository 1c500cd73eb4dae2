//! The code keeps the shape the README promises: no function over 100 lines outside tests
//! (measured on the parsed source, from the `fn` keyword to the closing brace), every crate's
//! lib.rs doc names each public module it exports, and the README's layout section names
//! every crate of the workspace.

use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The longest a function may be outside tests, in lines.
const MAX_FUNCTION_LINES: usize = 100;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("crates"))
        .expect("read crates/")
        .map(|e| e.expect("entry of crates/").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Every `.rs` file under `dir`, except test files (`tests.rs`, anything under `tests/`).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read a source directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        path.is_ident("test")
            || (path.is_ident("cfg")
                && a.parse_args::<syn::Meta>()
                    .is_ok_and(|m| m.path().is_ident("test")))
    })
}

/// Functions longer than the limit: `(name, first line, lines)`.
#[derive(Default)]
struct LongFunctions(Vec<(String, usize, usize)>);

impl LongFunctions {
    fn measure(&mut self, name: &syn::Ident, fn_token: &syn::token::Fn, block: &syn::Block) {
        let first = fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        let lines = last + 1 - first;
        if lines > MAX_FUNCTION_LINES {
            self.0.push((name.to_string(), first, lines));
        }
    }
}

impl<'ast> Visit<'ast> for LongFunctions {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_test_only(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test_only(&f.attrs) {
            self.measure(&f.sig.ident, &f.sig.fn_token, &f.block);
            syn::visit::visit_item_fn(self, f);
        }
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test_only(&f.attrs) {
            self.measure(&f.sig.ident, &f.sig.fn_token, &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.measure(&f.sig.ident, &f.sig.fn_token, block);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

fn long_functions(source: &str) -> Vec<(String, usize, usize)> {
    let file = syn::parse_file(source).expect("every source file parses");
    if is_test_only(&file.attrs) {
        // A test module in a file of its own (`#![cfg(test)]`).
        return Vec::new();
    }
    let mut visitor = LongFunctions::default();
    visitor.visit_file(&file);
    visitor.0
}

#[test]
fn no_function_outside_tests_is_longer_than_100_lines() {
    let mut files = Vec::new();
    for dir in crates() {
        sources(&dir.join("src"), &mut files);
    }
    assert!(files.len() > 50, "only {} source files found", files.len());
    let mut long = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read a source file");
        for (name, line, lines) in long_functions(&text) {
            long.push(format!("{}:{line} {name}: {lines} lines", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_counts_from_fn_to_the_closing_brace_and_skips_tests() {
    let body = "    let x = 1;\n".repeat(MAX_FUNCTION_LINES - 2);
    let at_limit = format!("fn fits() {{\n{body}}}\n");
    assert!(long_functions(&at_limit).is_empty());
    let over = format!("struct S;\nimpl S {{\n    /// doc\n    fn too_long(&self) {{\n{body}    let y = 2;\n    }}\n}}\n");
    assert_eq!(
        long_functions(&over),
        vec![("too_long".to_string(), 4, MAX_FUNCTION_LINES + 1)]
    );
    let braces_in_strings =
        format!("fn strings() {{\n    let s = \"}}}}{{\";\n{body}    let c = '}}';\n}}\n");
    assert_eq!(long_functions(&braces_in_strings).len(), 1);
    let in_tests = format!("#[cfg(test)]\nmod tests {{\n{over}}}\n#[test]\n{at_limit}");
    assert!(long_functions(&in_tests).is_empty());
    assert!(long_functions(&format!("#![cfg(test)]\n{over}")).is_empty());
    let trait_default =
        format!("trait T {{\n    fn d(&self) {{\n{body}    let z = 3;\n    }}\n}}\n");
    assert_eq!(long_functions(&trait_default).len(), 1);
}

/// The `//!` doc of a crate's lib.rs and the modules it declares `pub`.
fn lib_doc_and_public_modules(lib: &str) -> (String, Vec<String>) {
    let doc: String = lib
        .lines()
        .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let file = syn::parse_file(lib).expect("lib.rs parses");
    let modules = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m)
                if matches!(m.vis, syn::Visibility::Public(_)) && !is_test_only(&m.attrs) =>
            {
                Some(m.ident.to_string())
            }
            _ => None,
        })
        .collect();
    (doc, modules)
}

#[test]
fn every_crate_lib_doc_names_each_public_module() {
    let mut missing = Vec::new();
    for dir in crates() {
        let lib = dir.join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        let (doc, modules) = lib_doc_and_public_modules(&text);
        assert!(
            doc.lines().count() >= 2,
            "{} has no crate doc saying what lives there",
            lib.display()
        );
        for module in modules {
            let named = doc.contains(&format!("`{module}`"))
                || doc.contains(&format!("[`{module}`]"))
                || doc.contains(&format!("{module}/"))
                || doc.contains(&format!("({module})"));
            if !named {
                missing.push(format!("{}: pub mod {module}", lib.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "public modules the crate doc does not mention (say what lives there):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_readme_layout_names_every_crate() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let layout = readme
        .split("## Layout")
        .nth(1)
        .expect("README has a Layout section");
    for dir in crates() {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            layout.contains(&format!("crates/{name} ")),
            "README layout does not describe crates/{name}"
        );
    }
}

/// The simulator's registry and the node read protocol names and seeded bugs from two lists
/// (the node cannot depend on the simulator): they must accept exactly the same names, in any
/// case, for the same protocol, and offer the same mutants.
#[test]
fn the_node_and_the_simulator_agree_on_protocol_names_and_mutants() {
    use distsys_node::ProtocolName;
    use distsys_sim::registry;
    let mut node_names: Vec<&str> = ProtocolName::ALL.iter().map(|p| p.name()).collect();
    let mut sim_names: Vec<&str> = registry::all().iter().map(|p| p.name).collect();
    node_names.sort_unstable();
    sim_names.sort_unstable();
    assert_eq!(node_names, sim_names, "the same protocols");
    for protocol in registry::all() {
        let node = ProtocolName::parse(protocol.name).expect("the node knows it");
        for name in std::iter::once(protocol.name).chain(protocol.aliases.iter().copied()) {
            for spelling in [name.to_string(), name.to_uppercase(), format!(" {name} ")] {
                assert_eq!(
                    ProtocolName::parse(&spelling),
                    Some(node),
                    "node: {spelling:?}"
                );
                assert_eq!(
                    registry::lookup(&spelling).map(|p| p.name),
                    Some(protocol.name),
                    "simulator: {spelling:?}"
                );
            }
        }
        // The node persists each Ready before it sends: the bugs of pipelined writes are the
        // simulator's alone.
        let sim_bugs: Vec<&str> = (protocol.bugs)()
            .iter()
            .filter(|b| !b.needs_pipelined_writes)
            .map(|b| b.name)
            .collect();
        assert_eq!(node.mutants(), sim_bugs, "mutants of {}", protocol.name);
    }
    for other in ["", "raftt", "paxos2", "bft", "zab"] {
        assert!(ProtocolName::parse(other).is_none(), "node took {other:?}");
        assert!(
            registry::lookup(other).is_none(),
            "simulator took {other:?}"
        );
    }
}
