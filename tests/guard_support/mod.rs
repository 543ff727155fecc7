//! Helpers for the guard's integration tests: a migrated copy of the seed
//! fixture, the real `git` CLI and the real binary.
//!
//! Include with `mod guard_support;` (after `mod support;`).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support;

pub const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");

/// A repository to run git and flake-migrate in, removed when dropped.
pub struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `git ARGS` in the repository, with only the repository's own config.
    pub fn git(&self, args: &[&str]) -> Output {
        git_in(self.path(), args)
    }

    /// `git ARGS`, which must succeed; returns its stdout.
    pub fn git_ok(&self, args: &[&str]) -> String {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `flake-migrate ARGS` in the repository.
    pub fn fm(&self, args: &[&str]) -> Output {
        fm_in(self.path(), args)
    }

    pub fn fm_ok(&self, args: &[&str]) -> String {
        let out = self.fm(args);
        assert!(
            out.status.success(),
            "flake-migrate {args:?} failed ({:?}):\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Replaces `from` by `to` in a file, which must contain it.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    pub fn head(&self) -> String {
        self.git_ok(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// `git commit -m MSG EXTRA…`: its output (the hook's stderr included).
    pub fn commit(&self, msg: &str, extra: &[&str]) -> Output {
        let mut args = vec!["commit", "-q", "-m", msg];
        args.extend_from_slice(extra);
        self.git(&args)
    }
}

pub fn git_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("run git")
}

/// `flake-migrate ARGS -- <stand-in overrides>` in `dir`, with evaluation.
pub fn fm_eval_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .arg("--")
        .args(support::migration_override_args(dir))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .env("NIX_CONFIG", support::NIX_CONFIG)
        .output()
        .expect("run flake-migrate")
}

pub fn fm_in(dir: &Path, args: &[&str]) -> Output {
    // The guard never evaluates; the migrations it guards are made on the
    // static reading here (evaluation is exercised by migrate_shapes).
    Command::new(BIN)
        .current_dir(dir)
        .arg("--no-eval")
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("run flake-migrate")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The seed fixture with `init --host carbon=cuda --host beryllium=vulkan`
/// and `up --to 5 --no-lock` done, built once per test binary (kept under
/// cargo's target/tmp, replaced on each run); each call gets its own copy.
pub fn migrated_seed() -> Repo {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let repo = support::fixture_repo("seed");
        let run = |args: &[&str]| {
            let out = fm_in(repo.path(), args);
            assert!(
                out.status.success(),
                "flake-migrate {args:?}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        };
        run(&[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ]);
        run(&["up", "--to", "5", "--no-lock"]);
        let name = module_path!().replace("::", "-");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-migrated-seed"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        copy_into(repo.path(), &dir);
        dir
    });
    copy_repo(template)
}

/// The seed fixture, committed, nothing migrated.
pub fn seed() -> Repo {
    let template = support::fixture_repo("seed");
    let repo = copy_repo(template.path());
    drop(template);
    repo
}

/// A fresh repository with one commit.
pub fn empty_repo() -> Repo {
    let dir = tempfile::Builder::new()
        .prefix("flake-migrate-guard-")
        .tempdir()
        .unwrap();
    let repo = Repo { dir };
    repo.git_ok(&["init", "-q", "-b", "main"]);
    repo.git_ok(&["config", "user.name", "Test User"]);
    repo.git_ok(&["config", "user.email", "test@example.invalid"]);
    repo.write("README", "hello\n");
    repo.git_ok(&["add", "README"]);
    repo.git_ok(&["commit", "-q", "-m", "init"]);
    repo
}

fn copy_repo(from: &Path) -> Repo {
    let dir = tempfile::Builder::new()
        .prefix("flake-migrate-guard-")
        .tempdir()
        .unwrap();
    copy_into(from, dir.path());
    Repo { dir }
}

fn copy_into(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// `path:line:col rule` for each violation in `check --json` output (with
/// ` (allowed)` for allowed ones).
pub fn json_locations(json: &str) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_str(json).expect("check --json is JSON");
    assert_eq!(report["version"], 1, "{report:#}");
    report["violations"]
        .as_array()
        .expect("a list of violations")
        .iter()
        .map(|v| {
            let place = match (v["line"].as_u64(), v["column"].as_u64()) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", v["file"].as_str().unwrap()),
                _ => v["file"].as_str().unwrap().to_string(),
            };
            let allowed = if v["allowed"].as_bool().unwrap() {
                " (allowed)"
            } else {
                ""
            };
            format!("{place} {}{allowed}", v["rule"].as_str().unwrap())
        })
        .collect()
}
