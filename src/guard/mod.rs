//! The guard: once a step is applied, the rules it names keep the repository
//! from sliding back. The same rules run on the working tree (`check`, for
//! CI and editors), on the staged index (`hook run`, before each commit) and
//! on HEAD (`status`, to call a step drifted). They only read: the guard
//! depends on the model, refs and files (where each of those three views
//! comes from), never on the steps or the engine.
//!
//! - [`rules`]: one file per rule, its id, message and help beside its matcher.
//! - [`scope`]: what a rule looks at: the files, which of them to examine,
//!   the config and the record; [`Source`]: one file as checked.
//! - [`hosts`]: which hosts could see a file, and what their configuration
//!   makes of the names it uses.
//! - [`allow`]: the inline `# flake-migrate: allow RULE` exception.
//! - [`report`]: rustc-style and JSON output.
//! - [`staged`]: what a commit would change: the staged index against HEAD.
//! - [`check`], [`hook`]: the two commands.

pub mod check;
pub mod hook;
pub mod hosts;
mod literals;
pub mod report;
pub mod rules;
pub mod scope;
mod source;
pub mod staged;

/// The inline exception, shared with step 0004.
pub use crate::refs::allow;

use std::ops::Range;
use std::path::PathBuf;
use std::rc::Rc;

use crate::error::Result;
use crate::record::State;

pub use scope::{Scope, Selection};
pub use source::Source;

/// A guard rule. Each lives in its own file under `rules/`.
pub struct Rule {
    /// Stable id, used in output, in `--explain` and in allow comments.
    pub id: &'static str,
    /// One line: what the rule forbids.
    pub summary: &'static str,
    /// How to fix a violation, when the finding has nothing more specific.
    pub help: &'static str,
    /// Why the rule exists, for `check --explain`.
    pub explanation: &'static str,
    pub check: fn(&Scope) -> Result<Vec<Finding>>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// What a rule found, before positions and allow comments are worked out.
#[derive(Debug, Clone)]
pub struct Finding {
    pub path: PathBuf,
    /// Byte range in the file; `None` when the file itself is missing.
    pub range: Option<Range<usize>>,
    pub message: String,
    /// The caret's label.
    pub label: Option<String>,
    /// Replaces the rule's generic help.
    pub help: Option<String>,
}

impl Finding {
    pub fn at(path: impl Into<PathBuf>, range: Range<usize>, message: impl Into<String>) -> Self {
        Finding {
            path: path.into(),
            range: Some(range),
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn missing(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Finding {
            path: path.into(),
            range: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A finding with its position and whether an allow comment excuses it.
#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: &'static Rule,
    pub finding: Finding,
    /// 1-based line and column (in characters), when the finding has a range.
    pub position: Option<(usize, usize)>,
    pub allowed: bool,
    /// The file as it was checked, for the snippet.
    pub source: Option<Rc<Source>>,
}

impl Violation {
    pub fn help(&self) -> &str {
        self.finding.help.as_deref().unwrap_or(self.rule.help)
    }
}

/// The rules turned on by the steps `state` records as applied, in plan
/// order, each once; then `syntax-error`, which goes with any of them and
/// runs last, as it reports the files the others could not read.
pub fn active_rules(state: &State) -> Vec<&'static Rule> {
    let mut out: Vec<&'static Rule> = Vec::new();
    let applied = crate::catalogue::GUARD_RULES
        .iter()
        .filter(|(step, _)| state.is_applied(step));
    for (_, ids) in applied {
        for id in *ids {
            if let Some(rule) = rules::find(id)
                && !out.iter().any(|r| r.id == rule.id)
            {
                out.push(rule);
            }
        }
    }
    if !out.is_empty() {
        out.push(&rules::syntax_error::RULE);
    }
    out
}

/// Runs `rules` over `scope`; violations come sorted by file and position.
pub fn run(scope: &Scope, rules: &[&'static Rule]) -> Result<Vec<Violation>> {
    // The rules read nearly every selected file: read them together.
    scope.read_ahead(scope.nix_files())?;
    let mut out = Vec::new();
    for rule in rules {
        for finding in (rule.check)(scope)? {
            let source = scope.source(&finding.path)?;
            let (position, allowed) = match (&finding.range, &source) {
                (Some(range), Some(src)) => (
                    Some(crate::syntax::line_col(&src.text, range.start)),
                    allow::is_allowed(&src.text, range.start, rule.id),
                ),
                _ => (None, false),
            };
            out.push(Violation {
                rule,
                finding,
                position,
                allowed,
                source,
            });
        }
    }
    out.sort_by(|a, b| {
        (&a.finding.path, a.position, a.rule.id).cmp(&(&b.finding.path, b.position, b.rule.id))
    });
    Ok(out)
}
