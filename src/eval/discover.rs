//! Where each host gets llama.cpp from, as Nix knows it: "Nix evaluation
//! says where, the syntax tree says how". Reading flake.nix misses hosts
//! built by `listToAttrs`/`genAttrs` over let-bound lists, `import ./hosts
//! inputs`, modules reached through `inputs.self.nixosModules.x` and the like;
//! the module system knows every host and which file each definition comes
//! from (`options.<path>.definitionsWithLocations`).
//!
//! One `nix eval --json` of `discover.nix` through the wrapper flake covers
//! the whole fleet. A host whose evaluation fails is reported `Unknown` with
//! nix's message: when some host fails, one `nix flake check --keep-going`
//! (probe.rs) finds every failing host and its error, and the others are
//! evaluated in one batch again; at most three processes, however many
//! hosts share a failure.
//!
//! The Nix side attributes definitions as nixpkgs does: a file module to its
//! file, a module with `_file` to that, an inline module to the module that
//! imports it; inline modules of a `nixosSystem { modules = [...]; }` list
//! are attributed to nixpkgs' own flake.nix (where nixosSystem writes
//! `modules`), so their `file` is `None`, and so is that of a module returned
//! by a function (`(import ./m.nix { port = 8080; })`) placed there: the
//! syntax tree has to tell.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host_kind::HostKind;
use crate::nix;
use crate::output::spinner;

pub use super::cache::{cached, carry_forward, discover_cached};
use super::probe;
use super::wrapper::{Wrapper, spawn_error};
use raw::parse;

pub(super) const DISCOVER_NIX: &str = include_str!("discover.nix");
/// Every machine of a flake, keyed as the config names them (discover.nix
/// and upstream.nix import it).
pub(super) const MACHINES_NIX: &str = include_str!("machines.nix");
pub(super) const UNITS_NIX: &str = include_str!("units.nix");
pub(super) const TRACE: &str = "flake-migrate: evaluating ";

/// Every machine of the flake: `nixosConfigurations`, `darwinConfigurations`
/// and `homeConfigurations`, keyed as flake-migrate.toml names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub hosts: BTreeMap<String, HostFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostFacts {
    Known(Box<HostInfo>),
    /// The host fails to evaluate; `error` is what nix said.
    Unknown {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// A NixOS host, a nix-darwin host or a standalone home-manager
    /// configuration.
    #[serde(default)]
    pub kind: HostKind,
    /// Its attribute in its output (the key is `darwin/NAME` when another
    /// output has NAME too).
    #[serde(default)]
    pub attr: String,
    pub system: String,
    /// `specialArgs` (or `_module.args`) gives modules `inputs`.
    pub inputs_in_modules: bool,
    /// The repository file defining `networking.hostName`, if one does.
    pub own_module: Option<PathBuf>,
    /// llama.cpp-related entries of environment.systemPackages,
    /// users.users.*.packages and home-manager users' home.packages.
    pub packages: Vec<Definition>,
    /// services.llama-cpp.enable / .package definitions (enabled service only).
    pub service: Vec<Definition>,
    /// nixpkgs.overlays definitions, one per overlay.
    pub overlays: Vec<OverlayDef>,
    /// Why nixpkgs.overlays do not reach the host's `pkgs`, when they do not.
    pub overlays_take_effect: std::result::Result<(), String>,
    /// Every repository file defining any of the options above.
    pub module_files: BTreeSet<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// e.g. "environment.systemPackages", "users.users.alice.packages",
    /// "home-manager.users.bob.home.packages", "services.llama-cpp.package".
    pub option: String,
    /// Relative to the flake's directory; `None` when the definition is in no repository
    /// file, or nix cannot tell which.
    pub file: Option<PathBuf>,
    /// The package's `name` ("true" for services.llama-cpp.enable).
    pub name: String,
    pub origin: Origin,
    /// The GPU backend its cmake flags turn on (`cuda`, `rocm`, `vulkan`,
    /// `metal`): what the build is, however its arguments are written.
    #[serde(default)]
    pub backend: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// nixpkgs' llama-cpp, possibly overridden.
    Nixpkgs,
    /// A package of an input's `packages.<system>` (the upstream flake).
    Upstream,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayDef {
    pub file: Option<PathBuf>,
    /// The attributes it defines.
    pub names: Vec<String>,
    /// Those of them built from `prev.llama-cpp`.
    pub from_prev_llama: Vec<String>,
}

/// Evaluates every host of the flake at `flake_dir` (relative to the
/// repository root, possibly empty) of the repository at `repo_root`, as
/// committed plus tracked changes. `nix_args` are the user's (e.g.
/// `--override-input NAME REF`), as for `nix flake check`.
pub fn discover(repo_root: &Path, flake_dir: &Path, nix_args: &[String]) -> Result<Discovery> {
    let wrapper = Wrapper::create(
        repo_root,
        flake_dir,
        "import ./discover.nix ({ flake = target; } // builtins.fromJSON (builtins.readFile ./select.json))",
        &[
            ("discover.nix", DISCOVER_NIX),
            ("machines.nix", MACHINES_NIX),
            ("units.nix", UNITS_NIX),
            ("select.json", &select(None, true)),
        ],
    )?;
    let (output, label) = run(&wrapper, "result", nix_args)?;
    let mut found = if output.status.success() {
        parse(&output.stdout)?.into_discovery(flake_dir)
    } else {
        // Something tryEval cannot catch stopped the batch: the probe finds
        // every host that fails, and the others are evaluated in one batch.
        wrapper.write("select.json", &select(None, false))?;
        let Some(probed) = probe::probe(&wrapper, nix_args)? else {
            return Err(whole_flake_failed(&label, &output));
        };
        let fine: Vec<String> = probed
            .names
            .iter()
            .filter(|n| !probed.failures.contains_key(*n))
            .cloned()
            .collect();
        let mut found = Discovery {
            hosts: BTreeMap::new(),
        };
        if !fine.is_empty() {
            wrapper.write("select.json", &select(Some(&fine), true))?;
            let (rest, _) = run(&wrapper, "result", nix_args)?;
            if !rest.status.success() {
                return Err(whole_flake_failed(&label, &rest));
            }
            found = parse(&rest.stdout)?.into_discovery(flake_dir);
        }
        let here = repo_root.join(flake_dir);
        for (name, error) in probed.failures {
            let error = localize(&error, &here);
            found.hosts.insert(name, HostFacts::Unknown { error });
        }
        return Ok(found);
    };
    // A caught throw says nothing: the probe evaluates those hosts again,
    // uncaught, for nix's messages (one process for all of them).
    let caught: Vec<String> = found
        .hosts
        .iter()
        .filter(|(_, f)| matches!(f, HostFacts::Unknown { .. }))
        .map(|(n, _)| n.clone())
        .collect();
    if !caught.is_empty() {
        wrapper.write("select.json", &select(Some(&caught), false))?;
        let probed = probe::probe(&wrapper, nix_args)?.unwrap_or_default();
        let here = repo_root.join(flake_dir);
        for name in caught {
            if let Some(error) = probed.failures.get(&name) {
                let error = localize(error, &here);
                found.hosts.insert(name, HostFacts::Unknown { error });
            }
        }
    }
    Ok(found)
}

/// nix's message with the store copies of the flake's own files named as
/// the user knows them (`/nix/store/…-source/hosts/a.nix` -> `hosts/a.nix`);
/// a store path whose rest is no file of the flake (nixpkgs' own, say)
/// stays as nix wrote it.
fn localize(text: &str, flake_root: &Path) -> String {
    const STORE: &str = "/nix/store/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(STORE) {
        out.push_str(&rest[..at]);
        let path = &rest[at..];
        let end = path
            .find(|c: char| c.is_whitespace() || matches!(c, ':' | '\'' | '`' | '"' | ','))
            .unwrap_or(path.len());
        let relative = path[STORE.len()..end]
            .split_once("-source/")
            .map(|(_, r)| r)
            .filter(|r| !r.is_empty() && flake_root.join(r).exists());
        out.push_str(relative.unwrap_or(&path[..end]));
        rest = &path[end..];
    }
    out.push_str(rest);
    out
}

fn whole_flake_failed(label: &str, output: &std::process::Output) -> Error {
    Error::Failed(format!(
        "evaluating the flake's machines (nixosConfigurations, darwinConfigurations, homeConfigurations) failed (`{label}`). nix said:\n{}",
        super::upstream::indent(&nix::stderr_tail(output, 15))
    ))
}

/// What discover.nix is asked: which hosts (`None`: all), and whether a
/// host's throw is caught (in a batch) or left to fail it (in the probe,
/// which then says what nix said).
fn select(only: Option<&[String]>, catch: bool) -> String {
    serde_json::json!({ "only": only, "catch": catch }).to_string()
}

/// Runs `nix eval` of the wrapper's `attr`, the spinner naming the host Nix
/// is at (from discover.nix's traces).
fn run(
    wrapper: &Wrapper,
    attr: &str,
    nix_args: &[String],
) -> Result<(std::process::Output, String)> {
    let (mut cmd, label) = wrapper.eval_command(attr, nix_args);
    let seen = std::cell::Cell::new(0);
    let (output, _) = spinner::run_watching(&mut cmd, &label, |line| {
        let (host, of) = progress(line)?;
        seen.set(seen.get() + 1);
        Some(spinner::Status {
            label: format!("evaluating {host}"),
            count: Some((seen.get(), of)),
        })
    })
    .map_err(spawn_error)?;
    Ok((output, label))
}

/// discover.nix's trace as it starts a host: its name and how many hosts
/// it evaluates in all (`trace: flake-migrate: evaluating carbon (of 12)`).
fn progress(line: &str) -> Option<(&str, u64)> {
    let said = line.split_once(TRACE)?.1;
    let (host, of) = said.rsplit_once(" (of ")?;
    Some((host, of.strip_suffix(')')?.parse().ok()?))
}

/// A discovery as `discover.nix` prints it (the proof's evaluation embeds
/// one), with paths relative to the flake's directory.
pub(super) fn from_json(json: &[u8], flake_dir: &Path) -> Result<Discovery> {
    Ok(parse(json)?.into_discovery(flake_dir))
}

#[path = "discover_raw.rs"]
mod raw;

#[cfg(test)]
#[path = "discover_tests.rs"]
mod tests;
