//! Cutting an expression out of a file: from its list or binding, with
//! its line and the comment above it.

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::edit::Splice;
use crate::refs;
use crate::syntax::{self, end, start};

/// The splice that removes the expression using the path: a list item
/// (`(import ./old.nix)`, `./old.nix`), and with it an inline module that
/// held nothing else; or a binding nobody else in the file uses.
pub(super) fn removal(text: &str, path_node: &SyntaxNode) -> Result<Splice, String> {
    // Climb `import ./x`, `callPackage ./x { }`, and parentheses.
    let mut node = path_node.clone();
    while let Some(parent) = node.parent() {
        match parent.kind() {
            SyntaxKind::NODE_APPLY | SyntaxKind::NODE_PAREN => node = parent,
            _ => break,
        }
    }
    let parent = node.parent().ok_or("the old override is the whole file")?;
    match parent.kind() {
        SyntaxKind::NODE_LIST => {
            let list = ast::List::cast(parent.clone()).expect("kind checked");
            if list.items().count() == 1
                && let Some(module) = sole_overlay_module(&parent)
            {
                return Ok(remove_lines(
                    text,
                    module.text_range().start().into(),
                    module.text_range().end().into(),
                ));
            }
            if list.items().count() == 1 {
                // The list's only item: leave an empty list, not `[\n ]`.
                let empty = if text.contains("[ ]") { "[ ]" } else { "[]" };
                return Ok(Splice::replace(start(&parent)..end(&parent), empty));
            }
            Ok(remove_lines(text, start(&node), end(&node)))
        }
        SyntaxKind::NODE_ATTRPATH_VALUE => {
            let apv = ast::AttrpathValue::cast(parent.clone()).expect("kind checked");
            let names = apv
                .attrpath()
                .and_then(|p| syntax::attrpath_names(&p))
                .ok_or("it is bound to a dynamic attribute")?;
            let name = names.last().expect("attrpaths are not empty");
            let root = parent.ancestors().last().expect("has a root");
            let uses = root
                .descendants()
                .filter_map(ast::Ident::cast)
                .filter(|i| i.syntax().text() == name.as_str())
                .count();
            if uses > 1 {
                return Err(format!(
                    "`{name}` is bound to the old override and used elsewhere in this file"
                ));
            }
            Ok(remove_lines(text, start(&parent), end(&parent)))
        }
        _ => Err(
            "the old override is used in an expression flake-migrate cannot remove safely".into(),
        ),
    }
}

/// `{ nixpkgs.overlays = [ X ]; }` or `({ ... }: { nixpkgs.overlays = [ X ]; })`
/// as an item of a modules list: the item to remove instead of `X` alone.
fn sole_overlay_module(list: &SyntaxNode) -> Option<SyntaxNode> {
    let apv = ast::AttrpathValue::cast(list.parent()?)?;
    let path = refs::full_path(&apv)?;
    if path != ["nixpkgs", "overlays"] {
        return None;
    }
    let mut set = apv.syntax().parent()?;
    // `nixpkgs = { overlays = [ … ]; }` nests one level deeper.
    if let Some(outer) = set.parent().and_then(ast::AttrpathValue::cast) {
        set = outer.syntax().parent()?;
    }
    let entries = syntax::entry_nodes(&ast::AttrSet::cast(set.clone())?).count();
    if entries != 1 {
        return None;
    }
    let mut item = set;
    while let Some(parent) = item.parent() {
        match parent.kind() {
            SyntaxKind::NODE_LAMBDA | SyntaxKind::NODE_PAREN => item = parent,
            SyntaxKind::NODE_LIST => return Some(item),
            _ => return None,
        }
    }
    None
}

/// Deletes `start..end`, with its whole line(s) and the comment lines just
/// above it when it stands alone on them; else with one adjacent space.
pub(super) fn remove_lines(text: &str, from: usize, to: usize) -> Splice {
    let line_start = text[..from].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[to..].find('\n').map_or(text.len(), |i| to + i);
    let alone_before = text[line_start..from].trim().is_empty();
    let after = text[to..line_end].trim();
    let alone_after = after.is_empty() || after.starts_with('#');
    if alone_before && alone_after {
        let mut begin = line_start;
        // Comment lines directly above describe what goes.
        while begin > 0 {
            let prev_start = text[..begin - 1].rfind('\n').map_or(0, |i| i + 1);
            if text[prev_start..begin - 1].trim_start().starts_with('#') {
                begin = prev_start;
            } else {
                break;
            }
        }
        let mut stop = (line_end + 1).min(text.len());
        // Do not leave two blank lines where there was one.
        let blank_before = text[..begin].ends_with("\n\n") || begin == 0;
        let next_line_end = text[stop..].find('\n').map(|i| stop + i);
        if blank_before
            && let Some(e) = next_line_end
            && text[stop..e].trim().is_empty()
        {
            stop = e + 1;
        }
        return Splice::delete(begin..stop);
    }
    if text[to..].starts_with(' ') {
        Splice::delete(from..to + 1)
    } else if from > 0 && text[..from].ends_with(' ') {
        Splice::delete(from - 1..to)
    } else {
        Splice::delete(from..to)
    }
}
