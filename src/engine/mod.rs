//! Applying and rolling back steps. Each step lands completely (files,
//! record, commit) or not at all: a journal written before any file is
//! touched lets the next run finish or undo a step that was interrupted.
//!
//! `up` and `down` plan with `steps` and write here; `proof` evaluates
//! `up`'s planned result before anything is written; `verification` runs
//! step 0006's nix evaluation and records it; `transaction` is the one way
//! anything is written and committed; `journal` and `lock` keep runs safe.

mod down;
mod dry_run;
mod journal;
mod lock;
mod proof;
mod transaction;
mod up;
mod verification;

pub use down::down;
pub use dry_run::{DryAction, DryFile, DryRun, DryStep, dry_run};
pub use journal::{Journal, interrupted};
pub use proof::Proof;
pub use transaction::record;
pub use up::up;
pub use verification::{Recorded, VerifyReport, verify, verify_report};

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::catalogue::{self, Migration};
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result};
use crate::eval::discover::{self, Discovery};
use crate::files::WorkTree;
use crate::git;
use crate::nix;
use crate::output::say;
use crate::record::State;

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
    /// Read the flake statically only (`--no-eval`).
    pub no_eval: bool,
}

/// An open repository, locked for this run.
pub struct Session {
    pub repo: Repository,
    /// The flake's directory: where its files, the config and the record
    /// are. Every path a step plans is relative to it.
    pub root: PathBuf,
    /// `root` relative to the repository's working tree (empty when the
    /// flake is at the top, `configs/nixos` for a flake below it).
    pub prefix: PathBuf,
    pub migrations: Vec<Migration>,
    _lock: Option<lock::Lock>,
    /// Every tracked `.nix` file was found to be UTF-8: checked at the
    /// first `work_tree`, not on each (the tool itself writes only UTF-8).
    utf8_checked: std::cell::Cell<bool>,
}

impl Session {
    /// Opens the repository holding `dir` for reading only.
    pub fn open(dir: &Path) -> Result<Session> {
        let repo = git::open(dir)?;
        let workdir = git::workdir(&repo)?;
        let prefix = git::flake_prefix(&workdir, dir);
        Ok(Session {
            repo,
            root: workdir.join(&prefix),
            prefix,
            migrations: catalogue::bundled(),
            _lock: None,
            utf8_checked: std::cell::Cell::new(false),
        })
    }

    /// Opens it for changes: takes the lock and recovers an interrupted run.
    pub fn open_for_change(dir: &Path, out: &mut dyn Write) -> Result<Session> {
        let mut session = Session::open(dir)?;
        session._lock = Some(lock::Lock::take(&session.repo)?);
        journal::recover(&session.repo, out)?;
        git::refuse_unsafe_state(&session.repo)?;
        Ok(session)
    }

    pub fn config(&self) -> Result<Option<Config>> {
        Config::load(&self.root)
    }

    pub fn require_config(&self) -> Result<Config> {
        // A state of the repository, like one without commits: not a usage error.
        self.config()?.ok_or_else(|| {
            Error::refused(
                format!("no {CONFIG_FILE} in {}", self.root.display()),
                "run `flake-migrate init` first: it finds your hosts and suggests a variant for each",
            )
        })
    }

    pub fn state(&self) -> Result<State> {
        State::load(&self.root)
    }

    pub fn work_tree(&self) -> Result<WorkTree> {
        let tree = self.unchecked_work_tree()?;
        if !self.utf8_checked.get() {
            tree.refuse_non_utf8()?;
            self.utf8_checked.set(true);
        }
        Ok(tree)
    }

    /// The work tree before the UTF-8 check, for a reading that runs it on
    /// a thread of its own while nix evaluates; [`Session::checked`] says
    /// it passed.
    pub fn unchecked_work_tree(&self) -> Result<WorkTree> {
        Ok(WorkTree::new(
            &self.root,
            git::tracked_files_under(&self.repo, &self.prefix)?,
        ))
    }

    /// `tree` (from [`Session::unchecked_work_tree`]) passed the UTF-8 check.
    pub fn checked(&self, tree: WorkTree) -> WorkTree {
        self.utf8_checked.set(true);
        tree
    }

    /// Where things are, from evaluating the flake (one nix process for
    /// the fleet, cached per tree). `None` with `--no-eval` or without nix,
    /// said on `out`: the static reading then decides, and what it cannot
    /// follow is reported as unknown. An evaluation that fails as a whole is
    /// an error, not a reason to guess.
    pub fn discover(
        &self,
        nix_args: &[String],
        no_eval: bool,
        out: &mut dyn Write,
    ) -> Result<Option<Discovery>> {
        if no_eval {
            return Ok(None);
        }
        if !nix::available() {
            say(
                out,
                "note: nix is not installed here, so the flake is read statically: hosts and modules it cannot follow are reported as unknown (install nix for evaluation)",
            );
            return Ok(None);
        }
        match discover::discover_cached(&self.repo, &self.prefix, nix_args) {
            Ok(found) => Ok(Some(found)),
            Err(Error::Failed(why)) => Err(Error::usage(
                why,
                "fix the evaluation (pass `-- --override-input NAME PATH` for inputs that cannot be fetched), or run with --no-eval to read the flake statically",
            )),
            Err(e) => Err(e),
        }
    }

    /// A path of the flake (as steps plan it) as git names it.
    pub fn repo_path(&self, path: &Path) -> PathBuf {
        self.prefix.join(path)
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
