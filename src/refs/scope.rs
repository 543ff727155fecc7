//! Which nixpkgs instance a bare `llama-cpp` (or other name) resolves through: the
//! innermost `with`, unless a `let` or a function parameter binds the name.

use rnix::SyntaxNode;
use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::is_package_set;
use crate::syntax;

/// The package set of the innermost `with pkgs;` (or `with unstable;`)
/// whose body holds the name, when no `let` or function parameter binds it
/// (lexical bindings win over `with` in Nix, however far out they are).
pub(super) fn with_package_set(node: &SyntaxNode, name: &str) -> Option<String> {
    let mut child = node.clone();
    let mut namespace = None;
    for ancestor in node.ancestors().skip(1) {
        if binds_name(&ancestor, name) {
            return None;
        }
        if let Some(with) = ast::With::cast(ancestor.clone())
            && namespace.is_none()
            && with.body().is_some_and(|b| b.syntax() == &child)
        {
            namespace = with
                .namespace()
                .and_then(|n| syntax::select_path(&n))
                .filter(|p| p.len() == 1 && is_package_set(&p[0]))
                .map(|p| p[0].clone());
        }
        child = ancestor;
    }
    namespace
}

fn binds_name(node: &SyntaxNode, name: &str) -> bool {
    if let Some(let_in) = ast::LetIn::cast(node.clone()) {
        return syntax::named_entries(&let_in)
            .iter()
            .any(|(n, _)| n.len() == 1 && n[0] == name)
            || let_in.inherits().any(|i| {
                i.attrs()
                    .any(|a| syntax::attr_name(&a).as_deref() == Some(name))
            });
    }
    if let Some(lambda) = ast::Lambda::cast(node.clone()) {
        return match lambda.param() {
            Some(ast::Param::IdentParam(p)) => p.syntax().text() == name,
            Some(ast::Param::Pattern(p)) => p
                .pat_entries()
                .any(|e| e.ident().is_some_and(|i| i.syntax().text() == name)),
            None => false,
        };
    }
    false
}
