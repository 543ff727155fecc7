//! What a host's own configuration can make of a reference in a file it
//! imports: upstream's overlay sets `llama-cpp` itself to upstream's build,
//! and a `services.llama-cpp.package` in another module covers an
//! `enable` without one. The guard and step 0004 gather these per host.

use std::ops::Range;

use rnix::ast;
use rowan::ast::AstNode;

use super::{LlamaRef, RefKind};
use crate::syntax;

/// `inputs.<input>.overlays.…` (or `<input>.overlays.…`) within `range`
/// of the file (anywhere when `None`).
pub fn applies_upstream_overlay(
    root: &ast::Root,
    input: &str,
    range: Option<Range<usize>>,
) -> bool {
    syntax::nodes_starting_in(root.syntax(), range)
        .filter_map(ast::Select::cast)
        .filter_map(|s| syntax::select_path(&ast::Expr::Select(s)))
        .any(|p| p.windows(2).any(|w| w[0] == input && w[1] == "overlays"))
}

impl LlamaRef {
    /// Whether a host that applies upstream's overlay (`upstream_overlay`)
    /// or sets `services.llama-cpp.package` somewhere (`service_package`)
    /// gets upstream's build here anyway.
    pub fn spared_by(&self, upstream_overlay: bool, service_package: bool) -> bool {
        match self.kind {
            RefKind::ServiceWithoutPackage => service_package || upstream_overlay,
            RefKind::Bare | RefKind::Select | RefKind::Inherit | RefKind::Interpolation => {
                self.through_host_pkgs() && upstream_overlay
            }
            RefKind::Override { .. } | RefKind::CallPackage { .. } => false,
        }
    }
}
