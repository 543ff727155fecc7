//! 0005: delete the old override files and every reference to them, remove
//! inline overlays that override nixpkgs' llama-cpp, and remove inputs that
//! pin other llama.cpp sources, with their uses.

mod dangling;
mod dropped;
mod fork_inputs;
mod inline_overlays;
mod package_overrides;
mod references;
mod removal;

pub use fork_inputs::fork_inputs;

use std::path::{Path, PathBuf};

use super::{Changeset, Context, Plan};
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::flake::{self, FLAKE_FILE};
use crate::model;
use crate::old_override;
use crate::refs;
use crate::syntax;

/// A file this step edits, between finding what goes and rewriting the
/// uses of what went.
struct Edited {
    file: PathBuf,
    text: String,
    root: rnix::ast::Root,
    splices: Vec<Splice>,
}

pub fn plan(ctx: &Context) -> Result<Plan> {
    let old = old_override::files(ctx.files, ctx.config)?;
    let flake_text = ctx.files.read(Path::new(FLAKE_FILE))?.unwrap_or_default();
    let forks = match flake::parse(&flake_text)? {
        Ok(f) => fork_inputs(&f, ctx.config),
        Err(_) => Vec::new(),
    };
    let model = ctx.model()?;
    let file_hosts = model.file_hosts();
    let mut changes = Changeset::default();
    let mut dropped = dropped::Dropped::new(ctx.files, &model, ctx.config, super::revisions(ctx)?);
    for path in &old {
        changes.files.insert(path.clone(), None);
        changes.notes.push(format!("deleted {}", path.display()));
        if let Some(text) = ctx.files.read(path)?
            && let Ok(root) = syntax::parse(path, &text)
            && let Some(set) = old_override::overlay_set(&root)
        {
            let entries: Vec<_> = syntax::named_entries(&set)
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            dropped.record(path, &text, &root, &entries, &mut changes.notes);
        }
    }
    let mut edited = Vec::new();
    // As 0004 does: files the user keeps away from flake-migrate are not
    // read (and need not parse).
    let excluded = ctx.config.excluded();
    for file in ctx.files.nix_files() {
        if old.contains(&file) || excluded.contains(&file) {
            continue;
        }
        let Some(text) = ctx.files.read(&file)? else {
            continue;
        };
        // Uses of removed names mention llama-cpp too.
        if !old.iter().any(|o| references::mentions(&text, o))
            && !forks.iter().any(|f| text.contains(f.as_str()))
            && !text.contains(refs::PACKAGE)
        {
            continue;
        }
        let root = syntax::parse(&file, &text)?;
        let mut splices = Vec::new();
        match inline_overlays::removals(&file, &text, &root, &mut dropped, &mut changes.notes) {
            Ok(found) => splices.extend(found),
            Err(blocked) => return Ok(blocked),
        }
        for (entry, splice) in package_overrides::removals(&text, &root) {
            let node = rowan::ast::AstNode::syntax(&entry);
            changes.notes.push(format!(
                "{}: removed `{}` from packageOverrides (it applies before overlays, so it cannot use upstream's packages)",
                model::location(&file, &text, syntax::start(node)),
                node.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
            ));
            dropped.record(&file, &text, &root, &[entry], &mut changes.notes);
            splices.push(splice);
        }
        match references::removals(&file, &text, &root, &old) {
            Ok(found) => splices.extend(found),
            Err(blocked) => return Ok(blocked),
        }
        if file == Path::new(FLAKE_FILE)
            && let Ok(flake) = flake::Flake::read(root.clone())
        {
            splices.extend(fork_inputs::remove_inputs(&text, &flake, &forks));
        }
        let hosts = file_hosts.get(&file).map(Vec::as_slice);
        match fork_inputs::replace_uses(
            ctx.config,
            &file,
            &text,
            &root,
            &forks,
            hosts,
            &mut changes.notes,
        ) {
            Ok(found) => splices.extend(found),
            Err(blocked) => return Ok(blocked),
        }
        edited.push(Edited {
            file,
            text,
            root,
            splices,
        });
    }
    // Every removed definition is known only now: rewrite their uses.
    let names = dangling::dangling(ctx.config, &dropped.names);
    let mut stuck = Vec::new();
    for e in &mut edited {
        let removed: Vec<_> = e.splices.iter().map(|s| s.start..s.end).collect();
        let hosts = file_hosts.get(&e.file).map(Vec::as_slice);
        e.splices.extend(dangling::rewrite_uses(
            ctx.config,
            &e.file,
            &e.text,
            &e.root,
            &names,
            &removed,
            hosts,
            &mut changes.notes,
            &mut stuck,
        ));
    }
    if !stuck.is_empty() {
        return Ok(Plan::blocked(
            format!(
                "names defined by the overlays this step removes are still used:\n{}",
                stuck
                    .iter()
                    .map(|s| format!("  {}: {}", s.at, s.why))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            "replace each use with its host's `pkgs.llama-cpp-<variant>` by hand, then run `flake-migrate up`",
        ));
    }
    for e in edited {
        if e.splices.is_empty() {
            continue;
        }
        let after = edit::apply(&e.file, &e.text, e.splices)?;
        let after = removal::without_emptied(&e.file, &e.text, after)?;
        changes.files.insert(e.file, Some(after));
    }
    for fork in &forks {
        changes.notes.push(format!(
            "removed input `{fork}` (a pinned llama.cpp source)"
        ));
    }
    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    changes.lock_flake = !forks.is_empty();
    changes.not_carried = dropped.not_carried;
    Ok(Plan::Changes(changes))
}
