//! References 0004 does not rewrite but the guard's `nixpkgs-llama-cpp`
//! would report once the step is applied: in a file no host with a variant
//! is known to import, in a host without a variant, where `pkgs` is not in
//! scope, or a `callPackage` of a file that takes nixpkgs' llama-cpp. The
//! step refuses on them, so that right after `up` the guard is clean.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::Result;
use crate::files::Files;
use crate::model::{self, Host};
use crate::refs::{self, LlamaRef, allow};
use crate::steps::Plan;

/// The guard rule whose allow comment exempts a reference here too.
const RULE: &str = "nixpkgs-llama-cpp";

pub(super) struct Leftover {
    /// `file:line:col`.
    pub at: String,
    pub why: String,
}

impl Leftover {
    pub fn new(file: &Path, text: &str, r: &LlamaRef, why: impl Into<String>) -> Self {
        Leftover {
            at: model::location(file, text, r.range.start),
            why: why.into(),
        }
    }
}

/// Whether the guard excuses the reference: an allow comment on its line.
pub(super) fn allowed(text: &str, r: &LlamaRef) -> bool {
    allow::is_allowed(text, r.range.start, RULE)
        || allow::is_allowed(text, r.range.start, "llama-cpp-override")
}

/// What each host's configuration does to references in its files:
/// `(applies upstream's overlay, sets services.llama-cpp.package)`.
pub(super) struct HostSides<'a> {
    files: &'a dyn Files,
    config: &'a Config,
    known: HashMap<String, (bool, bool)>,
}

impl<'a> HostSides<'a> {
    pub fn new(files: &'a dyn Files, config: &'a Config) -> Self {
        HostSides {
            files,
            config,
            known: HashMap::new(),
        }
    }

    /// Whether every host in `hosts` (none: no) gets upstream's build at `r`.
    pub fn spare(&mut self, hosts: &[&Host], r: &LlamaRef) -> Result<bool> {
        if hosts.is_empty() {
            return Ok(false);
        }
        for h in hosts {
            let (upstream, package) = self.of(h)?;
            if !r.spared_by(upstream, package) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn of(&mut self, host: &Host) -> Result<(bool, bool)> {
        if let Some(s) = self.known.get(&host.name) {
            return Ok(*s);
        }
        let def_range = host.modules_list.is_some().then(|| host.range.clone());
        let mut side = (false, false);
        let parts = std::iter::once((&host.def_file, def_range))
            .chain(host.files.iter().map(|f| (f, None)));
        for (file, range) in parts {
            let Some(text) = self.files.read(file)? else {
                continue;
            };
            let root = rnix::Root::parse(&text).tree();
            side.0 |= refs::applies_upstream_overlay(&root, &self.config.input, range.clone());
            side.1 |= refs::sets_service_package(&root, range);
        }
        self.known.insert(host.name.clone(), side);
        Ok(side)
    }
}

/// Why a reference seen by `hosts` (none of them with a variant) stays.
pub(super) fn unattributed(config: &Config, hosts: &[&Host]) -> String {
    let without: Vec<&str> = hosts
        .iter()
        .filter(|h| !config.hosts.contains_key(&h.name))
        .map(|h| h.name.as_str())
        .collect();
    if without.is_empty() {
        "no host with a variant is known to import this file, so step 0004 cannot tell which variant it needs".into()
    } else {
        format!(
            "{} ha{} no variant in flake-migrate.toml, so step 0004 leaves it",
            without.join(", "),
            if without.len() == 1 { "s" } else { "ve" }
        )
    }
}

/// The plan that refuses on `left`.
pub(super) fn blocked(left: &[Leftover]) -> Plan {
    let more = match left.len() {
        0 | 1 => String::new(),
        n => format!(
            " (and {} more: {})",
            n - 1,
            left[1..]
                .iter()
                .map(|l| l.at.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Plan::blocked(
        format!(
            "{}: a reference to nixpkgs' llama-cpp that the guard would report and step 0004 cannot rewrite: {}{more}",
            left[0].at, left[0].why
        ),
        "either give the hosts that use it a variant (`flake-migrate init --host H=VARIANT`), \
         or rewrite it by hand to the host's `pkgs.llama-cpp-<variant>`, \
         or exclude the path under `[guard] exclude = [\"…\"]` in flake-migrate.toml if it deliberately builds with nixpkgs' llama-cpp; \
         then run `flake-migrate up` again",
    )
}

/// The files that step 0004 neither rewrites nor skips: every other
/// tracked `.nix` file.
pub(super) fn other_files(
    files: &dyn Files,
    config: &Config,
    done: &[&PathBuf],
    skip: &[PathBuf],
) -> Vec<PathBuf> {
    let excluded = config.excluded();
    // Sets: `done` holds every host file a fleet rewrites.
    let done: HashSet<&PathBuf> = done.iter().copied().collect();
    let skip: HashSet<&PathBuf> = skip.iter().collect();
    files
        .nix_files()
        .into_iter()
        .filter(|f| {
            !done.contains(f) && !skip.contains(f) && *f != config.overlay && !excluded.contains(f)
        })
        .collect()
}
