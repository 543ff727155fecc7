//! Inputs other than ours that pin llama.cpp sources or forks: their
//! definitions, their formals in `outputs`, and their uses.

use std::path::Path;

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::removal::remove_lines;
use crate::config::Config;
use crate::edit::Splice;
use crate::flake;
use crate::model;
use crate::steps::Plan;
use crate::syntax::{self, end, start};

/// Inputs other than ours that pin llama.cpp sources or forks.
pub fn fork_inputs(flake: &flake::Flake, config: &Config) -> Vec<String> {
    flake.llama_cpp_forks(&config.input, &config.url)
}

/// The splices that turn each use of a fork's package in `file` into the
/// variant's package, when every host importing the file (`hosts`) has the
/// same variant, each with a note; a blocked plan for any other use.
pub(super) fn replace_uses(
    config: &Config,
    file: &Path,
    text: &str,
    root: &ast::Root,
    forks: &[String],
    hosts: Option<&[String]>,
    notes: &mut Vec<String>,
) -> Result<Vec<Splice>, Plan> {
    let mut splices = Vec::new();
    for fork in forks {
        for (range, node) in fork_uses(root, fork) {
            let variant = hosts.and_then(|hosts| {
                // One variant shared by every host of the file, and at least one host.
                let mut vs = hosts.iter().map(|h| config.build(h));
                let first = vs.next()??;
                vs.all(|v| v.as_ref() == Some(&first)).then_some(first)
            });
            let in_package_list =
                node.kind() == SyntaxKind::NODE_SELECT && node.to_string().contains(".packages.");
            match variant {
                Some(v) if in_package_list => {
                    splices.push(Splice::replace(range, format!("pkgs.{}", v.package_attr())));
                    notes.push(format!(
                        "{}: the fork's package became pkgs.{}",
                        model::location(file, text, start(&node)),
                        v.package_attr()
                    ));
                }
                _ => {
                    return Err(Plan::blocked(
                        format!(
                            "{}: input `{fork}` (a pinned llama.cpp) is used here",
                            model::location(file, text, start(&node))
                        ),
                        format!(
                            "replace this use with the upstream input `{}` by hand, then run `flake-migrate up`",
                            config.input
                        ),
                    ));
                }
            }
        }
    }
    Ok(splices)
}

/// Splices that remove the fork inputs' definitions and formals.
pub(super) fn remove_inputs(text: &str, flake: &flake::Flake, forks: &[String]) -> Vec<Splice> {
    let mut splices = Vec::new();
    let mut entries: Vec<SyntaxNode> = Vec::new();
    if let Some(set) = flake.inputs_set() {
        for (names, apv) in syntax::named_entries(&set) {
            if forks.contains(&names[0]) {
                entries.push(apv.syntax().clone());
            }
        }
    }
    for (names, apv) in flake.top_entries("inputs") {
        if names.len() > 1 && forks.contains(&names[1]) {
            entries.push(apv.syntax().clone());
        }
    }
    for e in entries {
        splices.push(remove_lines(text, start(&e), end(&e)));
    }
    if let Some(lambda) = flake.outputs_lambda()
        && let Some(ast::Param::Pattern(p)) = lambda.param()
    {
        for entry in p.pat_entries() {
            if entry
                .ident()
                .is_some_and(|i| forks.iter().any(|f| i.syntax().text() == f.as_str()))
            {
                let s = start(entry.syntax());
                let mut e = end(entry.syntax());
                let rest = &text[e..];
                if let Some(comma) = rest.find(',').filter(|c| rest[..*c].trim().is_empty()) {
                    e += comma + 1;
                }
                splices.push(Splice::delete(s..e));
            }
        }
    }
    splices
}

/// Uses of a fork input outside `inputs`: `inputs.<fork>…` and a bare
/// `<fork>` bound by the outputs formals.
fn fork_uses(root: &ast::Root, fork: &str) -> Vec<(std::ops::Range<usize>, SyntaxNode)> {
    let mut out = Vec::new();
    for node in root.syntax().descendants() {
        if node.kind() != SyntaxKind::NODE_SELECT {
            continue;
        }
        if node
            .parent()
            .is_some_and(|p| p.kind() == SyntaxKind::NODE_SELECT)
        {
            continue;
        }
        let text = node.to_string();
        let Some(first) = node.first_child() else {
            continue;
        };
        let names_fork = text.starts_with(&format!("inputs.{fork}."))
            || text == format!("inputs.{fork}")
            || (first.kind() == SyntaxKind::NODE_IDENT && first.text() == fork);
        if names_fork && !inside_inputs(&node) {
            out.push((start(&node)..end(&node), node));
        }
    }
    out
}

fn inside_inputs(node: &SyntaxNode) -> bool {
    node.ancestors()
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|a| a.attrpath().and_then(|p| syntax::attrpath_names(&p)))
        .any(|n| n[0] == "inputs")
}
