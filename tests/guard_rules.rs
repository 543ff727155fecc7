//! Every guard rule against fixtures that trigger it and look-alikes that
//! must not, through both `check` (working tree) and the hook (staged).
//!
//! `tests/fixtures/guard/rules/<rule>/<case>/` holds files laid over the
//! seed fixture migrated up to step 0005 (a file `_delete` lists paths to
//! remove). `<case>.expect` lists what `check --json` must report, one
//! `file:line:col rule` per line (` (allowed)` for allowed ones); cases named
//! `passes*` must not block, cases named `triggers*` must, and must report
//! the rule they are filed under. Set `UPDATE_EXPECT=1` to rewrite the
//! `.expect` files from the current output. The hook must report exactly
//! what `check` does.
//!
//! Each case is its own test, `<rule>::<case>` with `-` written `_`, so a
//! failure names its fixture; [`every_fixture_is_a_test`] keeps the list
//! below and the directories in step.

mod guard_support;
mod support;

use std::fs;
use std::path::{Path, PathBuf};

use guard_support::{Repo, json_locations, migrated_seed, stderr, stdout};

/// One test per `rule { case, … }`, and [`CASES`] listing them all.
macro_rules! rule_cases {
    ($($rule:ident { $($case:ident),* $(,)? })*) => {
        const CASES: &[(&str, &str)] = &[$($((stringify!($rule), stringify!($case)),)*)*];
        $(mod $rule {
            $(#[test]
            fn $case() {
                super::check_case(stringify!($rule), stringify!($case));
            })*
        })*
    };
}

rule_cases! {
    flake_input {
        passes_follows_the_hosts_nixpkgs,
        passes_nested_and_pinned,
        passes_owner_case,
        triggers_follows_elsewhere,
        triggers_removed,
    }
    llama_cpp_fork_input {
        passes_similar_names,
        triggers,
    }
    llama_cpp_override {
        passes_overrides_of_other_packages,
        triggers,
    }
    nixpkgs_llama_cpp {
        passes_allowed,
        passes_excluded,
        passes_look_alikes,
        passes_service_package_elsewhere,
        passes_upstream_overlay,
        triggers,
        triggers_host_without_variant,
        triggers_in_a_file_no_host_imports,
        triggers_in_a_shared_home_module,
        triggers_instances_and_call_package,
        triggers_variant_the_overlay_lacks,
    }
    old_override {
        passes_another_overlay,
        triggers_file_back,
        triggers_reference_back,
    }
    overlay_file {
        passes_rewritten_by_hand,
        triggers_deleted,
        triggers_variant_dropped,
        triggers_variant_from_nixpkgs,
        triggers_variant_swapped,
    }
    overlay_imported {
        passes_imported_by_the_host_module,
        triggers,
    }
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guard/rules")
}

/// `(rule, case)` for every case directory, sorted.
fn cases_on_disk() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rule in sorted_dirs(&rules_dir()) {
        for case in sorted_dirs(&rule) {
            let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name(&rule), name(&case)));
        }
    }
    out
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Lays the case's files over the repository.
fn apply(repo: &Repo, case: &Path, rel: &Path) {
    for entry in fs::read_dir(case.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let rel = rel.join(entry.file_name());
        if entry.path().is_dir() {
            apply(repo, case, &rel);
        } else if rel == Path::new("_delete") {
            for line in fs::read_to_string(entry.path()).unwrap().lines() {
                fs::remove_file(repo.path().join(line.trim())).unwrap();
            }
        } else {
            repo.write(
                rel.to_str().unwrap(),
                &fs::read_to_string(entry.path()).unwrap(),
            );
        }
    }
}

/// A test name as its directory is named.
fn dir_name(ident: &str) -> String {
    ident.replace('_', "-")
}

#[test]
fn every_fixture_is_a_test() {
    let listed: Vec<(String, String)> = CASES
        .iter()
        .map(|(rule, case)| (dir_name(rule), dir_name(case)))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        cases_on_disk(),
        "the cases in `rule_cases!` and the directories under {} differ",
        rules_dir().display()
    );
}

#[test]
fn every_rule_has_a_triggering_and_a_passing_case() {
    let all = cases_on_disk();
    let rules: Vec<&str> = all.iter().map(|(r, _)| r.as_str()).collect();
    for id in [
        "flake-input",
        "overlay-file",
        "overlay-imported",
        "nixpkgs-llama-cpp",
        "old-override",
        "llama-cpp-fork-input",
        "llama-cpp-override",
    ] {
        let has = |prefix: &str| all.iter().any(|(r, c)| r == id && c.starts_with(prefix));
        assert!(
            has("triggers") && has("passes"),
            "{id}: needs a `triggers*` and a `passes*` case ({rules:?})"
        );
    }
}

/// `path:line:col rule` for each error of the hook's human report: an
/// `error[rule]: …` line, then its `--> place` line.
fn hook_locations(err: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rule = None;
    for line in err.lines() {
        if let Some(rest) = line.strip_prefix("error[") {
            rule = rest.split_once(']').map(|(r, _)| r.to_string());
        } else if let (Some(place), Some(r)) = (line.trim_start().strip_prefix("--> "), &rule) {
            out.push(format!("{place} {r}"));
            rule = None;
        }
    }
    out
}

/// Lays case `rule/case` over a migrated seed with the hook installed, then
/// checks what `check --json` reports and what the hook does on commit.
fn check_case(rule: &str, case: &str) {
    let (rule, case) = (dir_name(rule), dir_name(case));
    let dir = rules_dir().join(&rule).join(&case);
    let label = format!("{rule}/{case}");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let repo = migrated_seed();
    repo.fm_ok(&["hook", "install"]);
    apply(&repo, &dir, Path::new(""));
    // Staged, so that new files are tracked (check reads tracked files).
    repo.git_ok(&["add", "-A"]);

    // The working tree, as CI sees it.
    let check = repo.fm(&["check", "--json"]);
    let found = json_locations(&stdout(&check));
    let expect_file = dir.with_extension("expect");
    if update {
        let mut text = found.join("\n");
        text.push('\n');
        fs::write(&expect_file, if found.is_empty() { "" } else { &text }).unwrap();
    }
    let expected: Vec<String> = fs::read_to_string(&expect_file)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    if found != expected {
        failures.push(format!(
            "{label}: check reported\n  {}\nexpected\n  {}",
            found.join("\n  "),
            expected.join("\n  ")
        ));
    }
    let blocking: Vec<&String> = found.iter().filter(|f| !f.ends_with("(allowed)")).collect();
    let triggers = case.starts_with("triggers");
    if triggers && !blocking.iter().any(|f| f.ends_with(&format!(" {rule}"))) {
        failures.push(format!("{label}: does not trigger {rule}"));
    }
    if !triggers && !blocking.is_empty() {
        failures.push(format!("{label}: must pass, got {blocking:?}"));
    }
    let want_code = if blocking.is_empty() { 0 } else { 4 };
    if check.status.code() != Some(want_code) {
        failures.push(format!("{label}: check exited {:?}", check.status.code()));
    }

    // The same change committed: the hook reports the same.
    let commit = repo.commit(&label, &[]);
    let err = stderr(&commit);
    if commit.status.success() == triggers {
        failures.push(format!(
            "{label}: the commit {} by the hook\n{err}",
            if triggers {
                "was not blocked"
            } else {
                "was blocked"
            }
        ));
    }
    // One policy: the hook reports exactly what check reports for the same
    // content (the seed as migrated is clean, so all of it is the change's).
    let mut hooked = hook_locations(&err);
    hooked.sort();
    let mut wanted: Vec<String> = blocking.iter().map(|f| f.to_string()).collect();
    wanted.sort();
    if hooked != wanted {
        failures.push(format!(
            "{label}: the hook reported\n  {}\nbut check\n  {}\n{err}",
            hooked.join("\n  "),
            wanted.join("\n  ")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
