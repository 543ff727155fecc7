//! Running the real `flake-migrate` binary and the git CLI, shut off from the
//! user's git and nix configuration so a test sees only what it set up.

use std::path::Path;
use std::process::{Command, Output};

use super::NIX_CONFIG;

pub const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");

/// `flake-migrate -C dir` with the isolating environment; the caller adds
/// the arguments.
pub fn fm_command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("-C")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("NIX_CONFIG", NIX_CONFIG)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

/// What one run of the binary did; shown as exit code, stdout and stderr
/// when an assertion on it fails.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n{}\n{}", self.code, self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `flake-migrate -C dir ARGS [-- NIX_ARGS]`.
pub fn run(dir: &Path, args: &[&str], nix_args: &[String]) -> Run {
    let mut cmd = fm_command(dir);
    cmd.args(args);
    if !nix_args.is_empty() {
        cmd.arg("--").args(nix_args);
    }
    cmd.output().expect("run flake-migrate").into()
}

/// The static reading: no nix.
pub fn fm_static(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--no-eval"];
    all.extend(args);
    run(dir, &all, &[])
}

pub fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

/// The git CLI in `dir` (for what a user does by hand); panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// `git status --porcelain` including untracked files.
pub fn porcelain(dir: &Path) -> String {
    git(dir, &["status", "--porcelain", "--untracked-files=all"])
}

/// The same outcome printed field by field (`{:#?}`), as the engine's and
/// the reliability tests show a run that went wrong.
pub mod detailed {
    use std::process::Output;

    #[derive(Debug)]
    pub struct Run {
        pub code: i32,
        pub stdout: String,
        pub stderr: String,
    }

    impl Run {
        pub fn all(&self) -> String {
            format!("{}{}", self.stdout, self.stderr)
        }

        #[track_caller]
        pub fn ok(self) -> Run {
            assert_eq!(self.code, 0, "expected success, got {self:#?}");
            self
        }
    }

    impl From<Output> for Run {
        fn from(out: Output) -> Run {
            let super::Run {
                code,
                stdout,
                stderr,
            } = out.into();
            Run {
                code,
                stdout,
                stderr,
            }
        }
    }
}
