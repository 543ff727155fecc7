//! `flake-migrate down`: revert a step's commit, or, when history was
//! rewritten, take its recorded edit back out of the files.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;

mod repaired;

use super::journal::Journal;
use super::transaction::transact;
use super::{RunOptions, Session};
use crate::catalogue::{self, Migration};
use crate::edit;
use crate::error::{Error, Result};
use crate::git;
use crate::output::say;
use crate::record::STATE_FILE;
use repaired::{resolve_record, undo_repaired};

/// `flake-migrate down`.
pub fn down(session: &Session, opts: &RunOptions, out: &mut dyn Write) -> Result<()> {
    if !opts.dry_run {
        session.refuse_dirty()?;
    }
    let state = session.state()?;
    let applied: Vec<&Migration> = session
        .migrations
        .iter()
        .filter(|m| state.is_applied(&m.id))
        .collect();
    let keep = match (&opts.to, opts.all) {
        (Some(q), _) => Some(catalogue::find(&session.migrations, q)?.number()),
        (None, true) => Some(0),
        (None, false) => None,
    };
    let undo: Vec<&Migration> = match keep {
        Some(n) => applied
            .iter()
            .rev()
            .filter(|m| m.number() > n)
            .copied()
            .collect(),
        None => applied.last().copied().into_iter().collect(),
    };
    if undo.is_empty() {
        say(out, "nothing to undo".to_string());
        return Ok(());
    }
    // Several steps are undone one commit each; if a later one fails, the
    // earlier reverts are dropped too, so a failed `down` changes nothing.
    let start = git::head_commit(&session.repo)?;
    // A dry run reverts each step on top of the previous one's result, held
    // in a commit no reference points at.
    let mut dry_head = start.clone();
    for m in undo {
        match undo_step(session, m, &dry_head, opts, out) {
            Ok(Some(next)) => dry_head = next,
            Ok(None) => {}
            Err(e) => {
                if git::head_commit(&session.repo)?.id() != start.id() {
                    session
                        .repo
                        .reset(start.as_object(), git2::ResetType::Hard, None)?;
                    say(out, "the steps undone before it were put back".to_string());
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Undoes one step; in a dry run, returns the commit it would make (in no
/// branch) for the next step to be shown on top of.
fn undo_step<'r>(
    session: &'r Session,
    m: &Migration,
    dry_head: &git2::Commit<'r>,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<Option<git2::Commit<'r>>> {
    let repo = &session.repo;
    let head = if opts.dry_run {
        dry_head.clone()
    } else {
        git::head_commit(repo)?
    };
    let chain = git::step_commits(repo, &m.id)?;
    if chain.len() > 1 {
        return undo_repaired(session, m, &chain, &head, opts, out);
    }
    let step_commit = chain.into_iter().next();
    let reverted = step_commit
        .as_ref()
        .and_then(|c| c.summary().ok().flatten().map(String::from))
        .unwrap_or_else(|| m.subject.clone());
    let message = format!(
        "Revert \"{reverted}\"\n\nflake-migrate down: undo checklist item \"{}\".\n\n{}: {}\n",
        m.title,
        git::TRAILER_REVERTED,
        m.id
    );
    if let Some(commit) = step_commit {
        let mut index = repo.revert_commit(&commit, &head, 0, None)?;
        resolve_record(session, m, &head, &mut index)?;
        if index.has_conflicts() {
            let files: Vec<String> = index
                .conflicts()?
                .filter_map(|c| c.ok())
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .filter_map(|e| String::from_utf8(e.path).ok())
                .collect();
            return Err(Error::Failed(format!(
                "undoing {} conflicts with later changes in: {}; nothing was changed. Undo those later changes first, or edit the files by hand",
                m.id,
                files.join(", ")
            )));
        }
        let tree_id = index.write_tree_to(repo)?;
        let new_tree = repo.find_tree(tree_id)?;
        let diff = repo.diff_tree_to_tree(Some(&head.tree()?), Some(&new_tree), None)?;
        let paths: Vec<PathBuf> = diff
            .deltas()
            .filter_map(|d| {
                d.new_file()
                    .path()
                    .or(d.old_file().path())
                    .map(Path::to_path_buf)
            })
            .collect();
        if opts.dry_run {
            say(
                out,
                format!(
                    "{}: would revert commit {} (dry run)",
                    m.id,
                    short(commit.id())
                ),
            );
            let head_tree = head.tree()?;
            let (mut old_files, mut new_files) = (
                git::TreeFiles::of(repo, &head_tree),
                git::TreeFiles::of(repo, &new_tree),
            );
            for path in &paths {
                let before = blob_text(&mut old_files, path)?;
                let after = blob_text(&mut new_files, path)?;
                let _ = write!(
                    out,
                    "{}",
                    edit::unified_diff(path, before.as_deref(), after.as_deref())
                );
            }
            let sig = git2::Signature::now("flake-migrate", "dry-run@flake-migrate.invalid")?;
            let shown = repo.commit(None, &sig, &sig, &message, &new_tree, &[&head])?;
            return Ok(Some(repo.find_commit(shown)?));
        }
        let journal = Journal {
            step: m.id.clone(),
            head: head.id().to_string(),
            paths: paths.clone(),
        };
        journal.write(repo)?;
        git::commit_tree(repo, tree_id, &paths, &message)?;
        Journal::remove(repo);
        say(
            out,
            format!("{}: reverted (commit {} undone)", m.id, short(commit.id())),
        );
        return Ok(None);
    }
    // History was rewritten: the commit is gone, so use the recorded blobs.
    let mut state = session.state()?;
    let applied = state
        .get(&m.id)
        .cloned()
        .expect("only applied steps are undone");
    let mut files = Vec::new();
    for change in &applied.files {
        let current = std::fs::read(session.root.join(&change.path)).ok();
        let after = blob_bytes(repo, &change.after)?;
        let before = blob_bytes(repo, &change.before)?;
        if before.is_none() && !change.before.is_empty() {
            return Err(Error::Failed(format!(
                "{}: the original content of {} (blob {}) is no longer in the repository; nothing was changed",
                m.id,
                change.path.display(),
                change.before
            )));
        }
        let before = if current == after {
            before
        } else {
            // Changed since: take the step's edit back out of it, keeping the
            // later changes, as `git revert` would.
            match reverse_merge(
                &change.path,
                current.as_deref(),
                after.as_deref(),
                before.as_deref(),
            ) {
                Some(merged) => merged,
                None => {
                    return Err(Error::Failed(format!(
                        "{}: the commit that applied it is no longer in history and later changes to {} overlap its edit; nothing was changed. Undo the step's edit of that file by hand, then run `flake-migrate down` again",
                        m.id,
                        change.path.display()
                    )));
                }
            }
        };
        files.push((
            change.path.clone(),
            before.map(|b| String::from_utf8_lossy(&b).into_owned()),
        ));
    }
    if opts.dry_run {
        say(
            out,
            format!("{}: would undo its recorded edits (dry run)", m.id),
        );
        for (path, before) in &files {
            let current = std::fs::read_to_string(session.root.join(path)).ok();
            let _ = write!(
                out,
                "{}",
                edit::unified_diff(path, current.as_deref(), before.as_deref())
            );
        }
        return Ok(None);
    }
    state.forget(&m.id);
    files.push((PathBuf::from(STATE_FILE), Some(state.to_toml())));
    transact(session, &m.id, &files, None, |_| message)?;
    say(
        out,
        format!(
            "{}: undone from its recorded edits (its commit is no longer in history)",
            m.id
        ),
    );
    Ok(None)
}

/// `current` with the change from `after` back to `before` applied, by a
/// three-way merge; `None` when they overlap or a side is missing.
fn reverse_merge(
    path: &Path,
    current: Option<&[u8]>,
    after: Option<&[u8]>,
    before: Option<&[u8]>,
) -> Option<Option<Vec<u8>>> {
    let (current, after, before) = (current?, after?, before?);
    let input = |content| {
        let mut i = git2::MergeFileInput::new();
        i.content(content).path(path);
        i
    };
    let merged = git2::merge_file(&input(after), &input(current), &input(before), None).ok()?;
    merged
        .is_automergeable()
        .then(|| Some(merged.content().to_vec()))
}

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..10].to_string()
}

fn blob_bytes(repo: &Repository, id: &str) -> Result<Option<Vec<u8>>> {
    if id.is_empty() {
        return Ok(None);
    }
    match repo.find_blob(git2::Oid::from_str(id)?) {
        Ok(b) => Ok(Some(b.content().to_vec())),
        Err(_) => Ok(None),
    }
}

fn blob_text(files: &mut git::TreeFiles, path: &Path) -> Result<Option<String>> {
    Ok(files
        .blob(path)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}
