//! How `main` shows the error a command ended with.

use super::Stream;
use crate::error::Error;

/// Shows an error on stderr: rustc-style at its place in a file when it
/// has one, else `error:` and `help:` lines.
pub fn error(err: &Error) {
    let color = super::color(Stream::Stderr);
    if let Some(at) = err.located() {
        // A place in a file: shown as the guard shows its findings.
        let path = at.path.display().to_string();
        let help = err.help();
        let code = matches!(err, Error::Parse(_)).then_some("syntax-error");
        let shown = super::diagnostic::render(
            &super::diagnostic::Diagnostic {
                code,
                title: &at.message,
                path: &path,
                marked: Some(super::diagnostic::Marked {
                    text: &at.text,
                    range: at.range.clone(),
                    label: Some(&at.label),
                }),
                help: help.as_deref(),
            },
            color,
        );
        eprintln!("{shown}");
        return;
    }
    let red = console::Style::new().red().bold().force_styling(color);
    let cyan = console::Style::new().cyan().bold().force_styling(color);
    eprintln!("{} {err}", red.apply_to("error:"));
    if let Some(help) = err.help() {
        eprintln!("{} {help}", cyan.apply_to("help:"));
    }
}
