//! Shapes that only evaluation can read: hosts made by snowfall-lib's
//! `mkFlake` from directories, modules loaded by import-tree, a `readDir`
//! filtered or transformed by Nix code. Named, with where they are, so the
//! reader knows to run with evaluation instead of trusting an empty answer.

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::env::Env;
use super::hosts::flatten_apply;
use crate::syntax;

const RUN_WITH_EVAL: &str = "needs evaluation (run without --no-eval)";

/// What an expression is, when it contains one of the shapes only
/// evaluation can read.
pub(super) fn what(expr: &ast::Expr, env: &Env) -> Option<String> {
    let calls = std::iter::once(expr.syntax().clone())
        .chain(expr.syntax().descendants())
        .filter_map(ast::Apply::cast);
    let mut read_dir = None;
    for call in calls {
        let (func, args) = flatten_apply(&ast::Expr::Apply(call.clone()));
        let Some(path) = syntax::select_path(&func) else {
            continue;
        };
        if let Some(what) = framework(&path, &args, env) {
            return Some(what);
        }
        if path.last().is_some_and(|l| l == "readDir") {
            read_dir.get_or_insert_with(|| call.syntax().to_string());
        }
    }
    read_dir
        .map(|d| format!("hosts from `{d}` filtered or transformed by Nix code: {RUN_WITH_EVAL}"))
}

/// `snowfall-lib.mkFlake { … }` (directly, or through `lib = snowfall-lib.mkLib
/// { … }`) and `import-tree ./dir`.
fn framework(path: &[String], args: &[ast::Expr], env: &Env) -> Option<String> {
    let last = path.last()?;
    if last == "mkFlake" && is_snowfall(path, env) {
        return Some(format!(
            "hosts built by snowfall-lib's mkFlake: {RUN_WITH_EVAL}"
        ));
    }
    if last == "import-tree" {
        let dir = args
            .first()
            .map(|a| format!(" from `{}`", a.syntax()))
            .unwrap_or_default();
        return Some(format!(
            "modules loaded by import-tree{dir}: {RUN_WITH_EVAL}"
        ));
    }
    None
}

fn is_snowfall(path: &[String], env: &Env) -> bool {
    if path.iter().any(|p| p == "snowfall-lib") {
        return true;
    }
    let Some(ast::Expr::Apply(lib)) = env.bindings.get(&path[0]).cloned().map(syntax::unparen)
    else {
        return false;
    };
    let (func, _) = flatten_apply(&ast::Expr::Apply(lib));
    syntax::select_path(&func).is_some_and(|p| p.iter().any(|n| n == "snowfall-lib"))
}

/// The calls in a file that only evaluation can follow, each with the
/// node to report it at (the call with its parentheses, as a list item is).
pub(super) fn calls_in(root: &SyntaxNode) -> Vec<(SyntaxNode, String)> {
    root.descendants()
        .filter_map(ast::Apply::cast)
        // The outermost call of `f a b`, not its partial applications.
        .filter(|a| {
            !a.syntax().parent().is_some_and(|p| {
                ast::Apply::can_cast(p.kind())
                    && ast::Apply::cast(p.clone())
                        .and_then(|p| p.lambda())
                        .is_some_and(|l| l.syntax() == a.syntax())
            })
        })
        .filter_map(|call| {
            let (func, args) = flatten_apply(&ast::Expr::Apply(call.clone()));
            let path = syntax::select_path(&func)?;
            let what = framework(&path, &args, &Env::around(call.syntax()))?;
            let mut node = call.syntax().clone();
            while let Some(p) = node.parent().filter(|p| ast::Paren::can_cast(p.kind())) {
                node = p;
            }
            Some((node, what))
        })
        .collect()
}
