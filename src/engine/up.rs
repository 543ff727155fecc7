//! `flake-migrate up`: plan every pending step up to the target against the
//! tree as the previous steps leave it, and only when none is blocked write
//! them, one commit each. A run that cannot finish its file edits writes
//! nothing. The verification (0006) and the switch (0007) are not edits:
//! they run, or wait for their own commands, after the edits have landed.

use std::io::Write;

use super::proof::{self, Proof};
use super::transaction::{Kind, adopt, apply};
use super::{RunOptions, Session};
use crate::catalogue::{self, Migration, Operation};
use crate::config::Config;
use crate::edit;
use crate::error::{Blocked, Error, Result};
use crate::eval::discover::{self, Discovery};
use crate::files::{Files, WorkTree};
use crate::git;
use crate::output::say;
use crate::record::{Applied, State};
use crate::steps::{self, Changeset, Context, Plan, left_behind};

/// A step's plan, made before anything is written.
pub(super) enum Planned<'a> {
    Adopt(&'a Migration),
    /// Edits for a pending step, or for an applied one that drifted.
    Apply(&'a Migration, Kind, Changeset),
}

/// `flake-migrate up`.
pub fn up(session: &Session, opts: &RunOptions, out: &mut dyn Write) -> Result<()> {
    let config = session.require_config()?;
    if !opts.dry_run {
        session.refuse_dirty()?;
    }
    git::head_commit(&session.repo)?;
    let mut state = session.state()?;
    let (edits, rest) = pending(session, opts, &state, out)?;
    // Drift is planned like a pending step, with the same evaluation
    // (remembered per tree, so a repeated `up` does not run nix again).
    let discovery = session.discover(&opts.nix_args, opts.no_eval, out)?;
    let planning = Planning {
        config: &config,
        state: &state,
        discovery: discovery.as_ref(),
        completes: completes(session, opts)?,
    };
    let planned = plan_edits(session, &planning, &edits, opts.dry_run, out)?;
    // Nothing is written unless the planned result is proven (or cannot be).
    let proof = proof::prove(session, &planning, &planned, opts, out)?;
    if let Some(line) = proof.describe() {
        say(out, line);
    }
    let proven = proof.trailer();
    let mut did_something = !planned.is_empty();
    if !opts.dry_run {
        for step in &planned {
            match step {
                Planned::Adopt(m) => {
                    adopt(session, &mut state, m, proven.as_deref())?;
                    say(
                        out,
                        format!("{}: already done by hand; recorded as adopted", m.id),
                    );
                }
                Planned::Apply(m, kind, changes) => {
                    let how = (*m, *kind, proven.as_deref());
                    apply(session, &mut state, how, changes, opts, out)?
                }
            }
        }
        // The proof evaluated the tree just committed: where things are
        // in it, for `status`. Without one, the steps change what hosts
        // install, not where things are, so the old answer still serves.
        let found = match &proof {
            Proof::Proven { after, .. } => Some(after),
            _ => discovery.as_ref(),
        };
        if let Some(found) = found
            && !planned.is_empty()
        {
            discover::carry_forward(&session.repo, &session.prefix, &opts.nix_args, found)?;
        }
    }

    // 0001 may have reused an input under another name and recorded it.
    let config = if opts.dry_run {
        config
    } else {
        session.require_config()?
    };
    for m in rest {
        let tree = session.work_tree()?;
        let ctx = Context {
            files: &tree,
            config: &config,
            state: &state,
            discovery: None,
        };
        match steps::plan(&m.operation, &ctx)? {
            Plan::Satisfied => {
                did_something = true;
                if opts.dry_run {
                    say(
                        out,
                        format!("{}: already done; would be recorded (adopted)", m.id),
                    );
                } else {
                    adopt(session, &mut state, m, None)?;
                    say(out, format!("{}: already done; recorded as adopted", m.id));
                }
            }
            Plan::Changes(_) => unreachable!("{} is not an edit step", m.id),
            Plan::Blocked { reason, help } => {
                return Err(Error::Blocked(vec![Blocked {
                    step: m.id.clone(),
                    reason,
                    help,
                }]));
            }
            Plan::Verify => {
                did_something = true;
                if opts.dry_run {
                    say(
                        out,
                        format!(
                            "{}: would run `nix flake check` and evaluate each host (dry run)",
                            m.id
                        ),
                    );
                    continue;
                }
                super::verification::run(session, &config, &mut state, m, &opts.nix_args, out)?;
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

/// The steps up to the target that are not applied: the edit steps, and
/// the others (verification, switch). A step whose definition changed since
/// it was applied is said to `out`.
pub(super) fn pending<'m>(
    session: &'m Session,
    opts: &RunOptions,
    state: &State,
    out: &mut dyn Write,
) -> Result<(Vec<&'m Migration>, Vec<&'m Migration>)> {
    let target = match &opts.to {
        Some(q) => Some(catalogue::find(&session.migrations, q)?.number()),
        None => None,
    };
    let pending: Vec<&Migration> = session
        .migrations
        .iter()
        .take_while(|m| target.is_none_or(|t| m.number() <= t))
        .collect();
    for m in &pending {
        if let Some(applied) = state.get(&m.id)
            && applied.checksum != m.checksum
        {
            say(
                out,
                format!(
                    "note: {} changed since it was applied (recorded {}, now {}); `status` shows it",
                    m.id, applied.checksum, m.checksum
                ),
            );
        }
    }
    // Applied edit steps are planned again too: one the files no longer
    // satisfy (a hand edit, a commit past the hook) is repaired.
    Ok(pending
        .into_iter()
        .filter(|m| is_edit(&m.operation) || !state.is_applied(&m.id))
        .partition(|m| is_edit(&m.operation)))
}

/// Steps that edit files (0001–0005) are planned together before any is
/// written; the others run nix or wait for a command.
fn is_edit(op: &Operation) -> bool {
    !matches!(op, Operation::Verify { .. } | Operation::Switch)
}

/// What every plan of a run reads besides the files.
pub(super) struct Planning<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub discovery: Option<&'a Discovery>,
    /// The run reaches the last edit step: its result is the migrated
    /// fleet, which the proof holds to `verify`'s verdict.
    pub completes: bool,
}

/// Whether a run with `opts` reaches the last edit step.
pub(super) fn completes(session: &Session, opts: &RunOptions) -> Result<bool> {
    let last_edit = session
        .migrations
        .iter()
        .filter(|m| is_edit(&m.operation))
        .map(|m| m.number())
        .max();
    Ok(match (&opts.to, last_edit) {
        (Some(q), Some(last)) => catalogue::find(&session.migrations, q)?.number() >= last,
        _ => true,
    })
}

/// Plans `steps` in order, each against the tree with the earlier ones'
/// edits laid over it. Every blocked step is reported, not only the first;
/// a dry run prints each plan's diff. With evaluation, a reference to
/// nixpkgs' llama-cpp the plans leave where a configured host installs it
/// blocks the run here, before the proof would find it (`steps::left_behind`).
pub(super) fn plan_edits<'a>(
    session: &Session,
    planning: &Planning,
    steps: &[&'a Migration],
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<Vec<Planned<'a>>> {
    let config = planning.config;
    let mut tree = session.work_tree()?;
    let mut state = planning.state.clone();
    let mut planned = Vec::new();
    let mut blocked = Vec::new();
    for m in steps {
        let ctx = Context {
            files: &tree,
            config,
            state: &state,
            discovery: planning.discovery,
        };
        let applied = state.is_applied(&m.id);
        let adopted = match steps::plan(&m.operation, &ctx)? {
            Plan::Satisfied if applied => continue,
            Plan::Satisfied => {
                if dry_run {
                    say(
                        out,
                        format!(
                            "{}: already done by hand; would be recorded (adopted)",
                            m.id
                        ),
                    );
                }
                planned.push(Planned::Adopt(m));
                true
            }
            Plan::Changes(changes) => {
                if dry_run && blocked.is_empty() {
                    print_dry_run(&tree, m, applied, &changes, out)?;
                }
                for (path, content) in &changes.files {
                    tree.stage(path, content.clone());
                }
                let kind = if applied {
                    Kind::Repaired
                } else {
                    Kind::Applied
                };
                planned.push(Planned::Apply(m, kind, changes));
                false
            }
            Plan::Blocked { reason, help } => {
                let reason = match applied {
                    true => format!(
                        "it is recorded as applied, but the files drifted from it and it cannot be applied again: {reason}"
                    ),
                    false => reason,
                };
                blocked.push(Blocked {
                    step: m.id.clone(),
                    reason,
                    help,
                });
                continue;
            }
            Plan::Verify => unreachable!("{} is not an edit step", m.id),
        };
        if !applied {
            state.record(Applied::without_edits(m, adopted));
        }
    }
    // What the host step's edits leave: asked when it is planned, not when
    // it stays as applied.
    let host_step = planned.iter().find_map(|p| match p {
        Planned::Apply(m, _, _) if matches!(m.operation, Operation::RewriteHostPackages) => {
            Some(*m)
        }
        Planned::Adopt(m) if matches!(m.operation, Operation::RewriteHostPackages) => Some(*m),
        _ => None,
    });
    if let (Some(discovery), Some(m), true) = (planning.discovery, host_step, blocked.is_empty()) {
        for gap in left_behind::left_behind(&tree, config, discovery)? {
            blocked.push(Blocked {
                step: m.id.clone(),
                reason: gap.reason,
                help: format!(
                    "rewrite it by hand to `pkgs.{}` (the overlay's name for {}'s variant) and commit, then run `flake-migrate up` again",
                    config.package_attr(&gap.host).unwrap_or_default(),
                    gap.host
                ),
            });
        }
    }
    if blocked.is_empty() {
        Ok(planned)
    } else {
        Err(Error::Blocked(blocked))
    }
}

fn print_dry_run(
    tree: &WorkTree,
    m: &Migration,
    drifted: bool,
    changes: &Changeset,
    out: &mut dyn Write,
) -> Result<()> {
    let how = if drifted {
        "drifted; would be applied again (dry run)"
    } else {
        "(dry run)"
    };
    say(out, format!("{}: {} {how}", m.id, m.title));
    for (path, after) in &changes.files {
        let before = tree.read(path)?;
        let _ = write!(
            out,
            "{}",
            edit::unified_diff(path, before.as_deref(), after.as_deref())
        );
    }
    for note in changes.notes.iter().chain(&changes.aside) {
        say(out, format!("  note: {note}"));
    }
    if changes.lock_flake {
        say(out, "  would run: nix flake lock".to_string());
    }
    Ok(())
}
