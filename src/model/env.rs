//! The environment a host's definition is read in: `let` bindings in
//! scope, the arguments substituted into a helper (`mkHost "alpha"`), and
//! the `nixosSystem` call (or helper call) whose arguments name its modules.

use std::collections::HashMap;

use rnix::SyntaxNode;
use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::hosts::flatten_apply;
use crate::host_kind::HostKind;
use crate::syntax;

/// Values known while following a host's definition: `let` bindings in
/// scope and the string arguments of a helper (`mkHost "alpha"`).
#[derive(Default, Clone)]
pub(super) struct Env {
    pub(super) bindings: HashMap<String, ast::Expr>,
    pub(super) strings: HashMap<String, String>,
}

impl Env {
    pub(super) fn around(node: &SyntaxNode) -> Env {
        let mut env = Env::default();
        for anc in node.ancestors() {
            if let Some(l) = ast::LetIn::cast(anc.clone()) {
                for (names, apv) in syntax::named_entries(&l) {
                    if names.len() == 1
                        && let Some(v) = apv.value()
                    {
                        env.bindings.entry(names[0].clone()).or_insert(v);
                    }
                }
            }
            if let Some(set) = ast::AttrSet::cast(anc.clone())
                && syntax::is_rec(&set)
            {
                for (names, apv) in syntax::named_entries(&set) {
                    if names.len() == 1
                        && let Some(v) = apv.value()
                    {
                        env.bindings.entry(names[0].clone()).or_insert(v);
                    }
                }
            }
        }
        env
    }

    /// The value of a bound name, or of an attribute of a bound set
    /// (`cfg.modules` where `cfg = { modules = [ … ]; }`).
    pub(super) fn lookup(&self, expr: &ast::Expr) -> Option<ast::Expr> {
        match syntax::unparen(expr.clone()) {
            ast::Expr::Ident(i) => self.bindings.get(&i.syntax().text().to_string()).cloned(),
            select @ ast::Expr::Select(_) => {
                let path = syntax::select_path(&select)?;
                let mut value = self.bindings.get(&path[0]).cloned()?;
                for name in &path[1..] {
                    value = call_attr(&value, name, self, 0)?;
                }
                Some(value)
            }
            _ => None,
        }
    }
}

/// The arguments of the `nixosSystem` call that builds a host, with the
/// environment they are read in.
pub(super) struct SystemCall {
    pub(super) args: ast::Expr,
    pub(super) env: Env,
}

pub(super) fn find_system_call(expr: ast::Expr, env: Env, depth: usize) -> Option<SystemCall> {
    if depth > 8 {
        return None;
    }
    let expr = syntax::unparen(expr);
    if let ast::Expr::LetIn(_) = expr {
        return find_system_call(syntax::body(expr), env, depth + 1);
    }
    let (func, args) = flatten_apply(&expr);
    if let Some(path) = syntax::select_path(&func) {
        if path
            .last()
            .is_some_and(|l| HostKind::from_builder(l).is_some())
        {
            return args.last().map(|a| SystemCall {
                args: a.clone(),
                env: env.clone(),
            });
        }
        // A local helper: bind its parameters to the literal arguments.
        if path.len() == 1
            && let Some(ast::Expr::Lambda(lambda)) =
                env.bindings.get(&path[0]).cloned().map(syntax::unparen)
        {
            let mut inner = Env::around(lambda.syntax());
            inner.bindings.extend(env.bindings.clone());
            inner.strings.extend(env.strings.clone());
            let mut body = lambda.body();
            let mut lam = Some(lambda);
            for arg in &args {
                let Some(l) = lam.take() else { break };
                bind_param(&l, arg, &mut inner);
                body = l.body();
                if let Some(ast::Expr::Lambda(next)) = body.clone().map(syntax::unparen) {
                    lam = Some(next);
                }
            }
            return find_system_call(body?, inner, depth + 1);
        }
    }
    // `withSystem "x" ({ … }: nixosSystem { … })` and other wrappers:
    // the one nixosSystem call inside.
    let calls: Vec<ast::Apply> = expr
        .syntax()
        .descendants()
        .filter_map(ast::Apply::cast)
        .filter(|a| {
            a.lambda()
                .and_then(|f| syntax::select_path(&syntax::unparen(f)))
                .is_some_and(|p| {
                    p.last()
                        .is_some_and(|l| HostKind::from_builder(l).is_some())
                })
        })
        .collect();
    if let [call] = &calls[..] {
        return call.argument().map(|a| SystemCall { args: a, env });
    }
    // A helper from elsewhere (`lib.mkSystem { modules = [ … ]; }`): its
    // visible `modules` are the best static knowledge there is.
    if let Some(last) = args.last()
        && call_attr(last, "modules", &env, 0).is_some()
    {
        return Some(SystemCall {
            args: last.clone(),
            env,
        });
    }
    None
}

/// Binds the parameter of `lambda` to `arg` (a set's entries to the
/// names of a `{ a, b ? d }` pattern, defaults for those not given).
pub(super) fn bind_param(lambda: &ast::Lambda, arg: &ast::Expr, env: &mut Env) {
    match lambda.param() {
        Some(ast::Param::IdentParam(p)) => {
            let name = p.syntax().text().to_string();
            match syntax::unparen(arg.clone()) {
                ast::Expr::Str(s) => {
                    if let Some(v) = syntax::string_literal(&s) {
                        env.strings.insert(name.clone(), v);
                    }
                }
                // `mkHost name` where `name` is already known.
                ast::Expr::Ident(i) => {
                    if let Some(v) = env.strings.get(&i.syntax().to_string()).cloned() {
                        env.strings.insert(name.clone(), v);
                    }
                }
                _ => {}
            }
            env.bindings.insert(name, arg.clone());
        }
        Some(ast::Param::Pattern(pat)) => {
            if let ast::Expr::AttrSet(set) = syntax::unparen(arg.clone()) {
                for (names, apv) in syntax::named_entries(&set) {
                    let is_param = pat.pat_entries().any(|e| {
                        e.ident()
                            .is_some_and(|i| i.syntax().text() == names[0].as_str())
                    });
                    if names.len() == 1
                        && is_param
                        && let Some(v) = apv.value()
                    {
                        if let ast::Expr::Str(s) = syntax::unparen(v.clone())
                            && let Some(text) = syntax::string_literal(&s)
                        {
                            env.strings.insert(names[0].clone(), text);
                        }
                        env.bindings.insert(names[0].clone(), v);
                    }
                }
                let given: Vec<String> = syntax::named_entries(&set)
                    .into_iter()
                    .filter_map(|(n, _)| n.into_iter().next())
                    .chain(
                        set.inherits()
                            .flat_map(|i| i.attrs().filter_map(|a| syntax::attr_name(&a))),
                    )
                    .collect();
                for entry in pat.pat_entries() {
                    if let (Some(ident), Some(default)) = (entry.ident(), entry.default()) {
                        let name = ident.syntax().text().to_string();
                        if !given.contains(&name) {
                            env.bindings.insert(name, default);
                        }
                    }
                }
            }
        }
        None => {}
    }
}

/// The value of attribute `name` in the call's argument set (through `//`
/// merges, the right side winning, and let-bound sets).
pub(super) fn call_attr(
    expr: &ast::Expr,
    name: &str,
    env: &Env,
    depth: usize,
) -> Option<ast::Expr> {
    if depth > 8 {
        return None;
    }
    match syntax::unparen(expr.clone()) {
        ast::Expr::AttrSet(set) => {
            for (names, apv) in syntax::named_entries(&set) {
                if names == [name] {
                    return apv.value();
                }
            }
            for inherit in set.inherits() {
                if let Some(attr) = inherit
                    .attrs()
                    .find(|a| syntax::attr_name(a).as_deref() == Some(name))
                {
                    // `inherit x;` takes the binding in scope when we know
                    // it; the name itself otherwise (a function argument).
                    return env
                        .bindings
                        .get(name)
                        .cloned()
                        .filter(|_| inherit.from().is_none())
                        .or_else(|| ast::Expr::cast(attr.syntax().clone()));
                }
            }
            None
        }
        ast::Expr::BinOp(op) => op
            .rhs()
            .and_then(|r| call_attr(&r, name, env, depth + 1))
            .or_else(|| op.lhs().and_then(|l| call_attr(&l, name, env, depth + 1))),
        other => env
            .lookup(&other)
            .and_then(|v| call_attr(&v, name, env, depth + 1)),
    }
}

pub(super) fn passes_inputs(special_args: &ast::Expr, env: &Env) -> bool {
    match syntax::unparen(special_args.clone()) {
        ast::Expr::AttrSet(set) => {
            syntax::named_entries(&set)
                .iter()
                .any(|(n, _)| n == &["inputs"])
                || set.inherits().any(|i| {
                    i.attrs()
                        .any(|a| syntax::attr_name(&a).as_deref() == Some("inputs"))
                })
        }
        ast::Expr::BinOp(op) => [op.lhs(), op.rhs()]
            .into_iter()
            .flatten()
            .any(|s| passes_inputs(&s, env)),
        other => env.lookup(&other).is_some_and(|v| passes_inputs(&v, env)),
    }
}

/// A string's text, with `${name}` replaced by known strings.
pub(super) fn string_text(s: &ast::Str, env: &Env) -> Option<String> {
    let mut out = String::new();
    for part in s.normalized_parts() {
        match part {
            ast::InterpolPart::Literal(text) => out.push_str(&text),
            ast::InterpolPart::Interpolation(i) => {
                let name = i.expr().and_then(|e| syntax::select_path(&e))?;
                out.push_str(env.strings.get(&name.join("."))?);
            }
        }
    }
    Some(out)
}

/// The text of a relative path, with `${name}` replaced by known strings.
pub(super) fn path_text(p: &ast::PathRel, env: &Env) -> Option<String> {
    let mut out = String::new();
    for part in p.parts() {
        match part {
            ast::InterpolPart::Literal(lit) => out.push_str(lit.text()),
            ast::InterpolPart::Interpolation(i) => {
                let name = i.expr().and_then(|e| syntax::select_path(&e))?;
                out.push_str(env.strings.get(&name.join("."))?);
            }
        }
    }
    Some(out)
}
