//! What the commands print: one way to write a line, one rule for colour,
//! and the spinner shown while nix runs.

pub mod spinner;

use std::fmt::Display;
use std::io::{IsTerminal, Write};

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

/// Colour only on a terminal, and never when `NO_COLOR` is set.
pub fn color(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    terminal && std::env::var_os("NO_COLOR").is_none()
}
