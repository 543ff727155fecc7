//! Never lose or corrupt a user's repository (issue 13): runs killed with
//! SIGKILL, unsafe git states, git's identity, file modes, line endings,
//! encodings, symlinks, dry runs, drift and exit codes. The real binary
//! against real repositories built from the `seed` fixture, on the static
//! reading (`--no-eval`).

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::detailed::Run;
use support::*;

const SEED_HOSTS: [&str; 4] = ["--host", "carbon=cuda", "--host", "beryllium=vulkan"];

/// `flake-migrate -C dir --no-eval args…` with the user's git and nix
/// config shut out.
fn fm_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = fm_command(dir);
    cmd.arg("--no-eval").args(args);
    cmd
}

fn run(mut cmd: Command) -> Run {
    cmd.output().expect("run flake-migrate").into()
}

fn fm(dir: &Path, args: &[&str]) -> Run {
    run(fm_cmd(dir, args))
}

/// The `Migration:` trailers of HEAD's history, oldest first, with the
/// commits that have none shown as `-`.
fn step_history(dir: &Path) -> Vec<String> {
    git(
        dir,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Migration,valueonly,separator=)-",
        ],
    )
    .lines()
    .map(|l| l.trim_end_matches('-').trim().to_string())
    .collect()
}

/// The seed fixture in a fresh repository, configured with `init`.
fn seed() -> TempRepo {
    let repo = fixture_repo("seed");
    let mut args = vec!["init"];
    args.extend(SEED_HOSTS);
    fm(repo.path(), &args).ok();
    repo
}

// ---------------------------------------------------------------------------
// 1. Killed at any point, the next run (started at once) recovers

/// Runs `args` on a fresh `prepare()`d repository, SIGKILLs it after each
/// of several delays spread over an uninterrupted run's duration, starts
/// the same command again at once (before the killed process is reaped),
/// and checks that it succeeds and leaves what an uninterrupted run leaves.
fn killed_runs_recover(prepare: fn() -> TempRepo, args: &[&str]) {
    let reference = prepare();
    let started = Instant::now();
    fm(reference.path(), args).ok();
    let took = started.elapsed();
    let (tree, history) = (tree_bytes(reference.path()), step_history(reference.path()));

    let points = 8;
    for i in 0..points {
        let delay = took * i / points;
        let repo = prepare();
        let dir = repo.path();
        let mut child = fm_cmd(dir, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap();
        let next = fm(dir, args);
        child.wait().unwrap();
        assert_eq!(next.code, 0, "killed after {delay:?}: {next:#?}");
        assert_same_tree(&tree_bytes(dir), &tree);
        assert_eq!(step_history(dir), history, "killed after {delay:?}");
        assert_eq!(porcelain(dir), "", "killed after {delay:?}");
        assert!(!dir.join(".git/flake-migrate-journal.toml").exists());
    }
}

#[test]
fn up_killed_at_any_point_is_recovered_by_the_next_run_at_once() {
    killed_runs_recover(seed, &["up", "--no-lock", "--to", "5"]);
}

#[test]
fn down_killed_at_any_point_is_recovered_by_the_next_run_at_once() {
    fn seed_up() -> TempRepo {
        let repo = seed();
        fm(repo.path(), &["up", "--no-lock", "--to", "5"]).ok();
        repo
    }
    killed_runs_recover(seed_up, &["down", "--all"]);
}

#[test]
fn a_run_holding_the_lock_refuses_a_second_one() {
    let repo = seed();
    let dir = repo.path();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".git/flake-migrate.lock"))
        .unwrap();
    fs4::FileExt::try_lock(&lock).unwrap();
    let before = head(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("another flake-migrate run"), "{run:#?}");
    assert_eq!(head(dir), before);
    drop(lock);
    fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    assert_ne!(head(dir), before, "released, the lock is taken");
}

// ---------------------------------------------------------------------------
// 2. Unsafe git states are refused, naming the state and the way out

/// Runs `up` and checks that it refuses with exit 1, naming `state` and
/// `way_out`, with HEAD and the files left as they were.
#[track_caller]
fn assert_up_refuses(dir: &Path, state: &str, way_out: &str) {
    let before = (head(dir), tree_bytes(dir), porcelain(dir));
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains(state), "names {state}: {run:#?}");
    assert!(run.stderr.contains(way_out), "says {way_out}: {run:#?}");
    assert_eq!((head(dir), tree_bytes(dir), porcelain(dir)), before);
}

#[test]
fn up_refuses_a_detached_head() {
    let repo = seed();
    let dir = repo.path();
    git(dir, &["checkout", "-q", "--detach"]);
    assert_up_refuses(dir, "detached HEAD", "git switch");
}

#[test]
fn up_refuses_during_a_merge() {
    let repo = seed();
    let dir = repo.path();
    git(dir, &["checkout", "-q", "-b", "side"]);
    repo.write("README", "side\n");
    git(dir, &["add", "README"]);
    git(dir, &["commit", "-qm", "side"]);
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["merge", "--no-commit", "--no-ff", "-q", "side"]);
    assert_up_refuses(dir, "a merge is in progress", "git merge --abort");
}

#[test]
fn up_refuses_while_a_rebase_is_stopped() {
    let repo = seed();
    let dir = repo.path();
    repo.write("README", "one\n");
    git(dir, &["add", "README"]);
    git(dir, &["commit", "-qm", "one"]);
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rebase", "-q", "-i", "HEAD~1"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SEQUENCE_EDITOR", "sed -i s/^pick/edit/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_up_refuses(dir, "a rebase is in progress", "git rebase --abort");
}

#[test]
fn up_refuses_during_a_bisect() {
    let repo = seed();
    let dir = repo.path();
    git(dir, &["bisect", "start"]);
    assert_up_refuses(dir, "a bisect is in progress", "git bisect reset");
}

// ---------------------------------------------------------------------------
// 7. The git identity as git resolves it

/// [`seed`] with no identity in the repository's config, run with HOME an
/// empty directory and `env` on top.
fn up_with_identity_env(env: &[(&str, &str)]) -> (TempRepo, Run) {
    let repo = seed();
    let dir = repo.path();
    git(dir, &["config", "--unset", "user.name"]);
    git(dir, &["config", "--unset", "user.email"]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fm_cmd(dir, &["up", "--no-lock", "--to", "1"]);
    cmd.env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env_remove("EMAIL")
        .envs(env.iter().copied());
    let run = run(cmd);
    (repo, run)
}

fn who(dir: &Path, format: &str) -> String {
    git(dir, &["log", "-1", &format!("--format={format}")])
        .trim()
        .to_string()
}

#[test]
fn up_takes_author_and_committer_from_gits_environment_variables() {
    let (repo, run) = up_with_identity_env(&[
        ("GIT_AUTHOR_NAME", "Ann Author"),
        ("GIT_AUTHOR_EMAIL", "ann@example.invalid"),
        ("GIT_COMMITTER_NAME", "Carl Committer"),
        ("GIT_COMMITTER_EMAIL", "carl@example.invalid"),
    ]);
    run.ok();
    let dir = repo.path();
    assert_eq!(who(dir, "%an <%ae>"), "Ann Author <ann@example.invalid>");
    assert_eq!(
        who(dir, "%cn <%ce>"),
        "Carl Committer <carl@example.invalid>"
    );
}

#[test]
fn up_reads_the_identity_from_git_config_global() {
    let global = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        global.path(),
        "[user]\n\tname = Gail Global\n\temail = gail@example.invalid\n",
    )
    .unwrap();
    let path = global.path().display().to_string();
    let (repo, run) = up_with_identity_env(&[("GIT_CONFIG_GLOBAL", &path)]);
    run.ok();
    assert_eq!(
        who(repo.path(), "%an <%ae> %cn"),
        "Gail Global <gail@example.invalid> Gail Global"
    );
}

#[test]
fn up_without_any_identity_still_refuses() {
    let (repo, run) = up_with_identity_env(&[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("no git identity"), "{run:#?}");
    assert_eq!(step_history(repo.path()), ["", ""]);
}

// ---------------------------------------------------------------------------
// 4. Files the tool creates get 0666 minus the umask

#[test]
fn created_files_get_the_umasks_mode_and_rewritten_files_keep_theirs() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |dir: &Path, rel: &str| fs::metadata(dir.join(rel)).unwrap().permissions().mode() & 0o777;
    for (umask, expected) in [("022", 0o644), ("002", 0o664)] {
        let repo = fixture_repo("seed");
        let dir = repo.path();
        fs::set_permissions(dir.join("flake.nix"), fs::Permissions::from_mode(0o640)).unwrap();
        // git records only the executable bit: the tree stays clean.
        let with_umask = |args: &[&str]| {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("umask {umask}; exec \"$@\""))
                .arg("sh")
                .arg(BIN)
                .arg("-C")
                .arg(dir)
                .arg("--no-eval")
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1");
            run(cmd).ok()
        };
        let mut init = vec!["init"];
        init.extend(SEED_HOSTS);
        with_umask(&init);
        with_umask(&["up", "--no-lock", "--to", "3"]);
        for created in [
            "flake-migrate.toml",
            ".flake-migrate/state.toml",
            "nixos/overlays/llama-cpp.nix",
        ] {
            assert_eq!(mode(dir, created), expected, "{created} with umask {umask}");
        }
        assert_eq!(
            mode(dir, "flake.nix"),
            0o640,
            "rewritten, flake.nix keeps its mode"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. CRLF files get CRLF in inserted text

#[test]
fn lines_inserted_into_a_crlf_file_end_in_crlf() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let lf = repo.read("flake.nix");
    repo.write("flake.nix", &lf.replace('\n', "\r\n"));
    git(dir, &["commit", "-qam", "flake.nix with CRLF"]);
    let mut init = vec!["init"];
    init.extend(SEED_HOSTS);
    fm(dir, &init).ok();
    fm(dir, &["up", "--no-lock", "--to", "3"]).ok();
    let after = repo.read("flake.nix");
    assert_ne!(
        after,
        lf.replace('\n', "\r\n"),
        "0001 and 0003 edit flake.nix"
    );
    let bare = after
        .match_indices('\n')
        .filter(|(i, _)| !after[..*i].ends_with('\r'))
        .count();
    assert_eq!(bare, 0, "no bare LF in:\n{after}");
}

// ---------------------------------------------------------------------------
// 11. What is not a usage error does not exit 2

#[test]
fn a_repository_that_cannot_be_worked_on_exits_1_not_2() {
    let plain = tempfile::tempdir().unwrap();
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q", "--bare"]);
    let empty = tempfile::tempdir().unwrap();
    git(empty.path(), &["init", "-q"]);
    fs::write(empty.path().join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    for (dir, says) in [
        (plain.path(), "not inside a git repository"),
        (bare.path(), "bare"),
        (empty.path(), "no commits"),
    ] {
        let run = fm(dir, &["init", "--host", "a=cpu"]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(run.stderr.contains(says), "{run:#?}");
    }
    fs::write(plain.path().join("mine"), "keep me\n").unwrap();
    let mut demo = fm_cmd(Path::new("."), &["demo"]);
    demo.arg(plain.path());
    let run = run(demo);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("is not empty"), "{run:#?}");
    assert_eq!(
        fs::read_to_string(plain.path().join("mine")).unwrap(),
        "keep me\n"
    );
}

// ---------------------------------------------------------------------------
// 8. `down --dry-run` of several steps

#[test]
fn down_dry_run_of_several_steps_shows_each_revert_and_changes_nothing() {
    let repo = seed();
    let dir = repo.path();
    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    let before = (head(dir), tree_bytes(dir));
    let run = fm(dir, &["down", "--all", "--dry-run"]).ok();
    for id in ["0005", "0003", "0002", "0001"] {
        assert!(run.stdout.contains(&format!("{id}-")), "{id}: {run:#?}");
    }
    assert_eq!((head(dir), tree_bytes(dir)), before);
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// 10. `status` after an interrupted run

/// What a run killed after writing step 0001's record but before its other
/// files and its commit leaves: the journal, and a record that claims the
/// step. Built from a real run of the step, so the record is the real one.
fn interrupted_during_first_step() -> (TempRepo, String) {
    let repo = seed();
    let dir = repo.path();
    let before = head(dir);
    fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    let step = git(
        dir,
        &["log", "-1", "--format=%(trailers:key=Migration,valueonly)"],
    )
    .trim()
    .to_string();
    let paths: Vec<String> = git(dir, &["diff", "--name-only", &before, "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let record = fs::read(dir.join(".flake-migrate/state.toml")).unwrap();
    git(dir, &["reset", "-q", "--hard", &before]);
    fs::create_dir_all(dir.join(".flake-migrate")).unwrap();
    fs::write(dir.join(".flake-migrate/state.toml"), record).unwrap();
    let journal = format!(
        "step = {step:?}\nhead = {before:?}\npaths = [{}]\n",
        paths
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    fs::write(dir.join(".git/flake-migrate-journal.toml"), journal).unwrap();
    (repo, step)
}

#[test]
fn status_after_an_interrupted_run_says_so_and_that_up_recovers_it() {
    let (repo, step) = interrupted_during_first_step();
    let dir = repo.path();
    let status = fm(dir, &["status"]).ok();
    assert!(
        status
            .stdout
            .contains(&format!("interrupted during step {step}")),
        "{status:#?}"
    );
    assert!(status.stdout.contains("`flake-migrate up`"), "{status:#?}");
    assert!(!status.stdout.contains("drifted"), "{status:#?}");
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("[") && l.contains(&step[..4]))
        .unwrap();
    assert!(line.contains("pending"), "recovery undoes it: {line}");
    let json = fm(dir, &["status", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["interrupted"], step.as_str());

    let up = fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    assert!(up.stdout.contains("recovered"), "{up:#?}");
    let after = fm(dir, &["status"]).ok();
    assert!(!after.stdout.contains("interrupted"), "{after:#?}");
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// 6. A module that is not UTF-8 is refused up front

/// Puts one Latin-1 byte in a comment at the top of `nixos/default.nix`
/// and commits it; returns the byte offset of that byte.
fn commit_a_latin1_comment(dir: &Path) -> usize {
    let path = dir.join("nixos/default.nix");
    let mut bytes = b"# caf\xe9\n".to_vec();
    bytes.extend(fs::read(&path).unwrap());
    fs::write(&path, bytes).unwrap();
    git(dir, &["commit", "-qam", "latin-1 comment"]);
    5
}

#[track_caller]
fn assert_refuses_non_utf8(dir: &Path, args: &[&str], offset: usize) {
    let before = (head(dir), tree_bytes(dir));
    let run = fm(dir, args);
    assert_eq!(run.code, 1, "{args:?}: {run:#?}");
    for says in [
        "nixos/default.nix",
        &format!("offset {offset}"),
        "not valid UTF-8",
        "re-save the file as UTF-8",
    ] {
        assert!(
            run.stderr.contains(says),
            "{args:?} should say {says:?}: {run:#?}"
        );
    }
    assert_eq!((head(dir), tree_bytes(dir)), before, "{args:?} wrote");
}

#[test]
fn init_status_and_up_refuse_a_module_that_is_not_utf8_before_writing() {
    let fresh = fixture_repo("seed");
    let offset = commit_a_latin1_comment(fresh.path());
    let mut init = vec!["init"];
    init.extend(SEED_HOSTS);
    assert_refuses_non_utf8(fresh.path(), &init, offset);

    let configured = seed();
    let offset = commit_a_latin1_comment(configured.path());
    assert_refuses_non_utf8(configured.path(), &["status"], offset);
    assert_refuses_non_utf8(configured.path(), &["up", "--no-lock", "--to", "5"], offset);
}
