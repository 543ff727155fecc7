//! One file per subcommand: each opens what it needs, calls the library,
//! and returns the exit code. `main.rs` only parses and dispatches.

pub mod check;
pub mod demo;
pub mod down;
pub mod hook;
pub mod init;
pub mod status;
pub mod switch;
mod switch_program;
pub mod up;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `-C DIR…` like git's: each DIR is taken relative to the one before,
/// starting from `start`. A DIR that is missing or not a directory is said
/// as such, not as "not inside a git repository" later.
pub fn change_dir(start: &Path, dirs: &[PathBuf]) -> Result<PathBuf> {
    let mut here = start.to_path_buf();
    for dir in dirs {
        let next = here.join(dir);
        let why = match std::fs::metadata(&next) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some("it is not a directory".to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some("no such directory".to_string())
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            return Err(Error::usage(
                format!("cannot change to {}: {why}", next.display()),
                "-C takes a directory; each -C is relative to the previous one",
            ));
        }
        here = next;
    }
    Ok(here)
}
