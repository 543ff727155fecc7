//! Checklist item 7: `switch` runs nh or nixos-rebuild (fakes from
//! tests/fixtures/bin on PATH) and records the switch; `confirm` records one
//! done elsewhere, or the commit a NixOS machine reports it runs. No nix needed.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::*;

const CONFIG: &str = "[hosts]\ncarbon = \"cuda\"\nberyllium = \"vulkan\"\n";

/// The seed fixture with a config, committed.
fn repo_with(config: &str) -> TempRepo {
    let repo = fixture_repo("seed");
    repo.write("flake-migrate.toml", config);
    repo.commit_all("Configure flake-migrate");
    repo
}

/// A directory holding only the named fakes, to put first on PATH.
fn fake_bin(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        std::os::unix::fs::symlink(fixtures_dir().join("bin").join(name), dir.path().join(name))
            .unwrap();
    }
    dir
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn flake_migrate(repo: &Path, bin: &Path, log: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("flake-migrate").unwrap();
    cmd.arg("-C")
        .arg(repo)
        .arg("--no-eval")
        .args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("FAKE_LOG", log)
        .env_remove("FAKE_EXIT")
        .env_remove("FAKE_REVISION");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn state(repo: &TempRepo) -> toml::Table {
    repo.read(".flake-migrate/state.toml").parse().unwrap()
}

fn switches(repo: &TempRepo) -> Vec<toml::Table> {
    state(repo)
        .get("switch")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().map(|t| t.as_table().unwrap().clone()).collect())
        .unwrap_or_default()
}

fn head(repo: &TempRepo) -> (String, String) {
    let git = repo.git();
    let c = git.head().unwrap().peel_to_commit().unwrap();
    (c.id().to_string(), c.message().unwrap().to_string())
}

fn step_state(repo: &Path, id: &str) -> (String, String) {
    let out = Command::cargo_bin("flake-migrate")
        .unwrap()
        .arg("-C")
        .arg(repo)
        .args(["--no-eval", "status", "--json"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str().unwrap().starts_with(id))
        .unwrap();
    (
        step["state"].as_str().unwrap().to_string(),
        step["detail"].as_str().unwrap_or("").to_string(),
    )
}

fn this_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

/// `switch --host HOST --force` with the fake programs of `bin`, which
/// must succeed.
fn forced_switch(repo: &Path, bin: &Path, log: &Path, host: &str) -> Run {
    let run = flake_migrate(repo, bin, log, &["switch", "--host", host, "--force"], &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

fn log_path(bin: &tempfile::TempDir) -> PathBuf {
    bin.path().join("calls.log")
}

#[test]
fn switch_runs_nixos_rebuild_and_records_it() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    let (before, _) = head(&repo);

    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &[
            "switch",
            "--host",
            "carbon",
            "--force",
            "--",
            "--show-trace",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.starts_with("nixos-rebuild switch --flake .#carbon --show-trace (in "),
        "{calls}"
    );
    assert!(
        calls.contains(&repo.path().display().to_string()),
        "{calls}"
    );

    let s = switches(&repo);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["host"].as_str(), Some("carbon"));
    assert_eq!(s[0]["variant"].as_str(), Some("cuda"));
    assert_eq!(s[0]["how"].as_str(), Some("switch"));
    assert_eq!(s[0]["commit"].as_str(), Some(before.as_str()));

    let (_, message) = head(&repo);
    assert!(
        message.starts_with("Record a successful switch of carbon (cuda)"),
        "{message}"
    );
    assert!(message.contains("Migration: 0007-switch"), "{message}");

    // vulkan still lacks a host: blocked, naming it and the command.
    let (st, detail) = step_state(repo.path(), "0007");
    assert_eq!(st, "blocked", "{detail}");
    assert!(detail.contains("cuda covered by carbon"), "{detail}");
    assert!(
        detail.contains("no recorded switch yet for vulkan (beryllium)"),
        "{detail}"
    );
    assert!(
        detail.contains("flake-migrate switch --host H` on beryllium"),
        "{detail}"
    );
}

#[test]
fn switch_prefers_nh() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&["nixos-rebuild", "nh"]);
    let log = log_path(&bin);
    let run = forced_switch(repo.path(), bin.path(), &log, "beryllium");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.starts_with("nh os switch . --hostname beryllium (in "),
        "{calls}"
    );
    assert!(
        run.stdout.contains("running: nh os switch"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_failed_switch_records_nothing() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    let (before, _) = head(&repo);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["switch", "--host", "carbon", "--force"],
        &[("FAKE_EXIT", "1")],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("nothing was recorded"),
        "{}",
        run.stderr
    );
    assert_eq!(head(&repo).0, before);
    assert!(!repo.path().join(".flake-migrate/state.toml").exists());
}

#[test]
fn without_nh_or_nixos_rebuild_it_says_what_to_do() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&[]);
    let log = log_path(&bin);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["switch", "--host", "carbon", "--force"],
        &[],
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("confirm --host carbon"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_host_is_a_usage_error_listing_hosts() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    for cmd in ["switch", "confirm"] {
        let run = flake_migrate(repo.path(), bin.path(), &log, &[cmd, "--host", "neon"], &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("no host `neon`"), "{}", run.stderr);
        assert!(run.stderr.contains("beryllium, carbon"), "{}", run.stderr);
    }
    assert!(!log.exists());
}

#[test]
fn switching_another_host_from_here_needs_force() {
    let repo = repo_with(CONFIG);
    if this_hostname() == "carbon" {
        eprintln!("skipping: this machine is called carbon");
        return;
    }
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["switch", "--host", "carbon"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert!(!log.exists(), "nothing may run");
}

#[test]
fn dirty_tree_is_refused() {
    let repo = repo_with(CONFIG);
    repo.write("flake.nix", "{ }\n");
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["switch", "--host", "carbon", "--force"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("flake.nix"), "{}", run.stderr);
    assert!(!log.exists());
}

#[test]
fn confirm_completes_the_step_once_every_variant_has_a_host() {
    let repo = repo_with(CONFIG);
    let bin = fake_bin(&["nixos-rebuild"]);
    let log = log_path(&bin);
    let (at, _) = head(&repo);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", "carbon"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = switches(&repo);
    assert_eq!(s[0]["how"].as_str(), Some("confirmed"));
    assert_eq!(s[0]["commit"].as_str(), Some(at.as_str()));
    assert_eq!(step_state(repo.path(), "0007").0, "blocked");

    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", "beryllium"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("every variant has a switched host"),
        "{}",
        run.stdout
    );
    assert_eq!(switches(&repo).len(), 2);
    let applied = state(&repo)["applied"].as_array().unwrap().clone();
    assert!(
        applied
            .iter()
            .any(|a| a["id"].as_str() == Some("0007-switch")),
        "{applied:?}"
    );
    assert_eq!(step_state(repo.path(), "0007").0, "applied");
    assert!(!log.exists(), "confirm runs nothing");

    // Confirming again replaces the host's entry rather than piling up.
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", "carbon"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(switches(&repo).len(), 2);
}

#[test]
fn a_running_nixos_reporting_its_revision_is_confirmed_by_it() {
    let host = this_hostname();
    let config = format!("[hosts]\n\"{host}\" = \"cuda\"\n");
    let repo = repo_with(&config);
    let (rev, _) = head(&repo);
    let bin = fake_bin(&["nixos-version"]);
    let log = log_path(&bin);

    // status points at it before anything is recorded.
    let out = Command::cargo_bin("flake-migrate")
        .unwrap()
        .arg("-C")
        .arg(repo.path())
        .args(["--no-eval", "status", "--json"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .env("FAKE_REVISION", &rev)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("configurationRevision"), "{text}");
    assert!(text.contains(&format!("confirm --host {host}")), "{text}");

    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", &host],
        &[("FAKE_REVISION", &rev)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = switches(&repo);
    assert_eq!(s[0]["how"].as_str(), Some("configuration-revision"));
    assert_eq!(s[0]["commit"].as_str(), Some(rev.as_str()));

    // A revision that is not in history (or a dirty build) is not trusted.
    let repo = repo_with(&config);
    let (rev, _) = head(&repo);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", &host],
        &[("FAKE_REVISION", &format!("{rev}-dirty"))],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(switches(&repo)[0]["how"].as_str(), Some("confirmed"));
}

/// A nix-darwin host switches with darwin-rebuild, a standalone
/// home-manager configuration with home-manager (or both with nh), each
/// named as in the flake; a variant counts as switched when any machine of
/// it switched.
#[test]
fn darwin_and_home_manager_machines_switch_with_their_own_programs() {
    let repo = fixture_repo("mixed-fleet");
    repo.write(
        "flake-migrate.toml",
        "[hosts]\ndesktop = \"cuda\"\nmac = \"metal\"\n\"ada@laptop\" = \"cpu\"\n\"ada@studio\" = \"cpu\"\n",
    );
    repo.commit_all("Configure flake-migrate");
    let bin = fake_bin(&["darwin-rebuild", "home-manager"]);
    let log = log_path(&bin);

    forced_switch(repo.path(), bin.path(), &log, "mac");
    forced_switch(repo.path(), bin.path(), &log, "ada@laptop");
    let calls = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert!(
        lines[0].starts_with("darwin-rebuild switch --flake .#mac (in "),
        "{calls}"
    );
    assert!(
        lines[1].starts_with("home-manager switch --flake .#ada@laptop (in "),
        "{calls}"
    );
    let hosts: Vec<String> = switches(&repo)
        .iter()
        .map(|s| {
            format!(
                "{}={}",
                s["host"].as_str().unwrap(),
                s["variant"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(hosts, ["ada@laptop=cpu", "mac=metal"]);
    // ada@studio (cpu too) needs no switch of its own: cpu has a machine.
    let (_, detail) = step_state(repo.path(), "0007");
    assert!(detail.contains("cpu covered by ada@laptop"), "{detail}");
    assert!(detail.contains("metal covered by mac"), "{detail}");
    assert!(
        detail.contains("no recorded switch yet for cuda (desktop)"),
        "{detail}"
    );
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log,
        &["confirm", "--host", "desktop"],
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("every variant has a switched host"),
        "{}",
        run.stdout
    );

    // nh where it is installed: `nh darwin switch`, `nh home switch`.
    let bin = fake_bin(&["nh", "darwin-rebuild"]);
    let log = log_path(&bin);
    forced_switch(repo.path(), bin.path(), &log, "mac");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.starts_with("nh darwin switch . --hostname mac (in "),
        "{calls}"
    );

    // No darwin-rebuild here: a switch done on the Mac is confirmed.
    let bin = fake_bin(&["nixos-rebuild"]);
    let run = flake_migrate(
        repo.path(),
        bin.path(),
        &log_path(&bin),
        &["switch", "--host", "mac", "--force"],
        &[],
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("darwin-rebuild"), "{}", run.stderr);
    assert!(
        run.stderr.contains("flake-migrate confirm --host mac"),
        "{}",
        run.stderr
    );
}
