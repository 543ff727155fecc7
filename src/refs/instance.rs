//! A nixpkgs instance of its own, which no overlay of the host reaches:
//! `nixpkgs.legacyPackages.${system}.llama-cpp` (any input, any system)
//! and `(import inputs.nixpkgs { … }).llama-cpp`.

use rnix::ast;
use rowan::ast::AstNode;

use crate::syntax;

pub(super) struct Found {
    /// The package's name.
    pub name: String,
    /// The instance as written (`inputs.nixpkgs.legacyPackages.${system}`).
    pub base: String,
    /// Static names after the package (`override`, …).
    pub rest: Vec<String>,
}

pub(super) fn own_instance(select: &ast::Select, is_name: &dyn Fn(&str) -> bool) -> Option<Found> {
    let expr = select.expr()?;
    let attrs: Vec<ast::Attr> = select.attrpath()?.attrs().collect();
    let names: Vec<Option<String>> = attrs.iter().map(syntax::attr_name).collect();
    let at = match syntax::unparen(expr.clone()) {
        ast::Expr::Apply(apply) if imports_nixpkgs(&apply) => 0,
        _ => {
            // `legacyPackages` may be in the base (`a.legacyPackages`) only
            // when the system is static; then select_path already saw it.
            let mut all: Vec<Option<String>> = syntax::select_path(&expr)
                .map(|p| p.into_iter().map(Some).collect())
                .unwrap_or_else(|| vec![None]);
            let offset = all.len();
            all.extend(names.iter().cloned());
            let legacy = all
                .iter()
                .position(|n| n.as_deref() == Some("legacyPackages"))?;
            (legacy + 2).checked_sub(offset)?
        }
    };
    let name = names.get(at)?.clone().filter(|n| is_name(n))?;
    let rest = names[at + 1..]
        .iter()
        .cloned()
        .collect::<Option<Vec<_>>>()?;
    let mut base = expr.syntax().to_string();
    for attr in &attrs[..at] {
        base.push('.');
        base.push_str(&attr.syntax().to_string());
    }
    Some(Found { name, base, rest })
}

/// `import inputs.nixpkgs { … }`, `import <nixpkgs> { }`, `import nixpkgs { }`.
fn imports_nixpkgs(apply: &ast::Apply) -> bool {
    let mut call = apply.clone();
    loop {
        match call.lambda() {
            Some(ast::Expr::Apply(inner)) => call = inner,
            Some(ast::Expr::Ident(i)) if i.syntax().text() == "import" => {
                return call
                    .argument()
                    .is_some_and(|a| a.syntax().to_string().contains("nixpkgs"));
            }
            _ => return false,
        }
    }
}
