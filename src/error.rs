//! Errors are values with context; they are rendered once, in `main`.

use std::path::PathBuf;

pub use crate::located::Located;

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    /// A step cannot be applied automatically: the message says what to do by hand.
    pub const MANUAL: i32 = 3;
    /// The guard found violations.
    pub const VIOLATIONS: i32 = 4;
    /// `nix` (or, for `switch`, `nh` / `nixos-rebuild`) is needed for this
    /// command and is not installed.
    pub const NIX_MISSING: i32 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage { message: String, help: String },

    /// The repository is not in a state to work on (not a usage error).
    #[error("{message}")]
    Refused { message: String, help: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Edits are made on text; nix accepts other bytes, so say where they are.
    #[error("{0}")]
    NotUtf8(Box<Located>),

    #[error("git: {0}")]
    Git(#[from] git2::Error),

    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A `.nix` file that does not parse.
    #[error("{0}")]
    Parse(Box<Located>),

    /// A `flake-migrate.toml` that is not TOML, or not the shape it must have.
    #[error("{0}")]
    ConfigSyntax(Box<Located>),

    #[error("the working tree or index has uncommitted changes:\n{}", .files.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Dirty { files: Vec<String> },

    #[error("another flake-migrate run holds the lock {path} (pid {pid})")]
    Locked { path: PathBuf, pid: String },

    #[error("no git identity: user.name and user.email are not set")]
    NoIdentity,

    /// `up` planned the whole run and some steps cannot be done
    /// automatically; nothing was written.
    #[error("{}", blocked_message(.0))]
    Blocked(Vec<Blocked>),

    #[error("`nix` is not installed: {what}")]
    NixMissing { what: String },

    /// A program the command needs (besides nix) is not on PATH.
    #[error("{0}")]
    ProgramMissing(String),

    #[error("{0}")]
    Failed(String),

    #[error("{count} guard violation(s)")]
    Violations { count: usize },
}

impl Error {
    /// What the user should do next, printed under the error.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Usage { help, .. } | Error::Refused { help, .. } => Some(help.clone()),
            Error::Blocked(blocked) => Some(
                blocked
                    .iter()
                    .map(|b| format!("{}: {}", b.step, b.help))
                    .collect::<Vec<_>>()
                    .join("\n      "),
            ),
            Error::Dirty { .. } => Some(
                "commit or stash these changes first (`git stash --include-untracked`), then run again"
                    .into(),
            ),
            Error::Locked { path, .. } => Some(format!(
                "wait for the other run to finish: the lock on {} is released when it ends",
                path.display()
            )),
            Error::NoIdentity => Some(
                "set it with `git config user.name \"Your Name\"` and `git config user.email you@example.org`"
                    .into(),
            ),
            Error::NixMissing { .. } => Some(
                "install Nix with flakes enabled, then run again"
                    .into(),
            ),
            Error::NotUtf8(_) => Some(
                "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), commit it, then run again; nothing was written"
                    .into(),
            ),
            // `config::CONFIG_FILE`, which this module cannot name (config
            // returns these errors).
            Error::Parse(at) => Some(format!(
                "fix the file and run again (nix cannot read it either); nothing was written. \
                 A file no host imports can be left out: `[guard] exclude = [\"{}\"]` in flake-migrate.toml",
                at.path.display(),
            )),
            Error::Config { .. } | Error::ConfigSyntax(_) => {
                Some("fix the file, or run `flake-migrate init` to write it again".into())
            }
            _ => None,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::Blocked(_) => exit::MANUAL,
            Error::Violations { .. } => exit::VIOLATIONS,
            Error::NixMissing { .. } | Error::ProgramMissing(_) => exit::NIX_MISSING,
            _ => exit::ERROR,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn refused(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Refused {
            message: message.into(),
            help: help.into(),
        }
    }

    /// The place in a file the error is about, for a snippet with a caret.
    pub fn located(&self) -> Option<&Located> {
        match self {
            Error::Parse(at) | Error::NotUtf8(at) | Error::ConfigSyntax(at) => Some(at),
            _ => None,
        }
    }

    /// `bytes`, read from `path`, are not UTF-8: where the first bad byte
    /// is, with the file shown with that byte replaced.
    pub fn not_utf8(path: &std::path::Path, bytes: &[u8]) -> Self {
        let offset = std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
        let text = String::from_utf8_lossy(bytes).into_owned();
        // The lossy text keeps every byte before the first bad one, and
        // puts U+FFFD (3 bytes) in its place.
        let replaced = offset..offset + '\u{FFFD}'.len_utf8();
        Error::NotUtf8(Box::new(Located::new(
            path,
            text,
            replaced,
            format!(
                "not valid UTF-8: byte 0x{:02X} at offset {offset}",
                bytes.get(offset).copied().unwrap_or(0)
            ),
            "not UTF-8",
        )))
    }

    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One step that needs manual action, found while planning a run.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub step: String,
    pub reason: String,
    pub help: String,
}

fn blocked_message(blocked: &[Blocked]) -> String {
    let lines: Vec<String> = blocked
        .iter()
        .map(|b| format!("step {} needs manual action: {}", b.step, b.reason))
        .collect();
    format!(
        "{}\nnothing was written: the whole run is planned before any step is committed",
        lines.join("\n")
    )
}
