//! 0004: in every module a host imports, references to nixpkgs' llama-cpp
//! become the host's variant (`pkgs.llama-cpp-cuda`). A module shared by
//! hosts of different variants is refused, with a way out; so is any other
//! reference the guard would then report (see `leftovers`), and files under
//! `[guard] exclude` are left alone.

mod call_package;
mod flake_output;
mod leftovers;
pub(crate) mod old_attrs;
pub(crate) mod override_args;
mod pkgs_scope;
mod relocate;
mod rewrite;
mod shared;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rnix::ast;

use super::{Changeset, Context, Plan};
use crate::config::Build;
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::files::Files;
use crate::model;
use crate::refs::{self, LlamaRef, RefKind};
use crate::syntax;
use leftovers::{HostSides, Leftover};
use relocate::relocate;
use rewrite::{Said, Target, rewrite};
use shared::{shared_conflict, sharing};

pub fn plan(ctx: &Context) -> Result<Plan> {
    let model = ctx.model()?;
    if let Some(missing) = super::missing_host(ctx.config, &model) {
        return Ok(missing);
    }
    let skip = crate::old_override::files(ctx.files, ctx.config)?;
    let excluded = ctx.config.excluded();
    let mut said = Said::default();
    let mut sides = HostSides::new(ctx.files, ctx.config);
    let mut changes = Changeset::default();
    let file_hosts = model.file_hosts();
    let revisions = super::revisions(ctx)?;

    let mut pending: Pending = BTreeMap::new();

    // Module files: every file of a configured host.
    let mut owners: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (file, hosts) in &file_hosts {
        if hosts.iter().any(|h| ctx.config.hosts.contains_key(h))
            && !skip.contains(file)
            && !excluded.contains(file)
        {
            owners.insert(file.clone(), hosts.clone());
        }
    }
    for (file, importers) in &owners {
        let Some(text) = ctx.files.read(file)? else {
            continue;
        };
        let root = syntax::parse(file, &text)?;
        let seen: Vec<&model::Host> = importers.iter().filter_map(|h| model.host(h)).collect();
        let mut found = Vec::new();
        let mut customised = Vec::new();
        for r in host_refs(ctx.files, file, &root) {
            if matches!(r.kind, RefKind::CallPackage { .. }) {
                if !leftovers::allowed(&text, &r) {
                    let (reference, customisation) =
                        call_package::as_reference(ctx.files, &root, &r)?;
                    customised.extend(customisation);
                    found.push(reference);
                }
            } else if !(matches!(r.kind, RefKind::ServiceWithoutPackage)
                && sides.spare(&seen, &r)?)
            {
                found.push(r);
            }
        }
        said.notes.extend(override_args::cuda_config_note(
            ctx.config, file, &text, importers, &found,
        ));
        if found.is_empty() {
            continue;
        }
        let hosts = &sharing(ctx.config, ctx.discovery, file, importers, &found);
        let seen: Vec<&model::Host> = hosts.iter().filter_map(|h| model.host(h)).collect();
        if !hosts.iter().any(|h| ctx.config.hosts.contains_key(h)) {
            continue;
        }
        let variants: Vec<(String, Option<Build>)> = hosts
            .iter()
            .map(|h| (h.clone(), ctx.config.build(h)))
            .collect();
        let first = variants[0].1.clone();
        if variants.iter().any(|(_, v)| *v != first) {
            // A home-manager module's options are not its host's.
            if seen.iter().any(|h| h.home_files.contains(file)) {
                return Ok(shared_conflict(file, &text, &found[0], &variants));
            }
            // What each host's build keeps of the references, said as a
            // rewrite in place would say it.
            for (host, build) in &variants {
                if let Some(build) = build {
                    let target = Target {
                        build,
                        hosts: vec![host.clone()],
                        revisions: &revisions,
                    };
                    let mut each = Said::default();
                    rewrite(file, &text, &root, &found, &target, true, &mut each);
                    call_package::notes(&customised, &target, &mut each);
                    said.not_carried.extend(each.not_carried);
                    said.notes.extend(
                        each.notes
                            .into_iter()
                            .filter(|n| !said.notes.contains(n))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            let moved = relocate(ctx.files, &model, (file, &text, &root), &found, &variants)?;
            match moved {
                Ok(moved) => {
                    said.notes.extend(moved.notes);
                    for (f, splices) in moved.splices {
                        pending_for(ctx.files, &mut pending, &f)?.1.extend(splices);
                    }
                }
                Err(refused) => return Ok(refused),
            }
            continue;
        }
        // Home-manager has its own pkgs without the system's overlays
        // unless `useGlobalPkgs`: the variant would not exist there.
        if let Some(host) = seen
            .iter()
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
        let target = Target {
            build: &variant,
            hosts: configured(ctx, hosts.iter()),
            revisions: &revisions,
        };
        let splices = rewrite(file, &text, &root, &found, &target, true, &mut said);
        call_package::notes(&customised, &target, &mut said);
        pending_for(ctx.files, &mut pending, file)?
            .1
            .extend(splices);
    }
    // A file may get splices from its own references and from a shared
    // module's moved into it: applied together, once.
    for (file, (text, splices)) in pending {
        changes
            .files
            .insert(file.clone(), Some(edit::apply(&file, &text, splices)?));
    }

    // Inline modules in the files that define hosts: by position.
    for def_file in &model.flake_files {
        if excluded.contains(def_file) {
            continue;
        }
        let Some(text) = ctx.files.read(def_file)? else {
            continue;
        };
        let root = syntax::parse(def_file, &text)?;
        let mut by_variant: BTreeMap<Build, (Vec<LlamaRef>, Vec<String>)> = BTreeMap::new();
        let mut direct = Vec::new();
        // How the flake's outputs name upstream's input, for a package of
        // its own outputs (see `flake_output`).
        let input = if def_file.as_path() == Path::new(crate::flake::FLAKE_FILE) {
            let name = super::write_overlay::upstream_input(ctx)?;
            crate::flake::parse(&text)
                .ok()
                .and_then(|f| f.ok())
                .and_then(|f| f.input_expr(&name))
        } else {
            None
        };
        for r in host_refs(ctx.files, def_file, &root) {
            let hosts = model.hosts_defined_at(def_file, r.range.start);
            let variants: Vec<Option<Build>> =
                hosts.iter().map(|h| ctx.config.build(&h.name)).collect();
            match (variants.first(), &r.kind) {
                (Some(Some(v)), kind)
                    if variants.iter().all(|x| x.as_ref() == Some(v))
                        && !matches!(kind, RefKind::CallPackage { .. }) =>
                {
                    let (refs, owners) = by_variant.entry(v.clone()).or_default();
                    refs.push(r);
                    owners.extend(configured(ctx, hosts.iter().map(|h| &h.name)));
                }
                _ if leftovers::allowed(&text, &r) || sides.spare(&hosts, &r)? => {}
                _ if hosts.is_empty()
                    && let Some((splice, variant)) = input
                        .as_deref()
                        .and_then(|i| flake_output::upstream_package(&r, i)) =>
                {
                    said.notes.push(format!(
                        "{}: a package of the flake's own outputs, built from a package set no overlay reaches: now upstream's {variant} package ({})",
                        model::location(def_file, &text, r.range.start),
                        variant.upstream_label("${system}")
                    ));
                    direct.push(splice);
                }
                (_, RefKind::CallPackage { target }) => {
                    said.left
                        .push(Leftover::new(def_file, &text, &r, call_package_why(target)))
                }
                _ => said.left.push(Leftover::new(
                    def_file,
                    &text,
                    &r,
                    if hosts.is_empty() {
                        "it is outside any host's definition".to_string()
                    } else {
                        leftovers::unattributed(ctx.config, &hosts)
                    },
                )),
            }
        }
        if by_variant.is_empty() && direct.is_empty() {
            continue;
        }
        let mut splices = direct;
        for (variant, (found, mut hosts)) in by_variant {
            hosts.sort();
            hosts.dedup();
            let target = Target {
                build: &variant,
                hosts,
                revisions: &revisions,
            };
            splices.extend(rewrite(
                def_file, &text, &root, &found, &target, false, &mut said,
            ));
        }
        changes.files.insert(
            def_file.clone(),
            Some(edit::apply(def_file, &text, splices)?),
        );
    }

    // Every other file: what no host with a variant is known to import.
    let done: Vec<&PathBuf> = owners.keys().chain(&model.flake_files).collect();
    for file in leftovers::other_files(ctx.files, ctx.config, &done, &skip) {
        let Some(text) = ctx.files.read(&file)? else {
            continue;
        };
        if !refs::may_refer(&text) {
            continue;
        }
        let root = rnix::Root::parse(&text).tree();
        for r in host_refs(ctx.files, &file, &root) {
            let hosts = model.hosts_seeing(&file, r.range.start);
            if leftovers::allowed(&text, &r) || sides.spare(&hosts, &r)? {
                continue;
            }
            let why = match &r.kind {
                RefKind::CallPackage { target } => call_package_why(target),
                _ => leftovers::unattributed(ctx.config, &hosts),
            };
            said.left.push(Leftover::new(&file, &text, &r, why));
        }
    }
    let Said {
        mut notes,
        left,
        not_carried,
    } = said;
    if !left.is_empty() {
        return Ok(leftovers::blocked(&left));
    }

    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    for u in &model.unresolved {
        let note = format!(
            "{}:{}:{}: {} (not followed; check it by hand)",
            u.file.display(),
            u.line,
            u.column,
            u.what
        );
        if about_the_change(ctx, &model, &changes, u)? {
            notes.push(note);
        } else {
            changes.aside.push(note);
        }
    }
    changes.notes = notes;
    changes.not_carried = not_carried;
    Ok(Plan::Changes(changes))
}

/// Whether what the static reading could not follow concerns this step's
/// change: it is in the configuration of a host with a variant, or, outside
/// every host, in a file the step edits. The rest (a `${nixpkgs}/nixos/…`
/// path of a host without a variant) is no part of the commit.
fn about_the_change(
    ctx: &Context,
    model: &model::Model,
    changes: &Changeset,
    u: &model::Unresolved,
) -> Result<bool> {
    let text = ctx.files.read(&u.file)?.unwrap_or_default();
    let hosts = model.hosts_seeing(&u.file, syntax::offset_of(&text, u.line, u.column));
    Ok(if hosts.is_empty() {
        changes.files.contains_key(&u.file)
    } else {
        hosts.iter().any(|h| ctx.config.hosts.contains_key(&h.name))
    })
}

/// Per file: its text and the splices planned for it.
type Pending = BTreeMap<PathBuf, (String, Vec<Splice>)>;

fn pending_for<'p>(
    files: &dyn Files,
    pending: &'p mut Pending,
    file: &Path,
) -> Result<&'p mut (String, Vec<Splice>)> {
    if !pending.contains_key(file) {
        let text = files.read(file)?.unwrap_or_default();
        pending.insert(file.to_path_buf(), (text, Vec::new()));
    }
    Ok(pending.get_mut(file).expect("inserted above"))
}

/// The hosts among `hosts` that flake-migrate.toml gives a variant.
fn configured<'a>(ctx: &Context, hosts: impl Iterator<Item = &'a String>) -> Vec<String> {
    hosts
        .filter(|h| ctx.config.hosts.contains_key(*h))
        .cloned()
        .collect()
}

fn call_package_why(target: &Path) -> String {
    format!(
        "it calls {} with callPackage, which passes nixpkgs' llama-cpp as its `llama-cpp` argument",
        target.display()
    )
}

/// The references 0004 deals with: not an overlay's own `prev.llama-cpp`
/// (an old override, which 0005 removes).
fn host_refs(files: &dyn Files, file: &Path, root: &ast::Root) -> Vec<LlamaRef> {
    refs::find_in(file, root, &mut |target| {
        crate::old_override::package_file_taking_llama(files, target).is_some()
    })
    .into_iter()
    .filter(|r| !r.in_overlay())
    .collect()
}
