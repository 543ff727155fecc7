//! The migration engine end to end (issue 2): the real binary against real
//! git repositories built from the `seed` fixture. `init`, `up`, `down` and
//! `status`: commits and trailers, the record committed with each change,
//! dry runs, dirty trees, the lock, recovery of an interrupted step,
//! adoption, drift, step IDs and a missing git identity.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use support::detailed::Run;
use support::*;

const SEED_HOSTS: [&str; 4] = ["--host", "carbon=cuda", "--host", "beryllium=vulkan"];
const STATE: &str = ".flake-migrate/state.toml";
const OLD_OVERRIDE: &str = "nixos/pkgs/llama-cpp-variants.nix";
const OVERLAY: &str = "nixos/overlays/llama-cpp.nix";

/// `flake-migrate -C dir args…`, isolated from the user's git and nix config.
fn fm_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    // The engine's own behaviour, on the static reading; evaluation is
    // exercised by migrate_shapes and eval_*.
    fm_command(dir)
        .arg("--no-eval")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run flake-migrate")
        .into()
}

fn fm(dir: &Path, args: &[&str]) -> Run {
    fm_env(dir, args, &[])
}

fn commit_count(dir: &Path) -> usize {
    git(dir, &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap()
}

/// Value of trailer `key` in the message of `rev`.
fn trailer(dir: &Path, rev: &str, key: &str) -> Option<String> {
    let body = git(dir, &["log", "-1", "--format=%B", rev]);
    body.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(|v| v.trim().to_string())
}

/// The `id`s recorded in the working tree's state file.
fn recorded(repo: &TempRepo) -> Vec<String> {
    let path = repo.path().join(STATE);
    if !path.exists() {
        return Vec::new();
    }
    let state: toml::Table = repo.read(STATE).parse().expect("state parses");
    state
        .get("applied")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .map(|e| e["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `status --json` as id -> state.
fn status_states(dir: &Path) -> BTreeMap<String, String> {
    let run = fm(dir, &["status", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}", run.stdout));
    json["steps"]
        .as_array()
        .expect("a list of steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap()[..4].to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
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

/// [`seed`] with steps 0001–0005 applied (without `nix flake lock`).
fn seed_up() -> TempRepo {
    let repo = seed();
    fm(repo.path(), &["up", "--no-lock", "--to", "5"]).ok();
    repo
}

const IDS: [&str; 5] = [
    "0001-flake-input",
    "0002-overlay-file",
    "0003-import-overlay",
    "0004-host-packages",
    "0005-remove-old-override",
];

// ---------------------------------------------------------------------------
// init

#[test]
fn init_with_hosts_writes_and_commits_the_config() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let before = commit_count(dir);
    let run = fm(
        dir,
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    )
    .ok();
    assert_eq!(commit_count(dir), before + 1, "{run:#?}");
    assert_eq!(porcelain(dir), "", "init leaves a clean tree");
    let files = git(dir, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "flake-migrate.toml");
    let config: toml::Table = repo.read("flake-migrate.toml").parse().unwrap();
    let hosts = config["hosts"].as_table().unwrap();
    assert_eq!(hosts["carbon"].as_str(), Some("cuda"));
    assert_eq!(hosts["beryllium"].as_str(), Some("vulkan"));
    assert!(!hosts.contains_key("boron"), "boron uses no llama.cpp");
}

#[test]
fn init_without_hosts_lists_the_hosts_and_writes_nothing() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let head_before = head(dir);
    let run = fm(dir, &["init"]).ok();
    for host in ["carbon", "beryllium", "boron"] {
        assert!(
            run.stdout.contains(host),
            "host {host} not listed:\n{run:#?}"
        );
    }
    assert_eq!(head(dir), head_before);
    assert_eq!(porcelain(dir), "");
    assert!(!dir.join("flake-migrate.toml").exists());
}

#[test]
fn init_with_an_unknown_host_is_a_usage_error_listing_the_hosts() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let head_before = head(dir);
    let run = fm(dir, &["init", "--host", "graphite=cuda"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("graphite"), "{run:#?}");
    for host in ["carbon", "beryllium", "boron"] {
        assert!(
            run.stderr.contains(host),
            "valid host {host} not listed:\n{run:#?}"
        );
    }
    assert_eq!(head(dir), head_before);
    assert_eq!(porcelain(dir), "");
}

#[test]
fn init_with_an_unknown_variant_is_a_usage_error_listing_the_variants() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let run = fm(dir, &["init", "--host", "carbon=tpu"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("tpu"), "{run:#?}");
    for variant in ["cpu", "cuda", "vulkan", "rocm"] {
        assert!(
            run.stderr.contains(variant),
            "variant {variant} not listed:\n{run:#?}"
        );
    }
    assert_eq!(porcelain(dir), "");
    assert!(!dir.join("flake-migrate.toml").exists());
}

// ---------------------------------------------------------------------------
// up

#[test]
fn up_makes_one_commit_per_step_with_trailers_and_the_record() {
    let repo = seed();
    let dir = repo.path();
    let start = head(dir);
    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    assert_eq!(porcelain(dir), "", "up leaves a clean tree");
    let commits: Vec<String> = git(dir, &["rev-list", "--reverse", &format!("{start}..HEAD")])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(commits.len(), 5, "one commit per step");
    for (i, (commit, id)) in commits.iter().zip(IDS).enumerate() {
        assert_eq!(trailer(dir, commit, "Migration").as_deref(), Some(id));
        let checksum = trailer(dir, commit, "Migration-Checksum")
            .unwrap_or_else(|| panic!("{id}: no Migration-Checksum trailer"));
        assert!(
            checksum.len() >= 8 && checksum.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}: checksum {checksum:?}"
        );
        // The record is committed in the same commit as the change.
        let files = git(dir, &["show", "--name-only", "--format=", commit]);
        assert!(files.lines().any(|f| f == STATE), "{id}: {files}");
        let state: toml::Table = git(dir, &["show", &format!("{commit}:{STATE}")])
            .parse()
            .unwrap();
        let ids: Vec<&str> = state["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, IDS[..=i], "{id}: record in its own commit");
        let entry = state["applied"].as_array().unwrap()[i].as_table().unwrap();
        assert_eq!(entry["checksum"].as_str(), Some(checksum.as_str()));
        // A subject a person would write, not the trailer.
        let subject = git(dir, &["log", "-1", "--format=%s", commit]);
        assert!(!subject.trim().is_empty() && !subject.starts_with("Migration"));
    }
    assert_eq!(recorded(&repo), IDS);
    // What the steps did.
    assert!(repo.read("flake.nix").contains("github:ggml-org/llama.cpp"));
    assert!(dir.join(OVERLAY).is_file());
    assert!(!dir.join(OLD_OVERRIDE).exists());
}

#[test]
fn up_twice_makes_no_new_commit() {
    let repo = seed_up();
    let dir = repo.path();
    let before = head(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    assert_eq!(head(dir), before, "{run:#?}");
    assert!(run.stdout.contains("nothing to do"), "{run:#?}");
    assert_eq!(porcelain(dir), "");
}

#[test]
fn up_dry_run_prints_unified_diffs_and_changes_nothing() {
    let repo = seed();
    let dir = repo.path();
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    let index_before = fs::read(dir.join(".git/index")).unwrap();
    let run = fm(dir, &["up", "--dry-run", "--no-lock", "--to", "5"]).ok();
    let out = &run.stdout;
    for needle in [
        "--- a/flake.nix",
        "+++ b/flake.nix",
        "@@ ",
        "+    llama-cpp.url = \"github:ggml-org/llama.cpp\";",
        "--- /dev/null",
        &format!("+++ b/{OVERLAY}"),
        &format!("--- a/{OLD_OVERRIDE}"),
        "+++ /dev/null",
    ] {
        assert!(out.contains(needle), "dry run lacks {needle:?}:\n{out}");
    }
    for id in ["0001", "0002", "0003", "0005"] {
        assert!(out.contains(id), "dry run does not name {id}:\n{out}");
    }
    assert_eq!(head(dir), head_before);
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(porcelain(dir), "");
    assert_eq!(fs::read(dir.join(".git/index")).unwrap(), index_before);
    assert!(lock_is_free(dir));
}

#[test]
fn up_refuses_a_modified_tracked_file_and_names_it() {
    let repo = seed();
    let dir = repo.path();
    let head_before = head(dir);
    let text = repo.read("machines/boron.nix");
    repo.write("machines/boron.nix", &format!("{text}# local edit\n"));
    let tree_before = tree_bytes(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("machines/boron.nix"), "{run:#?}");
    assert_eq!(head(dir), head_before);
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert!(lock_is_free(dir), "a refused run releases its lock");
}

#[test]
fn up_refuses_a_staged_change_and_names_it() {
    let repo = seed();
    let dir = repo.path();
    let head_before = head(dir);
    let text = repo.read("machines/carbon.nix");
    repo.write("machines/carbon.nix", &format!("{text}# staged edit\n"));
    git(dir, &["add", "machines/carbon.nix"]);
    let tree_before = tree_bytes(dir);
    let status_before = porcelain(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("machines/carbon.nix"), "{run:#?}");
    assert_eq!(head(dir), head_before);
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(
        porcelain(dir),
        status_before,
        "the staged change stays staged"
    );
}

#[test]
fn up_accepts_step_ids_as_number_padded_number_and_full_id() {
    for query in ["3", "0003", "0003-import-overlay"] {
        let repo = seed();
        let dir = repo.path();
        fm(dir, &["up", "--no-lock", "--to", query]).ok();
        assert_eq!(
            trailer(dir, "HEAD", "Migration").as_deref(),
            Some("0003-import-overlay"),
            "--to {query}"
        );
        assert_eq!(recorded(&repo), IDS[..3], "--to {query}");
    }
}

#[test]
fn up_with_an_unknown_step_id_is_a_usage_error_listing_the_ids() {
    let repo = seed();
    let dir = repo.path();
    let head_before = head(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "42"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("0003-import-overlay"), "{run:#?}");
    assert_eq!(head(dir), head_before);
}

#[test]
fn up_records_a_step_done_by_hand_as_adopted() {
    let repo = seed();
    let dir = repo.path();
    let flake = repo.read("flake.nix");
    let anchor = "    nixos-hardware.url = \"github:NixOS/nixos-hardware/master\";\n";
    assert!(flake.contains(anchor));
    repo.write(
        "flake.nix",
        &flake.replacen(
            anchor,
            &format!(
                "{anchor}    llama-cpp.url = \"github:ggml-org/llama.cpp\";\n    llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n"
            ),
            1,
        ),
    );
    git(dir, &["commit", "-qam", "Add llama.cpp by hand"]);
    assert_eq!(status_states(dir)["0001"], "satisfied");
    let flake_by_hand = repo.read("flake.nix");

    let run = fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    assert!(run.stdout.contains("adopted"), "{run:#?}");
    assert_eq!(
        repo.read("flake.nix"),
        flake_by_hand,
        "adoption edits nothing"
    );
    let files = git(dir, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.trim(),
        STATE,
        "the adoption commit holds only the record"
    );
    assert_eq!(
        trailer(dir, "HEAD", "Migration").as_deref(),
        Some("0001-flake-input")
    );
    assert_eq!(status_states(dir)["0001"], "adopted");
}

// ---------------------------------------------------------------------------
// down

#[test]
fn down_undoes_only_the_newest_step() {
    let repo = seed_up();
    let dir = repo.path();
    let old_override = fs::read(fixture_source("seed").join(OLD_OVERRIDE)).unwrap();
    let before = commit_count(dir);
    let run = fm(dir, &["down"]).ok();
    assert_eq!(commit_count(dir), before + 1, "{run:#?}");
    assert_eq!(
        trailer(dir, "HEAD", "Migration-Reverted").as_deref(),
        Some("0005-remove-old-override")
    );
    assert_eq!(recorded(&repo), IDS[..4]);
    assert_eq!(fs::read(dir.join(OLD_OVERRIDE)).unwrap(), old_override);
    assert!(dir.join(OVERLAY).is_file(), "0002 stays applied");
    assert_eq!(porcelain(dir), "");
    let states = status_states(dir);
    assert_eq!(states["0005"], "pending");
    assert_eq!(states["0003"], "applied");
}

#[test]
fn down_all_restores_the_original_bytes_of_every_file() {
    let repo = seed_up();
    let dir = repo.path();
    fm(dir, &["down", "--all"]).ok();
    assert_eq!(recorded(&repo), Vec::<String>::new());
    assert_eq!(porcelain(dir), "");
    let mut actual = tree_bytes(dir);
    actual.remove(Path::new("flake-migrate.toml"));
    assert_same_tree(&actual, &tree_bytes(&fixture_source("seed")));
    // And it is all undone again, step by step, by `up`.
    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    assert_eq!(recorded(&repo), IDS);
}

#[test]
fn down_to_keeps_that_step_and_undoes_every_newer_one() {
    let repo = seed_up();
    let dir = repo.path();
    let before = commit_count(dir);
    fm(dir, &["down", "--to", "2"]).ok();
    assert_eq!(recorded(&repo), IDS[..2]);
    assert_eq!(commit_count(dir), before + 3, "one revert per undone step");
    let reverted: Vec<Option<String>> = ["HEAD~2", "HEAD~1", "HEAD"]
        .iter()
        .map(|r| trailer(dir, r, "Migration-Reverted"))
        .collect();
    assert_eq!(
        reverted,
        [IDS[4], IDS[3], IDS[2]].map(|s| Some(s.to_string())),
        "newest first"
    );
    assert!(dir.join(OVERLAY).is_file());
    assert!(dir.join(OLD_OVERRIDE).is_file());
    assert!(
        !repo.read("flake.nix").contains("llama-cpp.nix"),
        "0003 undone"
    );
    assert!(repo.read("flake.nix").contains("github:ggml-org/llama.cpp"));
}

#[test]
fn down_keeps_later_unrelated_commits() {
    let repo = seed_up();
    let dir = repo.path();
    repo.write("NOTES.md", "unrelated work after the migration\n");
    git(dir, &["add", "NOTES.md"]);
    git(dir, &["commit", "-qm", "Unrelated work"]);
    fm(dir, &["down"]).ok();
    assert_eq!(
        repo.read("NOTES.md"),
        "unrelated work after the migration\n"
    );
    assert_eq!(
        git(dir, &["log", "-1", "--format=%s", "HEAD~1"]).trim(),
        "Unrelated work"
    );
    assert!(dir.join(OLD_OVERRIDE).is_file());
}

#[test]
fn down_that_conflicts_with_later_work_changes_nothing_and_names_the_file() {
    let repo = seed_up();
    let dir = repo.path();
    // Later work rewrites the lines around the ones 0005 removed.
    let shared = repo.read("nixos/default.nix");
    let edited = shared.replacen(
        "  nixpkgs = {\n    config.allowUnfree = true;\n  };\n",
        "  nixpkgs.config.allowUnfree = true;\n",
        1,
    );
    assert_ne!(
        shared, edited,
        "0005 left the nixpkgs set where this test expects it"
    );
    repo.write("nixos/default.nix", &edited);
    git(dir, &["commit", "-qam", "Tidy the nixpkgs settings"]);
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    let run = fm(dir, &["down"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("nixos/default.nix"), "{run:#?}");
    assert_eq!(head(dir), head_before, "nothing committed");
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(porcelain(dir), "");
    assert_eq!(recorded(&repo), IDS);
}

/// `down --to 2` must not undo 0005 and 0004 and then stop at a conflict in
/// 0003 while saying "nothing was changed".
#[test]
fn down_to_that_conflicts_at_an_older_step_changes_nothing() {
    let repo = seed_up();
    let dir = repo.path();
    // Later work rewrites the line 0003 edited.
    let flake = repo.read("flake.nix");
    let edited = flake.replace(
        "(import ./nixos/overlays/llama-cpp.nix {inherit inputs;})",
        "(import ./nixos/overlays/llama-cpp.nix { inherit inputs; })",
    );
    assert_ne!(flake, edited, "0003's line is where this test expects it");
    repo.write("flake.nix", &edited);
    git(dir, &["commit", "-qam", "Reformat"]);
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    let run = fm(dir, &["down", "--to", "2"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("flake.nix"), "{run:#?}");
    assert_eq!(head(dir), head_before, "nothing committed:\n{run:#?}");
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(recorded(&repo), IDS);
}

#[test]
fn down_uses_the_recorded_inverse_edit_when_the_commit_left_history() {
    let repo = seed();
    let dir = repo.path();
    fm(dir, &["up", "--no-lock", "--to", "2"]).ok();
    // History rewritten: the step's commit is replaced by one without trailers.
    git(
        dir,
        &[
            "commit",
            "-q",
            "--amend",
            "-m",
            "Overlay (squashed by hand)",
        ],
    );
    assert_eq!(trailer(dir, "HEAD", "Migration"), None);
    let run = fm(dir, &["down"]).ok();
    assert!(!dir.join(OVERLAY).exists(), "{run:#?}");
    assert_eq!(recorded(&repo), IDS[..1]);
    assert_eq!(porcelain(dir), "");
}

/// After a squash, a file the step edited may have changed since: the
/// inverse edit is merged into it, keeping the later change.
#[test]
fn down_after_a_squash_keeps_later_changes_to_the_file_it_reverts() {
    let repo = seed();
    let dir = repo.path();
    fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    let flake = repo.read("flake.nix");
    let edited = flake.replacen("dan's NixOS machines", "dan's NixOS fleet", 1);
    assert_ne!(flake, edited);
    repo.write("flake.nix", &edited);
    git(
        dir,
        &[
            "commit",
            "-q",
            "-a",
            "--amend",
            "-m",
            "Input and description (squashed)",
        ],
    );
    assert_eq!(trailer(dir, "HEAD", "Migration"), None);
    fm(dir, &["down"]).ok();
    let restored = repo.read("flake.nix");
    assert!(restored.contains("dan's NixOS fleet"), "{restored}");
    assert!(!restored.contains("ggml-org/llama.cpp"), "{restored}");
    let original = fs::read_to_string(support::fixture_source("seed").join("flake.nix")).unwrap();
    assert_eq!(
        restored,
        original.replacen("dan's NixOS machines", "dan's NixOS fleet", 1)
    );
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// The lock and recovery

/// Holds the run lock as a live run does (an advisory lock on the file,
/// which names `pid`) until dropped.
fn hold_lock(dir: &Path, pid: &str) -> fs::File {
    let file = fs::File::create(dir.join(".git/flake-migrate.lock")).unwrap();
    fs::write(dir.join(".git/flake-migrate.lock"), pid).unwrap();
    fs4::FileExt::try_lock(&file).unwrap();
    file
}

/// Whether no process holds the run lock.
fn lock_is_free(dir: &Path) -> bool {
    match fs::File::open(dir.join(".git/flake-migrate.lock")) {
        Ok(file) => fs4::FileExt::try_lock(&file).is_ok(),
        Err(_) => true,
    }
}

#[test]
fn a_lock_held_by_a_live_process_refuses_the_run() {
    let repo = seed();
    let dir = repo.path();
    let pid = std::process::id().to_string();
    let _held = hold_lock(dir, &pid);
    let head_before = head(dir);
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("lock"), "{run:#?}");
    assert!(
        run.stderr.contains(&pid),
        "the message names the holder:\n{run:#?}"
    );
    assert_eq!(head(dir), head_before);
    assert_eq!(porcelain(dir), "");
    assert_eq!(
        fs::read_to_string(dir.join(".git/flake-migrate.lock")).unwrap(),
        pid,
        "another run's lock is left alone"
    );
}

#[test]
fn a_lock_message_shows_the_pid_without_its_newline() {
    let repo = seed();
    let dir = repo.path();
    let pid = std::process::id();
    let _held = hold_lock(dir, &format!("{pid}\n"));
    let run = fm(dir, &["up", "--no-lock", "--to", "1"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains(&format!("(pid {pid})")),
        "the pid is printed with a newline inside the parentheses:\n{}",
        run.stderr
    );
}

#[test]
fn a_lock_file_no_process_holds_is_taken_over() {
    // What a killed run (or a reboot) leaves: the file, naming a pid that
    // may even belong to another process now, with no lock on it.
    let repo = seed();
    let dir = repo.path();
    fs::write(
        dir.join(".git/flake-migrate.lock"),
        std::process::id().to_string(),
    )
    .unwrap();
    fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    assert_eq!(
        trailer(dir, "HEAD", "Migration").as_deref(),
        Some("0001-flake-input")
    );
}

/// A journal as `src/engine.rs` writes it before touching any file.
fn write_journal(dir: &Path, step: &str, head: &str, paths: &[&str]) {
    let paths: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    fs::write(
        dir.join(".git/flake-migrate-journal.toml"),
        format!(
            "step = {step:?}\nhead = {head:?}\npaths = [{}]\n",
            paths.join(", ")
        ),
    )
    .unwrap();
}

#[test]
fn a_step_interrupted_before_its_commit_is_rolled_back_by_the_next_run() {
    let repo = seed();
    let dir = repo.path();
    fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    // Killed half way through 0002: the overlay half written, the record too.
    write_journal(dir, IDS[1], &head_before, &[STATE, OVERLAY]);
    repo.write(
        OVERLAY,
        "# Upstream llama.cpp flake builds as\n{ inputs }:\n",
    );
    let state = repo.read(STATE);
    repo.write(STATE, &format!("{state}[[applied]]\nid = \"0002-ov"));

    let run = fm(dir, &["up", "--no-lock", "--to", "1"]).ok();
    assert!(run.all().contains("recovered"), "{run:#?}");
    assert!(run.all().contains(IDS[1]), "names the step:\n{run:#?}");
    assert_eq!(head(dir), head_before, "recovery commits nothing");
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(porcelain(dir), "");
    assert!(!dir.join(".git/flake-migrate-journal.toml").exists());
    // And the step then applies normally.
    fm(dir, &["up", "--no-lock", "--to", "2"]).ok();
    assert_eq!(recorded(&repo), IDS[..2]);
}

#[test]
fn a_step_interrupted_after_its_commit_is_completed_by_the_next_run() {
    let repo = seed();
    let dir = repo.path();
    fm(dir, &["up", "--no-lock", "--to", "2"]).ok();
    let committed = head(dir);
    let parent = git(dir, &["rev-parse", "HEAD~1"]).trim().to_string();
    let tree_after = tree_bytes(dir);
    // Killed after the commit, before the journal was removed, with the
    // working tree and index not yet matching the commit.
    write_journal(dir, IDS[1], &parent, &[STATE, OVERLAY]);
    fs::remove_file(dir.join(OVERLAY)).unwrap();

    let run = fm(dir, &["up", "--no-lock", "--to", "2"]).ok();
    assert!(run.all().contains("recovered"), "{run:#?}");
    assert_eq!(head(dir), committed, "the step is not applied twice");
    assert_same_tree(&tree_bytes(dir), &tree_after);
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// status

#[test]
fn status_json_shows_pending_then_applied_and_adopted() {
    let repo = seed();
    let dir = repo.path();
    let states = status_states(dir);
    assert_eq!(states.len(), 7, "the seven checklist items: {states:?}");
    for n in ["0001", "0002", "0003", "0005"] {
        assert_eq!(states[n], "pending", "{n} before up: {states:?}");
    }
    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    let states = status_states(dir);
    for n in ["0001", "0002", "0003", "0005"] {
        assert_eq!(states[n], "applied", "{n} after up: {states:?}");
    }
    // The seed's hosts already name llama-cpp-cuda / -vulkan (from the old
    // variants overlay), so 0004 had nothing to edit.
    assert_eq!(states["0004"], "adopted", "{states:?}");
    assert_eq!(states["0006"], "pending", "{states:?}");
}

/// The shared-conflict shape with its shared reference under a condition:
/// it cannot move into each host's own module, so 0004 is refused.
fn blocked_at_0004() -> TempRepo {
    let repo = fixture_repo("shared-conflict");
    let ai = repo.read("common/ai.nix");
    repo.write(
        "common/ai.nix",
        &ai.replace("{ pkgs, ... }:", "{ lib, pkgs, ... }:").replace(
            "    pkgs.llama-cpp\n",
            "  ] ++ lib.optionals pkgs.stdenv.hostPlatform.isx86_64 [\n    pkgs.llama-cpp\n",
        ),
    );
    repo.commit_all("ai.nix: the model server only on x86_64");
    repo
}

#[test]
fn status_json_shows_a_refused_step_as_blocked() {
    let repo = blocked_at_0004();
    let dir = repo.path();
    fm(
        dir,
        &["init", "--host", "gpu1=cuda", "--host", "igpu=vulkan"],
    )
    .ok();
    fm(dir, &["up", "--no-lock", "--to", "3"]).ok();
    let run = fm(dir, &["status", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let step = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "0004-host-packages")
        .unwrap();
    assert_eq!(step["state"], "blocked", "{step:#}");
    let detail = step["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("common/ai.nix"), "{step:#}");
}

#[test]
fn status_json_shows_a_regression_committed_without_the_hook_as_drifted() {
    let repo = seed_up();
    let dir = repo.path();
    let carbon = repo.read("machines/carbon.nix");
    let regressed = carbon.replacen("llama-cpp-cuda # local", "llama-cpp # local", 1);
    assert_ne!(carbon, regressed);
    repo.write("machines/carbon.nix", &regressed);
    git(
        dir,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-am",
            "Back to nixpkgs' llama-cpp",
        ],
    );
    let run = fm(dir, &["status", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let step = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "0004-host-packages")
        .unwrap();
    assert_eq!(step["state"], "drifted", "{step:#}");
    assert!(
        step["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("machines/carbon.nix"),
        "{step:#}"
    );
    assert_eq!(status_states(dir)["0003"], "applied");
}

#[test]
fn status_json_flags_a_step_whose_recorded_checksum_differs() {
    let repo = seed_up();
    let dir = repo.path();
    let state = repo.read(STATE);
    let checksum = trailer(dir, "HEAD", "Migration-Checksum").unwrap();
    assert!(state.contains(&checksum));
    repo.write(STATE, &state.replace(&checksum, "000000000000"));
    git(dir, &["commit", "-qam", "Edit the record"]);
    let run = fm(dir, &["status", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for step in json["steps"].as_array().unwrap() {
        let expect = step["id"] == "0005-remove-old-override";
        assert_eq!(step["changed"], expect, "{step:#}");
    }
    let text = fm(dir, &["status"]).ok().stdout;
    assert!(text.contains("definition changed"), "{text}");
}

#[test]
fn status_in_a_log_is_plain_text_with_the_checklist() {
    let repo = seed_up();
    let run = fm(repo.path(), &["status"]).ok();
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no colors when not a terminal"
    );
    assert!(run.stdout.contains("[x] 0001"), "{}", run.stdout);
    assert!(run.stdout.contains("[ ] 0006"), "{}", run.stdout);
    assert!(run.stdout.contains("5 of 7"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------
// Git identity

/// An environment where git knows no identity: no global or system config,
/// HOME an empty directory.
fn no_identity_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", home.display().to_string()),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").display().to_string(),
        ),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("EMAIL", String::new()),
    ]
}

fn fm_no_identity(dir: &Path, home: &Path, args: &[&str]) -> Run {
    let env = no_identity_env(home);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fm_env(dir, args, &env)
}

fn drop_identity(dir: &Path) {
    git(dir, &["config", "--unset", "user.name"]);
    git(dir, &["config", "--unset", "user.email"]);
}

#[test]
fn up_without_a_git_identity_fails_clearly_and_changes_nothing() {
    let repo = seed();
    let dir = repo.path();
    drop_identity(dir);
    let home = tempfile::tempdir().unwrap();
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    let run = fm_no_identity(dir, home.path(), &["up", "--no-lock", "--to", "2"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("identity"), "{run:#?}");
    assert!(
        run.stderr.contains("user.name"),
        "says how to fix it:\n{run:#?}"
    );
    assert_eq!(head(dir), head_before);
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(porcelain(dir), "");
}

#[test]
fn init_without_a_git_identity_fails_clearly_and_writes_nothing() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    drop_identity(dir);
    let home = tempfile::tempdir().unwrap();
    let head_before = head(dir);
    let run = fm_no_identity(dir, home.path(), &["init", "--host", "carbon=cuda"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("identity"), "{run:#?}");
    assert_eq!(head(dir), head_before);
    assert_eq!(
        porcelain(dir),
        "",
        "nothing is written when the commit cannot be made"
    );
    // Once an identity is set, init commits the config.
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.invalid"]);
    fm(dir, &["init", "--host", "carbon=cuda"]).ok();
    assert_ne!(head(dir), head_before, "the config is committed");
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// Step 0001 and `nix flake lock`

#[test]
fn up_step_1_locks_the_new_input_and_commits_flake_lock_with_it() {
    require_nix!();
    let repo = locked_fixture_repo("seed");
    let dir = repo.path();
    let mut init = vec!["init"];
    init.extend(SEED_HOSTS);
    fm(dir, &init).ok();
    let lock_before = repo.read("flake.lock");
    let overrides = migration_override_args(dir);
    let mut args = vec!["up", "--to", "1", "--"];
    args.extend(overrides.iter().map(String::as_str));
    let run = fm(dir, &args).ok();
    assert!(run.stdout.contains("nix flake lock"), "{run:#?}");

    assert_eq!(
        porcelain(dir),
        "",
        "flake.lock is committed, not left behind"
    );
    let files = git(dir, &["show", "--name-only", "--format=", "HEAD"]);
    let files: Vec<&str> = files.lines().collect();
    assert_eq!(files, [STATE, "flake.lock", "flake.nix"], "one commit");
    assert_eq!(
        trailer(dir, "HEAD", "Migration").as_deref(),
        Some("0001-flake-input")
    );
    let lock: serde_json::Value = serde_json::from_str(&repo.read("flake.lock")).unwrap();
    assert_ne!(repo.read("flake.lock"), lock_before);
    let nodes = &lock["nodes"];
    let root = lock["root"].as_str().unwrap();
    assert_eq!(nodes[root]["inputs"]["llama-cpp"], "llama-cpp", "{lock:#}");
    let node = &nodes["llama-cpp"];
    assert_eq!(
        node["inputs"]["nixpkgs"],
        serde_json::json!(["nixpkgs"]),
        "llama-cpp follows nixpkgs: {node:#}"
    );
    assert_eq!(node["original"]["owner"], "ggml-org", "{node:#}");
    assert_eq!(node["original"]["repo"], "llama.cpp", "{node:#}");
    // No second nixpkgs came in with it.
    let nixpkgs_nodes = nodes
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("nixpkgs") && *k != "nixpkgs-stable")
        .count();
    assert_eq!(nixpkgs_nodes, 1, "{lock:#}");

    // Undoing the step restores the old lock too.
    fm(dir, &["down"]).ok();
    assert_eq!(repo.read("flake.lock"), lock_before);
}

#[test]
fn up_step_1_without_nix_says_what_to_run() {
    let repo = seed();
    let dir = repo.path();
    // A PATH with no nix on it (the binary needs nothing else from PATH).
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().display().to_string();
    let run = fm_env(dir, &["up", "--to", "1"], &[("PATH", &path)]).ok();
    assert!(run.stdout.contains("nix flake lock"), "{run:#?}");
    assert_eq!(
        trailer(dir, "HEAD", "Migration").as_deref(),
        Some("0001-flake-input")
    );
    let body = git(dir, &["log", "-1", "--format=%B"]);
    assert!(
        body.contains("nix flake lock"),
        "the commit says so too:\n{body}"
    );
    assert!(!dir.join("flake.lock").exists());
    assert_eq!(porcelain(dir), "");
}

/// The seed with a `llama-cpp` input already declared as `declaration`
/// (after nixos-hardware), configured.
fn seed_with_input(declaration: &str) -> TempRepo {
    let repo = fixture_repo("seed");
    let anchor = "    nixos-hardware.url = \"github:NixOS/nixos-hardware/master\";\n";
    let flake = repo.read("flake.nix");
    assert!(flake.contains(anchor));
    repo.write(
        "flake.nix",
        &flake.replacen(anchor, &format!("{anchor}{declaration}"), 1),
    );
    repo.commit_all("Declare llama-cpp");
    let mut init = vec!["init"];
    init.extend(SEED_HOSTS);
    fm(repo.path(), &init).ok();
    repo
}

#[test]
fn up_step_1_adds_only_the_missing_follows_to_an_existing_dotted_input() {
    let repo = seed_with_input("    llama-cpp.url = \"github:ggml-org/llama.cpp\";\n");
    let before = repo.read("flake.nix");
    fm(repo.path(), &["up", "--no-lock", "--to", "1"]).ok();
    let after = repo.read("flake.nix");
    assert_eq!(
        after,
        before.replacen(
            "    llama-cpp.url = \"github:ggml-org/llama.cpp\";\n",
            "    llama-cpp.url = \"github:ggml-org/llama.cpp\";\n    llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n",
            1
        )
    );
}

#[test]
fn up_step_1_adds_only_the_missing_follows_to_an_existing_nested_input() {
    let repo = seed_with_input(
        "\n    # upstream, at last\n    llama-cpp = {\n      url = \"github:ggml-org/llama.cpp\";\n    };\n",
    );
    fm(repo.path(), &["up", "--no-lock", "--to", "1"]).ok();
    let after = repo.read("flake.nix");
    assert_eq!(
        after.matches("github:ggml-org/llama.cpp").count(),
        1,
        "{after}"
    );
    assert_eq!(after.matches("llama-cpp = {").count(), 1, "{after}");
    assert!(
        after.contains("    # upstream, at last\n"),
        "comment kept:\n{after}"
    );
    let input = &after[after.find("llama-cpp = {").unwrap()..];
    let input = &input[..input.find("};").unwrap()];
    assert!(
        input.contains("inputs.nixpkgs.follows = \"nixpkgs\";"),
        "follows inside the existing attrset:\n{after}"
    );
    if nix_available() {
        assert!(nix_parses(&repo.path().join("flake.nix")));
    }
}

#[test]
fn down_dry_run_prints_the_revert_and_changes_nothing() {
    let repo = seed_up();
    let dir = repo.path();
    let head_before = head(dir);
    let tree_before = tree_bytes(dir);
    let run = fm(dir, &["down", "--dry-run"]).ok();
    assert!(run.stdout.contains("0005"), "{run:#?}");
    assert!(
        run.stdout.contains(&format!("+++ b/{OLD_OVERRIDE}")),
        "the file it would restore:\n{run:#?}"
    );
    assert_eq!(head(dir), head_before);
    assert_same_tree(&tree_bytes(dir), &tree_before);
    assert_eq!(porcelain(dir), "");
}

// ---------------------------------------------------------------------------
// The whole run is planned before anything is written

/// `up` that must refuse: exit 3, every blocked step named, and the
/// repository exactly as before (no commit, no file changed).
#[track_caller]
fn assert_refused_unchanged(dir: &Path, args: &[&str], blocked: &[&str]) -> Run {
    let before_head = head(dir);
    let before_tree = tree_bytes(dir);
    let run = fm(dir, args);
    assert_eq!(run.code, 3, "{run:#?}");
    for step in blocked {
        assert!(
            run.stderr.contains(&format!("step {step}")),
            "step {step} not named: {run:#?}"
        );
    }
    assert!(run.stderr.contains("nothing was written"), "{run:#?}");
    assert_eq!(head(dir), before_head, "a refused run commits nothing");
    assert_eq!(porcelain(dir), "", "a refused run leaves a clean tree");
    assert_same_tree(&tree_bytes(dir), &before_tree);
    run
}

#[test]
fn up_that_is_blocked_at_a_later_step_commits_none_of_the_earlier_ones() {
    let repo = seed();
    let dir = repo.path();
    // A host the flake does not define blocks 0003 and 0004; 0001 and 0002
    // alone would apply.
    let config = repo.read("flake-migrate.toml");
    repo.write(
        "flake-migrate.toml",
        &config.replace("[hosts]\n", "[hosts]\nghost = \"cpu\"\n"),
    );
    repo.commit_all("add a host that does not exist");
    let run = assert_refused_unchanged(dir, &["up", "--no-lock"], &["0003", "0004"]);
    assert!(run.stderr.contains("ghost"), "{run:#?}");
    // Nothing recorded either: 0001 and 0002 are still pending, and
    // status shows the blocked ones as blocked.
    let states = status_states(dir);
    for (id, want) in [
        ("0001", "pending"),
        ("0002", "pending"),
        ("0003", "blocked"),
        ("0004", "blocked"),
    ] {
        assert_eq!(states[id], want, "{id}: {states:?}");
    }
}

#[test]
fn up_dry_run_that_is_blocked_exits_3_and_changes_nothing() {
    let repo = blocked_at_0004();
    let dir = repo.path();
    fm(
        dir,
        &["init", "--host", "gpu1=cuda", "--host", "igpu=vulkan"],
    )
    .ok();
    let run = assert_refused_unchanged(dir, &["up", "--dry-run", "--no-lock"], &["0004"]);
    assert!(run.stderr.contains("common/ai.nix:"), "{run:#?}");
    // The steps before the refusal are still shown as they would apply.
    assert!(run.stdout.contains("0001-flake-input"), "{run:#?}");
}

#[test]
fn up_to_a_step_before_the_blocked_one_applies() {
    let repo = blocked_at_0004();
    let dir = repo.path();
    fm(
        dir,
        &["init", "--host", "gpu1=cuda", "--host", "igpu=vulkan"],
    )
    .ok();
    assert_refused_unchanged(dir, &["up", "--no-lock"], &["0004"]);
    fm(dir, &["up", "--no-lock", "--to", "3"]).ok();
    assert_eq!(
        trailer(dir, "HEAD", "Migration").as_deref(),
        Some("0003-import-overlay")
    );
}
