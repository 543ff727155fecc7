//! The items of a module list: what a list expression holds (through `++`,
//! `with`, let bindings and local helpers such as `modulesFor name`), and
//! what each item names (a file, an inline module, a module from outside).

use std::path::{Path, PathBuf};
use std::rc::Rc;

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::env::{Env, bind_param, path_text, string_text};
use super::hosts::flatten_apply;
use super::self_modules::{SelfModule, SelfModules};
use crate::nix_paths;
use crate::syntax;

/// A module list taken apart: its items, each with the environment it is
/// read in, and the parts that are lists computed at evaluation time.
#[derive(Default)]
pub(super) struct ListItems {
    pub items: Vec<(ast::Expr, Rc<Env>)>,
    pub unknown: Vec<ast::Expr>,
}

pub(super) fn list_items(expr: &ast::Expr, env: &Rc<Env>, out: &mut ListItems, depth: usize) {
    if depth > 8 {
        out.unknown.push(expr.clone());
        return;
    }
    match syntax::unparen(expr.clone()) {
        ast::Expr::List(list) => out.items.extend(list.items().map(|i| (i, env.clone()))),
        ast::Expr::BinOp(op) if op.operator() == Some(ast::BinOpKind::Concat) => {
            for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                list_items(&side, env, out, depth + 1);
            }
        }
        // `with inputs; [ … ]`: the items name what `with` brings into
        // scope, modules from outside the repository.
        ast::Expr::With(w) => match w.body() {
            Some(body) => list_items(&body, env, out, depth + 1),
            None => out.unknown.push(ast::Expr::With(w)),
        },
        ast::Expr::Apply(a) => match apply_helper(&ast::Expr::Apply(a.clone()), env) {
            Some((body, inner)) => list_items(&body, &Rc::new(inner), out, depth + 1),
            None => out.unknown.push(ast::Expr::Apply(a)),
        },
        other => match env.lookup(&other) {
            Some(v) => list_items(&v, env, out, depth + 1),
            None => out.unknown.push(other),
        },
    }
}

/// `modulesFor "a"` with `modulesFor = name: [ … ];` in scope: the helper's
/// body, with its parameters bound to the arguments.
fn apply_helper(call: &ast::Expr, env: &Env) -> Option<(ast::Expr, Env)> {
    let (func, args) = flatten_apply(call);
    let ast::Expr::Lambda(mut lambda) = syntax::unparen(env.lookup(&func)?) else {
        return None;
    };
    let mut inner = Env::around(lambda.syntax());
    inner.bindings.extend(env.bindings.clone());
    inner.strings.extend(env.strings.clone());
    let mut body = lambda.body()?;
    for (i, arg) in args.iter().enumerate() {
        bind_param(&lambda, arg, &mut inner);
        body = lambda.body()?;
        match syntax::unparen(body.clone()) {
            ast::Expr::Lambda(next) => lambda = next,
            // More arguments than parameters: the body is a function.
            _ if i + 1 < args.len() => return None,
            _ => {}
        }
    }
    Some((body, inner))
}

pub(super) enum ModuleItem {
    Path(PathBuf),
    /// A module written in place, in the given file.
    Inline(PathBuf, SyntaxNode),
    External,
    Unknown,
}

pub(super) fn module_item(
    item: &ast::Expr,
    env: &Env,
    base_file: &Path,
    self_modules: &SelfModules,
) -> ModuleItem {
    // `modulesPath + "/…"` is nixpkgs' own module tree, not the repository.
    let from_nixpkgs = item
        .syntax()
        .descendants()
        .filter_map(ast::Ident::cast)
        .any(|i| i.syntax().text() == "modulesPath");
    if from_nixpkgs {
        return ModuleItem::External;
    }
    let path_item =
        |text: Option<String>| match text.and_then(|t| nix_paths::resolve(base_file, &t)) {
            Some(p) => ModuleItem::Path(p),
            None => ModuleItem::Unknown,
        };
    match syntax::unparen(item.clone()) {
        ast::Expr::PathRel(p) => match path_text(&p, env) {
            Some(text) => match nix_paths::resolve(base_file, &text) {
                Some(p) => ModuleItem::Path(p),
                None => ModuleItem::External,
            },
            None => ModuleItem::Unknown,
        },
        // `./hosts + "/${name}"`
        ast::Expr::BinOp(op) if op.operator() == Some(ast::BinOpKind::Add) => path_item(
            match (op.lhs().map(syntax::unparen), op.rhs().map(syntax::unparen)) {
                (Some(ast::Expr::PathRel(p)), Some(ast::Expr::Str(s))) => path_text(&p, env)
                    .zip(string_text(&s, env))
                    .map(|(a, b)| a + &b),
                _ => None,
            },
        ),
        ast::Expr::AttrSet(s) => ModuleItem::Inline(base_file.to_path_buf(), s.syntax().clone()),
        ast::Expr::Lambda(l) => ModuleItem::Inline(base_file.to_path_buf(), l.syntax().clone()),
        select @ ast::Expr::Select(_) => {
            let path = syntax::select_path(&select).unwrap_or_default();
            if let Some(found) = self_modules.named_by(&path) {
                return match found {
                    Some(SelfModule::File(p)) => ModuleItem::Path(p.clone()),
                    Some(SelfModule::Inline(file, node)) => {
                        ModuleItem::Inline(file.clone(), node.clone())
                    }
                    None => ModuleItem::Unknown,
                };
            }
            match env.lookup(&select) {
                Some(v) if v.syntax() != item.syntax() => {
                    module_item(&v, env, base_file, self_modules)
                }
                // `inputs.x.nixosModules.y`: a module from another flake.
                _ => ModuleItem::External,
            }
        }
        ast::Expr::Apply(a) => {
            let (f, args) = flatten_apply(&ast::Expr::Apply(a.clone()));
            let is_import = syntax::select_path(&f).is_some_and(|p| p == ["import"]);
            match (is_import, args.first()) {
                (true, Some(arg)) => module_item(arg, env, base_file, self_modules),
                _ => ModuleItem::Unknown,
            }
        }
        other => match env.lookup(&other) {
            Some(v) if v.syntax() != item.syntax() => module_item(&v, env, base_file, self_modules),
            _ if matches!(other, ast::Expr::Ident(_)) => ModuleItem::External,
            _ => ModuleItem::Unknown,
        },
    }
}
