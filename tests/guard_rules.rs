//! Every guard rule against fixtures that trigger it and look-alikes that
//! must not, through both `check` (working tree) and the hook (staged).
//!
//! `tests/fixtures/guard/rules/<rule>/<case>/` holds files laid over the
//! seed fixture migrated up to step 0005 (a file `_delete` lists paths to
//! remove). `<case>.expect` lists what `check --json` must report, one
//! `file:line:col rule` per line (` (allowed)` for allowed ones); cases named
//! `passes*` must not block, cases named `triggers*` must, and must report
//! the rule they are filed under. Set `UPDATE_EXPECT=1` to rewrite the
//! `.expect` files from the current output.

mod guard_support;
mod support;

use std::fs;
use std::path::{Path, PathBuf};

use guard_support::{Repo, json_locations, migrated_seed, stderr, stdout};

fn cases() -> Vec<(String, String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guard/rules");
    let mut out = Vec::new();
    for rule in sorted_dirs(&root) {
        for case in sorted_dirs(&rule) {
            let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name(&rule), name(&case), case));
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

#[test]
fn every_rule_triggers_on_its_fixtures_and_not_on_look_alikes() {
    let all = cases();
    let rules: Vec<&str> = all.iter().map(|(r, _, _)| r.as_str()).collect();
    for id in [
        "flake-input",
        "overlay-file",
        "overlay-imported",
        "nixpkgs-llama-cpp",
        "old-override",
        "llama-cpp-fork-input",
        "llama-cpp-override",
    ] {
        let has = |prefix: &str| all.iter().any(|(r, c, _)| r == id && c.starts_with(prefix));
        assert!(
            has("triggers") && has("passes"),
            "{id}: needs a `triggers*` and a `passes*` case ({rules:?})"
        );
    }

    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for (rule, case, dir) in &all {
        let label = format!("{rule}/{case}");
        let repo = migrated_seed();
        repo.fm_ok(&["hook", "install"]);
        apply(&repo, dir, Path::new(""));
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
        for f in &blocking {
            let (place, id) = f.rsplit_once(' ').unwrap();
            if !err.contains(&format!("error[{id}]")) || !err.contains(&format!("--> {place}")) {
                failures.push(format!("{label}: the hook did not report {f}\n{err}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
