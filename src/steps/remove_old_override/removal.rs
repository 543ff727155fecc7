//! Cutting an expression out of a file: from its list or binding, with
//! its line and the comment above it.

use std::collections::BTreeMap;
use std::path::Path;

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::edit::{self, Splice};
use crate::error::Result;
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
        let begin = attached_comment_start(text, line_start, &text[line_start..from]);
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

/// Where the comment lines that describe the line at `line_start` begin:
/// the comment lines directly above it at the same indentation, up to a
/// blank line, a differently indented line, or a line of commented-out
/// code (`# ollama = prev.ollama.override {`), which is never the entry's.
fn attached_comment_start(text: &str, line_start: usize, indent: &str) -> usize {
    let mut begin = line_start;
    while begin > 0 {
        let prev_start = text[..begin - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[prev_start..begin - 1];
        let Some(comment) = line.strip_prefix(indent).and_then(|l| l.strip_prefix('#')) else {
            break;
        };
        if is_commented_out_code(comment) {
            break;
        }
        begin = prev_start;
    }
    begin
}

/// Whether the text of a comment reads as Nix code rather than prose: a
/// binding, or a line that opens or closes a set, list or call.
fn is_commented_out_code(comment: &str) -> bool {
    let c = comment.trim();
    let binding = c.split_once('=').is_some_and(|(lhs, rhs)| {
        !lhs.trim().is_empty()
            && !rhs.starts_with('=')
            && lhs
                .trim()
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.'\"".contains(ch))
    });
    binding || c.ends_with([';', '{', '[', '(']) || c.starts_with(['}', ']', ')'])
}

/// `after` (the file once the step's removals are applied) without the
/// bindings those removals left empty: `nixpkgs.overlays = [ ];`,
/// `imports = [ ];`, `packageOverrides = pkgs: { };`, `nixpkgs.config = { };`,
/// each with its attached comment. Empty bindings `before` already had stay.
pub(super) fn without_emptied(path: &Path, before: &str, mut after: String) -> Result<String> {
    let already =
        empty_bindings(path, before)?
            .into_iter()
            .fold(BTreeMap::new(), |mut m, (sig, _)| {
                *m.entry(sig).or_insert(0usize) += 1;
                m
            });
    loop {
        let mut kept = already.clone();
        let mut splices = Vec::new();
        for (sig, node) in empty_bindings(path, &after)? {
            match kept.get_mut(&sig) {
                Some(n) if *n > 0 => *n -= 1,
                _ => splices.push(remove_lines(&after, start(&node), end(&node))),
            }
        }
        if splices.is_empty() {
            return Ok(after);
        }
        after = edit::apply(path, &after, splices)?;
    }
}

/// Bindings of `overlays`, `imports`, `packageOverrides` or nixpkgs'
/// `config` whose value is empty, by their full attribute path.
fn empty_bindings(path: &Path, text: &str) -> Result<Vec<(String, SyntaxNode)>> {
    let root = syntax::parse(path, text)?;
    let mut out = Vec::new();
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let Some(names) = refs::full_path(&apv) else {
            continue;
        };
        let last = names.last().map(String::as_str);
        let container = matches!(last, Some("overlays" | "imports" | "packageOverrides"))
            || names == ["nixpkgs", "config"]
            || names == ["nixpkgs"];
        if container && apv.value().is_some_and(is_empty) {
            out.push((names.join("."), apv.syntax().clone()));
        }
    }
    Ok(out)
}

/// `[ ]`, `{ }`, or a function returning `{ }` (`pkgs: { }`).
fn is_empty(expr: ast::Expr) -> bool {
    match syntax::unparen(expr) {
        ast::Expr::List(l) => l.items().next().is_none(),
        ast::Expr::AttrSet(set) => syntax::entry_nodes(&set).next().is_none(),
        ast::Expr::Lambda(l) => l.body().is_some_and(is_empty),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(src: &str, what: &str) -> String {
        let from = src.find(what).unwrap();
        let splice = remove_lines(src, from, from + what.len());
        edit::apply(Path::new("m.nix"), src, vec![splice]).unwrap()
    }

    #[test]
    fn only_the_comment_about_the_binding_goes_not_commented_out_code_above_it() {
        let src = "{\n  # ollama = prev.ollama.override {\n  #   acceleration = \"cuda\";\n  # };\n  # CUDA build\n  # of llama.cpp\n  llama-cpp = 1;\n}\n";
        assert_eq!(
            removed(src, "llama-cpp = 1;"),
            "{\n  # ollama = prev.ollama.override {\n  #   acceleration = \"cuda\";\n  # };\n}\n"
        );
    }

    #[test]
    fn a_comment_after_a_blank_line_or_at_another_indent_is_not_attached() {
        let src = "{\n  # section: packages\n\n  llama-cpp = 1;\n  x = {\n  # about x\n    llama-cpp = 2;\n  };\n}\n";
        let out = removed(src, "llama-cpp = 1;");
        assert!(out.contains("# section: packages\n"), "{out}");
        let out = removed(src, "llama-cpp = 2;");
        assert!(out.contains("  # about x\n"), "{out}");
    }

    #[test]
    fn bindings_the_removals_emptied_go_and_empty_ones_already_there_stay() {
        let before = "{\n  imports = [ ];\n  # llama.cpp builds\n  nixpkgs.overlays = [\n    (import ./old.nix)\n  ];\n  nixpkgs.config.packageOverrides = pkgs: { llama-cpp = pkgs.llama-cpp; };\n  x = 1;\n}\n";
        let after = "{\n  imports = [ ];\n  # llama.cpp builds\n  nixpkgs.overlays = [ ];\n  nixpkgs.config.packageOverrides = pkgs: { };\n  x = 1;\n}\n";
        assert_eq!(
            without_emptied(Path::new("m.nix"), before, after.to_string()).unwrap(),
            "{\n  imports = [ ];\n  x = 1;\n}\n"
        );
    }
}
