//! The wrapper flake both evaluations go through.
//!
//! Why a wrapper (the choice, for Nix >= 2.8): an evaluation that needs the
//! hosts *and* the flake's inputs (upstream's `packages.<system>.*`, with the
//! input's `follows` honored) cannot use an installable such as
//! `.#nixosConfigurations.H.config`, which cannot reach the inputs; and
//! `builtins.getFlake` in `nix eval --impure --expr` reads only the committed
//! flake.lock: it ignores `--override-input`, so the hosts would be evaluated
//! against other inputs than `nix flake check` just used. So flake-migrate
//! writes a tiny flake in a temporary directory whose one input, `target`, is
//! the repository (`git+file://ROOT`, or `git+file://ROOT?dir=SUB` for a flake
//! below the root), and evaluates one of its outputs:
//!
//! ```text
//! nix eval --json path:/tmp/…#result [--override-input target/NAME REF]…
//! ```
//!
//! Nix locks `target`'s inputs from the repository's own flake.lock, and the
//! user's `--override-input NAME REF` become `target/NAME`. A locked input
//! flake exposes its inputs (`target.inputs.llama-cpp`), so the Nix side can
//! compare store paths (`outPath`) directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::nix;
use crate::output::spinner;

/// A wrapper flake in a temporary directory (removed on drop).
pub struct Wrapper {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Wrapper {
    /// Writes the wrapper for the flake at `flake_dir` (relative to the
    /// repository `root`, possibly empty). `result` is the Nix expression of
    /// its `result` output, with the repository's flake in scope as `target`;
    /// `files` are written next to its flake.nix.
    pub fn create(
        root: &Path,
        flake_dir: &Path,
        result: &str,
        files: &[(&str, &str)],
    ) -> Result<Wrapper> {
        let dir = tempfile::Builder::new()
            .prefix("flake-migrate-eval-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let wrapper = Wrapper {
            dir,
            root: root.to_path_buf(),
        };
        wrapper.write("flake.nix", &wrapper_flake(root, flake_dir, result))?;
        for (name, text) in files {
            wrapper.write(name, text)?;
        }
        Ok(wrapper)
    }

    /// (Re)writes a file of the wrapper.
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(path, e))
    }

    /// `nix eval --json path:DIR#ATTR` with the user's arguments moved under
    /// the wrapper's input, and the command line as a person would type it.
    pub fn eval_command(&self, attr: &str, extra: &[String]) -> (Command, String) {
        let installable = format!("path:{}#{attr}", self.dir.path().display());
        let args = eval_args(extra);
        let cmd = nix::command(&self.root, &["eval", "--json", &installable], &args);
        let mut shown = vec!["eval".to_string(), "--json".to_string(), installable];
        shown.extend(args);
        (cmd, spinner::display("nix", &shown))
    }
}

impl Wrapper {
    /// `nix flake check --no-build --keep-going` of the wrapper, whose
    /// checks are the hosts of `result.hosts` (see probe.rs).
    pub fn check_command(&self, extra: &[String]) -> (Command, String) {
        let flake = format!("path:{}", self.dir.path().display());
        let mut args = vec![
            "flake".to_string(),
            "check".to_string(),
            "--no-build".to_string(),
            "--keep-going".to_string(),
            flake,
        ];
        args.extend(eval_args(extra));
        let cmd = nix::command(&self.root, &[], &args);
        (cmd, spinner::display("nix", &args))
    }
}

/// The system nix evaluates for here, as flakes name it: newer Nix checks
/// only this system's `checks` unless told otherwise.
fn current_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// The error for a `nix eval` that could not be started.
pub fn spawn_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::NixMissing {
            what: "cannot run `nix eval`".into(),
        },
        _ => Error::Failed(format!("could not run `nix eval`: {e}")),
    }
}

/// The extra arguments for the wrapper's `nix eval`: overrides of the
/// repository's inputs move under `target/`; options only `nix flake check`
/// knows, and lock-file options meant for the repository, are dropped.
pub fn eval_args(extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < extra.len() {
        let arg = extra[i].as_str();
        match arg {
            "--override-input" if i + 2 < extra.len() => {
                out.push(arg.to_string());
                out.push(format!("target/{}", extra[i + 1]));
                out.push(extra[i + 2].clone());
                i += 3;
                continue;
            }
            "--update-input" if i + 1 < extra.len() => {
                out.push(arg.to_string());
                out.push(format!("target/{}", extra[i + 1]));
                i += 2;
                continue;
            }
            "--no-build"
            | "--all-systems"
            | "--no-update-lock-file"
            | "--no-write-lock-file"
            | "--commit-lock-file"
            | "--recreate-lock-file" => {}
            _ => out.push(arg.to_string()),
        }
        i += 1;
    }
    out
}

pub use crate::syntax::nix_string;

fn percent_encode(text: &str, url: &mut String) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' | b'+' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
}

/// A `git+file://` URL for the flake at `flake_dir` of the repository `root`.
fn git_file_url(root: &Path, flake_dir: &Path) -> String {
    let mut url = String::from("git+file://");
    percent_encode(&root.to_string_lossy(), &mut url);
    let dir = flake_dir.to_string_lossy();
    let dir = dir.trim_matches('/');
    if !dir.is_empty() && dir != "." {
        url.push_str("?dir=");
        percent_encode(dir, &mut url);
    }
    url
}

/// The wrapper flake's `flake.nix`. Its `checks` are `result.hosts`, each
/// a derivation (never built) whose attribute forces the host's facts, for
/// `nix flake check --keep-going` to evaluate one by one.
fn wrapper_flake(root: &Path, flake_dir: &Path, result: &str) -> String {
    format!(
        "# Written by flake-migrate: evaluates the repository's hosts.\n\
         {{\n  inputs.target.url = {url};\n  outputs = {{ target, ... }}: rec {{\n    \
         result = {result};\n    \
         checks.{system} = builtins.mapAttrs (_: facts: derivation {{\n      \
         name = \"flake-migrate-probe\";\n      system = {system};\n      \
         builder = \"/bin/sh\";\n      facts = builtins.toJSON facts;\n    \
         }}) (result.hosts or {{ }});\n  }};\n}}\n",
        url = nix_string(&git_file_url(root, flake_dir)),
        system = nix_string(&current_system()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn overrides_move_under_the_wrapper_input() {
        let args = s(&[
            "--override-input",
            "nixpkgs",
            "path:/a",
            "--no-build",
            "--show-trace",
            "--update-input",
            "llama-cpp",
        ]);
        assert_eq!(
            eval_args(&args),
            s(&[
                "--override-input",
                "target/nixpkgs",
                "path:/a",
                "--show-trace",
                "--update-input",
                "target/llama-cpp",
            ])
        );
    }

    #[test]
    fn urls_and_strings_are_escaped() {
        assert_eq!(
            git_file_url(Path::new("/tmp/a b#c"), Path::new("")),
            "git+file:///tmp/a%20b%23c"
        );
        assert_eq!(nix_string("a\"${b}"), "\"a\\\"\\${b}\"");
    }

    #[test]
    fn a_flake_below_the_root_is_a_dir_parameter() {
        assert_eq!(
            git_file_url(Path::new("/r"), Path::new("nix/my flake/")),
            "git+file:///r?dir=nix/my%20flake"
        );
        assert_eq!(
            git_file_url(Path::new("/r"), Path::new(".")),
            "git+file:///r"
        );
    }
}
