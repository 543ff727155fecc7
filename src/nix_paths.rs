//! Relative path literals (`./nixos/overlays/llama-cpp.nix`, `../pkgs`) and
//! the repository files they name. Only literals without interpolation:
//! what the guard cannot resolve statically it does not guess at.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use rnix::ast;
use rowan::ast::AstNode;

use crate::files::Files;
use crate::syntax;

/// A path literal in a file and the repository path it resolves to.
#[derive(Debug, Clone)]
pub struct PathLiteral {
    pub target: PathBuf,
    pub range: Range<usize>,
}

/// Every relative path literal in `root` (a file at `file`), resolved.
pub fn literals(file: &Path, root: &ast::Root) -> Vec<PathLiteral> {
    literals_in(root.syntax(), file)
}

/// [`literals`] under any node of a file at `file`.
pub fn literals_in(node: &rnix::SyntaxNode, file: &Path) -> Vec<PathLiteral> {
    node.descendants()
        .filter_map(ast::PathRel::cast)
        .filter_map(|p| {
            let mut text = String::new();
            for part in p.parts() {
                match part {
                    ast::InterpolPart::Literal(c) => text.push_str(c.text()),
                    ast::InterpolPart::Interpolation(_) => return None,
                }
            }
            Some(PathLiteral {
                target: resolve(file, &text)?,
                range: syntax::range(p.syntax().text_range()),
            })
        })
        .collect()
}

/// `literal` as written in `file`, relative to the repository root; `None`
/// when it leaves the repository.
pub fn resolve(file: &Path, literal: &str) -> Option<PathBuf> {
    let base = file.parent().unwrap_or(Path::new(""));
    let mut out: Vec<&std::ffi::OsStr> = base.iter().collect();
    for c in Path::new(literal).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.iter().collect())
}

/// The file a module path names: the file itself, or `default.nix` in a
/// directory.
pub fn module_file(files: &dyn Files, target: &Path) -> Option<PathBuf> {
    if target.extension().is_some_and(|e| e == "nix") && files.exists(target) {
        return Some(target.to_path_buf());
    }
    let default = target.join("default.nix");
    files.exists(&default).then_some(default)
}

/// Whether `target` names `wanted`, directly or as its directory's
/// `default.nix`.
pub fn names(target: &Path, wanted: &Path) -> bool {
    target == wanted
        || (wanted.file_name().is_some_and(|n| n == "default.nix")
            && wanted.parent() == Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_to_the_file() {
        assert_eq!(
            resolve(Path::new("flake.nix"), "./nixos/overlays/llama-cpp.nix"),
            Some(PathBuf::from("nixos/overlays/llama-cpp.nix"))
        );
        assert_eq!(
            resolve(
                Path::new("hosts/carbon/default.nix"),
                "../../overlays/x.nix"
            ),
            Some(PathBuf::from("overlays/x.nix"))
        );
        assert_eq!(resolve(Path::new("flake.nix"), "../outside.nix"), None);
    }

    #[test]
    fn finds_literals_without_interpolation() {
        let text = "{ imports = [ ./a.nix ./dir/${name}.nix (import ../b.nix) ]; }";
        let root = rnix::Root::parse(text).tree();
        let found: Vec<PathBuf> = literals(Path::new("x/y.nix"), &root)
            .into_iter()
            .map(|l| l.target)
            .collect();
        assert_eq!(
            found,
            vec![PathBuf::from("x/a.nix"), PathBuf::from("b.nix")]
        );
    }
}
