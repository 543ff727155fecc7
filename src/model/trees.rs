//! The syntax trees of the modules one reading of the model meets more than
//! once. Every host follows its own modules, and a module shared by the
//! fleet (`modules/common.nix`) would otherwise be parsed once per host:
//! hosts × its size. A module met a second time is kept for the rest of the
//! reading; one met once is not, so the memory kept is that of the shared
//! modules, not of the fleet. (The files do not change during a reading.)

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rnix::ast;

use crate::error::Result;
use crate::files::Files;
use crate::syntax;

#[derive(Default)]
pub(super) struct Trees {
    met: RefCell<HashSet<PathBuf>>,
    kept: RefCell<HashMap<PathBuf, ast::Root>>,
}

impl Trees {
    /// The file's syntax tree, `None` when it does not exist; a file that
    /// does not parse is an error with its position.
    pub(super) fn parse(&self, files: &dyn Files, path: &Path) -> Result<Option<ast::Root>> {
        if let Some(root) = self.kept.borrow().get(path) {
            return Ok(Some(root.clone()));
        }
        let Some(text) = files.read(path)? else {
            return Ok(None);
        };
        let root = syntax::parse(path, &text)?;
        if !self.met.borrow_mut().insert(path.to_path_buf()) {
            self.kept
                .borrow_mut()
                .insert(path.to_path_buf(), root.clone());
        }
        Ok(Some(root))
    }
}

#[cfg(test)]
mod tests {
    use rowan::ast::AstNode;

    use super::*;
    use crate::files::WorkTree;

    #[test]
    fn a_file_met_twice_is_parsed_twice_and_then_kept() {
        let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
        let path = Path::new("m.nix");
        tree.stage(path, Some("{ a = 1; }".into()));
        let trees = Trees::default();
        let first = trees.parse(&tree, path).unwrap().unwrap();
        let second = trees.parse(&tree, path).unwrap().unwrap();
        let third = trees.parse(&tree, path).unwrap().unwrap();
        // Nodes are equal only when they are the same node of one tree.
        assert_ne!(first.syntax(), second.syntax(), "met once: not kept");
        assert_eq!(second.syntax(), third.syntax(), "met twice: kept");
        assert_eq!(third.syntax().to_string(), "{ a = 1; }");
        assert!(trees.parse(&tree, Path::new("none.nix")).unwrap().is_none());
    }
}
