//! 0005: delete the old override file and every reference to it, and remove
//! inputs that pin other llama.cpp sources, with their uses.

use std::path::Path;

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::{Changeset, Context, Plan};
use crate::config::Config;
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::flake::{self, FLAKE_FILE};
use crate::model::{self, Model};
use crate::nix_paths;
use crate::old_override;
use crate::refs;
use crate::syntax::{self, end, start};

/// Inputs other than ours that pin llama.cpp sources or forks.
pub fn fork_inputs(flake: &flake::Flake, config: &Config) -> Vec<String> {
    let mut forks: Vec<String> = Vec::new();
    for e in flake.input_entries() {
        if e.input() == config.input || forks.iter().any(|f| f == e.input()) {
            continue;
        }
        if e.names_llama_cpp() {
            forks.push(e.input().to_string());
        }
    }
    forks
}

pub fn plan(ctx: &Context) -> Result<Plan> {
    let old = old_override::files(ctx.files, ctx.config)?;
    let flake_text = ctx.files.read(Path::new(FLAKE_FILE))?.unwrap_or_default();
    let forks = match flake::parse(&flake_text)? {
        Ok(f) => fork_inputs(&f, ctx.config),
        Err(_) => Vec::new(),
    };
    let model = Model::read(ctx.files)?;
    let file_hosts = model.file_hosts();
    let mut changes = Changeset::default();
    for path in &old {
        changes.files.insert(path.clone(), None);
        changes.notes.push(format!("deleted {}", path.display()));
    }
    for file in ctx.files.nix_files() {
        if old.contains(&file) {
            continue;
        }
        let Some(text) = ctx.files.read(&file)? else {
            continue;
        };
        if !old.iter().any(|o| mentions(&text, o))
            && !forks.iter().any(|f| text.contains(f.as_str()))
            && !text.contains(refs::PACKAGE)
        {
            continue;
        }
        let root = syntax::parse(&file, &text)?;
        let mut splices = Vec::new();
        match inline_overrides(&text, &root) {
            Ok(found) => {
                for (offset, splice) in found {
                    changes.notes.push(format!(
                        "{}: removed an inline overlay of nixpkgs' llama-cpp",
                        model::location(&file, &text, offset)
                    ));
                    splices.push(splice);
                }
            }
            Err((offset, why)) => {
                return Ok(Plan::blocked(
                    format!("{}: {why}", model::location(&file, &text, offset)),
                    "remove this override of nixpkgs' llama-cpp by hand, then run `flake-migrate up` to adopt step 0005",
                ));
            }
        }
        for path_node in root
            .syntax()
            .descendants()
            .filter(|n| n.kind() == SyntaxKind::NODE_PATH_REL)
        {
            let Some(target) = nix_paths::resolve(&file, &path_node.to_string()) else {
                continue;
            };
            let hits = old.iter().any(|o| {
                *o == target || o.parent() == Some(target.as_path()) && o.ends_with("default.nix")
            });
            if !hits {
                continue;
            }
            match removal(&text, &path_node) {
                Ok(s) => splices.push(s),
                Err(why) => {
                    return Ok(Plan::blocked(
                        format!(
                            "{}: {why}",
                            model::location(&file, &text, start(&path_node))
                        ),
                        "remove this use of the old override by hand, then run `flake-migrate up` to adopt step 0005",
                    ));
                }
            }
        }
        if file == Path::new(FLAKE_FILE) {
            if let Ok(flake) = flake::Flake::read(root.clone()) {
                splices.extend(remove_inputs(&text, &flake, &forks));
            }
        }
        for fork in &forks {
            for (range, node) in fork_uses(&root, fork) {
                let variant = file_hosts.get(&file).and_then(|hosts| {
                    let vs: Vec<_> = hosts
                        .iter()
                        .map(|h| ctx.config.hosts.get(h).copied())
                        .collect();
                    vs.iter().all(|v| *v == vs[0]).then(|| vs[0]).flatten()
                });
                let in_package_list = node.kind() == SyntaxKind::NODE_SELECT
                    && node.to_string().contains(".packages.");
                match variant {
                    Some(v) if in_package_list => {
                        splices.push(Splice::replace(range, format!("pkgs.{}", v.package_attr())));
                        changes.notes.push(format!(
                            "{}: the fork's package became pkgs.{}",
                            model::location(&file, &text, start(&node)),
                            v.package_attr()
                        ));
                    }
                    _ => {
                        return Ok(Plan::blocked(
                            format!(
                                "{}: input `{fork}` (a pinned llama.cpp) is used here",
                                model::location(&file, &text, start(&node))
                            ),
                            format!(
                                "replace this use with the upstream input `{}` by hand, then run `flake-migrate up`",
                                ctx.config.input
                            ),
                        ));
                    }
                }
            }
        }
        if !splices.is_empty() {
            changes
                .files
                .insert(file.clone(), Some(edit::apply(&file, &text, splices)?));
        }
    }
    for fork in &forks {
        changes.notes.push(format!(
            "removed input `{fork}` (a pinned llama.cpp source)"
        ));
    }
    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    changes.lock_flake = !forks.is_empty();
    Ok(Plan::Changes(changes))
}

/// Overlays written inline (`final: prev: { llama-cpp-cuda =
/// prev.llama-cpp.override { … }; }` in a list, or a file of overlays that
/// also defines other packages): the splices that remove their llama-cpp
/// entries, or the whole overlay when it holds nothing else.
fn inline_overrides(text: &str, root: &ast::Root) -> Result<Vec<(usize, Splice)>, (usize, String)> {
    let from_prev: Vec<std::ops::Range<usize>> = refs::find(root)
        .into_iter()
        .filter(|r| r.in_overlay())
        .map(|r| r.range)
        .collect();
    if from_prev.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for outer in root.syntax().descendants().filter_map(ast::Lambda::cast) {
        let Some(ast::Param::IdentParam(_)) = outer.param() else {
            continue;
        };
        let Some(ast::Expr::Lambda(inner)) = outer.body().map(syntax::unparen) else {
            continue;
        };
        let Some(ast::Param::IdentParam(_)) = inner.param() else {
            continue;
        };
        let Some(ast::Expr::AttrSet(set)) = inner.body().map(syntax::body) else {
            continue;
        };
        let entries = syntax::named_entries(&set);
        let llama: Vec<&ast::AttrpathValue> = entries
            .iter()
            .filter(|(n, apv)| {
                n[0].starts_with(refs::PACKAGE)
                    && from_prev.iter().any(|r| {
                        apv.syntax()
                            .text_range()
                            .contains_range(rnix::TextRange::new(
                                (r.start as u32).into(),
                                (r.end as u32).into(),
                            ))
                    })
            })
            .map(|(_, apv)| apv)
            .collect();
        if llama.is_empty() {
            continue;
        }
        let whole_file = root_lambdas(root).contains(outer.syntax());
        let only_llama = llama.len() == entries.len() && set.inherits().next().is_none();
        if only_llama && whole_file {
            continue; // an old override file: deleted as a whole
        }
        if only_llama {
            let at = start(outer.syntax());
            out.push((at, removal(text, outer.syntax()).map_err(|why| (at, why))?));
        } else {
            for apv in llama {
                out.push((
                    start(apv.syntax()),
                    remove_lines(text, start(apv.syntax()), end(apv.syntax())),
                ));
            }
        }
    }
    Ok(out)
}

/// The lambdas a file's expression starts with (`{ inputs }: final: prev:`).
fn root_lambdas(root: &ast::Root) -> Vec<SyntaxNode> {
    let mut out = Vec::new();
    let mut expr = root.expr();
    while let Some(ast::Expr::Lambda(l)) = expr.map(syntax::unparen) {
        out.push(l.syntax().clone());
        expr = l.body();
    }
    out
}

fn mentions(text: &str, old: &Path) -> bool {
    let name = old.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = old
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    text.contains(name) || (name == "default.nix" && text.contains(dir))
}

/// The splice that removes the expression using the path: a list item
/// (`(import ./old.nix)`, `./old.nix`), and with it an inline module that
/// held nothing else; or a binding nobody else in the file uses.
fn removal(text: &str, path_node: &SyntaxNode) -> Result<Splice, String> {
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
fn remove_lines(text: &str, from: usize, to: usize) -> Splice {
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

/// Splices that remove the fork inputs' definitions and formals.
fn remove_inputs(text: &str, flake: &flake::Flake, forks: &[String]) -> Vec<Splice> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn without_inline_overrides(src: &str) -> String {
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let splices = inline_overrides(src, &root)
            .unwrap()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        crate::edit::apply(Path::new("m.nix"), src, splices).unwrap()
    }

    #[test]
    fn an_inline_overlay_of_only_llama_cpp_goes_with_its_comment() {
        let src = "{\n  nixpkgs.overlays = [\n    (final: prev: { htop = prev.htop; })\n    # CUDA build\n    (self: super: { llama-cpp = super.llama-cpp.override { cudaSupport = true; }; })\n  ];\n}\n";
        assert_eq!(
            without_inline_overrides(src),
            "{\n  nixpkgs.overlays = [\n    (final: prev: { htop = prev.htop; })\n  ];\n}\n"
        );
    }

    #[test]
    fn a_mixed_overlay_keeps_its_other_packages() {
        let src = "final: prev: {\n  foo = prev.hello;\n  llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; };\n}\n";
        assert_eq!(
            without_inline_overrides(src),
            "final: prev: {\n  foo = prev.hello;\n}\n"
        );
        // Not an old override file to delete: it defines `foo` too.
        assert!(!old_override::is_old_override(
            &syntax::parse(Path::new("m.nix"), src).unwrap()
        ));
    }

    #[test]
    fn an_overlay_of_only_llama_cpp_is_an_old_override_file() {
        let src = "final: prev: {\n  llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; };\n}\n";
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        assert!(old_override::is_old_override(&root));
        assert!(
            inline_overrides(src, &root).unwrap().is_empty(),
            "deleted whole, not edited"
        );
    }
}
