//! A host's module closure: the items of a module list, the paths they
//! name, and the files those import (`imports`, home-manager users),
//! transitively.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::env::Env;
use super::items::{ListItems, ModuleItem, list_items, module_item};
use super::{Ctx, Host, Unresolved, home_manager, located, needs_eval, root_text};
use crate::error::Result;
use crate::nix_paths;
use crate::refs;
use crate::syntax::{self, start};

/// Fills in the host's module closure: the files its modules import,
/// transitively, starting from its module files and inline modules.
pub(super) fn close(
    host: &mut Host,
    module_files: Vec<PathBuf>,
    inline: Vec<(PathBuf, SyntaxNode)>,
    ctx: &Ctx,
    unresolved: &mut Vec<Unresolved>,
) -> Result<()> {
    // Inline modules of a helper's list (`mkHost`) live outside its
    // definition.
    for (file, node) in &inline {
        host.paths.extend(path_literals(node, file));
    }
    let mut scan_nodes = inline;
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    host.direct_modules = module_files.clone();
    // Each queued file says whether it was reached through home-manager.
    let mut queue: VecDeque<(PathBuf, bool)> =
        module_files.into_iter().map(|f| (f, false)).collect();
    for (file, node) in &scan_nodes {
        queue.extend(import_paths(node, file, ctx, unresolved));
    }
    while let Some((file, home)) = queue.pop_front() {
        if home {
            host.home_files.insert(file.clone());
        }
        if !seen.insert(file.clone()) {
            continue;
        }
        let Some(root) = ctx.trees.parse(ctx.files, &file)? else {
            continue;
        };
        queue.extend(
            import_paths(root.syntax(), &file, ctx, unresolved)
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

/// Module files a module (or flake-parts module) imports: `imports = [ … ]`
/// and home-manager users' and shared modules, each with whether it was
/// reached through home-manager.
pub(super) fn import_paths(
    node: &SyntaxNode,
    file: &Path,
    ctx: &Ctx,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<(PathBuf, bool)> {
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
        let env = Rc::new(Env::around(value.syntax()));
        let mut list = ListItems::default();
        if is_hm && !matches!(syntax::unparen(value.clone()), ast::Expr::List(_)) {
            // `home-manager.users.NAME = import ./x.nix;` (a set is scanned
            // through its own `imports` entry).
            if matches!(syntax::unparen(value.clone()), ast::Expr::AttrSet(_)) {
                continue;
            }
            list.items.push((value, env.clone()));
        } else {
            list_items(&value, &env, &mut list, 0);
        }
        let report = |unresolved: &mut Vec<Unresolved>, node: &SyntaxNode, what: String| {
            unresolved.push(located(file, &root_text(node), start(node), what))
        };
        for part in list.unknown {
            let what = needs_eval::what(&part, &env).unwrap_or_else(|| {
                format!(
                    "import list `{}` is computed at evaluation time",
                    part.syntax()
                )
            });
            report(unresolved, part.syntax(), what);
        }
        for (item, env) in list.items {
            match module_item(&item, &env, file, ctx.self_modules) {
                ModuleItem::Path(p) => match nix_paths::module_file(ctx.files, &p) {
                    Some(p) => out.push((p, in_home_manager)),
                    None => report(
                        unresolved,
                        item.syntax(),
                        format!("imported module {} does not exist", p.display()),
                    ),
                },
                // Inline modules here are scanned as part of `node`.
                ModuleItem::Inline(..) | ModuleItem::External => {}
                ModuleItem::Unknown => {
                    let what = needs_eval::what(&item, &env).unwrap_or_else(|| {
                        format!("import `{}` is computed at evaluation time", item.syntax())
                    });
                    report(unresolved, item.syntax(), what)
                }
            }
        }
    }
    out
}
