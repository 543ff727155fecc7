//! Turning a matched node into a reference of its kind: a plain one, one
//! inside a string interpolation, or the whole `.override { … }` chain.

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::{LlamaRef, RefKind};
use crate::syntax::{self, end, start};

pub(super) fn is_override_attr(name: &str) -> bool {
    matches!(name, "override" | "overrideAttrs" | "overrideDerivation")
}

/// `pkgs.llama-cpp` inside a string interpolation is reported as such.
pub(super) fn classify(node: &SyntaxNode, base: Option<String>) -> LlamaRef {
    let interpolated = node
        .ancestors()
        .take_while(|n| n.kind() != SyntaxKind::NODE_STRING)
        .any(|n| n.kind() == SyntaxKind::NODE_INTERPOL);
    LlamaRef {
        kind: if interpolated {
            RefKind::Interpolation
        } else if base.is_some() {
            RefKind::Select
        } else {
            RefKind::Bare
        },
        range: start(node)..end(node),
        base,
        own_instance: false,
    }
}

/// Climbs from `pkgs.llama-cpp.override` through applications,
/// parentheses and `.overrideAttrs` to the whole expression.
pub(super) fn override_chain(start_node: &SyntaxNode, base: Option<String>) -> LlamaRef {
    let mut node = start_node.clone();
    let mut args = Vec::new();
    let mut attrs = false;
    loop {
        if let Some(select) = ast::Select::cast(node.clone())
            && let Some(names) = select.attrpath().and_then(|p| syntax::attrpath_names(&p))
        {
            attrs |= names
                .iter()
                .any(|n| n == "overrideAttrs" || n == "overrideDerivation");
        }
        let Some(parent) = node.parent() else { break };
        match parent.kind() {
            SyntaxKind::NODE_APPLY if parent.first_child().as_ref() == Some(&node) => {
                if let Some(arg) = ast::Apply::cast(parent.clone()).and_then(|a| a.argument())
                    && let ast::Expr::AttrSet(set) = syntax::unparen(arg)
                    && !attrs
                {
                    for (names, apv) in syntax::named_entries(&set) {
                        let value = apv
                            .value()
                            .map(|v| v.syntax().to_string())
                            .unwrap_or_default();
                        args.push(format!("{} = {value}", names.join(".")));
                    }
                }
                node = parent;
            }
            SyntaxKind::NODE_PAREN => {
                let grand = parent.parent();
                let continues = grand.as_ref().is_some_and(|g| {
                    ast::Select::cast(g.clone())
                        .and_then(|s| s.attrpath())
                        .and_then(|p| syntax::attrpath_names(&p))
                        .is_some_and(|n| is_override_attr(&n[0]))
                });
                if continues {
                    node = grand.unwrap();
                } else {
                    // The parentheses only wrapped the chain: replace them too.
                    node = parent;
                    break;
                }
            }
            _ => break,
        }
    }
    LlamaRef {
        kind: RefKind::Override { args, attrs },
        range: start(&node)..end(&node),
        base,
        own_instance: false,
    }
}
