//! What the commands print: one way to write a line, one rule for colour,
//! how much to say, the rustc-style diagnostics, and the spinner shown
//! while nix runs.

pub mod diagnostic;
pub mod report;
pub mod spinner;

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// Writes one line. Output is best effort: a closed pipe (`| head`) must
/// not turn a finished migration into an error.
pub fn say(out: &mut dyn Write, line: impl Display) {
    let _ = writeln!(out, "{line}");
}

/// Which standard stream a report goes to, for choosing colour.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// `--color`: `auto` colours a terminal unless `NO_COLOR` is set; an
/// explicit choice wins over `NO_COLOR`, as no-color.org asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// How much a run says beyond its result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors and what was asked for (`--json`, completions, the man page).
    Quiet,
    #[default]
    Normal,
    /// Also each external command as it starts, and how long it took.
    Verbose,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub color: ColorChoice,
    pub verbosity: Verbosity,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Set once, by the command line, before anything is printed; the library
/// used without it behaves as `--color auto` at normal verbosity.
pub fn configure(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

pub fn verbosity() -> Verbosity {
    settings().verbosity
}

/// Whether to colour what goes to `stream`.
pub fn color(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    decide_color(
        settings().color,
        terminal,
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    )
}

fn decide_color(choice: ColorChoice, terminal: bool, no_color: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    }
}

/// Where a command whose stdout is JSON says its progress and notes:
/// stderr, or nowhere with `--quiet`.
pub fn progress() -> Box<dyn Write> {
    if verbosity() == Verbosity::Quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    }
}

/// A command line as a person would paste it into a POSIX shell.
pub fn shell_command<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word, quoted only when a shell would otherwise split or expand it.
pub fn quote(word: &str) -> String {
    // `try_quote` fails only on a NUL byte, which no argument can hold.
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
}

/// The first few of many names, and how many more there are.
pub fn names_shown(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_choice_wins_over_no_color_and_the_terminal() {
        assert!(decide_color(ColorChoice::Always, false, true));
        assert!(!decide_color(ColorChoice::Never, true, false));
        assert!(decide_color(ColorChoice::Auto, true, false));
        assert!(!decide_color(ColorChoice::Auto, true, true));
        assert!(!decide_color(ColorChoice::Auto, false, false));
    }

    #[test]
    fn commands_are_quoted_for_a_shell() {
        assert_eq!(
            shell_command([
                "flake-migrate",
                "-C",
                "my fleet",
                "init",
                "--host",
                "it's=cpu"
            ]),
            r#"flake-migrate -C 'my fleet' init --host "it's=cpu""#
        );
        assert_eq!(quote("--override-input"), "--override-input");
        assert_eq!(quote(""), "''");
    }
}
