//! 0004: in every module a host imports, references to nixpkgs' llama-cpp
//! become the host's variant (`pkgs.llama-cpp-cuda`). A module shared by
//! hosts of different variants is refused, with a way out.

mod override_args;
mod pkgs_scope;
mod rewrite;
mod shared;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rnix::ast;

use super::{Changeset, Context, Plan};
use crate::config::Variant;
use crate::edit;
use crate::error::Result;
use crate::model::{self};
use crate::refs::{self, LlamaRef};
use crate::syntax;
use rewrite::rewrite;
use shared::shared_conflict;

pub fn plan(ctx: &Context) -> Result<Plan> {
    let model = ctx.model()?;
    if let Some(missing) = super::missing_host(ctx.config, &model) {
        return Ok(missing);
    }
    let skip = crate::old_override::files(ctx.files, ctx.config)?;
    let mut notes = Vec::new();
    let mut changes = Changeset::default();
    let file_hosts = model.file_hosts();

    // Module files: every file of a configured host.
    let mut owners: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (file, hosts) in &file_hosts {
        if hosts.iter().any(|h| ctx.config.hosts.contains_key(h)) && !skip.contains(file) {
            owners.insert(file.clone(), hosts.clone());
        }
    }
    for (file, hosts) in &owners {
        let Some(text) = ctx.files.read(file)? else {
            continue;
        };
        let root = syntax::parse(file, &text)?;
        let found = host_refs(&root);
        if found.is_empty() {
            continue;
        }
        let variants: Vec<(String, Option<Variant>)> = hosts
            .iter()
            .map(|h| (h.clone(), ctx.config.hosts.get(h).copied()))
            .collect();
        let first = variants[0].1;
        if variants.iter().any(|(_, v)| *v != first) {
            return Ok(shared_conflict(file, &text, &found[0], &variants));
        }
        // Home-manager has its own pkgs without the system's overlays
        // unless `useGlobalPkgs`: the variant would not exist there.
        if let Some(host) = hosts
            .iter()
            .filter_map(|h| model.host(h))
            .find(|h| h.home_files.contains(file) && !h.home_manager_global_pkgs)
        {
            return Ok(Plan::blocked(
                format!(
                    "{}: host {}'s home-manager user uses nixpkgs' llama-cpp, but home-manager.useGlobalPkgs is not true, so the overlay does not reach it",
                    model::location(file, &text, found[0].range.start),
                    host.name
                ),
                format!(
                    "set `home-manager.useGlobalPkgs = true;` for {} (or add the overlay to that user's `nixpkgs.overlays`), then run `flake-migrate up`",
                    host.name
                ),
            ));
        }
        let variant = first.expect("a configured host owns every file here");
        let splices = rewrite(file, &text, &root, &found, variant, true, &mut notes);
        changes
            .files
            .insert(file.clone(), Some(edit::apply(file, &text, splices)?));
    }

    // Inline modules in the files that define hosts: by position.
    for def_file in &model.flake_files {
        let Some(text) = ctx.files.read(def_file)? else {
            continue;
        };
        let root = syntax::parse(def_file, &text)?;
        let mut by_variant: BTreeMap<Variant, Vec<LlamaRef>> = BTreeMap::new();
        for r in host_refs(&root) {
            let hosts = model.hosts_defined_at(def_file, r.range.start);
            let variants: Vec<Option<Variant>> = hosts
                .iter()
                .map(|h| ctx.config.hosts.get(&h.name).copied())
                .collect();
            match variants.first() {
                Some(Some(v)) if variants.iter().all(|x| *x == Some(*v)) => {
                    by_variant.entry(*v).or_default().push(r)
                }
                Some(_) => {} // a host without a variant: untouched
                None => notes.push(format!(
                    "{}: a reference to nixpkgs' llama-cpp outside any host definition was left as is",
                    model::location(def_file, &text, r.range.start)
                )),
            }
        }
        if by_variant.is_empty() {
            continue;
        }
        let mut splices = Vec::new();
        for (variant, found) in by_variant {
            splices.extend(rewrite(
                def_file, &text, &root, &found, variant, false, &mut notes,
            ));
        }
        changes.files.insert(
            def_file.clone(),
            Some(edit::apply(def_file, &text, splices)?),
        );
    }

    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    for u in &model.unresolved {
        notes.push(format!(
            "{}:{}:{}: {} (not followed; check it by hand)",
            u.file.display(),
            u.line,
            u.column,
            u.what
        ));
    }
    changes.notes = notes;
    Ok(Plan::Changes(changes))
}

/// The references 0004 rewrites: not an overlay's own `prev.llama-cpp`
/// (an old override, which 0005 removes).
fn host_refs(root: &ast::Root) -> Vec<LlamaRef> {
    refs::find(root)
        .into_iter()
        .filter(|r| !r.in_overlay())
        .collect()
}
