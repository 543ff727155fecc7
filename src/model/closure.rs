//! A host's module closure: the items of a module list, the paths they
//! name, and the files those import (`imports`, home-manager users),
//! transitively.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::env::{Env, path_text, string_text};
use super::hosts::flatten_apply;
use super::{Host, Unresolved, home_manager, located};
use crate::error::Result;
use crate::files::Files;
use crate::nix_paths;
use crate::refs;
use crate::syntax::{self, start};

/// Fills in the host's module closure: the files its modules import,
/// transitively, starting from its module files and inline modules.
pub(super) fn close(
    host: &mut Host,
    def_file: &Path,
    module_files: Vec<PathBuf>,
    inline: Vec<SyntaxNode>,
    files: &dyn Files,
    unresolved: &mut Vec<Unresolved>,
) -> Result<()> {
    // Inline modules of a helper's list (`mkHost`) live outside `expr`.
    for node in &inline {
        host.paths.extend(path_literals(node, def_file));
    }
    let mut scan_nodes: Vec<(PathBuf, SyntaxNode)> = inline
        .iter()
        .map(|n| (def_file.to_path_buf(), n.clone()))
        .collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    host.direct_modules = module_files.clone();
    // Each queued file says whether it was reached through home-manager.
    let mut queue: VecDeque<(PathBuf, bool)> =
        module_files.into_iter().map(|f| (f, false)).collect();
    for (file, node) in &scan_nodes {
        queue.extend(import_paths(node, file, files, unresolved));
    }
    while let Some((file, home)) = queue.pop_front() {
        if home {
            host.home_files.insert(file.clone());
        }
        if !seen.insert(file.clone()) {
            continue;
        }
        let Some(src) = files.read(&file)? else {
            continue;
        };
        let root = syntax::parse(&file, &src)?;
        queue.extend(
            import_paths(root.syntax(), &file, files, unresolved)
                .into_iter()
                .map(|(p, h)| (p, h || home)),
        );
        host.paths.extend(path_literals(root.syntax(), &file));
        scan_nodes.push((file.clone(), root.syntax().clone()));
        host.files.push(file);
    }
    host.home_manager_global_pkgs = scan_nodes
        .iter()
        .any(|(_, node)| home_manager::uses_global_pkgs(node));
    Ok(())
}

/// Resolved relative path literals under `node`.
pub(super) fn path_literals(node: &SyntaxNode, file: &Path) -> Vec<PathBuf> {
    nix_paths::literals_in(node, file)
        .into_iter()
        .map(|l| l.target)
        .collect()
}

pub(super) fn list_items(expr: &ast::Expr, env: &Env, out: &mut Vec<ast::Expr>, depth: usize) {
    if depth > 8 {
        return;
    }
    match syntax::unparen(expr.clone()) {
        ast::Expr::List(list) => out.extend(list.items()),
        ast::Expr::BinOp(op) => {
            for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                list_items(&side, env, out, depth + 1);
            }
        }
        other => match env.lookup(&other) {
            Some(v) => list_items(&v, env, out, depth + 1),
            None => out.push(other),
        },
    }
}

pub(super) enum ModuleItem {
    Path(PathBuf),
    Inline(SyntaxNode),
    External,
    Unknown,
}

pub(super) fn module_item(item: &ast::Expr, env: &Env, base_file: &Path) -> ModuleItem {
    // `modulesPath + "/…"` is nixpkgs' own module tree, not the repository.
    let from_nixpkgs = item
        .syntax()
        .descendants()
        .filter_map(ast::Ident::cast)
        .any(|i| i.syntax().text() == "modulesPath");
    if from_nixpkgs {
        return ModuleItem::External;
    }
    match syntax::unparen(item.clone()) {
        ast::Expr::PathRel(p) => match path_text(&p, env) {
            Some(text) => match nix_paths::resolve(base_file, &text) {
                Some(p) => ModuleItem::Path(p),
                None => ModuleItem::External,
            },
            None => ModuleItem::Unknown,
        },
        // `./hosts + "/${name}"`
        ast::Expr::BinOp(op) if op.operator() == Some(ast::BinOpKind::Add) => {
            let text = match (op.lhs().map(syntax::unparen), op.rhs().map(syntax::unparen)) {
                (Some(ast::Expr::PathRel(p)), Some(ast::Expr::Str(s))) => path_text(&p, env)
                    .zip(string_text(&s, env))
                    .map(|(a, b)| a + &b),
                _ => None,
            };
            match text.and_then(|t| nix_paths::resolve(base_file, &t)) {
                Some(p) => ModuleItem::Path(p),
                None => ModuleItem::Unknown,
            }
        }
        ast::Expr::AttrSet(s) => ModuleItem::Inline(s.syntax().clone()),
        ast::Expr::Lambda(l) => ModuleItem::Inline(l.syntax().clone()),
        ast::Expr::Select(_) => ModuleItem::External,
        ast::Expr::Apply(a) => {
            let (f, args) = flatten_apply(&ast::Expr::Apply(a.clone()));
            let is_import = syntax::select_path(&f).is_some_and(|p| p == ["import"]);
            match (is_import, args.first()) {
                (true, Some(arg)) => module_item(arg, env, base_file),
                _ => ModuleItem::Unknown,
            }
        }
        other => match env.lookup(&other) {
            Some(v) if v.syntax() != item.syntax() => module_item(&v, env, base_file),
            _ if matches!(other, ast::Expr::Ident(_)) => ModuleItem::External,
            _ => ModuleItem::Unknown,
        },
    }
}

/// Module files a module (or flake-parts module) imports: `imports = [ … ]`
/// and home-manager users' and shared modules, each with whether it was
/// reached through home-manager.
pub(super) fn import_paths(
    node: &SyntaxNode,
    file: &Path,
    files: &dyn Files,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<(PathBuf, bool)> {
    // The file's text, for positions in messages; made only when needed.
    let text = || {
        node.ancestors()
            .last()
            .map(|r| r.to_string())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for apv in node.descendants().filter_map(ast::AttrpathValue::cast) {
        let Some(path) = refs::full_path(&apv) else {
            continue;
        };
        let is_imports = path.last().is_some_and(|l| l == "imports");
        let is_hm = home_manager::is_user_or_shared_modules(&path);
        if !(is_imports || is_hm) {
            continue;
        }
        let Some(value) = apv.value() else { continue };
        let in_home_manager = path.first().is_some_and(|p| p == "home-manager");
        let mut items = Vec::new();
        if is_hm && !matches!(syntax::unparen(value.clone()), ast::Expr::List(_)) {
            // `home-manager.users.NAME = import ./x.nix;` (a set is scanned
            // through its own `imports` entry).
            if matches!(syntax::unparen(value.clone()), ast::Expr::AttrSet(_)) {
                continue;
            }
            items.push(value);
        } else {
            list_items(&value, &Env::default(), &mut items, 0);
        }
        for item in items {
            match module_item(&item, &Env::default(), file) {
                ModuleItem::Path(p) => match nix_paths::module_file(files, &p) {
                    Some(p) => out.push((p, in_home_manager)),
                    None => unresolved.push(located(
                        file,
                        &text(),
                        start(item.syntax()),
                        format!("imported module {} does not exist", p.display()),
                    )),
                },
                ModuleItem::Inline(_) | ModuleItem::External => {}
                ModuleItem::Unknown => unresolved.push(located(
                    file,
                    &text(),
                    start(item.syntax()),
                    format!("import `{}` is computed at evaluation time", item.syntax()),
                )),
            }
        }
    }
    out
}
