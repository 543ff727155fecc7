//! The one way a step is written: files, `nix flake lock` when asked, and
//! the commit, under a journal; plus the commit message every step shares.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::journal::Journal;
use super::{RunOptions, Session};
use crate::catalogue::Migration;
use crate::config::Document;
use crate::error::{Error, Result};
use crate::git;
use crate::nix;
use crate::output::say;
use crate::record::{Applied, FileChange, NotCarried, STATE_FILE, State};
use crate::steps::Changeset;

/// What a step's commit does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Applied,
    Adopted,
    /// The step was applied, then the files drifted from it; the commit
    /// applies its edits again.
    Repaired,
}

/// `proven`: the run's `Proven:` trailer (`3 hosts`, `no (--no-eval)`).
fn commit_message(m: &Migration, notes: &[String], kind: Kind, proven: Option<&str>) -> String {
    let mut msg = match kind {
        Kind::Applied => format!("{}\n\n", m.subject),
        Kind::Adopted => format!("Record as done: {}\n\n", m.title),
        Kind::Repaired => format!("Repair: {}\n\n", m.subject),
    };
    match kind {
        Kind::Applied => {}
        Kind::Adopted => msg.push_str("The repository already satisfied this checklist item; flake-migrate\nrecorded it without editing any file.\n\n"),
        Kind::Repaired => msg.push_str("The files had drifted from this applied checklist item (a hand edit or\na commit past the hook); flake-migrate applied its edits again.\n\n"),
    }
    msg.push_str(&format!("Checklist: {}\n", m.title));
    for note in notes {
        msg.push_str(&format!("Note: {note}\n"));
    }
    msg.push_str(&format!(
        "\n{}: {}\n{}: {}\n",
        git::TRAILER_STEP,
        m.id,
        git::TRAILER_CHECKSUM,
        m.checksum
    ));
    if kind == Kind::Repaired {
        msg.push_str(&format!("{}: {}\n", git::TRAILER_REPAIR, m.id));
    }
    if let Some(proven) = proven {
        msg.push_str(&format!("{}: {proven}\n", git::TRAILER_PROVEN));
    }
    msg
}

/// Commits `state` as a record of step `m` that changes no other file (a
/// verification, a switch), through the same transaction as every step.
/// `subject` replaces the step's commit subject when given.
pub fn record(
    session: &Session,
    m: &Migration,
    state: &State,
    subject: Option<&str>,
    notes: &[String],
) -> Result<()> {
    let files = vec![(PathBuf::from(STATE_FILE), Some(state.to_toml()))];
    transact(session, &m.id, &files, None, |_| {
        let msg = commit_message(m, notes, Kind::Applied, None);
        match subject {
            Some(s) => msg.replacen(&m.subject, s, 1),
            None => msg,
        }
    })?;
    Ok(())
}

pub(super) fn adopt(
    session: &Session,
    state: &mut State,
    m: &Migration,
    proven: Option<&str>,
) -> Result<()> {
    state.record(Applied::without_edits(m, true));
    let files = vec![(PathBuf::from(STATE_FILE), Some(state.to_toml()))];
    transact(session, &m.id, &files, None, |_| {
        commit_message(m, &[], Kind::Adopted, proven)
    })?;
    Ok(())
}

/// Writes and commits `changes` as step `m` (`kind`: applied, or repaired
/// after drift; `proven`: the run's proof, for the trailer), recording it.
pub(super) fn apply(
    session: &Session,
    state: &mut State,
    (m, kind, proven): (&Migration, Kind, Option<&str>),
    changes: &Changeset,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<()> {
    for path in changes.files.keys() {
        let untracked = session.root.join(path).exists()
            && session
                .repo
                .index()?
                .get_path(&session.repo_path(path), 0)
                .is_none();
        if untracked {
            return Err(Error::Failed(format!(
                "{}: {} would overwrite the untracked file {}; nothing was changed",
                m.id,
                m.title,
                path.display()
            )));
        }
    }
    let mut notes = changes.notes.clone();
    let repo = &session.repo;
    let mut record = Vec::new();
    let mut head = git::TreeFiles::head(repo)?;
    for (path, after) in &changes.files {
        let before = head.blob(&session.repo_path(path))?;
        record.push(FileChange {
            path: path.clone(),
            before: before
                .map(|b| repo.blob(&b).map(|o| o.to_string()))
                .transpose()?
                .unwrap_or_default(),
            after: after
                .as_ref()
                .map(|a| repo.blob(a.as_bytes()).map(|o| o.to_string()))
                .transpose()?
                .unwrap_or_default(),
        });
    }
    if kind == Kind::Repaired {
        record = with_first_before(state, &m.id, record);
    }
    state.record(Applied {
        id: m.id.clone(),
        checksum: m.checksum.clone(),
        adopted: false,
        files: record,
        not_carried: with_entries(session, &changes.not_carried)?,
    });
    let mut files: Vec<(PathBuf, Option<String>)> = changes
        .files
        .iter()
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    files.push((PathBuf::from(STATE_FILE), Some(state.to_toml())));
    let lock = changes.lock_flake.then_some(opts);
    let lock_note = transact(session, &m.id, &files, lock, |lock_note| {
        let mut all = notes.clone();
        all.extend(lock_note.map(String::from));
        commit_message(m, &all, kind, proven)
    })?;
    notes.extend(lock_note);
    let done = match kind {
        Kind::Repaired => "(it had drifted; applied again and committed)",
        _ => "(committed)",
    };
    say(out, format!("{}: {} {done}", m.id, m.title));
    for note in notes.iter().chain(&changes.aside) {
        say(out, format!("  note: {note}"));
    }
    Ok(())
}

/// The items with the checksum of their hosts' entries as the config file
/// has them now, so `status` can tell when the user has edited them.
fn with_entries(session: &Session, items: &[NotCarried]) -> Result<Vec<NotCarried>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let doc = Document::load(&session.root)?;
    Ok(items
        .iter()
        .map(|n| NotCarried {
            entries: doc
                .as_ref()
                .map(|d| d.entries_checksum(&n.hosts))
                .unwrap_or_default(),
            ..n.clone()
        })
        .collect())
}

/// A repair's record of `id`: each file keeps the content from before the
/// step was first applied (and files only the first application touched
/// stay recorded), so undoing it from the record undoes both.
fn with_first_before(state: &State, id: &str, repair: Vec<FileChange>) -> Vec<FileChange> {
    let first = state.get(id).map(|a| a.files.clone()).unwrap_or_default();
    let mut files: Vec<FileChange> = first
        .iter()
        .filter(|f| !repair.iter().any(|r| r.path == f.path))
        .cloned()
        .collect();
    for change in repair {
        let before = first
            .iter()
            .find(|f| f.path == change.path)
            .map_or(change.before, |f| f.before.clone());
        files.push(FileChange { before, ..change });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Runs `nix flake lock`; returns what the user should know.
fn lock_flake(root: &Path, opts: &RunOptions) -> String {
    if opts.no_lock {
        return "flake.lock not updated (--no-lock): run `nix flake lock` before building".into();
    }
    if !nix::available() {
        return "nix is not installed here, so flake.lock was not updated: run `nix flake lock` where nix is".into();
    }
    match nix::run(root, &["flake", "lock"], &opts.nix_args) {
        Ok(o) if o.status.success() => "flake.lock updated with `nix flake lock`".into(),
        Ok(o) => {
            // nix's own words go to the terminal, not into the commit message.
            eprintln!("nix flake lock said:\n{}", nix::stderr_tail(&o, 3));
            "`nix flake lock` failed (offline?), so flake.lock was not updated: run `nix flake lock` yourself".into()
        }
        Err(e) => format!("could not run `nix flake lock` ({e}): run it yourself"),
    }
}

/// Writes `files`, runs `nix flake lock` when asked, and commits it all,
/// under a journal that lets `recover` finish or undo an interrupted run.
/// Returns what the lock attempt should tell the user.
pub(super) fn transact(
    session: &Session,
    step: &str,
    files: &[(PathBuf, Option<String>)],
    lock: Option<&RunOptions>,
    message: impl FnOnce(Option<&str>) -> String,
) -> Result<Option<String>> {
    let repo = &session.repo;
    let mut paths: Vec<PathBuf> = files.iter().map(|(p, _)| session.repo_path(p)).collect();
    if lock.is_some() {
        paths.push(session.repo_path(Path::new("flake.lock")));
    }
    let journal = Journal {
        step: step.to_string(),
        head: git::head_commit(repo)?.id().to_string(),
        paths: paths.clone(),
    };
    journal.write(repo)?;
    let result = (|| {
        for (path, content) in files {
            let full = session.root.join(path);
            match content {
                Some(text) => git::write_atomic(&full, text.as_bytes())?,
                None => {
                    if full.exists() {
                        std::fs::remove_file(&full).map_err(|e| Error::io(&full, e))?;
                        git::remove_empty_parents(&session.root, &full);
                    }
                }
            }
        }
        let lock_note = lock.map(|opts| lock_flake(&session.root, opts));
        git::commit_paths(repo, &paths, &message(lock_note.as_deref()))?;
        Ok(lock_note)
    })();
    if result.is_err() {
        // Put everything back as HEAD has it: the step did not happen.
        git::checkout_paths(repo, &paths)?;
    }
    Journal::remove(repo);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, before: &str, after: &str) -> FileChange {
        FileChange {
            path: path.into(),
            before: before.into(),
            after: after.into(),
        }
    }

    #[test]
    fn a_repairs_record_keeps_what_the_files_were_before_the_first_application() {
        let mut state = State::default();
        state.record(Applied {
            id: "0003".into(),
            checksum: "c".into(),
            adopted: false,
            files: vec![
                change("flake.nix", "a", "b"),
                change("hosts/x.nix", "p", "q"),
            ],
            not_carried: Vec::new(),
        });
        let merged = with_first_before(
            &state,
            "0003",
            vec![change("flake.nix", "c", "d"), change("new.nix", "", "n")],
        );
        assert_eq!(
            merged,
            vec![
                change("flake.nix", "a", "d"),
                change("hosts/x.nix", "p", "q"),
                change("new.nix", "", "n"),
            ]
        );
    }
}
