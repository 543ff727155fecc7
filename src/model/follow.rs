//! Following one host's definition to its `nixosSystem` call and the
//! modules it lists.

use std::collections::BTreeSet;
use std::rc::Rc;

use rnix::ast;
use rowan::ast::AstNode;

use super::env::{Env, bind_param, call_attr, find_system_call, passes_inputs};
use super::hosts::{Arg, Definition};
use super::items::{ListItems, ModuleItem, list_items, module_item};
use super::{Ctx, Host, Unresolved, closure, located, root_text};
use crate::error::Result;
use crate::nix_paths;
use crate::syntax::{self, end, start};

pub(super) fn resolve_host(
    def: Definition,
    ctx: &Ctx,
    unresolved: &mut Vec<Unresolved>,
) -> Result<Host> {
    let Definition {
        name,
        kind,
        file: def_file,
        expr,
        args,
        env: shape_env,
        at,
    } = def;
    let range = start(&at)..end(&at);
    let mut host = Host {
        name: name.clone(),
        kind,
        def_file: def_file.clone(),
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
        package_set: None,
    };
    let mut env = Env::around(expr.syntax());
    env.bindings.extend(shape_env.bindings);
    env.strings.extend(shape_env.strings);
    // The file's text only when there is something to report: copying it
    // for every host would cost hosts × file size.
    let report = |unresolved: &mut Vec<Unresolved>, offset: usize, what: String| {
        unresolved.push(located(&def_file, &root_text(&at), offset, what))
    };
    let Some(call) = apply(expr.clone(), &args, env) else {
        report(
            unresolved,
            range.start,
            format!(
                "host `{name}`: no `{}` call or `modules` list found in its definition",
                kind.builder()
            ),
        );
        host.followed = false;
        return Ok(host);
    };
    // home-manager calls them `extraSpecialArgs`.
    host.inputs_in_modules = ["specialArgs", "extraSpecialArgs"].iter().any(|key| {
        call_attr(&call.args, key, &call.env, 0).is_some_and(|sa| passes_inputs(&sa, &call.env))
    });
    if let Some(set) = special_args_package_set(&call) {
        // In the host's definition file only: the edit goes there.
        if set.syntax().ancestors().last() == at.ancestors().last() {
            host.paths
                .extend(closure::path_literals(set.syntax(), &def_file));
            host.package_set = Some(start(set.syntax())..end(set.syntax()));
        }
    }
    let Some(modules) = call_attr(&call.args, "modules", &call.env, 0) else {
        report(
            unresolved,
            start(call.args.syntax()),
            format!(
                "host `{name}`: no `modules` found in the arguments of its `{}` call",
                kind.builder()
            ),
        );
        host.followed = false;
        return Ok(host);
    };
    let mut list = ListItems::default();
    list_items(&modules, &Rc::new(call.env.clone()), &mut list, 0);
    // The host's own list: a literal list inside its definition, either
    // written there or handed to a helper (`mkHost "a" { extraModules =
    // [ … ]; }`) whose items end up in `modules`.
    host.modules_list = modules
        .syntax()
        .descendants()
        .filter_map(ast::List::cast)
        .chain(
            list.items
                .iter()
                .filter_map(|(i, _)| i.syntax().parent().and_then(ast::List::cast)),
        )
        .find(|l| range.contains(&start(l.syntax())))
        .map(|l| start(l.syntax())..end(l.syntax()));
    for part in &list.unknown {
        report(
            unresolved,
            start(part.syntax()),
            format!(
                "host `{name}`: module list `{}` is computed at evaluation time",
                part.syntax()
            ),
        );
    }
    let mut module_files = Vec::new();
    let mut inline = Vec::new();
    for (item, item_env) in &list.items {
        match module_item(item, item_env, &def_file, ctx.self_modules) {
            ModuleItem::Path(p) => match nix_paths::module_file(ctx.files, &p) {
                Some(p) => {
                    if item_mentions_host(item, item_env) && host.own_module.is_none() {
                        host.own_module = Some(p.clone());
                    }
                    module_files.push(p);
                }
                None => report(
                    unresolved,
                    start(item.syntax()),
                    format!("host `{name}`: module {} does not exist", p.display()),
                ),
            },
            ModuleItem::Inline(file, node) => inline.push((file, node)),
            ModuleItem::External => {}
            ModuleItem::Unknown => report(
                unresolved,
                start(item.syntax()),
                format!(
                    "host `{name}`: module `{}` is computed at evaluation time",
                    item.syntax()
                ),
            ),
        }
    }
    host.paths
        .extend(closure::path_literals(expr.syntax(), &def_file));
    if at.text_range() != expr.syntax().text_range() {
        host.paths.extend(closure::path_literals(&at, &def_file));
    }
    closure::close(&mut host, module_files, inline, ctx, unresolved)?;
    Ok(host)
}

/// The arguments' set of the `import nixpkgs { … }` that makes the package
/// set passed as `specialArgs.pkgs` (written there, or bound in scope).
fn special_args_package_set(call: &super::env::SystemCall) -> Option<ast::AttrSet> {
    let special = call_attr(&call.args, "specialArgs", &call.env, 0)?;
    let mut pkgs = call_attr(&special, "pkgs", &call.env, 0)?;
    for _ in 0..4 {
        match call.env.lookup(&pkgs) {
            Some(bound) => pkgs = bound,
            None => break,
        }
    }
    syntax::import_args(&pkgs)
}

/// The `nixosSystem` call `expr` makes once applied to `args` (the host's
/// name, a set entry): a function bound in scope (`mkHost`) or written in
/// place (`name: mkHost name`) has its parameters bound first.
fn apply(expr: ast::Expr, args: &[Arg], mut env: Env) -> Option<super::env::SystemCall> {
    let mut func = syntax::unparen(expr.clone());
    if !args.is_empty()
        && let Some(bound @ ast::Expr::Lambda(_)) = env.lookup(&func).map(syntax::unparen)
    {
        func = bound;
    }
    let ast::Expr::Lambda(mut lambda) = func else {
        return find_system_call(expr, env, 0);
    };
    for arg in args {
        match arg {
            Arg::Name(name) => {
                if let Some(ast::Param::IdentParam(p)) = lambda.param() {
                    env.strings
                        .insert(p.syntax().text().to_string(), name.clone());
                }
            }
            Arg::Value(value) => bind_param(&lambda, value, &mut env),
        }
        match lambda.body().map(syntax::unparen)? {
            ast::Expr::Lambda(next) => lambda = next,
            body => return find_system_call(body, env, 0),
        }
    }
    // Parameters the shape does not give (`name: _: …` over readDir).
    let mut body = lambda.body()?;
    while let ast::Expr::Lambda(inner) = syntax::unparen(body.clone()) {
        body = inner.body()?;
    }
    find_system_call(body, env, 0)
}

fn item_mentions_host(item: &ast::Expr, env: &Env) -> bool {
    !env.strings.is_empty()
        && item
            .syntax()
            .descendants()
            .filter_map(ast::Ident::cast)
            .any(|i| env.strings.contains_key(&i.syntax().text().to_string()))
}
