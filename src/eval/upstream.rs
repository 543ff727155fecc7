//! Step 0006's host evaluation: what each host installs of llama.cpp, and
//! whether that is the upstream input's package for the host's variant.
//!
//! It goes through the wrapper flake (see `wrapper.rs` for why), which
//! exposes the repository's inputs, so `upstream.nix` compares store paths
//! (`outPath`) directly, never names (upstream's CPU build is
//! `llama-cpp-blas-…`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::{Config, Variant};
use crate::error::{Error, Result};
use crate::nix;
use crate::output::spinner;

use super::wrapper::{Wrapper, nix_string, spawn_error};

pub use super::verdict::{Verdict, judge};

pub(super) const HOSTS_NIX: &str = include_str!("upstream.nix");

/// What `upstream.nix` reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Whether the flake has the upstream input at all.
    pub has_input: bool,
    /// Configured hosts that are not in `nixosConfigurations`.
    pub missing: Vec<String>,
    /// Every host of `nixosConfigurations`.
    pub hosts: BTreeMap<String, HostEval>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostEval {
    pub system: String,
    pub variant: Option<Variant>,
    /// Upstream's package for the variant: its attribute and store path
    /// (`None` when the input does not provide it on this system).
    pub expected: Option<Expected>,
    /// `name` of nixpkgs' own `llama-cpp` for this host, e.g. `llama-cpp-6000`.
    pub nixpkgs_name: Option<String>,
    pub packages: Vec<Installed>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    pub attr: String,
    pub out: Option<String>,
}

/// One llama.cpp package a host installs, and from where.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Installed {
    pub from: String,
    pub out: String,
    pub name: String,
    /// The upstream variant whose package this is, by store path.
    pub upstream: Option<Variant>,
    /// It is exactly nixpkgs' `llama-cpp`.
    pub nixpkgs: bool,
    /// Files of the repository defining it (real NixOS only).
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub cmake_flags: Vec<String>,
    #[serde(default)]
    pub build_inputs: Vec<String>,
    /// The derivation's `NIX_ENFORCE_NO_NATIVE`, when it sets one.
    #[serde(default)]
    pub nix_enforce_no_native: Option<String>,
}

/// Evaluates every host of the flake in `root` (which must be clean: the
/// wrapper reads HEAD). `extra` are the user's nix arguments.
pub fn evaluate(
    repo_root: &Path,
    flake_dir: &Path,
    config: &Config,
    extra: &[String],
) -> Result<Evaluation> {
    let (hosts, attrs) = variants_json(config);
    let result = format!(
        "import ./hosts.nix {{ flake = target; input = {}; hosts = builtins.fromJSON (builtins.readFile ./hosts.json); attrs = builtins.fromJSON (builtins.readFile ./attrs.json); }}",
        nix_string(&config.input)
    );
    let wrapper = Wrapper::create(
        repo_root,
        flake_dir,
        &result,
        &[
            ("hosts.nix", HOSTS_NIX),
            ("machines.nix", super::discover::MACHINES_NIX),
            ("units.nix", super::discover::UNITS_NIX),
            ("hosts.json", &hosts),
            ("attrs.json", &attrs),
        ],
    )?;
    let (mut cmd, label) = wrapper.eval_command("result", extra);
    let (output, _) = spinner::run(&mut cmd, &label).map_err(spawn_error)?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "evaluating the hosts failed (`{label}`); nothing was recorded. nix said:\n{}",
            indent(&nix::stderr_tail(&output, 15))
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::Failed(format!(
            "could not read the host evaluation ({e}); nothing was recorded"
        ))
    })
}

/// What `upstream.nix` is told of the config, as JSON: each configured
/// host's variant, and the overlay attribute of each host with options.
pub(super) fn variants_json(config: &Config) -> (String, String) {
    let hosts: BTreeMap<&str, &str> = config
        .hosts
        .iter()
        .map(|(h, v)| (h.as_str(), v.name()))
        .collect();
    let attrs: BTreeMap<&str, String> = config
        .hosts
        .keys()
        .filter(|h| config.options.contains_key(*h))
        .filter_map(|h| Some((h.as_str(), config.package_attr(h)?)))
        .collect();
    (
        serde_json::to_string(&hosts).expect("hosts serialize"),
        serde_json::to_string(&attrs).expect("attrs serialize"),
    )
}

pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
