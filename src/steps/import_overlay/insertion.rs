//! Putting new code into a set or list in the layout it is written in.

use rnix::ast;
use rowan::ast::AstNode;

use crate::edit::{self, Splice};
use crate::syntax::{self, end, start};

/// Adds an entry after the last one of a set, in its indentation.
pub(super) fn add_entry(text: &str, set: &ast::AttrSet, entry: &str) -> Splice {
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
pub(super) fn append_item(text: &str, list: &ast::List, item: &str) -> Splice {
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
pub(super) fn prepend_item(text: &str, list: &ast::List, item: &str) -> Splice {
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
