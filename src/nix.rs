//! Running the `nix` command. Only `up`, `verify` and `switch` do this; the
//! guard never does.

use std::path::Path;
use std::process::{Command, Output};

use crate::error::{Error, Result};

/// Whether a `nix` binary is on PATH. Looked up, not run: starting nix
/// costs tens of milliseconds, and the evaluation that follows says soon
/// enough if it does not work.
pub fn available() -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join("nix"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// `nix <args> <extra>` in `dir`, with flakes enabled whatever the user's
/// nix.conf says.
pub fn command(dir: &Path, args: &[&str], extra: &[String]) -> Command {
    let mut cmd = Command::new("nix");
    cmd.current_dir(dir)
        .args(["--extra-experimental-features", "nix-command flakes"])
        .args(args)
        .args(extra);
    cmd
}

/// Runs a nix command to completion, returning its output; a failure to
/// start is an error, a non-zero exit is left to the caller.
pub fn run(dir: &Path, args: &[&str], extra: &[String]) -> Result<Output> {
    command(dir, args, extra).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NixMissing {
                what: format!("cannot run `nix {}`", args.join(" ")),
            }
        } else {
            Error::Failed(format!("could not run `nix {}`: {e}", args.join(" ")))
        }
    })
}

/// The last lines of a command's error output, for messages.
pub fn stderr_tail(output: &Output, lines: usize) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
