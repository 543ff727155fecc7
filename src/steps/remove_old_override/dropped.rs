//! What the overlays this step removes defined: the package names hosts may
//! still use, and the override arguments that go with them, which the
//! notes list so nothing is dropped without being named.

use std::collections::BTreeSet;
use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::model;
use crate::refs::{self, RefKind};
use crate::syntax::{self, end, start};

/// Names defined by removed overlay entries, across the whole step.
#[derive(Debug, Default)]
pub(super) struct Dropped {
    pub names: BTreeSet<String>,
}

impl Dropped {
    /// Records the removed entries `entries` of `file`: their names, and a
    /// note for each override of nixpkgs' llama-cpp they held.
    pub fn record(
        &mut self,
        file: &Path,
        text: &str,
        root: &ast::Root,
        entries: &[ast::AttrpathValue],
        notes: &mut Vec<String>,
    ) {
        let found = refs::find(root);
        for apv in entries {
            let Some(names) = apv.attrpath().and_then(|p| syntax::attrpath_names(&p)) else {
                continue;
            };
            let name = names[0].clone();
            let range = start(apv.syntax())..end(apv.syntax());
            for r in &found {
                let RefKind::Override { args, attrs } = &r.kind else {
                    continue;
                };
                if !(range.contains(&r.range.start) && r.range.end <= range.end) {
                    continue;
                }
                notes.push(format!(
                    "{}: dropped with the old override of `{name}`: {}",
                    model::location(file, text, r.range.start),
                    describe(args, *attrs)
                ));
            }
            self.names.insert(name);
        }
    }
}

/// `override { cudaSupport = true; } and an overrideAttrs`, as a reader
/// recognises it in the source.
fn describe(args: &[String], attrs: bool) -> String {
    let mut parts = Vec::new();
    if !args.is_empty() {
        parts.push(format!(
            "override {{ {} }}",
            args.iter()
                .map(|a| format!("{a};"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if attrs {
        parts.push("an overrideAttrs (its attributes are not carried over)".to_string());
    }
    if parts.is_empty() {
        "an override with no arguments".to_string()
    } else {
        parts.join(" and ")
    }
}
