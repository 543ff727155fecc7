//! What `up --dry-run` would do, as data (for `up --dry-run --json`): the
//! same plans as `up`, each step's files with their diffs against the tree
//! the earlier steps leave, or every step that is blocked.

use std::io::Write;
use std::path::PathBuf;

use super::proof::{Proof, prove};
use super::transaction::Kind;
use super::up::{Planned, Planning, completes, pending, plan_edits};
use super::{RunOptions, Session};
use crate::edit;
use crate::error::{Blocked, Error, Result};
use crate::files::Files;
use crate::git;
use crate::steps::{self, Context, Plan};

/// The whole run as planned.
#[derive(Debug)]
pub struct DryRun {
    /// In order. Empty when an edit step is blocked (`up` would write
    /// nothing); a blocked verification or switch comes after the steps
    /// before it, which `up` would commit.
    pub steps: Vec<DryStep>,
    /// Every step that needs manual action (`up` would write nothing).
    pub blocked: Vec<Blocked>,
    /// The proof of the planned result; `None` when the plan is blocked
    /// (a failed proof is among `blocked`).
    pub proof: Option<Proof>,
}

#[derive(Debug)]
pub struct DryStep {
    pub id: String,
    pub title: String,
    pub action: DryAction,
}

#[derive(Debug)]
pub enum DryAction {
    /// Files edited and committed.
    Apply {
        /// The step was applied and its files drifted: applied again.
        repair: bool,
        files: Vec<DryFile>,
        notes: Vec<String>,
        /// `nix flake lock` would run once the files are written.
        lock_flake: bool,
    },
    /// Already done by hand: recorded without edits.
    Adopt,
    /// `nix flake check` and each host evaluated (step 0006).
    Verify,
}

#[derive(Debug)]
pub struct DryFile {
    pub path: PathBuf,
    /// `create`, `modify` or `delete`.
    pub change: &'static str,
    /// A unified diff.
    pub diff: String,
}

/// Plans the run `up` would make with `opts` and writes nothing; progress
/// and notes go to `progress`.
pub fn dry_run(session: &Session, opts: &RunOptions, progress: &mut dyn Write) -> Result<DryRun> {
    let config = session.require_config()?;
    git::head_commit(&session.repo)?;
    let state = session.state()?;
    let (edits, rest) = pending(session, opts, &state, progress)?;
    // As `up`: applied steps are planned again for drift, with evaluation.
    let discovery = session.discover(&opts.nix_args, opts.no_eval, progress)?;
    let planning = Planning {
        config: &config,
        state: &state,
        discovery: discovery.as_ref(),
        completes: completes(session, opts)?,
    };
    let planned_and_proven = plan_edits(session, &planning, &edits, false, &mut std::io::sink())
        .and_then(|planned| {
            let proof = prove(session, &planning, &planned, opts, progress)?;
            Ok((planned, proof))
        });
    let (planned, proof) = match planned_and_proven {
        Ok(both) => both,
        Err(Error::Blocked(blocked)) => {
            return Ok(DryRun {
                steps: Vec::new(),
                blocked,
                proof: None,
            });
        }
        Err(e) => return Err(e),
    };
    let proof = Some(proof);
    let mut tree = session.work_tree()?;
    let mut steps = Vec::new();
    for step in planned {
        let (m, action) = match step {
            Planned::Adopt(m) => (m, DryAction::Adopt),
            Planned::Apply(m, kind, changes) => {
                let mut files = Vec::new();
                for (path, after) in &changes.files {
                    let before = tree.read(path)?;
                    files.push(DryFile {
                        path: path.clone(),
                        change: match (&before, after) {
                            (None, _) => "create",
                            (Some(_), None) => "delete",
                            (Some(_), Some(_)) => "modify",
                        },
                        diff: edit::unified_diff(path, before.as_deref(), after.as_deref()),
                    });
                }
                for (path, content) in &changes.files {
                    tree.stage(path, content.clone());
                }
                let notes = changes.notes.iter().chain(&changes.aside).cloned();
                let action = DryAction::Apply {
                    repair: kind == Kind::Repaired,
                    files,
                    notes: notes.collect(),
                    lock_flake: changes.lock_flake,
                };
                (m, action)
            }
        };
        steps.push(DryStep {
            id: m.id.clone(),
            title: m.title.clone(),
            action,
        });
    }
    // As `up` plans them: against the tree as it is, after the edits land.
    let current = session.work_tree()?;
    for m in rest {
        let ctx = Context {
            files: &current,
            config: &config,
            state: &state,
            discovery: None,
        };
        let action = match steps::plan(&m.operation, &ctx)? {
            Plan::Satisfied => DryAction::Adopt,
            Plan::Verify => DryAction::Verify,
            Plan::Changes(_) => unreachable!("{} is not an edit step", m.id),
            // After the edits have landed, as `up` stops there.
            Plan::Blocked { reason, help } => {
                return Ok(DryRun {
                    steps,
                    blocked: vec![Blocked {
                        step: m.id.clone(),
                        reason,
                        help,
                    }],
                    proof,
                });
            }
        };
        steps.push(DryStep {
            id: m.id.clone(),
            title: m.title.clone(),
            action,
        });
    }
    Ok(DryRun {
        steps,
        blocked: Vec::new(),
        proof,
    })
}
