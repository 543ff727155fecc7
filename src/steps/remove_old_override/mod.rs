//! 0005: delete the old override files and every reference to them, remove
//! inline overlays that override nixpkgs' llama-cpp, and remove inputs that
//! pin other llama.cpp sources, with their uses.

mod fork_inputs;
mod inline_overlays;
mod references;
mod removal;

pub use fork_inputs::fork_inputs;

use std::path::Path;

use super::{Changeset, Context, Plan};
use crate::edit;
use crate::error::Result;
use crate::flake::{self, FLAKE_FILE};
use crate::old_override;
use crate::refs;
use crate::syntax;

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
    for path in &old {
        changes.files.insert(path.clone(), None);
        changes.notes.push(format!("deleted {}", path.display()));
    }
    for file in ctx.files.nix_files() {
        if old.contains(&file) {
            continue;
        }
        let Some(text) = ctx.files.read(&file)? else {
            continue;
        };
        if !old.iter().any(|o| references::mentions(&text, o))
            && !forks.iter().any(|f| text.contains(f.as_str()))
            && !text.contains(refs::PACKAGE)
        {
            continue;
        }
        let root = syntax::parse(&file, &text)?;
        let mut splices = Vec::new();
        match inline_overlays::removals(&file, &text, &root, &mut changes.notes) {
            Ok(found) => splices.extend(found),
            Err(blocked) => return Ok(blocked),
        }
        match references::removals(&file, &text, &root, &old) {
            Ok(found) => splices.extend(found),
            Err(blocked) => return Ok(blocked),
        }
        if file == Path::new(FLAKE_FILE) {
            if let Ok(flake) = flake::Flake::read(root.clone()) {
                splices.extend(fork_inputs::remove_inputs(&text, &flake, &forks));
            }
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
        if !splices.is_empty() {
            changes
                .files
                .insert(file.clone(), Some(edit::apply(&file, &text, splices)?));
        }
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
    Ok(Plan::Changes(changes))
}
