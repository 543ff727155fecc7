//! The guard rules, one file each: its stable id, message and help beside
//! its matcher. A step's definition (`migrations/llama-cpp/*.toml`) names the
//! rules it turns on once applied.

pub mod flake_input;
pub mod llama_cpp_fork_input;
pub mod llama_cpp_override;
pub mod nixpkgs_llama_cpp;
pub mod old_override;
pub mod overlay_file;
pub mod overlay_imported;
pub mod syntax_error;

use super::Rule;

/// Every rule, in the order of the steps that turn them on.
pub const ALL: &[&Rule] = &[
    &flake_input::RULE,
    &overlay_file::RULE,
    &overlay_imported::RULE,
    &nixpkgs_llama_cpp::RULE,
    &old_override::RULE,
    &llama_cpp_fork_input::RULE,
    &llama_cpp_override::RULE,
    &syntax_error::RULE,
];

pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// [`find`], or a usage error listing the rules.
pub fn lookup(id: &str) -> crate::error::Result<&'static Rule> {
    find(id).ok_or_else(|| {
        crate::error::Error::usage(
            format!("no guard rule `{id}`"),
            format!(
                "the rules are: {}",
                ALL.iter().map(|r| r.id).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_a_step_names_exists() {
        for m in crate::catalogue::bundled() {
            for id in &m.guard.rules {
                assert!(find(id).is_some(), "{} names unknown rule {id}", m.id);
            }
        }
    }

    #[test]
    fn rule_ids_are_unique_and_documented() {
        for (i, r) in ALL.iter().enumerate() {
            assert!(ALL[..i].iter().all(|o| o.id != r.id), "{} twice", r.id);
            assert!(!r.summary.is_empty() && !r.help.is_empty() && !r.explanation.is_empty());
        }
    }
}

/// Running one rule over files given as text, for the rules' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};

    use crate::config::{Config, Variant};
    use crate::files::WorkTree;
    use crate::guard::{self, Rule, Scope, Selection};
    use crate::record::State;

    /// The seed's hosts: carbon (cuda) and beryllium (vulkan).
    pub fn seed_config() -> Config {
        let mut config = Config::default();
        config.hosts.insert("carbon".into(), Variant::Cuda);
        config.hosts.insert("beryllium".into(), Variant::Vulkan);
        config.old_overrides = vec![PathBuf::from("nixos/pkgs/llama-cpp-variants.nix")];
        config
    }

    /// `path:line:col: message` for each finding of `rule` over `files`
    /// (allowed ones marked `(allowed)`).
    pub fn findings(rule: &'static Rule, files: &[(&str, &str)]) -> Vec<String> {
        findings_with(rule, &seed_config(), files)
    }

    /// The help of each finding of `rule` over `files`.
    pub fn helps(rule: &'static Rule, files: &[(&str, &str)]) -> Vec<String> {
        violations(rule, &seed_config(), files)
            .iter()
            .map(|v| v.help().to_string())
            .collect()
    }

    fn violations(
        rule: &'static Rule,
        config: &Config,
        files: &[(&str, &str)],
    ) -> Vec<guard::Violation> {
        let mut tree = WorkTree::new(Path::new("/nonexistent/flake-migrate-test"), Vec::new());
        for (path, text) in files {
            tree.stage(Path::new(path), Some(text.to_string()));
        }
        let state = State::default();
        let scope = Scope::new(&tree, config, &state, vec![rule.id], Selection::All);
        guard::run(&scope, &[rule]).unwrap()
    }

    pub fn findings_with(
        rule: &'static Rule,
        config: &Config,
        files: &[(&str, &str)],
    ) -> Vec<String> {
        violations(rule, config, files)
            .into_iter()
            .map(|v| {
                let place = match v.position {
                    Some((l, c)) => format!("{}:{l}:{c}", v.finding.path.display()),
                    None => v.finding.path.display().to_string(),
                };
                let allowed = if v.allowed { " (allowed)" } else { "" };
                format!("{place}: {}{allowed}", v.finding.message)
            })
            .collect()
    }
}
