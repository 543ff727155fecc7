//! The expression 0003 writes: `(import ./overlay.nix { inherit inputs; })`,
//! relative to the file it goes in and in that file's brace style.

use std::path::{Component, Path};

use crate::config::Config;

pub(super) fn import_expr(
    from_file: &Path,
    config: &Config,
    binding: &str,
    braces: Braces,
) -> String {
    let path = relative_path(from_file, &config.overlay);
    let arg = if binding == "inputs" {
        "{ inherit inputs; }".to_string()
    } else {
        format!("{{ inputs = {binding}; }}")
    };
    braces.apply(&format!("(import {path} {arg})"))
}

/// How a file writes small sets: `{ a; }`, or `{a;}` (alejandra's style),
/// so the new code looks like its neighbours. Work it out once per file:
/// it scans the whole text, and one file may define thousands of hosts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Braces {
    Spaced,
    Tight,
}

impl Braces {
    pub(super) fn of(text: &str) -> Braces {
        let tight = text.matches("{inherit").count() + text.matches("{...}").count();
        let spaced = text.matches("{ inherit").count() + text.matches("{ ... }").count();
        if tight > spaced {
            Braces::Tight
        } else {
            Braces::Spaced
        }
    }

    pub(super) fn apply(self, code: &str) -> String {
        match self {
            Braces::Tight => code.replace("{ ", "{").replace(" }", "}"),
            Braces::Spaced => code.to_string(),
        }
    }
}

/// `target` as a Nix path literal relative to `from_file`'s directory.
pub fn relative_path(from_file: &Path, target: &Path) -> String {
    let from: Vec<Component> = from_file
        .parent()
        .unwrap_or(Path::new(""))
        .components()
        .collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec![if common == from.len() {
        ".".into()
    } else {
        String::new()
    }];
    parts.retain(|p| !p.is_empty());
    for _ in common..from.len() {
        parts.push("..".into());
    }
    for c in &to[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        let overlay = Path::new("nixos/overlays/llama-cpp.nix");
        assert_eq!(
            relative_path(Path::new("flake.nix"), overlay),
            "./nixos/overlays/llama-cpp.nix"
        );
        assert_eq!(
            relative_path(Path::new("hosts/a/default.nix"), overlay),
            "../../nixos/overlays/llama-cpp.nix"
        );
        assert_eq!(
            relative_path(Path::new("nixos/default.nix"), overlay),
            "./overlays/llama-cpp.nix"
        );
    }
}
