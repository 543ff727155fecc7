//! `status` as text: the hosts, each step's state (with its commit and
//! whether `up` proved it), and what a blocked or drifted step needs.

use super::{StepState, StepStatus};
use crate::config::Config;

/// The checklist, aligned; colored when `color` is set.
pub fn render(steps: &[StepStatus], config: Option<&Config>, color: bool) -> String {
    use console::Style;
    let style = |s: StepState| -> Style {
        let st = Style::new().force_styling(color);
        match s {
            StepState::Applied | StepState::Adopted => st.green(),
            StepState::Pending | StepState::Satisfied => st.yellow(),
            StepState::Drifted | StepState::Blocked | StepState::Stale => st.red().bold(),
        }
    };
    let width = steps
        .iter()
        .map(|s| s.state.label().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if config.is_none() {
        out.push_str("no flake-migrate.toml yet: run `flake-migrate init` first\n");
    }
    if let Some(config) = config {
        let hosts: Vec<String> = config
            .hosts
            .iter()
            .map(|(h, v)| format!("{h}={v}"))
            .collect();
        out.push_str(&format!(
            "hosts: {}\n",
            if hosts.is_empty() {
                "none".into()
            } else {
                hosts.join(", ")
            }
        ));
    }
    for s in steps {
        let mark = if s.state.done() { "[x]" } else { "[ ]" };
        let label = format!("{:width$}", s.state.label());
        out.push_str(&format!(
            "{mark} {}  {}  {}",
            &s.id[..4],
            style(s.state).apply_to(label),
            s.title
        ));
        if let Some(c) = &s.commit {
            out.push_str(&format!("  ({})", &c[..c.len().min(10)]));
        }
        if let Some(p) = &s.proven {
            out.push_str(&proven_label(p));
        }
        if s.changed {
            out.push_str(&format!(
                "  {}",
                style(StepState::Drifted).apply_to("definition changed since applied")
            ));
        }
        out.push('\n');
        if let Some(d) = &s.detail
            && !s.state.done()
        {
            out.push_str(&format!("         {d}\n"));
        }
    }
    let done = steps.iter().filter(|s| s.state.done()).count();
    out.push_str(&format!("{done} of {} checklist items done\n", steps.len()));
    out
}

/// `up`'s proof of the run that applied a step, from its `Proven:` trailer.
fn proven_label(trailer: &str) -> String {
    match trailer.strip_prefix("no") {
        Some(why) => format!("  not proven{why}"),
        None => format!("  proven: {trailer}"),
    }
}
