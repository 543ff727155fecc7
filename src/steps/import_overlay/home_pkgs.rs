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

use crate::edit::Splice;
use crate::host_kind::HostKind;
use crate::model::Host;
use crate::steps::insertion::add_overlay;
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
        .find_map(|apv| syntax::import_args(&apv.value()?))?;
    add_overlay(text, &set, import)
}
