//! The host names a set is made of without evaluation: a list of strings
//! (`genAttrs [ "a" "b" ]`) or the directories `readDir ./hosts` lists.

use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use super::env::Env;
use super::hosts::flatten_apply;
use crate::files::Files;
use crate::nix_paths;
use crate::syntax;

/// The strings of a list literal (or a let-bound one); `None` when any item
/// is not a plain string.
pub(super) fn names_of_list(expr: &ast::Expr, env: &Env) -> Option<Vec<String>> {
    let list = match syntax::unparen(expr.clone()) {
        ast::Expr::List(l) => l,
        other => match env.lookup(&other).map(syntax::unparen)? {
            ast::Expr::List(l) => l,
            _ => return None,
        },
    };
    list.items()
        .map(|item| match syntax::unparen(item) {
            ast::Expr::Str(s) => syntax::string_literal(&s),
            _ => None,
        })
        .collect()
}

/// The subdirectories of `./dir` in `readDir ./dir`, from the tracked files;
/// `None` when `expr` is not such a call.
pub(super) fn read_dir_names(
    expr: &ast::Expr,
    file: &Path,
    files: &dyn Files,
) -> Option<Vec<String>> {
    let (func, args) = flatten_apply(expr);
    let is_read_dir =
        syntax::select_path(&func).is_some_and(|p| p.last().is_some_and(|l| l == "readDir"));
    let Some(ast::Expr::PathRel(p)) = args.first().map(|a| syntax::unparen(a.clone())) else {
        return None;
    };
    let dir = is_read_dir
        .then(|| nix_paths::resolve(file, &p.syntax().to_string()))
        .flatten()?;
    let mut names: Vec<String> = files
        .nix_files()
        .iter()
        .filter_map(|f| f.strip_prefix(&dir).ok())
        .filter(|rest| rest.components().count() > 1)
        .filter_map(|rest| rest.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    names.dedup();
    Some(names)
}
