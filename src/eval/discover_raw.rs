//! `discover.nix`'s output as it prints it, and how it becomes a
//! [`Discovery`]: paths made relative to the flake's directory, the
//! definitions home-manager echoes dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Definition, Discovery, HostFacts, HostInfo, Origin, OverlayDef};
use crate::error::{Error, Result};
use crate::host_kind::HostKind;

/// What `discover.nix` prints.
#[derive(Deserialize)]
pub(super) struct RawDiscovery {
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
    kind: HostKind,
    attr: String,
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
    #[serde(default)]
    backend: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOverlay {
    file: String,
    names: Vec<String>,
    from_prev_llama: Vec<String>,
}

pub(super) fn parse(stdout: &[u8]) -> Result<RawDiscovery> {
    serde_json::from_slice(stdout)
        .map_err(|e| Error::Failed(format!("could not read the host discovery ({e})")))
}

impl RawDiscovery {
    /// Paths relative to the flake's directory, as the steps read files;
    /// `root` is the repository's source in the store, which holds the flake
    /// at `flake_dir`.
    pub(super) fn into_discovery(self, flake_dir: &Path) -> Discovery {
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
            backend: d.backend,
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
            kind: self.kind,
            attr: self.attr,
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
