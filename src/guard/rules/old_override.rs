//! `old-override` (after 0005): the old override file stays deleted, and
//! nothing refers to it.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::guard::{Finding, Rule, Scope};
use crate::nix_paths;
use crate::record::State;

pub const RULE: Rule = Rule {
    id: "old-override",
    summary: "the old llama.cpp override file must not come back",
    help: "delete it again (`git rm <file>`): the hosts get llama.cpp from the upstream overlay now",
    explanation: "\
Step 0005 deleted the old overlay or override file that built hardware
variants from nixpkgs' llama-cpp (for example
`nixos/pkgs/llama-cpp-variants.nix`) and every reference to it. Bringing it
back, by a revert, a cherry-pick or a rename, puts nixpkgs' build back into
the hosts that import it.

The files are those listed as `old-overrides` in flake-migrate.toml, and the
ones step 0005 recorded as deleted. A path literal that names one of them
(`import ./pkgs/llama-cpp-variants.nix`) fails too.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let old = old_override_files(scope);
    if old.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for path in &old {
        if !scope.covers(path) || !scope.files.exists(path) {
            continue;
        }
        let Some(src) = scope.source(path)? else {
            continue;
        };
        let first_line = 0..src.text.find('\n').unwrap_or(src.text.len());
        let mut finding = Finding::at(
            path.clone(),
            first_line,
            format!("the old override file {} is back", path.display()),
        )
        .help(format!(
            "delete it again (`git rm {}`): the hosts get llama.cpp from the upstream overlay now",
            path.display()
        ));
        if let Some(from) = scope.staged().and_then(|c| c.renamed_from(path)) {
            finding = finding.label(format!("renamed from {}", from.display()));
        }
        out.push(finding);
    }
    // `./pkgs/x.nix` names `x.nix`; `./pkgs/x` names `x/default.nix`.
    let names: Vec<&std::ffi::OsStr> = old
        .iter()
        .filter_map(|o| match o.file_name() {
            Some(n) if n == "default.nix" => o.parent().and_then(Path::file_name),
            n => n,
        })
        .collect();
    for file in scope.nix_files() {
        let Some(src) = scope.source(file)? else {
            continue;
        };
        // A path to the file names it: skip parsing files that do not.
        if !names
            .iter()
            .any(|n| n.to_str().is_some_and(|n| src.text.contains(n)))
        {
            continue;
        }
        for lit in nix_paths::literals(file, src.root()) {
            if let Some(target) = old.iter().find(|o| nix_paths::names(&lit.target, o)) {
                out.push(
                    Finding::at(
                        file.clone(),
                        lit.range,
                        format!("reference to the deleted override file {}", target.display()),
                    )
                    .help("remove this reference: the overlay from step 0002 provides llama-cpp-<variant>"),
                );
            }
        }
    }
    Ok(out)
}

/// The config's `old-overrides`, and the files step 0005 deleted.
pub(crate) fn old_override_files(scope: &Scope) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = scope.config.old_overrides.clone();
    files.extend(deleted_by_0005(scope.state));
    files.sort();
    files.dedup();
    files.retain(|f| f != Path::new(""));
    files
}

fn deleted_by_0005(state: &State) -> Vec<PathBuf> {
    state
        .applied
        .iter()
        .filter(|a| a.id.starts_with("0005"))
        .flat_map(|a| a.files.iter())
        .filter(|f| f.after.is_empty() && !f.before.is_empty())
        .map(|f| f.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    const OLD: &str = "nixos/pkgs/llama-cpp-variants.nix";

    #[test]
    fn the_file_back_or_a_reference_to_it_fails() {
        let found = findings(
            &super::RULE,
            &[
                (OLD, "final: prev: { }\n"),
                (
                    "nixos/default.nix",
                    "{ nixpkgs.overlays = [ (import ./pkgs/llama-cpp-variants.nix) ]; }",
                ),
            ],
        );
        assert_eq!(
            found,
            [
                "nixos/default.nix:1:32: reference to the deleted override file nixos/pkgs/llama-cpp-variants.nix",
                "nixos/pkgs/llama-cpp-variants.nix:1:1: the old override file nixos/pkgs/llama-cpp-variants.nix is back",
            ]
        );
    }

    #[test]
    fn other_files_in_the_directory_are_fine() {
        let found = findings(
            &super::RULE,
            &[
                ("nixos/pkgs/other.nix", "{ }"),
                ("nixos/default.nix", "{ imports = [ ./pkgs/other.nix ]; }"),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
