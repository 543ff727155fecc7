//! The program that switches a machine of each kind, as its users run it:
//! `nh os|darwin|home switch` where nh is installed, else
//! `nixos-rebuild switch --flake .#H`, `darwin-rebuild switch --flake .#H`
//! or `home-manager switch --flake .#U`.

use crate::error::{Error, Result};
use crate::files::Files;
use crate::host_kind::{HostKind, split_name};
use crate::model::Model;

/// A configured host's kind and its attribute in its output, from the
/// flake as the static reading sees it (a NixOS host when it is not found:
/// the switch then says what nixos-rebuild says).
pub(super) fn kind_of(files: &dyn Files, host: &str) -> Result<(HostKind, String)> {
    let model = Model::read(files)?;
    let (prefixed, attr) = split_name(host);
    let kind = model
        .host(host)
        .map(|h| h.kind)
        .or(prefixed)
        .unwrap_or(HostKind::Nixos);
    let attr = if prefixed == Some(kind) { attr } else { host };
    Ok((kind, attr.to_string()))
}

/// The machine a host runs on, for the check that this machine is it: a
/// home-manager `user@machine` names it after the `@`; a configuration
/// named by its user alone names none.
pub(super) fn machine_name(kind: HostKind, attr: &str) -> Option<&str> {
    match kind {
        HostKind::Home => attr.split_once('@').map(|(_, m)| m),
        _ => Some(attr),
    }
}

/// The program and its arguments (the user's `args` last); `has` says
/// whether a program is on PATH.
pub(super) fn switch_program(
    kind: HostKind,
    host: &str,
    attr: &str,
    args: &[String],
    has: impl Fn(&str) -> bool,
) -> Result<(&'static str, Vec<String>)> {
    let (nh, own): (Vec<&str>, &'static str) = match kind {
        HostKind::Nixos => (vec!["os", "switch", ".", "--hostname"], "nixos-rebuild"),
        HostKind::Darwin => (
            vec!["darwin", "switch", ".", "--hostname"],
            "darwin-rebuild",
        ),
        HostKind::Home => (
            vec!["home", "switch", ".", "--configuration"],
            "home-manager",
        ),
    };
    let (program, mut argv): (&'static str, Vec<String>) = if has("nh") {
        (
            "nh",
            nh.into_iter().chain([attr]).map(String::from).collect(),
        )
    } else if has(own) {
        (
            own,
            vec!["switch".into(), "--flake".into(), format!(".#{attr}")],
        )
    } else {
        let where_ = match kind {
            HostKind::Nixos => "on a NixOS machine",
            HostKind::Darwin => "on the Mac with nix-darwin",
            HostKind::Home => "where home-manager is installed",
        };
        return Err(Error::ProgramMissing(format!(
            "neither `nh` nor `{own}` is on PATH, so {host} ({}) cannot be switched from here; nothing was recorded. Switch it {where_}, then run `flake-migrate confirm --host {host}`",
            kind.label()
        )));
    };
    argv.extend(args.iter().cloned());
    Ok((program, argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: HostKind, attr: &str, on_path: &[&str]) -> String {
        match switch_program(kind, attr, attr, &["-v".into()], |p| on_path.contains(&p)) {
            Ok((program, argv)) => format!("{program} {}", argv.join(" ")),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn each_kind_of_machine_switches_with_its_own_program_or_nh() {
        let all = ["nh", "nixos-rebuild", "darwin-rebuild", "home-manager"];
        assert_eq!(
            run(HostKind::Nixos, "carbon", &all),
            "nh os switch . --hostname carbon -v"
        );
        assert_eq!(
            run(HostKind::Darwin, "mac", &all),
            "nh darwin switch . --hostname mac -v"
        );
        assert_eq!(
            run(HostKind::Home, "ada@laptop", &all),
            "nh home switch . --configuration ada@laptop -v"
        );
        let own = &all[1..];
        assert_eq!(
            run(HostKind::Nixos, "carbon", own),
            "nixos-rebuild switch --flake .#carbon -v"
        );
        assert_eq!(
            run(HostKind::Darwin, "mac", own),
            "darwin-rebuild switch --flake .#mac -v"
        );
        assert_eq!(
            run(HostKind::Home, "ada@laptop", own),
            "home-manager switch --flake .#ada@laptop -v"
        );
        let none = run(HostKind::Darwin, "mac", &["nixos-rebuild"]);
        assert!(none.contains("neither `nh` nor `darwin-rebuild`"), "{none}");
        assert!(none.contains("flake-migrate confirm --host mac"), "{none}");
    }

    #[test]
    fn a_home_configuration_runs_on_the_machine_after_its_at() {
        assert_eq!(machine_name(HostKind::Home, "ada@laptop"), Some("laptop"));
        assert_eq!(machine_name(HostKind::Home, "ada"), None);
        assert_eq!(machine_name(HostKind::Darwin, "mac"), Some("mac"));
    }
}
