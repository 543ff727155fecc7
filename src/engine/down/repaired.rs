//! `down` of a step that `up` repaired after drift, and a revert that
//! conflicts only in the record.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::super::transaction::transact;
use super::super::{RunOptions, Session};
use super::{blob_text, reverse_merge};
use crate::catalogue::Migration;
use crate::edit;
use crate::error::{Error, Result};
use crate::git;
use crate::output::say;
use crate::record::{STATE_FILE, State};

/// The record is not merged line by line when a revert conflicts in it (a
/// repair rewrote an earlier step's entry next to this one's): it is what
/// `head` records, without step `m`.
pub(super) fn resolve_record(
    session: &Session,
    m: &Migration,
    head: &git2::Commit,
    index: &mut git2::Index,
) -> Result<()> {
    let record = session.repo_path(Path::new(STATE_FILE));
    let record_bytes = record.to_string_lossy().into_owned().into_bytes();
    let Some(conflict) = index.conflicts()?.filter_map(|c| c.ok()).find(|c| {
        [&c.our, &c.their, &c.ancestor]
            .into_iter()
            .flatten()
            .any(|e| e.path == record_bytes)
    }) else {
        return Ok(());
    };
    let mut head_files = git::TreeFiles::of(&session.repo, &head.tree()?);
    let mut state = match head_files.blob(&record)? {
        Some(text) => State::parse(&String::from_utf8_lossy(&text))?,
        None => State::default(),
    };
    state.forget(&m.id);
    let mut entry = conflict
        .our
        .or(conflict.their)
        .or(conflict.ancestor)
        .expect("a conflict has a side");
    // Stage 0, and the path's length as the index stores it.
    entry.flags = entry.path.len().min(0xfff) as u16;
    entry.id = session.repo.blob(state.to_toml().as_bytes())?;
    entry.file_size = 0;
    index.conflict_remove(&record)?;
    index.add(&entry)?;
    Ok(())
}

/// Undoes a step that was repaired after drift: each of its commits'
/// edits (`chain`, newest first) is taken back out of the files in turn,
/// as reverting them one after another would, and the record forgets the
/// step; one commit. (Reverting the commits themselves would merge each
/// one's record against a record the later ones changed.)
pub(super) fn undo_repaired<'r>(
    session: &'r Session,
    m: &Migration,
    chain: &[git2::Commit<'r>],
    head: &git2::Commit<'r>,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<Option<git2::Commit<'r>>> {
    let repo = &session.repo;
    let record = session.repo_path(Path::new(STATE_FILE));
    let mut current = git::TreeFiles::of(repo, &head.tree()?);
    let mut files: std::collections::BTreeMap<PathBuf, Option<Vec<u8>>> = Default::default();
    for commit in chain {
        let tree = commit.tree()?;
        let parent_tree = commit.parent(0)?.tree()?;
        let (mut after_files, mut before_files) = (
            git::TreeFiles::of(repo, &tree),
            git::TreeFiles::of(repo, &parent_tree),
        );
        let diff = repo.diff_tree_to_tree(Some(&parent_tree), Some(&tree), None)?;
        let paths: Vec<PathBuf> = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or(d.old_file().path()))
            .map(Path::to_path_buf)
            .filter(|p| *p != record)
            .collect();
        for path in paths {
            let now = match files.get(&path) {
                Some(content) => content.clone(),
                None => current.blob(&path)?,
            };
            let (after, before) = (after_files.blob(&path)?, before_files.blob(&path)?);
            let undone = if now == after {
                before
            } else {
                reverse_merge(&path, now.as_deref(), after.as_deref(), before.as_deref())
                    .ok_or_else(|| {
                        Error::Failed(format!(
                            "undoing {} conflicts with later changes in: {}; nothing was changed. Undo those later changes first, or edit the file by hand",
                            m.id,
                            path.display()
                        ))
                    })?
            };
            files.insert(path, undone);
        }
    }
    let mut edits: Vec<(PathBuf, Option<String>)> = files
        .into_iter()
        .filter_map(|(path, content)| {
            let relative = path.strip_prefix(&session.prefix).ok()?.to_path_buf();
            Some((
                relative,
                content.map(|c| String::from_utf8_lossy(&c).into_owned()),
            ))
        })
        .collect();
    if opts.dry_run {
        say(
            out,
            format!(
                "{}: would undo it and its repairs, {} commits (dry run)",
                m.id,
                chain.len()
            ),
        );
        for (path, after) in &edits {
            let before = blob_text(&mut current, &session.repo_path(path))?;
            let _ = write!(
                out,
                "{}",
                edit::unified_diff(path, before.as_deref(), after.as_deref())
            );
        }
        return Ok(None);
    }
    let mut state = session.state()?;
    state.forget(&m.id);
    edits.push((PathBuf::from(STATE_FILE), Some(state.to_toml())));
    let message = format!(
        "Revert \"{}\" and its repairs\n\nflake-migrate down: undo checklist item \"{}\".\n\n{}: {}\n",
        m.subject,
        m.title,
        git::TRAILER_REVERTED,
        m.id
    );
    transact(session, &m.id, &edits, None, |_| message)?;
    say(
        out,
        format!(
            "{}: reverted (its commit and {} repair(s) undone)",
            m.id,
            chain.len() - 1
        ),
    );
    Ok(None)
}
