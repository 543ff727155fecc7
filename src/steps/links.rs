//! Edits planned for a path that is a symlink: written to the tracked file
//! the link names inside the tree (the link stays a link), or refused when
//! the link leaves the tree, since writing through it would edit a file
//! outside the repository and writing over it would replace the link by a
//! copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Changeset, Plan};
use crate::error::Result;
use crate::files::{Files, Link};
use crate::{nix_paths, syntax};

/// `changes` with every symlinked path replaced by the file it names, or
/// the plan that refuses them.
pub fn through_links(files: &dyn Files, changes: Changeset) -> Result<Plan> {
    let mut written: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    let (mut refused, mut links) = (Vec::new(), Vec::new());
    for (path, content) in changes.files {
        let target = match files.link(&path) {
            Link::NotALink => path,
            Link::Inside(target) => target,
            Link::Refused { points_to, why } => {
                refused.push(format!(
                    "{}is a symlink to {} {why}",
                    referenced_at(files, &path)?,
                    points_to.display()
                ));
                links.push(path.display().to_string());
                continue;
            }
        };
        if let Some(other) = written.get(&target)
            && *other != content
        {
            return Ok(Plan::blocked(
                format!(
                    "{} would be edited twice, through a symlink and by its own name, in different ways",
                    target.display()
                ),
                "make one of the two names a regular file of its own (or import only one of them), commit, and run `flake-migrate up` again",
            ));
        }
        written.insert(target, content);
    }
    if !refused.is_empty() {
        return Ok(Plan::blocked(
            format!(
                "the edit would write through a symlink that cannot be followed, and flake-migrate never writes outside the repository nor replaces a link by a copy: {}",
                refused.join("; ")
            ),
            format!(
                "replace the link by the file it names (`cp --remove-destination \"$(readlink -f {link})\" {link}`) or point it at a tracked file inside the repository, commit, and run `flake-migrate up` again",
                link = if links.len() == 1 {
                    links[0].as_str()
                } else {
                    "LINK"
                }
            ),
        ));
    }
    Ok(Plan::Changes(Changeset {
        files: written,
        ..changes
    }))
}

/// `file:line:col: ` of the first path literal that names `path`, then
/// `path ` itself, so the user sees both where the link is used and which
/// link it is.
fn referenced_at(files: &dyn Files, path: &Path) -> Result<String> {
    for file in files.nix_files() {
        if file == path {
            continue;
        }
        let Some(text) = files.read_as_is(&file)? else {
            continue;
        };
        let Ok(root) = syntax::parse(&file, &text) else {
            continue;
        };
        if let Some(literal) = nix_paths::literals(&file, &root)
            .into_iter()
            .find(|l| nix_paths::names(&l.target, path))
        {
            let (line, col) = syntax::line_col(&text, literal.range.start);
            return Ok(format!(
                "{}:{line}:{col}: imports {} which ",
                file.display(),
                path.display()
            ));
        }
    }
    Ok(format!("{} ", path.display()))
}
