//! home-manager inside NixOS modules: the entries whose values are modules
//! (users and shared modules), and whether users get the system's pkgs.

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use crate::refs;
use crate::syntax;

/// `home-manager.users.NAME` or `home-manager.sharedModules`.
pub(super) fn is_user_or_shared_modules(path: &[String]) -> bool {
    path.first().is_some_and(|p| p == "home-manager")
        && ((path.len() == 3 && path[1] == "users")
            || (path.len() == 2 && path[1] == "sharedModules"))
}

/// `home-manager.useGlobalPkgs = true` under `node`.
pub(super) fn uses_global_pkgs(node: &SyntaxNode) -> bool {
    node.descendants()
        .filter_map(ast::AttrpathValue::cast)
        .any(|apv| {
            refs::full_path(&apv).is_some_and(|p| p == ["home-manager", "useGlobalPkgs"])
                && apv
                    .value()
                    .is_some_and(|v| syntax::unparen(v).syntax().text() == "true")
        })
}
