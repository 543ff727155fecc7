//! Where each host gets llama.cpp from, as Nix knows it: "Nix evaluation
//! says where, the syntax tree says how". Reading flake.nix misses hosts
//! built by `listToAttrs`/`genAttrs` over let-bound lists, `import ./hosts
//! inputs`, modules reached through `inputs.self.nixosModules.x` and the like;
//! the module system knows every host and which file each definition comes
//! from (`options.<path>.definitionsWithLocations`).
//!
//! One `nix eval --json` of `discover.nix` through the wrapper flake covers
//! the whole fleet. A host whose evaluation throws is reported `Unknown`
//! without stopping the others; an error `tryEval` cannot catch fails the
//! single process, and then every host is evaluated in a process of its own,
//! so only the broken ones are `Unknown`.
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
use crate::nix;
use crate::output::spinner;

pub use super::cache::{cached, carry_forward, discover_cached};
use super::wrapper::{Wrapper, spawn_error};

pub(super) const DISCOVER_NIX: &str = include_str!("discover.nix");
const TRACE: &str = "flake-migrate: evaluating ";

/// Every host of `nixosConfigurations`.
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

/// What `discover.nix` prints.
#[derive(Deserialize)]
struct RawDiscovery {
    root: String,
    names: Vec<String>,
    hosts: BTreeMap<String, RawResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum RawResult {
    Known(RawHost),
    Error(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHost {
    system: String,
    inputs_in_modules: bool,
    host_name_files: Vec<String>,
    packages: Vec<RawDef>,
    service: Vec<RawDef>,
    overlays: Vec<RawOverlay>,
    overlays_ignored: Option<String>,
    module_files: Vec<String>,
}

#[derive(Deserialize)]
struct RawDef {
    option: String,
    file: Option<String>,
    name: Option<String>,
    origin: Origin,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOverlay {
    file: String,
    names: Vec<String>,
    from_prev_llama: Vec<String>,
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
            ("select.json", &select(None)),
        ],
    )?;
    let (output, label) = run(&wrapper, "result", nix_args)?;
    if output.status.success() {
        let mut found = parse(&output.stdout)?.into_discovery(flake_dir);
        // A caught throw says nothing: evaluate it again, uncaught, for
        // nix's message.
        for (name, facts) in &mut found.hosts {
            if matches!(facts, HostFacts::Unknown { .. }) {
                *facts = isolated(&wrapper, flake_dir, name, nix_args)?;
            }
        }
        return Ok(found);
    }
    // Something tryEval cannot catch: one process per host isolates it.
    let (names_out, _) = run(&wrapper, "result.names", nix_args)?;
    if !names_out.status.success() {
        return Err(Error::Failed(format!(
            "evaluating the flake's nixosConfigurations failed (`{label}`). nix said:\n{}",
            super::upstream::indent(&nix::stderr_tail(&output, 15))
        )));
    }
    let names: Vec<String> = serde_json::from_slice(&names_out.stdout)
        .map_err(|e| Error::Failed(format!("could not read the host names ({e})")))?;
    let mut hosts = BTreeMap::new();
    for name in names {
        let facts = isolated(&wrapper, flake_dir, &name, nix_args)?;
        hosts.insert(name, facts);
    }
    Ok(Discovery { hosts })
}

/// What discover.nix is asked: which hosts (`None`: all), and whether a
/// host's throw is caught (only when evaluating all of them).
fn select(only: Option<&str>) -> String {
    serde_json::json!({ "only": only.map(|h| [h]), "catch": only.is_none() }).to_string()
}

/// One host in a process of its own, its error uncaught.
fn isolated(
    wrapper: &Wrapper,
    flake_dir: &Path,
    name: &str,
    nix_args: &[String],
) -> Result<HostFacts> {
    wrapper.write("select.json", &select(Some(name)))?;
    let (out, _) = run(wrapper, "result", nix_args)?;
    if !out.status.success() {
        return Ok(HostFacts::Unknown {
            error: nix::stderr_tail(&out, 10),
        });
    }
    Ok(parse(&out.stdout)?
        .into_discovery(flake_dir)
        .hosts
        .remove(name)
        .unwrap_or_else(|| HostFacts::Unknown {
            error: "nix did not evaluate it".into(),
        }))
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

fn parse(stdout: &[u8]) -> Result<RawDiscovery> {
    serde_json::from_slice(stdout)
        .map_err(|e| Error::Failed(format!("could not read the host discovery ({e})")))
}

impl RawDiscovery {
    /// Paths relative to the flake's directory, as the steps read files;
    /// `root` is the repository's source in the store, which holds the flake
    /// at `flake_dir`.
    fn into_discovery(self, flake_dir: &Path) -> Discovery {
        let prefix = if flake_dir.as_os_str().is_empty() {
            format!("{}/", self.root)
        } else {
            format!("{}/{}/", self.root, flake_dir.display())
        };
        let rel = |f: &str| f.strip_prefix(&prefix).map(PathBuf::from);
        let mut hosts: BTreeMap<String, HostFacts> = BTreeMap::new();
        for (name, raw) in self.hosts {
            let facts = match raw {
                RawResult::Error(error) => HostFacts::Unknown { error },
                RawResult::Known(h) => HostFacts::Known(Box::new(h.into_info(&rel))),
            };
            hosts.insert(name, facts);
        }
        debug_assert!(hosts.keys().all(|h| self.names.contains(h)));
        Discovery { hosts }
    }
}

impl RawHost {
    fn into_info(self, rel: &dyn Fn(&str) -> Option<PathBuf>) -> HostInfo {
        let def = |d: RawDef| Definition {
            option: d.option,
            file: d.file.as_deref().and_then(rel),
            name: d.name.unwrap_or_default(),
            origin: d.origin,
        };
        let mut packages: Vec<Definition> = self.packages.into_iter().map(def).collect();
        // home-manager's useUserPackages echoes a user's home.packages into
        // users.users.<u>.packages from its own module: one place, not two.
        let home: BTreeSet<(String, String)> = packages
            .iter()
            .filter_map(|d| {
                let user = d
                    .option
                    .strip_prefix("home-manager.users.")?
                    .strip_suffix(".home.packages")?;
                Some((format!("users.users.{user}.packages"), d.name.clone()))
            })
            .collect();
        packages
            .retain(|d| d.file.is_some() || !home.contains(&(d.option.clone(), d.name.clone())));
        let service: Vec<Definition> = self.service.into_iter().map(def).collect();
        let overlays: Vec<OverlayDef> = self
            .overlays
            .into_iter()
            .map(|o| OverlayDef {
                file: rel(&o.file),
                names: o.names,
                from_prev_llama: o.from_prev_llama,
            })
            .collect();
        let mut module_files: BTreeSet<PathBuf> =
            self.module_files.iter().filter_map(|f| rel(f)).collect();
        module_files.extend(
            packages
                .iter()
                .chain(&service)
                .filter_map(|d| d.file.clone()),
        );
        module_files.extend(overlays.iter().filter_map(|o| o.file.clone()));
        HostInfo {
            system: self.system,
            inputs_in_modules: self.inputs_in_modules,
            own_module: self.host_name_files.iter().find_map(|f| rel(f)),
            packages,
            service,
            overlays,
            overlays_take_effect: self.overlays_ignored.map_or(Ok(()), Err),
            module_files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_says_which_host_and_of_how_many() {
        assert_eq!(
            progress("trace: flake-migrate: evaluating my (odd) host (of 12)"),
            Some(("my (odd) host", 12))
        );
        assert_eq!(progress("warning: Git tree is dirty"), None);
    }

    #[test]
    fn store_paths_become_repository_paths_and_echoes_go() {
        let json = r#"{"root":"/nix/store/x-source","names":["a","b"],"hosts":{
          "a":{"known":{"system":"x86_64-linux","inputsInModules":true,
            "hostNameFiles":["/nix/store/n-source/nixos/modules/misc/base.nix","/nix/store/x-source/hosts/a.nix"],
            "packages":[
              {"option":"home-manager.users.bob.home.packages","file":"/nix/store/x-source/home/bob.nix","name":"llama-cpp-6000","origin":"nixpkgs"},
              {"option":"users.users.bob.packages","file":"/nix/store/h-source/nixos/default.nix","name":"llama-cpp-6000","origin":"nixpkgs"}],
            "service":[],"overlays":[{"file":"/nix/store/x-source/overlays/llama.nix","names":["llama-cpp"],"fromPrevLlama":["llama-cpp"]}],
            "overlaysIgnored":"pkgs passed through specialArgs",
            "moduleFiles":["/nix/store/x-source/hosts/a.nix","<unknown-file>"]}},
          "b":{"error":"evaluation failed"}}}"#;
        let d = parse(json.as_bytes())
            .unwrap()
            .into_discovery(Path::new(""));
        let HostFacts::Known(a) = &d.hosts["a"] else {
            panic!("{d:?}")
        };
        assert_eq!(a.own_module, Some(PathBuf::from("hosts/a.nix")));
        assert_eq!(a.packages.len(), 1, "{:?}", a.packages);
        assert_eq!(a.packages[0].file, Some(PathBuf::from("home/bob.nix")));
        assert_eq!(
            a.overlays_take_effect,
            Err("pkgs passed through specialArgs".into())
        );
        let files: Vec<&str> = a.module_files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(files, ["home/bob.nix", "hosts/a.nix", "overlays/llama.nix"]);
        assert!(matches!(d.hosts["b"], HostFacts::Unknown { .. }));
    }
}
