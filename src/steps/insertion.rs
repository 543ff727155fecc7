//! Putting new code into a module: a set or list in the layout it is
//! written in, and where a module keeps its options.

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use crate::edit::{self, Splice};
use crate::refs;
use crate::syntax::{self, end, start};

/// Adds an entry after the last one of a set, in its indentation.
pub(crate) fn add_entry(text: &str, set: &ast::AttrSet, entry: &str) -> Splice {
    let last = syntax::entry_nodes(set).last();
    match last {
        Some(last) => edit::after_entry(text, &last, &[entry.to_string()]),
        None => {
            let open = end(set.syntax()) - 1;
            let indent = syntax::line_indent(text, start(set.syntax())).to_string();
            let unit = syntax::indent_unit(text);
            Splice::replace(
                start(set.syntax()) + 1..open,
                format!("\n{indent}{unit}{entry}\n{indent}"),
            )
        }
    }
}

/// Appends an item to a list, on its own line when the list has one item
/// per line, else inline.
pub(crate) fn append_item(text: &str, list: &ast::List, item: &str) -> Splice {
    let items: Vec<ast::Expr> = list.items().collect();
    let open = start(list.syntax());
    match items.last() {
        None => Splice::replace(open + 1..end(list.syntax()) - 1, format!(" {item} ")),
        Some(last) if edit::same_line(text, open, start(last.syntax())) => {
            Splice::insert(end(last.syntax()), format!(" {item}"))
        }
        Some(last) => edit::after_entry(text, last.syntax(), &[item.to_string()]),
    }
}

/// Puts an item first in a list, keeping the list's layout.
pub(crate) fn prepend_item(text: &str, list: &ast::List, item: &str) -> Splice {
    let open = start(list.syntax());
    match list.items().next() {
        None => Splice::replace(open + 1..end(list.syntax()) - 1, format!(" {item} ")),
        Some(first) if edit::same_line(text, open, start(first.syntax())) => {
            Splice::insert(start(first.syntax()), format!("{item} "))
        }
        Some(first) => {
            let indent = syntax::line_indent(text, start(first.syntax())).to_string();
            Splice::insert(start(first.syntax()), format!("{item}\n{indent}"))
        }
    }
}

/// The module's formals (when a function) and the set its options go in:
/// its top-level set, or that set's `config = { … }` when it declares
/// options too.
pub(crate) fn module_body(root: &ast::Root) -> Option<(Option<ast::Pattern>, ast::AttrSet)> {
    let (pattern, set) = match root.expr().map(syntax::unparen)? {
        ast::Expr::AttrSet(set) => (None, set),
        ast::Expr::Lambda(l) => {
            let pattern = match l.param()? {
                ast::Param::Pattern(p) => p,
                ast::Param::IdentParam(_) => return None,
            };
            match syntax::body(l.body()?) {
                ast::Expr::AttrSet(set) => (Some(pattern), set),
                _ => return None,
            }
        }
        _ => return None,
    };
    let config = syntax::named_entries(&set)
        .into_iter()
        .find(|(names, _)| names == &["config"])
        .and_then(|(_, apv)| match syntax::unparen(apv.value()?) {
            ast::Expr::AttrSet(inner) => Some(inner),
            _ => None,
        });
    Some((pattern, config.unwrap_or(set)))
}

/// The definition of option `path` under `node`, however nested (in a
/// module that declares options too, under its `config`).
pub(crate) fn option_entry(node: &SyntaxNode, path: &[&str]) -> Option<ast::AttrpathValue> {
    node.descendants()
        .filter_map(ast::AttrpathValue::cast)
        .find(|apv| {
            refs::full_path(apv).is_some_and(|p| {
                let p = p.strip_prefix(&["config".to_string()]).unwrap_or(&p);
                p == path
            })
        })
}

/// The list option `path` is set to under `node`, when it is a plain list.
pub(crate) fn option_list(node: &SyntaxNode, path: &[&str]) -> Option<ast::List> {
    match syntax::unparen(option_entry(node, path)?.value()?) {
        ast::Expr::List(l) => Some(l),
        _ => None,
    }
}

/// `item` added to the `overlays` of an `import nixpkgs { … }`'s arguments
/// `set`: appended to its list, or a new entry. `None` when `overlays` is
/// not a list written there (`common ++ [ … ]`).
pub(crate) fn add_overlay(text: &str, set: &ast::AttrSet, item: &str) -> Option<Splice> {
    let existing = syntax::named_entries(set)
        .into_iter()
        .find(|(names, _)| names == &["overlays"]);
    match existing {
        None => Some(add_entry(text, set, &format!("overlays = [ {item} ];"))),
        Some((_, apv)) => match syntax::unparen(apv.value()?) {
            ast::Expr::List(list) => Some(append_item(text, &list, item)),
            _ => None,
        },
    }
}
