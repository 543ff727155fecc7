//! What the overlays this step removes defined: the package names hosts may
//! still use, and the override arguments that go with them, which the
//! notes list so nothing is dropped without being named: what the hosts'
//! builds carry (their options in flake-migrate.toml) is said so, the rest
//! is listed as dropped.

use std::collections::BTreeSet;
use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::config::{Build, Config, Variant};
use crate::files::Files;
use crate::model::{self, Model};
use crate::pinned_src::Revisions;
use crate::record::NotCarried;
use crate::refs::{self, RefKind};
use crate::steps::host_packages::{old_attrs, override_args::covered};
use crate::syntax::{self, end, start};

/// Names defined by removed overlay entries, across the whole step, and
/// what their overrides did that the hosts' builds do not carry.
pub(super) struct Dropped<'a> {
    pub names: BTreeSet<String>,
    pub not_carried: Vec<NotCarried>,
    files: &'a dyn Files,
    model: &'a Model,
    config: &'a Config,
    /// The revisions the flake's inputs name.
    revisions: Revisions,
}

impl<'a> Dropped<'a> {
    pub fn new(
        files: &'a dyn Files,
        model: &'a Model,
        config: &'a Config,
        revisions: Revisions,
    ) -> Self {
        Dropped {
            names: BTreeSet::new(),
            not_carried: Vec::new(),
            files,
            model,
            config,
            revisions,
        }
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
                let mut hosts: Vec<String> = self
                    .model
                    .hosts_seeing(file, r.range.start)
                    .into_iter()
                    .map(|h| h.name.clone())
                    .filter(|h| self.config.hosts.contains_key(h))
                    .collect();
                // An overlay file is imported by expression, not as a
                // module: with no host known to see it, it is the fleet's.
                if hosts.is_empty() {
                    hosts = self.config.hosts.keys().cloned().collect();
                }
                // Seeing the overlay is not building its entry: what it did
                // is a note for the hosts that name the entry (when any
                // does; else for all that see it).
                let users = self.users_of(&name, &hosts, file);
                if !users.is_empty() {
                    hosts = users;
                }
                let lost = self.lost(&hosts, args, attrs.then(|| &text[r.range.clone()]));
                notes.push(format!(
                    "{at}: dropped with the old override of `{name}`: {}{}",
                    describe(args, *attrs),
                    if lost.is_empty() {
                        " (the hosts' builds carry all of it)".to_string()
                    } else {
                        format!("; not carried: {}", lost.join(", "))
                    }
                ));
                if !lost.is_empty() {
                    self.not_carried
                        .push(NotCarried::new(lost.join(", "), at, hosts));
                }
            }
            self.names.insert(name);
        }
    }

    /// The `hosts` whose files, other than the overlay's own `file`, name
    /// `name` as a whole identifier (`pkgs.llama-cpp-cuda`, `with pkgs; [
    /// llama-cpp-cuda ]`): the builds the entry was for.
    fn users_of(&self, name: &str, hosts: &[String], file: &Path) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| {
                self.model.host(h).is_some_and(|host| {
                    std::iter::once(&host.def_file)
                        .chain(&host.files)
                        .filter(|f| f.as_path() != file)
                        .any(|f| {
                            self.files
                                .read(f)
                                .ok()
                                .flatten()
                                .is_some_and(|text| names_identifier(&text, name))
                        })
                })
            })
            .cloned()
            .collect()
    }

    /// What some host that saw the override loses with it: the override
    /// arguments and `overrideAttrs` items (of `expr`) its build does not
    /// have; a `src` the upstream input builds too is not lost.
    fn lost(&self, hosts: &[String], args: &[String], expr: Option<&str>) -> Vec<String> {
        let mut builds: Vec<Build> = hosts.iter().filter_map(|h| self.config.build(h)).collect();
        if builds.is_empty() {
            // No configured host at all: nothing the old override did is kept.
            builds.push(Build::from(Variant::Cpu));
        }
        let mut lost: BTreeSet<String> = BTreeSet::new();
        for build in &builds {
            lost.extend(args.iter().filter(|a| !covered(build, a)).cloned());
            if let Some(e) = expr {
                lost.extend(old_attrs::split(e, build, &self.revisions).1);
            }
        }
        // As written: the arguments, then the attributes in source order.
        let order: Vec<String> = args
            .iter()
            .cloned()
            .chain(expr.map(old_attrs::all).unwrap_or_default())
            .collect();
        let mut lost: Vec<String> = lost.into_iter().collect();
        lost.sort_by_key(|l| order.iter().position(|o| o == l));
        lost
    }
}

/// Whether `text` holds `name` with no identifier character (Nix's
/// `[A-Za-z0-9_'-]`) on either side: `llama-cpp` is not in `llama-cpp-cuda`.
fn names_identifier(text: &str, name: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || "_'-".contains(c));
    text.match_indices(name).any(|(i, _)| {
        !ident(text[..i].chars().next_back()) && !ident(text[i + name.len()..].chars().next())
    })
}

/// `override { cudaSupport = true; } and an overrideAttrs`, as a reader
/// recognises it in the source.
fn describe(args: &[String], attrs: bool) -> String {
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
    if attrs {
        parts.push("an overrideAttrs".to_string());
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

    /// The notes for the old overlay `text` at `overlays/llama.nix`, which
    /// no host is known to see (so it is the fleet's): boron (cuda, with
    /// `options`) and, when `both`, neon (plain cuda).
    fn notes(text: &str, options: crate::config::Options, both: bool) -> Vec<String> {
        let mut config = Config::default();
        config.hosts.insert("boron".into(), Variant::Cuda);
        if both {
            config.hosts.insert("neon".into(), Variant::Cuda);
        }
        config.options.insert("boron".into(), options);
        let files = crate::files::MapFiles::default();
        let model = Model::default();
        let mut dropped = Dropped::new(&files, &model, &config, Revisions::default());
        record_all(&mut dropped, "overlays/llama.nix", text)
    }

    /// Every entry of the overlay `text` at `path` recorded; the notes.
    fn record_all(dropped: &mut Dropped, path: &str, text: &str) -> Vec<String> {
        let path = Path::new(path);
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
    fn what_the_hosts_builds_do_not_carry_is_listed() {
        let text = "final: prev: {\n  llama-cpp = (prev.llama-cpp.override { cudaSupport = true; rpcSupport = true; }).overrideAttrs (old: {\n    cmakeFlags = old.cmakeFlags ++ [ \"-DCMAKE_CUDA_ARCHITECTURES=86\" \"-DGGML_SCHED_MAX_COPIES=1\" ];\n  });\n}\n";
        let sm86 = crate::config::Options {
            cuda_capabilities: Some(vec!["8.6".into()]),
            ..Default::default()
        };
        assert_eq!(
            notes(text, sm86.clone(), false),
            [
                "overlays/llama.nix:2:15: dropped with the old override of `llama-cpp`: override { cudaSupport = true; rpcSupport = true; } and an overrideAttrs; not carried: rpcSupport = true, GGML_SCHED_MAX_COPIES=1",
            ]
        );
        // neon sees it too and builds for upstream's architectures: not carried.
        let both = notes(text, sm86, true);
        assert!(
            both[0].ends_with(
                "not carried: rpcSupport = true, CMAKE_CUDA_ARCHITECTURES=86, GGML_SCHED_MAX_COPIES=1"
            ),
            "{both:?}"
        );
    }

    /// An overlay every host sees, with one entry per host's build: each
    /// entry is a note for the hosts naming it, and what a host's variant
    /// builds is carried (issue 21: the seed's CUDA host was told its
    /// `cudaSupport` and the Vulkan host's `vulkanSupport` were lost).
    #[test]
    fn an_entry_is_judged_by_the_hosts_that_name_it() {
        let overlay = "final: prev: {\n  llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; };\n  llama-cpp-vulkan = prev.llama-cpp.override { vulkanSupport = true; };\n}\n";
        let files = crate::files::MapFiles::of(&[
            (
                "flake.nix",
                "{ outputs = { nixpkgs, ... }: { nixosConfigurations = {\n  carbon = nixpkgs.lib.nixosSystem { modules = [ ./carbon.nix ./common.nix ]; };\n  beryllium = nixpkgs.lib.nixosSystem { modules = [ ./beryllium.nix ./common.nix ]; };\n}; }; }",
            ),
            (
                "common.nix",
                "{ ... }: { nixpkgs.overlays = [ (import ./variants.nix) ]; }",
            ),
            (
                "carbon.nix",
                "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp-cuda ]; }",
            ),
            (
                "beryllium.nix",
                "{ pkgs, ... }: { environment.systemPackages = with pkgs; [ llama-cpp-vulkan ]; }",
            ),
            ("variants.nix", overlay),
        ]);
        let model = Model::read(&files).unwrap();
        let mut config = Config::default();
        config.hosts.insert("carbon".into(), Variant::Cuda);
        config.hosts.insert("beryllium".into(), Variant::Vulkan);
        let mut dropped = Dropped::new(&files, &model, &config, Revisions::default());
        let notes = record_all(&mut dropped, "variants.nix", overlay);
        assert!(
            notes
                .iter()
                .all(|n| n.ends_with("(the hosts' builds carry all of it)")),
            "{notes:#?}"
        );
        assert!(dropped.not_carried.is_empty());
    }
}
