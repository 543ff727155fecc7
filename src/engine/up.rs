//! `flake-migrate up`: plan each pending step against the tree as the
//! previous steps leave it, then write them one commit each.

use std::io::Write;

use super::transaction::{adopt, apply};
use super::{RunOptions, Session};
use crate::catalogue::{self, Migration};
use crate::edit;
use crate::error::{Error, Result};
use crate::files::WorkTree;
use crate::git;
use crate::output::say;
use crate::record::Applied;
use crate::steps::{self, Changeset, Context, Plan};

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
                } else {
                    super::verification::run(session, &config, &mut state, m, &opts.nix_args, out)?;
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

fn print_dry_run(
    tree: &WorkTree,
    m: &Migration,
    changes: &Changeset,
    out: &mut dyn Write,
) -> Result<()> {
    say(out, format!("{}: {} (dry run)", m.id, m.title));
    for (path, after) in &changes.files {
        let before = crate::files::Files::read(tree, path)?;
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
