//! The static model corrected by evaluation: "Nix evaluation says where,
//! the syntax tree says how". Evaluation knows every host whatever builds
//! it, and which files define what each host installs; the static reading
//! keeps what only the syntax tree knows (where a host's modules list is,
//! which path literals it has), so the steps can still edit.

use std::collections::BTreeSet;

use rowan::ast::AstNode;
use std::path::PathBuf;

use super::{Host, Model, closure, home_manager};
use crate::error::Result;
use crate::eval::discover::{Discovery, HostFacts, HostInfo};
use crate::files::Files;
use crate::flake::FLAKE_FILE;
use crate::syntax;

/// A host evaluation could not read: it exists, and nothing is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHost {
    pub name: String,
    /// What nix said.
    pub error: String,
}

/// How the two readings differ, for `init` to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    /// Hosts only evaluation found.
    pub found_by_evaluation: Vec<String>,
    /// Hosts the static reading saw that `nixosConfigurations` does not have.
    pub not_in_evaluation: Vec<String>,
    /// Per host, module files only evaluation connected to it.
    pub files_by_evaluation: Vec<(String, Vec<PathBuf>)>,
}

impl Model {
    /// This model with evaluation's facts laid over it: the hosts are
    /// exactly `nixosConfigurations`' attributes; each known host's files
    /// include every file that defines its packages, overlays, users or host
    /// name; a host that failed to evaluate is kept in `unknown_hosts`.
    pub fn with_evaluation(
        mut self,
        files: &dyn Files,
        discovery: &Discovery,
    ) -> Result<(Model, Differences)> {
        let mut diff = Differences {
            not_in_evaluation: self
                .hosts
                .iter()
                .filter(|h| !discovery.hosts.contains_key(&h.name))
                .map(|h| h.name.clone())
                .collect(),
            ..Differences::default()
        };
        self.hosts.retain(|h| discovery.hosts.contains_key(&h.name));
        self.index_hosts();
        // Evaluation lists every host: nothing hides any more.
        for u in &mut self.unresolved {
            u.hides_hosts = false;
        }
        for (name, facts) in &discovery.hosts {
            let info = match facts {
                HostFacts::Known(info) => info,
                HostFacts::Unknown { error } => {
                    self.unknown_hosts.push(UnknownHost {
                        name: name.clone(),
                        error: error.clone(),
                    });
                    continue;
                }
            };
            match self.index.get(name).map(|&i| &mut self.hosts[i]) {
                Some(host) => {
                    let added = host.add_evaluated(files, info)?;
                    if !added.is_empty() {
                        diff.files_by_evaluation.push((name.clone(), added));
                    }
                }
                None => {
                    diff.found_by_evaluation.push(name.clone());
                    self.hosts.push(Host::evaluated(files, name, info)?);
                }
            }
        }
        self.hosts.sort_by(|a, b| a.name.cmp(&b.name));
        self.add_link_targets(files);
        self.index_hosts();
        Ok((self, diff))
    }

    pub fn unknown_host(&self, name: &str) -> Option<&UnknownHost> {
        self.unknown_hosts.iter().find(|u| u.name == name)
    }
}

/// Hosts that failed to evaluate, grouped by what nix said: a failure
/// several hosts share (a common module) is said once.
pub fn by_reason<'a>(
    hosts: impl IntoIterator<Item = &'a UnknownHost>,
) -> Vec<(String, Vec<&'a str>)> {
    let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for u in hosts {
        groups.entry(u.reason()).or_default().push(&u.name);
    }
    groups.into_iter().collect()
}

impl UnknownHost {
    /// nix's own words in one line: its last `error:` line, without the
    /// advice about `--show-trace`, and where nix says it happened (the
    /// first `at FILE:LINE:COL:` after it).
    pub fn reason(&self) -> String {
        let plain = without_colors(&self.error);
        let lines: Vec<&str> = plain
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let last_error = lines.iter().rposition(|l| l.starts_with("error:"));
        let what = last_error
            .map(|i| lines[i].trim_start_matches("error:").trim())
            .or_else(|| lines.iter().rev().find(|l| !l.starts_with("(use")).copied())
            .unwrap_or("nix gave no reason");
        let at = lines[last_error.map_or(0, |i| i + 1)..]
            .iter()
            .find_map(|l| l.strip_prefix("at ")?.strip_suffix(':'));
        match at {
            Some(at) => format!("{what} (at {at})"),
            None => what.to_string(),
        }
    }
}

/// `text` without terminal colour sequences (`ESC [ … m`), which nix
/// writes around `error:`.
fn without_colors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Host {
    /// A host only evaluation found: no definition the syntax tree can edit
    /// (its module list is built where static reading does not follow), but
    /// its files and own module are known.
    fn evaluated(files: &dyn Files, name: &str, info: &HostInfo) -> Result<Host> {
        let mut host = Host {
            name: name.to_string(),
            kind: info.kind,
            def_file: PathBuf::from(FLAKE_FILE),
            range: 0..0,
            modules_list: None,
            own_module: None,
            direct_modules: Vec::new(),
            files: Vec::new(),
            inputs_in_modules: info.inputs_in_modules,
            followed: true,
            paths: BTreeSet::new(),
            home_files: BTreeSet::new(),
            home_manager_global_pkgs: false,
            package_set: None,
        };
        host.add_evaluated(files, info)?;
        Ok(host)
    }

    /// Adds what evaluation knows; returns the files that are new. Their
    /// path literals join the host's, as the static closure's do (whether
    /// the host imports the overlay is read from them).
    fn add_evaluated(&mut self, files: &dyn Files, info: &HostInfo) -> Result<Vec<PathBuf>> {
        self.kind = info.kind;
        let mut added = Vec::new();
        for file in &info.module_files {
            if self.files.contains(file) || file.as_os_str() == FLAKE_FILE {
                continue;
            }
            if let Some(text) = files.read(file)?
                && let Ok(root) = syntax::parse(file, &text)
            {
                self.paths
                    .extend(closure::path_literals(root.syntax(), file));
                self.home_manager_global_pkgs |= home_manager::uses_global_pkgs(root.syntax());
            }
            self.files.push(file.clone());
            added.push(file.clone());
        }
        self.files.sort();
        for def in &info.packages {
            if def.option.starts_with("home-manager.users.")
                && let Some(file) = &def.file
            {
                self.home_files.insert(file.clone());
            }
        }
        if let Some(own) = &info.own_module
            && self.own_module.is_none()
        {
            self.own_module = Some(own.clone());
        }
        self.inputs_in_modules = info.inputs_in_modules;
        self.followed = true;
        Ok(added)
    }
}
