//! `flake-migrate status`: checklist progress, computed from the record and
//! from what the files say.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

mod render;

pub use render::render;

use crate::catalogue::Operation;
use crate::config::Document;
use crate::engine::{self, Journal, Session};
use crate::error::{Result, exit};
use crate::eval::discover::{self, Discovery};
use crate::files::WorkTree;
use crate::git;
use crate::guard;
use crate::output::{self, Stream};
use crate::record::{STATE_FILE, State};
use crate::steps::{self, Context, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Not recorded; `up` will edit the files.
    Pending,
    /// Recorded, and the files still satisfy it.
    Applied,
    /// Recorded without edits: it had been done by hand.
    Adopted,
    /// Not recorded, but the files already satisfy it: `up` adopts it.
    Satisfied,
    /// Recorded, but the files no longer satisfy it.
    Drifted,
    /// Cannot be applied automatically; see the detail.
    Blocked,
    /// A verification recorded for a different tree than HEAD's.
    Stale,
}

impl StepState {
    pub fn label(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Applied => "applied",
            StepState::Adopted => "adopted",
            StepState::Satisfied => "satisfied, unrecorded",
            StepState::Drifted => "drifted",
            StepState::Blocked => "blocked",
            StepState::Stale => "stale",
        }
    }

    pub fn done(self) -> bool {
        matches!(self, StepState::Applied | StepState::Adopted)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub id: String,
    pub title: String,
    pub state: StepState,
    /// The definition differs from the checksum recorded when applied.
    pub changed: bool,
    /// The commit that applied it (full id), when found in history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why it is blocked, drifted or stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Its commit's `Proven:` trailer: `3 hosts`, or `no (why)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proven: Option<String>,
}

/// `flake-migrate status [--json] [--no-eval] [-- NIX ARGS]`.
pub fn run(dir: &Path, json: bool, eval: &EvalOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open(dir)?;
    let steps = compute(&session, eval)?;
    let interrupted = engine::interrupted(&session.repo)?.map(|j| j.step);
    let left = not_carried(&session)?;
    if json {
        let config = session.config()?;
        let hosts = config.iter().flat_map(|c| &c.hosts);
        let report = serde_json::json!({
            "version": 1,
            "hosts": hosts
                .map(|(name, variant)| serde_json::json!({ "name": name, "variant": variant.to_string() }))
                .collect::<Vec<_>>(),
            "steps": steps,
            "not_carried": left,
            "interrupted": interrupted,
        });
        let text = serde_json::to_string_pretty(&report).expect("serializes");
        let _ = writeln!(out, "{text}");
    } else {
        let color = output::color(Stream::Stdout);
        if let Some(step) = interrupted {
            let _ = writeln!(
                out,
                "an earlier run was interrupted during step {step}: the next `flake-migrate up` (or any command that changes the repository) recovers it; the checklist shows the files as recovery will leave them"
            );
        }
        let _ = write!(out, "{}", render(&steps, session.config()?.as_ref(), color));
        let _ = write!(out, "{}", render_not_carried(&left));
    }
    Ok(exit::OK)
}

/// Something an applied step did not carry over from an old override.
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    pub step: String,
    pub what: String,
    pub at: String,
    pub hosts: Vec<String>,
    /// The hosts' entries in flake-migrate.toml changed since it was
    /// recorded: the user has seen to it.
    pub acknowledged: bool,
}

/// The record's not-carried items, each compared with what the config now
/// says for its hosts.
pub fn not_carried(session: &Session) -> Result<Vec<Left>> {
    let state = session.state()?;
    let doc = Document::load(&session.root)?;
    let mut out = Vec::new();
    for applied in &state.applied {
        for n in &applied.not_carried {
            let now = doc
                .as_ref()
                .map(|d| d.entries_checksum(&n.hosts))
                .unwrap_or_default();
            out.push(Left {
                step: applied.id.clone(),
                what: n.what.clone(),
                at: n.at.clone(),
                hosts: n.hosts.clone(),
                acknowledged: now != n.entries,
            });
        }
    }
    Ok(out)
}

/// The items still to see to, then those acknowledged.
fn render_not_carried(left: &[Left]) -> String {
    let line = |l: &Left| {
        let hosts = if l.hosts.is_empty() {
            String::new()
        } else {
            format!("{}; ", l.hosts.join(", "))
        };
        format!("  {} in {} ({hosts}{})\n", l.what, l.at, &l.step[..4])
    };
    let (seen, open): (Vec<&Left>, Vec<&Left>) = left.iter().partition(|l| l.acknowledged);
    let mut out = String::new();
    if !open.is_empty() {
        out.push_str("not carried over from the old overrides (re-apply what you still need; shown until you edit those hosts' entries in flake-migrate.toml):\n");
        open.iter().for_each(|l| out.push_str(&line(l)));
    }
    if !seen.is_empty() {
        out.push_str("acknowledged (the hosts' entries changed since):\n");
        seen.iter().for_each(|l| out.push_str(&line(l)));
    }
    out
}

/// How `status` may learn where things are.
#[derive(Debug, Default, Clone)]
pub struct EvalOptions {
    pub nix_args: Vec<String>,
    pub no_eval: bool,
}

pub fn compute(session: &Session, eval: &EvalOptions) -> Result<Vec<StepStatus>> {
    let config = session.config()?;
    let mut state = session.state()?;
    let mut tree = session.work_tree()?;
    if let Some(journal) = engine::interrupted(&session.repo)? {
        as_recovery_leaves(session, &journal, &mut tree, &mut state)?;
    }
    let discovery = where_things_are(session, config.is_some(), &state, eval)?;
    let mut out = Vec::new();
    for m in &session.migrations {
        let applied = state.get(&m.id);
        let (mut status, mut detail) = match &config {
            // `render` says once what to do first.
            None => (StepState::Pending, None),
            Some(config) => {
                let ctx = Context {
                    files: &tree,
                    config,
                    state: &state,
                    discovery: discovery.as_ref(),
                };
                match steps::plan(&m.operation, &ctx)? {
                    Plan::Satisfied => (StepState::Satisfied, None),
                    Plan::Changes(c) => (
                        StepState::Pending,
                        Some(format!(
                            "would change {}",
                            c.files
                                .keys()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    ),
                    Plan::Blocked { reason, help } => {
                        (StepState::Blocked, Some(format!("{reason}; {help}")))
                    }
                    Plan::Verify => (StepState::Pending, None),
                }
            }
        };
        let (mut commit, mut proven) = (None, None);
        if let Some(applied) = applied {
            let found = git::find_step_commit(&session.repo, &m.id)?;
            proven = found.as_ref().and_then(|c| {
                git::trailer(c.message().unwrap_or(""), git::TRAILER_PROVEN).map(String::from)
            });
            commit = found.map(|c| c.id().to_string());
            let still_holds = status == StepState::Satisfied || is_run(&m.operation);
            status = if !still_holds {
                detail = Some(format!(
                    "recorded as applied, but the files no longer satisfy it: {}",
                    detail.unwrap_or_default()
                ));
                StepState::Drifted
            } else if applied.adopted {
                StepState::Adopted
            } else {
                StepState::Applied
            };
            // Its guard rules failing on HEAD means a commit got past the hook.
            if status.done()
                && let Some(why) = guard::check::drift(&session.repo, &session.prefix, m)?
            {
                status = StepState::Drifted;
                detail = Some(why);
            }
            if matches!(m.operation, Operation::Verify { .. })
                && let Some(v) = &state.verification
                && v.tree != git::content_tree(&session.repo, &session.prefix)?.to_string()
            {
                status = StepState::Stale;
                detail =
                    Some("verified an older tree than HEAD's: run `flake-migrate verify`".into());
            }
        }
        if matches!(m.operation, Operation::Switch)
            && !status.done()
            && let Some(config) = &config
            && let Some(hint) = super::switch::status_hint(session, config, &state)
        {
            detail = Some(match detail {
                Some(d) => format!("{d}; {hint}"),
                None => hint,
            });
        }
        out.push(StepStatus {
            id: m.id.clone(),
            title: m.title.clone(),
            state: status,
            changed: applied.is_some_and(|a| a.checksum != m.checksum),
            commit,
            detail,
            proven,
        });
    }
    Ok(out)
}

/// Recovery gives the paths an interrupted run was writing HEAD's content
/// (undoing its partial edits, or completing the commit it made), so they
/// are read from HEAD rather than called drifted.
fn as_recovery_leaves(
    session: &Session,
    journal: &Journal,
    tree: &mut WorkTree,
    state: &mut State,
) -> Result<()> {
    let mut head = git::TreeFiles::head(&session.repo)?;
    for path in &journal.paths {
        let Ok(relative) = path.strip_prefix(&session.prefix) else {
            continue;
        };
        let content = head
            .blob(path)?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        if relative == Path::new(STATE_FILE) {
            *state = content
                .as_deref()
                .map(State::parse)
                .transpose()?
                .unwrap_or_default();
        }
        tree.stage(relative, content);
    }
    Ok(())
}

/// Pending edit steps need evaluation (notes go to stderr, so `--json`
/// stays JSON); with every edit applied only a remembered answer is used,
/// and the static reading otherwise: drift is a question about the files.
fn where_things_are(
    session: &Session,
    configured: bool,
    state: &State,
    eval: &EvalOptions,
) -> Result<Option<Discovery>> {
    if !configured || eval.no_eval {
        return Ok(None);
    }
    let pending = session.migrations.iter().any(|m| {
        !is_run(&m.operation)
            && !matches!(m.operation, Operation::Switch)
            && !state.is_applied(&m.id)
    });
    if pending {
        session.discover(&eval.nix_args, false, &mut std::io::stderr())
    } else {
        discover::cached(&session.repo, &session.prefix, &eval.nix_args)
    }
}

fn is_run(op: &Operation) -> bool {
    matches!(op, Operation::Verify { .. })
}
