//! Following one host's definition to its `nixosSystem` call and the
//! modules it lists.

use std::collections::BTreeSet;
use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use super::env::{Env, call_attr, find_system_call, passes_inputs};
use super::{Host, Unresolved, closure, located};
use crate::error::Result;
use crate::files::Files;
use crate::nix_paths;
use crate::syntax::{self, end, start};

pub(super) fn resolve_host(
    files: &dyn Files,
    def_file: &Path,
    text: &str,
    name: String,
    expr: ast::Expr,
    unresolved: &mut Vec<Unresolved>,
) -> Result<Host> {
    let range = start(expr.syntax())..end(expr.syntax());
    let mut host = Host {
        name: name.clone(),
        def_file: def_file.to_path_buf(),
        range: range.clone(),
        modules_list: None,
        own_module: None,
        direct_modules: Vec::new(),
        files: Vec::new(),
        inputs_in_modules: false,
        followed: true,
        paths: BTreeSet::new(),
        home_files: BTreeSet::new(),
        home_manager_global_pkgs: false,
    };
    let mut env = Env::around(expr.syntax());
    // `genAttrs [ … ] mkHost` hands us the function: apply it to the name.
    let call = match syntax::unparen(expr.clone()) {
        ast::Expr::Ident(i)
            if matches!(
                env.lookup(&ast::Expr::Ident(i.clone())),
                Some(ast::Expr::Lambda(_))
            ) =>
        {
            let Some(ast::Expr::Lambda(l)) = env.lookup(&ast::Expr::Ident(i)) else {
                unreachable!()
            };
            if let Some(ast::Param::IdentParam(p)) = l.param() {
                env.strings
                    .insert(p.syntax().text().to_string(), name.clone());
            }
            l.body().and_then(|b| find_system_call(b, env.clone(), 0))
        }
        // `mapAttrs (name: _: mkHost name) …` hands us a lambda.
        ast::Expr::Lambda(l) => {
            if let Some(ast::Param::IdentParam(p)) = l.param() {
                env.strings
                    .insert(p.syntax().text().to_string(), name.clone());
            }
            let mut body = l.body();
            while let Some(ast::Expr::Lambda(inner)) = body.clone().map(syntax::unparen) {
                body = inner.body();
            }
            body.and_then(|b| find_system_call(b, env.clone(), 0))
        }
        other => find_system_call(other, env.clone(), 0),
    };
    let Some(call) = call else {
        unresolved.push(located(
            def_file,
            text,
            range.start,
            format!(
                "host `{name}`: no `nixosSystem` call or `modules` list found in its definition"
            ),
        ));
        host.followed = false;
        return Ok(host);
    };
    host.inputs_in_modules = call_attr(&call.args, "specialArgs", &call.env, 0)
        .is_some_and(|sa| passes_inputs(&sa, &call.env));
    let mut module_files = Vec::new();
    let mut inline = Vec::new();
    if let Some(modules) = call_attr(&call.args, "modules", &call.env, 0) {
        let mut items = Vec::new();
        closure::list_items(&modules, &call.env, &mut items, 0);
        // The host's own list: a literal list inside its definition, either
        // written there or handed to a helper (`mkHost "a" { extraModules =
        // [ … ]; }`) whose items end up in `modules`.
        host.modules_list = modules
            .syntax()
            .descendants()
            .filter_map(ast::List::cast)
            .chain(
                items
                    .iter()
                    .filter_map(|i| i.syntax().parent().and_then(ast::List::cast)),
            )
            .find(|l| range.contains(&start(l.syntax())))
            .map(|l| start(l.syntax())..end(l.syntax()));
        for item in items {
            match closure::module_item(&item, &call.env, def_file) {
                closure::ModuleItem::Path(p) => {
                    if let Some(p) = nix_paths::module_file(files, &p) {
                        if item_mentions_host(&item, &call.env) && host.own_module.is_none() {
                            host.own_module = Some(p.clone());
                        }
                        module_files.push(p);
                    }
                }
                closure::ModuleItem::Inline(node) => inline.push(node),
                closure::ModuleItem::External => {}
                closure::ModuleItem::Unknown => unresolved.push(located(
                    def_file,
                    text,
                    start(item.syntax()),
                    format!(
                        "host `{name}`: module `{}` is computed at evaluation time",
                        item.syntax()
                    ),
                )),
            }
        }
    }
    host.paths
        .extend(closure::path_literals(expr.syntax(), def_file));
    closure::close(&mut host, def_file, module_files, inline, files, unresolved)?;
    Ok(host)
}

fn item_mentions_host(item: &ast::Expr, env: &Env) -> bool {
    !env.strings.is_empty()
        && item
            .syntax()
            .descendants()
            .filter_map(ast::Ident::cast)
            .any(|i| env.strings.contains_key(&i.syntax().text().to_string()))
}
