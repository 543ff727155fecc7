//! `services.llama-cpp` enabled without a `package`: the module's default
//! is nixpkgs' build, so it is a reference too.

use rnix::ast;
use rowan::ast::AstNode;

use super::{LlamaRef, PACKAGE, RefKind, full_path};
use crate::syntax::{self, end, start};

/// `services.llama-cpp.enable = true` where the file sets no
/// `services.llama-cpp.package`.
pub(super) fn services_without_package(root: &ast::Root) -> Vec<LlamaRef> {
    let mut enables = Vec::new();
    let mut has_package = false;
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let Some(path) = full_path(&apv) else {
            continue;
        };
        if path.len() < 2 || path[0] != "services" || path[1] != PACKAGE {
            continue;
        }
        match &path[2..] {
            [leaf] if leaf == "enable" => {
                let disabled = apv
                    .value()
                    .is_some_and(|v| syntax::unparen(v).syntax().text() == "false");
                if !disabled {
                    enables.push(apv);
                }
            }
            [leaf] if leaf == "package" => has_package = true,
            _ => {}
        }
    }
    if has_package {
        return Vec::new();
    }
    enables
        .into_iter()
        .map(|apv| LlamaRef {
            kind: RefKind::ServiceWithoutPackage,
            range: start(apv.syntax())..end(apv.syntax()),
            base: None,
            own_instance: false,
        })
        .collect()
}

/// Whether the file sets `services.llama-cpp.package` within `range` (a
/// host's definition in a file that defines several), anywhere when `None`.
pub fn sets_service_package(root: &ast::Root, range: Option<std::ops::Range<usize>>) -> bool {
    syntax::nodes_starting_in(root.syntax(), range)
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|apv| full_path(&apv))
        .any(|p| p.len() == 3 && p[0] == "services" && p[1] == PACKAGE && p[2] == "package")
}
