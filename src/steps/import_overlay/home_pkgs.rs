//! A standalone home-manager configuration whose `pkgs` is an
//! `import nixpkgs { … }` written in its own definition gets the overlay in
//! that import's `overlays`: home-manager applies a module's
//! `nixpkgs.overlays` by importing nixpkgs again with the module's overlays
//! and config only, so an overlay module would drop what the import sets
//! (`config.allowUnfree`, its own overlays). A package set shared with
//! other machines (`pkgs = pkgsFor "x86_64-linux"`, a let binding) is not
//! this machine's place: the overlay then goes into a module of its own.

use rnix::ast;
use rowan::ast::AstNode;

use crate::steps::insertion::{add_entry, append_item};
use crate::edit::Splice;
use crate::host_kind::HostKind;
use crate::model::Host;
use crate::syntax::{self, start};

/// The splice adding `import` to the `overlays` of the host's own
/// `pkgs = import nixpkgs { … }`, when it is a home-manager configuration
/// with one.
pub(super) fn splice(text: &str, root: &ast::Root, host: &Host, import: &str) -> Option<Splice> {
    if host.kind != HostKind::Home {
        return None;
    }
    let set = root
        .syntax()
        .descendants()
        .filter(|n| host.range.contains(&start(n)))
        .filter_map(ast::AttrpathValue::cast)
        .filter(|apv| {
            apv.attrpath()
                .and_then(|p| syntax::attrpath_names(&p))
                .is_some_and(|names| names == ["pkgs"])
        })
        .find_map(|apv| imported_set(&apv.value()?))?;
    let overlays = syntax::named_entries(&set)
        .into_iter()
        .find(|(names, _)| names == &["overlays"])
        .map(|(_, apv)| apv.value().map(syntax::unparen));
    match overlays {
        None => Some(add_entry(text, &set, &format!("overlays = [ {import} ];"))),
        Some(Some(ast::Expr::List(list))) => Some(append_item(text, &list, import)),
        // `overlays = common ++ [ … ]`: not a list to add to here.
        Some(_) => None,
    }
}

/// The argument set of `import nixpkgs { … }` (or `import inputs.nixpkgs { … }`).
fn imported_set(value: &ast::Expr) -> Option<ast::AttrSet> {
    let ast::Expr::Apply(apply) = syntax::unparen(value.clone()) else {
        return None;
    };
    let ast::Expr::Apply(inner) = syntax::unparen(apply.lambda()?) else {
        return None;
    };
    let is_import =
        syntax::select_path(&syntax::unparen(inner.lambda()?)).is_some_and(|p| p == ["import"]);
    match syntax::unparen(apply.argument()?) {
        ast::Expr::AttrSet(set) if is_import => Some(set),
        _ => None,
    }
}
