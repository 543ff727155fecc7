//! `syntax-error`: a `.nix` file the guard must read and cannot (a syntax
//! error, bytes that are not UTF-8) is a finding of its own, so `check` and
//! the hook list every such file rather than stop at the first, and a file
//! they cannot read never passes as clean. Not a step's rule: it goes with
//! whichever rules are on.

use crate::error::Result;
use crate::guard::{Finding, Rule, Scope, Selection};

pub const RULE: Rule = Rule {
    id: "syntax-error",
    summary: "every .nix file the guard reads must parse",
    help: "fix the file (nix cannot read it either), or list it under `[guard] exclude` in flake-migrate.toml",
    explanation: "\
The guard's rules read Nix files on their syntax tree. A file that does not
parse, or is not UTF-8, cannot be checked: a reference to nixpkgs'
llama-cpp in it would go unseen. So such a file is reported, with the place
nix would also stop at, instead of passing.

The hook parses every staged `.nix` file, and `flake-migrate check PATH…`
every file under the paths given. `flake-migrate check` over the whole tree
parses only the files a rule must read (those that name `llama-cpp`,
`callPackage` or an old override, flake.nix, the overlay, the hosts'
modules): parsing every file of a large tree would cost several times the
whole check, and a file no rule reads cannot hide a violation; `nix flake
check` reports the rest.

Files under `[guard] exclude` in flake-migrate.toml are not read. This
finding cannot be allowed with a comment: the comment would be in the file
that does not parse.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    // A commit, or paths named on the command line: read every file.
    if !matches!(scope.selection(), Selection::All) {
        for file in scope.nix_files() {
            if let Some(src) = scope.source(file)? {
                src.root();
            }
        }
    }
    Ok(scope
        .unreadable()
        .into_iter()
        .filter(|at| scope.covers(&at.path) && !scope.is_excluded(&at.path))
        .map(|at| Finding::at(at.path, at.range, at.message).label(at.label))
        .collect())
}
