//! Finding host definitions: the entries of `nixosConfigurations` in
//! flake.nix or a flake-parts module, whatever shape builds the set.

use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::files::Files;
use crate::nix_paths;
use crate::syntax;

/// `(name, definition)` for each entry of `nixosConfigurations` in a file.
pub(super) fn host_definitions(
    root: &ast::Root,
    file: &Path,
    files: &dyn Files,
) -> Vec<(String, ast::Expr)> {
    let mut out: Vec<(String, ast::Expr)> = Vec::new();
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let Some(path) = apv.attrpath().and_then(|p| syntax::attrpath_names(&p)) else {
            continue;
        };
        let Some(pos) = path.iter().position(|n| n == "nixosConfigurations") else {
            continue;
        };
        let Some(value) = apv.value() else { continue };
        if let Some(name) = path.get(pos + 1) {
            out.push((name.clone(), value));
        } else {
            collect_hosts(value, file, files, &mut out);
        }
    }
    out
}

fn collect_hosts(
    expr: ast::Expr,
    file: &Path,
    files: &dyn Files,
    out: &mut Vec<(String, ast::Expr)>,
) {
    match syntax::body(expr) {
        ast::Expr::AttrSet(set) => {
            for (names, apv) in syntax::named_entries(&set) {
                if let Some(v) = apv.value() {
                    out.push((names[0].clone(), v));
                }
            }
        }
        ast::Expr::BinOp(op) => {
            for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                collect_hosts(side, file, files, out);
            }
        }
        // `genAttrs [ "a" "b" ] mkHost`: each name applied to the function;
        // `mapAttrs (name: _: mkHost name) (readDir ./hosts)`: each
        // directory of ./hosts.
        ast::Expr::Apply(apply) => {
            let (func, args) = flatten_apply(&ast::Expr::Apply(apply.clone()));
            let is_gen = syntax::select_path(&func)
                .is_some_and(|p| p.last().is_some_and(|l| l == "genAttrs"));
            if is_gen && let [ast::Expr::List(list), f, ..] = &args[..] {
                for item in list.items() {
                    if let ast::Expr::Str(s) = item
                        && let Some(name) = syntax::string_literal(&s)
                    {
                        out.push((name, f.clone()));
                    }
                }
            }
            let is_map = syntax::select_path(&func)
                .is_some_and(|p| p.last().is_some_and(|l| l == "mapAttrs"));
            if is_map && let [f, dir_expr, ..] = &args[..] {
                for name in read_dir_names(dir_expr, file, files) {
                    out.push((name, f.clone()));
                }
            }
        }
        _ => {}
    }
}

/// The subdirectories of `./dir` in `readDir ./dir`, from the tracked files.
fn read_dir_names(expr: &ast::Expr, file: &Path, files: &dyn Files) -> Vec<String> {
    let (func, args) = flatten_apply(expr);
    let is_read_dir =
        syntax::select_path(&func).is_some_and(|p| p.last().is_some_and(|l| l == "readDir"));
    let Some(ast::Expr::PathRel(p)) = args.first().map(|a| syntax::unparen(a.clone())) else {
        return Vec::new();
    };
    let Some(dir) = is_read_dir
        .then(|| nix_paths::resolve(file, &p.syntax().to_string()))
        .flatten()
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = files
        .nix_files()
        .iter()
        .filter_map(|f| f.strip_prefix(&dir).ok())
        .filter(|rest| rest.components().count() > 1)
        .filter_map(|rest| rest.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    names.dedup();
    names
}

/// `f a b` as `(f, [a, b])`.
pub(super) fn flatten_apply(expr: &ast::Expr) -> (ast::Expr, Vec<ast::Expr>) {
    let mut args = Vec::new();
    let mut e = syntax::unparen(expr.clone());
    while let ast::Expr::Apply(a) = &e {
        if let Some(arg) = a.argument() {
            args.push(arg);
        }
        match a.lambda() {
            Some(f) => e = syntax::unparen(f),
            None => break,
        }
    }
    args.reverse();
    (e, args)
}
