//! What the overlays this step removes defined: the package names hosts may
//! still use, and the override arguments that go with them, which the
//! notes list so nothing is dropped without being named: what the hosts'
//! builds carry (their options in flake-migrate.toml) is said so, the rest
//! is listed as dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rnix::ast;
use rowan::ast::AstNode;

use crate::config::{Build, Config};
use crate::model;
use crate::refs::{self, RefKind};
use crate::steps::host_packages::{old_attrs, override_args};
use crate::syntax::{self, end, start};

/// Names defined by removed overlay entries, across the whole step.
#[derive(Debug, Default)]
pub(super) struct Dropped {
    pub names: BTreeSet<String>,
    /// The builds of the configured hosts that see each file: what an old
    /// override there is replaced by.
    builds: BTreeMap<PathBuf, Vec<Build>>,
    /// Every configured build, for a file no host is known to see.
    all: Vec<Build>,
}

impl Dropped {
    pub fn new(config: &Config, file_hosts: &BTreeMap<PathBuf, Vec<String>>) -> Dropped {
        let builds = file_hosts
            .iter()
            .map(|(file, hosts)| {
                let mut b: Vec<Build> = hosts.iter().filter_map(|h| config.build(h)).collect();
                b.sort();
                b.dedup();
                (file.clone(), b)
            })
            .filter(|(_, b)| !b.is_empty())
            .collect();
        Dropped {
            names: BTreeSet::new(),
            builds,
            all: config.builds(),
        }
    }

    fn builds_for(&self, file: &Path) -> &[Build] {
        self.builds.get(file).unwrap_or(&self.all)
    }

    /// Records the removed entries `entries` of `file`: their names, and a
    /// note for each override of nixpkgs' llama-cpp they held.
    pub fn record(
        &mut self,
        file: &Path,
        text: &str,
        root: &ast::Root,
        entries: &[ast::AttrpathValue],
        notes: &mut Vec<String>,
    ) {
        let found = refs::find(root);
        for apv in entries {
            let Some(names) = apv.attrpath().and_then(|p| syntax::attrpath_names(&p)) else {
                continue;
            };
            let name = names[0].clone();
            let range = start(apv.syntax())..end(apv.syntax());
            for r in &found {
                let RefKind::Override { args, attrs } = &r.kind else {
                    continue;
                };
                if !(range.contains(&r.range.start) && r.range.end <= range.end) {
                    continue;
                }
                let at = model::location(file, text, r.range.start);
                let builds = self.builds_for(file);
                let carried_by_all =
                    |f: &dyn Fn(&Build) -> bool| !builds.is_empty() && builds.iter().all(f);
                let (carried_args, dropped_args): (Vec<String>, Vec<String>) = args
                    .iter()
                    .cloned()
                    .partition(|a| carried_by_all(&|b| override_args::covered(b, a)));
                let mut carried_attrs = Vec::new();
                let mut dropped_attrs = Vec::new();
                if *attrs {
                    let expr = &text[r.range.clone()];
                    let items = builds.first().map_or_else(Vec::new, |b| {
                        let (c, d) = old_attrs::split(expr, b);
                        c.into_iter().chain(d).collect()
                    });
                    for item in items {
                        if carried_by_all(&|b| old_attrs::split(expr, b).0.contains(&item)) {
                            carried_attrs.push(item);
                        } else {
                            dropped_attrs.push(item);
                        }
                    }
                }
                let carried: Vec<String> = carried_args.into_iter().chain(carried_attrs).collect();
                if !carried.is_empty() {
                    notes.push(format!(
                        "{at}: carried into {} (flake-migrate.toml): {}",
                        builds
                            .iter()
                            .map(Build::package_attr)
                            .collect::<Vec<_>>()
                            .join(", "),
                        carried.join(", ")
                    ));
                }
                let attrs_left = *attrs && (!dropped_attrs.is_empty() || carried.is_empty());
                if !dropped_args.is_empty() || attrs_left || carried.is_empty() {
                    notes.push(format!(
                        "{at}: dropped with the old override of `{name}`: {}",
                        describe(&dropped_args, attrs_left.then_some(&dropped_attrs[..]))
                    ));
                }
            }
            self.names.insert(name);
        }
    }
}

/// `override { cudaSupport = true; } and an overrideAttrs (not carried:
/// GGML_SCHED_MAX_COPIES=1)`, as a reader recognises it in the source.
fn describe(args: &[String], attrs: Option<&[String]>) -> String {
    let mut parts = Vec::new();
    if !args.is_empty() {
        parts.push(format!(
            "override {{ {} }}",
            args.iter()
                .map(|a| format!("{a};"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    match attrs {
        Some([]) => parts.push("an overrideAttrs (not carried: nothing recognised)".to_string()),
        Some(items) => parts.push(format!(
            "an overrideAttrs (not carried: {})",
            items.join(", ")
        )),
        None => {}
    }
    if parts.is_empty() {
        "an override with no arguments".to_string()
    } else {
        parts.join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;

    /// The notes for the old overlay `text` at `overlays/llama.nix`, seen by
    /// boron (cuda, with `options`) and neon (plain cuda) when `both`.
    fn notes(text: &str, options: crate::config::Options, both: bool) -> Vec<String> {
        let mut config = Config::default();
        config.hosts.insert("boron".into(), Variant::Cuda);
        config.hosts.insert("neon".into(), Variant::Cuda);
        config.options.insert("boron".into(), options);
        let path = Path::new("overlays/llama.nix");
        let seen_by = if both {
            vec!["boron", "neon"]
        } else {
            vec!["boron"]
        };
        let file_hosts = BTreeMap::from([(
            path.to_path_buf(),
            seen_by.into_iter().map(String::from).collect(),
        )]);
        let mut dropped = Dropped::new(&config, &file_hosts);
        let root = syntax::parse(path, text).unwrap();
        let set = crate::old_override::overlay_set(&root).unwrap();
        let entries: Vec<_> = syntax::named_entries(&set)
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut notes = Vec::new();
        dropped.record(path, text, &root, &entries, &mut notes);
        notes
    }

    #[test]
    fn what_the_hosts_builds_carry_is_said_and_the_rest_listed() {
        let text = "final: prev: {\n  llama-cpp = (prev.llama-cpp.override { cudaSupport = true; rpcSupport = true; }).overrideAttrs (old: {\n    cmakeFlags = old.cmakeFlags ++ [ \"-DCMAKE_CUDA_ARCHITECTURES=86\" \"-DGGML_SCHED_MAX_COPIES=1\" ];\n  });\n}\n";
        let sm86 = crate::config::Options {
            cuda_capabilities: Some(vec!["8.6".into()]),
            ..Default::default()
        };
        assert_eq!(
            notes(text, sm86.clone(), false),
            [
                "overlays/llama.nix:2:15: carried into llama-cpp-cuda-sm86 (flake-migrate.toml): cudaSupport = true, CMAKE_CUDA_ARCHITECTURES=86",
                "overlays/llama.nix:2:15: dropped with the old override of `llama-cpp`: override { rpcSupport = true; } and an overrideAttrs (not carried: GGML_SCHED_MAX_COPIES=1)",
            ]
        );
        // neon sees it too and builds for upstream's architectures: not carried.
        let both = notes(text, sm86, true);
        assert!(
            both[1]
                .ends_with("(not carried: CMAKE_CUDA_ARCHITECTURES=86, GGML_SCHED_MAX_COPIES=1)"),
            "{both:?}"
        );
    }
}
