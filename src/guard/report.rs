//! How violations are shown: rustc-style for people (through
//! `output::diagnostic`, the renderer command errors use too), JSON for
//! machines. The rules know nothing of this.

use serde::Serialize;

use super::Violation;
use crate::output::diagnostic::{self, Diagnostic, Marked};

/// rustc-style diagnostics for the violations that are not allowed, then a
/// summary line. Empty when there is nothing to report.
pub fn human(violations: &[Violation], color: bool) -> String {
    let mut out = String::new();
    for v in violations.iter().filter(|v| !v.allowed) {
        let path = v.finding.path.display().to_string();
        let marked = match (&v.source, &v.finding.range) {
            (Some(src), Some(range)) => Some(Marked {
                text: src.text.as_str(),
                range: range.clone(),
                label: v.finding.label.as_deref(),
            }),
            _ => None,
        };
        out.push_str(&diagnostic::render(
            &Diagnostic {
                code: Some(v.rule.id),
                title: &v.finding.message,
                path: &path,
                marked,
                help: Some(v.help()),
            },
            color,
        ));
        out.push_str("\n\n");
    }
    let blocking = violations.iter().filter(|v| !v.allowed).count();
    let allowed = violations.len() - blocking;
    if blocking > 0 {
        let files = {
            let mut f: Vec<_> = violations
                .iter()
                .filter(|v| !v.allowed)
                .map(|v| &v.finding.path)
                .collect();
            f.dedup();
            f.len()
        };
        let mut line = format!(
            "{blocking} guard violation{} in {files} file{}",
            plural(blocking),
            plural(files)
        );
        if allowed > 0 {
            line.push_str(&format!(
                " ({allowed} more allowed by a `flake-migrate: allow` comment)"
            ));
        }
        out.push_str(&diagnostic::render_line(&line, color));
        out.push('\n');
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[derive(Serialize)]
struct JsonViolation<'a> {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    rule: &'a str,
    message: &'a str,
    help: &'a str,
    allowed: bool,
}

/// `check --json`: `{"version": 1, "violations": [...]}`, allowed ones
/// included (marked).
pub fn json(violations: &[Violation]) -> String {
    let items: Vec<JsonViolation> = violations
        .iter()
        .map(|v| JsonViolation {
            file: v.finding.path.display().to_string(),
            line: v.position.map(|p| p.0),
            column: v.position.map(|p| p.1),
            rule: v.rule.id,
            message: &v.finding.message,
            help: v.help(),
            allowed: v.allowed,
        })
        .collect();
    let report = serde_json::json!({ "version": 1, "violations": items });
    serde_json::to_string_pretty(&report).expect("violations serialize")
}

/// `check --list-rules`: each rule's id and what it forbids, with the step
/// that turns it on.
pub fn rule_list(migrations: &[crate::catalogue::Migration]) -> String {
    let width = super::rules::ALL
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for rule in super::rules::ALL {
        let step = migrations
            .iter()
            .find(|m| m.guard.rules.iter().any(|r| r == rule.id))
            .map_or("-", |m| &m.id[..4]);
        out.push_str(&format!(
            "{:width$}  after {step}  {}\n",
            rule.id, rule.summary
        ));
    }
    out
}

/// `check --explain RULE`.
pub fn explain(rule: &super::Rule) -> String {
    format!(
        "{}: {}\n\n{}\n\nhelp: {}\nallow once: `# flake-migrate: allow {}` at the end of the line, or alone on the line before\n",
        rule.id, rule.summary, rule.explanation, rule.help, rule.id
    )
}
