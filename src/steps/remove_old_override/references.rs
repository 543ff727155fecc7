//! Uses of the deleted old override files elsewhere: a path to one in a
//! list (`imports`, `modules`, `nixpkgs.overlays`) or bound to a name.

use std::path::{Path, PathBuf};

use rnix::SyntaxKind;
use rnix::ast;
use rowan::ast::AstNode;

use super::removal::removal;
use crate::edit::Splice;
use crate::model;
use crate::nix_paths;
use crate::steps::Plan;
use crate::syntax::start;

/// Whether `text` may name `old`: a cheap test before parsing.
pub(super) fn mentions(text: &str, old: &Path) -> bool {
    let name = old.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = old
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    text.contains(name) || (name == "default.nix" && text.contains(dir))
}

/// The splices that remove every path in `file` that leads to an old
/// override file (or to the directory whose `default.nix` one is); a
/// blocked plan where one cannot be removed safely.
pub(super) fn removals(
    file: &Path,
    text: &str,
    root: &ast::Root,
    old: &[PathBuf],
) -> Result<Vec<Splice>, Plan> {
    let mut splices = Vec::new();
    for path_node in root
        .syntax()
        .descendants()
        .filter(|n| n.kind() == SyntaxKind::NODE_PATH_REL)
    {
        let Some(target) = nix_paths::resolve(file, &path_node.to_string()) else {
            continue;
        };
        let hits = old.iter().any(|o| {
            *o == target || o.parent() == Some(target.as_path()) && o.ends_with("default.nix")
        });
        if !hits {
            continue;
        }
        match removal(text, &path_node) {
            Ok(s) => splices.push(s),
            Err(why) => {
                return Err(Plan::blocked(
                    format!("{}: {why}", model::location(file, text, start(&path_node))),
                    "remove this use of the old override by hand, then run `flake-migrate up` to adopt step 0005",
                ));
            }
        }
    }
    Ok(splices)
}
