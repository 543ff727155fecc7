//! The kinds of machine a flake holds: NixOS hosts (`nixosConfigurations`),
//! nix-darwin hosts (`darwinConfigurations`) and standalone home-manager
//! configurations (`homeConfigurations`). Each is a host, named as in the
//! flake; a name two outputs share is written `darwin/NAME` or `home/NAME`
//! (a NixOS host keeps its name). `eval/machines.nix` names them the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    #[default]
    Nixos,
    Darwin,
    Home,
}

impl HostKind {
    pub const ALL: [HostKind; 3] = [HostKind::Nixos, HostKind::Darwin, HostKind::Home];

    /// The flake output that holds machines of this kind.
    pub fn output(self) -> &'static str {
        match self {
            HostKind::Nixos => "nixosConfigurations",
            HostKind::Darwin => "darwinConfigurations",
            HostKind::Home => "homeConfigurations",
        }
    }

    pub fn from_output(output: &str) -> Option<HostKind> {
        HostKind::ALL.into_iter().find(|k| k.output() == output)
    }

    /// The function that builds one (`nixpkgs.lib.nixosSystem`,
    /// `nix-darwin.lib.darwinSystem`, `home-manager.lib.homeManagerConfiguration`).
    pub fn builder(self) -> &'static str {
        match self {
            HostKind::Nixos => "nixosSystem",
            HostKind::Darwin => "darwinSystem",
            HostKind::Home => "homeManagerConfiguration",
        }
    }

    pub fn from_builder(name: &str) -> Option<HostKind> {
        HostKind::ALL.into_iter().find(|k| k.builder() == name)
    }

    /// The prefix of a name another output shares: `darwin/`, `home/`.
    pub fn prefix(self) -> &'static str {
        match self {
            HostKind::Nixos => "",
            HostKind::Darwin => "darwin/",
            HostKind::Home => "home/",
        }
    }

    /// Where a configuration of this kind lists its packages, for messages.
    pub fn packages_option(self) -> &'static str {
        match self {
            HostKind::Home => "home.packages",
            _ => "environment.systemPackages",
        }
    }

    /// What it is, for messages: "NixOS host", "nix-darwin host",
    /// "home-manager configuration".
    pub fn label(self) -> &'static str {
        match self {
            HostKind::Nixos => "NixOS host",
            HostKind::Darwin => "nix-darwin host",
            HostKind::Home => "home-manager configuration",
        }
    }
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostKind::Nixos => "nixos",
            HostKind::Darwin => "darwin",
            HostKind::Home => "home",
        })
    }
}

/// The names flake-migrate.toml gives machines `(kind, attribute)`, in
/// order: the attribute, or `darwin/NAME` / `home/NAME` when another output
/// has a machine of that name.
pub fn config_names(machines: &[(HostKind, String)]) -> Vec<String> {
    machines
        .iter()
        .map(|(kind, name)| {
            let shared = machines.iter().filter(|(_, n)| n == name).count() > 1;
            if shared && *kind != HostKind::Nixos {
                format!("{}{name}", kind.prefix())
            } else {
                name.clone()
            }
        })
        .collect()
}

/// A configured name's kind and attribute, as far as the name says: `darwin/`
/// and `home/` prefixes name their output; any other name is looked up.
pub fn split_name(name: &str) -> (Option<HostKind>, &str) {
    for kind in [HostKind::Darwin, HostKind::Home] {
        if let Some(attr) = name.strip_prefix(kind.prefix()) {
            return (Some(kind), attr);
        }
    }
    (None, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_two_outputs_share_is_written_with_its_kind() {
        let machines = [
            (HostKind::Nixos, "studio".to_string()),
            (HostKind::Darwin, "studio".to_string()),
            (HostKind::Darwin, "mac".to_string()),
            (HostKind::Home, "ada@studio".to_string()),
        ];
        assert_eq!(
            config_names(&machines),
            ["studio", "darwin/studio", "mac", "ada@studio"]
        );
        assert_eq!(split_name("home/ada"), (Some(HostKind::Home), "ada"));
        assert_eq!(split_name("ada@studio"), (None, "ada@studio"));
    }
}
