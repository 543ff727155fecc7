//! Applying and rolling back steps. Each step lands completely (files,
//! record, commit) or not at all: a journal written before any file is
//! touched lets the next run finish or undo a step that was interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, Migration};
use crate::config::{CONFIG_FILE, Config};
use crate::edit;
use crate::error::{Error, Result};
use crate::files::WorkTree;
use crate::git;
use crate::nix;
use crate::record::{Applied, FileChange, STATE_FILE, State};
use crate::steps::{self, Changeset, Context, Plan};

/// Options shared by `up` and `down`.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub to: Option<String>,
    pub dry_run: bool,
    /// `down --all`.
    pub all: bool,
    /// Skip `nix flake lock` in step 0001.
    pub no_lock: bool,
    /// Extra arguments for nix (`--override-input NAME PATH`, …).
    pub nix_args: Vec<String>,
}

/// An open repository, locked for this run.
pub struct Session {
    pub repo: Repository,
    pub root: PathBuf,
    pub migrations: Vec<Migration>,
    _lock: Option<Lock>,
}

impl Session {
    /// Opens the repository holding `dir` for reading only.
    pub fn open(dir: &Path) -> Result<Session> {
        let repo = git::open(dir)?;
        let root = git::workdir(&repo)?;
        Ok(Session {
            repo,
            root,
            migrations: catalogue::bundled(),
            _lock: None,
        })
    }

    /// Opens it for changes: takes the lock and recovers an interrupted run.
    pub fn open_for_change(dir: &Path, out: &mut dyn Write) -> Result<Session> {
        let mut session = Session::open(dir)?;
        session._lock = Some(Lock::take(&session.repo)?);
        recover(&session.repo, out)?;
        Ok(session)
    }

    pub fn config(&self) -> Result<Option<Config>> {
        Config::load(&self.root)
    }

    pub fn require_config(&self) -> Result<Config> {
        self.config()?.ok_or_else(|| {
            Error::usage(
                format!("no {CONFIG_FILE} in {}", self.root.display()),
                "run `flake-migrate init` first: it finds your hosts and suggests a variant for each",
            )
        })
    }

    pub fn state(&self) -> Result<State> {
        State::load(&self.root)
    }

    pub fn work_tree(&self) -> Result<WorkTree> {
        Ok(WorkTree::new(&self.root, git::tracked_files(&self.repo)?))
    }

    pub fn refuse_dirty(&self) -> Result<()> {
        let files = git::dirty_files(&self.repo)?;
        if files.is_empty() {
            Ok(())
        } else {
            Err(Error::Dirty { files })
        }
    }
}

/// `flake-migrate up`.
pub fn up(session: &Session, opts: &RunOptions, out: &mut dyn Write) -> Result<()> {
    let config = session.require_config()?;
    if !opts.dry_run {
        session.refuse_dirty()?;
    }
    git::head_commit(&session.repo)?;
    let target = match &opts.to {
        Some(q) => Some(catalogue::find(&session.migrations, q)?.number()),
        None => None,
    };
    let mut state = session.state()?;
    let mut tree = session.work_tree()?;
    let mut did_something = false;
    for m in &session.migrations {
        if target.is_some_and(|t| m.number() > t) {
            break;
        }
        if let Some(applied) = state.get(&m.id) {
            if applied.checksum != m.checksum {
                say(
                    out,
                    format!(
                        "note: {} changed since it was applied (recorded {}, now {}); `status` shows it",
                        m.id, applied.checksum, m.checksum
                    ),
                );
            }
            continue;
        }
        let ctx = Context {
            files: &tree,
            config: &config,
            state: &state,
        };
        match steps::plan(&m.operation, &ctx)? {
            Plan::Satisfied => {
                did_something = true;
                if opts.dry_run {
                    say(
                        out,
                        format!(
                            "{}: already done by hand; would be recorded (adopted)",
                            m.id
                        ),
                    );
                } else {
                    adopt(session, &mut state, m)?;
                    say(
                        out,
                        format!("{}: already done by hand; recorded as adopted", m.id),
                    );
                }
            }
            Plan::Changes(changes) => {
                did_something = true;
                if opts.dry_run {
                    print_dry_run(&tree, m, &changes, out)?;
                    for (path, content) in &changes.files {
                        tree.stage(path, content.clone());
                    }
                    let mut would = state.clone();
                    would.record(Applied {
                        id: m.id.clone(),
                        checksum: m.checksum.clone(),
                        adopted: false,
                        files: Vec::new(),
                    });
                    state = would;
                } else {
                    apply(session, &mut state, m, &changes, opts, out)?;
                    tree = session.work_tree()?;
                }
            }
            Plan::Blocked { reason, help } => {
                return Err(Error::Manual {
                    step: m.id.clone(),
                    reason,
                    help,
                });
            }
            Plan::Run => {
                did_something = true;
                if opts.dry_run {
                    say(
                        out,
                        format!(
                            "{}: would run `nix flake check` and evaluate each host (dry run)",
                            m.id
                        ),
                    );
                } else {
                    steps::verify::run(session, &config, &mut state, m, &opts.nix_args, out)?;
                }
            }
        }
    }
    if !did_something {
        say(
            out,
            "nothing to do: every step up to the target is applied".to_string(),
        );
    }
    Ok(())
}

fn say(out: &mut dyn Write, line: String) {
    let _ = writeln!(out, "{line}");
}

fn print_dry_run(
    tree: &WorkTree,
    m: &Migration,
    changes: &Changeset,
    out: &mut dyn Write,
) -> Result<()> {
    use crate::files::Files;
    say(out, format!("{}: {} (dry run)", m.id, m.title));
    for (path, after) in &changes.files {
        let before = tree.read(path)?;
        let _ = write!(
            out,
            "{}",
            edit::unified_diff(path, before.as_deref(), after.as_deref())
        );
    }
    for note in &changes.notes {
        say(out, format!("  note: {note}"));
    }
    if changes.lock_flake {
        say(out, "  would run: nix flake lock".to_string());
    }
    Ok(())
}

fn commit_message(m: &Migration, notes: &[String], adopted: bool) -> String {
    let mut msg = if adopted {
        format!("Record as done: {}\n\n", m.title)
    } else {
        format!("{}\n\n", m.subject)
    };
    if adopted {
        msg.push_str("The repository already satisfied this checklist item; flake-migrate\nrecorded it without editing any file.\n\n");
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
    msg
}

/// Commits `state` as a record of step `m` that changes no other file (a
/// verification, a switch), through the same transaction as every step.
/// `subject` replaces the step's commit subject when given.
pub(crate) fn record(
    session: &Session,
    m: &Migration,
    state: &State,
    subject: Option<&str>,
    notes: &[String],
) -> Result<()> {
    let files = vec![(PathBuf::from(STATE_FILE), Some(state.to_toml()))];
    transact(session, &m.id, &files, None, |_| {
        let msg = commit_message(m, notes, false);
        match subject {
            Some(s) => msg.replacen(&m.subject, s, 1),
            None => msg,
        }
    })?;
    Ok(())
}

fn adopt(session: &Session, state: &mut State, m: &Migration) -> Result<()> {
    state.record(Applied {
        id: m.id.clone(),
        checksum: m.checksum.clone(),
        adopted: true,
        files: Vec::new(),
    });
    let files = vec![(PathBuf::from(STATE_FILE), Some(state.to_toml()))];
    transact(session, &m.id, &files, None, |_| {
        commit_message(m, &[], true)
    })?;
    Ok(())
}

fn apply(
    session: &Session,
    state: &mut State,
    m: &Migration,
    changes: &Changeset,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<()> {
    for path in changes.files.keys() {
        let untracked =
            session.root.join(path).exists() && session.repo.index()?.get_path(path, 0).is_none();
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
    for (path, after) in &changes.files {
        let before = git::head_blob(repo, path)?;
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
    state.record(Applied {
        id: m.id.clone(),
        checksum: m.checksum.clone(),
        adopted: false,
        files: record,
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
        commit_message(m, &all, false)
    })?;
    notes.extend(lock_note);
    say(out, format!("{}: {} (committed)", m.id, m.title));
    for note in &notes {
        say(out, format!("  note: {note}"));
    }
    Ok(())
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
fn transact(
    session: &Session,
    step: &str,
    files: &[(PathBuf, Option<String>)],
    lock: Option<&RunOptions>,
    message: impl FnOnce(Option<&str>) -> String,
) -> Result<Option<String>> {
    let repo = &session.repo;
    let mut paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    if lock.is_some() {
        paths.push(PathBuf::from("flake.lock"));
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
    for m in undo {
        if let Err(e) = undo_step(session, m, opts, out) {
            if git::head_commit(&session.repo)?.id() != start.id() {
                session
                    .repo
                    .reset(start.as_object(), git2::ResetType::Hard, None)?;
                say(out, "the steps undone before it were put back".to_string());
            }
            return Err(e);
        }
    }
    Ok(())
}

fn undo_step(
    session: &Session,
    m: &Migration,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<()> {
    let repo = &session.repo;
    let head = git::head_commit(repo)?;
    let step_commit = git::find_step_commit(repo, &m.id)?;
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
            for path in &paths {
                let before = blob_text(repo, &head.tree()?, path)?;
                let after = blob_text(repo, &new_tree, path)?;
                let _ = write!(
                    out,
                    "{}",
                    edit::unified_diff(path, before.as_deref(), after.as_deref())
                );
            }
            return Ok(());
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
        return Ok(());
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
        return Ok(());
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
    Ok(())
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

fn blob_text(repo: &Repository, tree: &git2::Tree, path: &Path) -> Result<Option<String>> {
    match tree.get_path(path) {
        Ok(entry) => Ok(Some(
            String::from_utf8_lossy(repo.find_blob(entry.id())?.content()).into_owned(),
        )),
        Err(_) => Ok(None),
    }
}

/// What a run is about to do, written before any file is touched.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    step: String,
    /// HEAD before the step.
    head: String,
    paths: Vec<PathBuf>,
}

impl Journal {
    fn path(repo: &Repository) -> PathBuf {
        repo.path().join("flake-migrate-journal.toml")
    }

    fn write(&self, repo: &Repository) -> Result<()> {
        let text = toml::to_string(self).expect("journal serializes");
        git::write_atomic(&Self::path(repo), text.as_bytes())
    }

    fn remove(repo: &Repository) {
        let _ = std::fs::remove_file(Self::path(repo));
    }
}

/// Finishes or undoes a step that an earlier run left half done.
fn recover(repo: &Repository, out: &mut dyn Write) -> Result<()> {
    let path = Journal::path(repo);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let journal: Journal = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let head = git::head_commit(repo)?;
    if head.id().to_string() == journal.head {
        git::checkout_paths(repo, &journal.paths)?;
        say(
            out,
            format!(
                "recovered: an earlier run was interrupted before committing {}; its partial edits were undone",
                journal.step
            ),
        );
    } else if head
        .parent_id(0)
        .is_ok_and(|p| p.to_string() == journal.head)
        && [git::TRAILER_STEP, git::TRAILER_REVERTED]
            .iter()
            .any(|k| git::trailer(head.message().unwrap_or(""), k) == Some(journal.step.as_str()))
    {
        git::checkout_paths(repo, &journal.paths)?;
        say(
            out,
            format!(
                "recovered: an earlier run committed {} but was interrupted before updating the working tree; it now matches the commit",
                journal.step
            ),
        );
    } else {
        return Err(Error::Failed(format!(
            "an interrupted run left {} (step {}), but HEAD has moved since; check `git status` and `git log`, then delete that file",
            path.display(),
            journal.step
        )));
    }
    Journal::remove(repo);
    Ok(())
}

/// Keeps two runs from interleaving: a file created exclusively in the git
/// directory, holding the owner's pid. A lock whose process is gone is taken over.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(repo: &Repository) -> Result<Lock> {
        let path = repo.path().join("flake-migrate.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path)
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    if process_alive(&pid) {
                        return Err(Error::Locked { path, pid });
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Locked {
            path,
            pid: "unknown".into(),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn process_alive(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(pid) if cfg!(target_os = "linux") => Path::new(&format!("/proc/{pid}")).exists(),
        Ok(_) => true,
        Err(_) => false,
    }
}
