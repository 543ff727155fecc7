//! What a user sees when a file cannot be read: a syntax error in a module,
//! a `flake-migrate.toml` that is not TOML, a file that is not UTF-8. Each
//! is shown as rustc and nix show errors (file:line:col, the line, a caret
//! under the place, words, a help line), stops `init`, `status` and `up`
//! with exit 1 and nothing written, and is a finding of its own (exit 4)
//! for `check` and the hook, every file listed.

mod guard_support;
mod support;

use guard_support::{Repo, migrated_seed, seed, stderr, stdout};

const BORON: &str = "machines/boron.nix";
const CONFIG: &str = "[hosts]\ncarbon = \"cuda\"\nberyllium = \"vulkan\"\n";

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "fixtures/guard/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The seed with a config, committed, then `boron.nix` broken the way a
/// hurried edit breaks it (a `;` inside a list), committed too.
fn seed_with_a_syntax_error() -> Repo {
    let repo = seed();
    repo.write("flake-migrate.toml", CONFIG);
    repo.edit(BORON, "    restic\n", "    restic;\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-qm", "config; boron broken"]);
    repo
}

/// The repository's HEAD and every file's bytes, to show nothing changed.
fn everything(repo: &Repo) -> (String, String) {
    (
        repo.head(),
        repo.git_ok(&["status", "--porcelain", "--ignored"]),
    )
}

#[track_caller]
fn assert_shows_the_syntax_error(out: &std::process::Output, args: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    for says in [
        "error[syntax-error]: unexpected `;`: expected an expression or `]`",
        "--> machines/boron.nix:15:11",
        "15 |     restic;",
        "   |           ^ expected an expression or `]`",
        "= help: fix the file and run again",
        "nothing was written",
        "`[guard] exclude = [\"machines/boron.nix\"]`",
    ] {
        assert!(err.contains(says), "{args:?} should say {says:?}:\n{err}");
    }
    assert!(!err.contains("TOKEN_"), "parser internals shown:\n{err}");
}

#[test]
fn a_syntax_error_stops_init_status_and_up_with_the_line_and_a_caret() {
    let repo = seed_with_a_syntax_error();
    let before = everything(&repo);
    for args in [
        &["init", "--host", "carbon=cuda"][..],
        &["status"],
        &["up", "--dry-run"],
        &["up"],
    ] {
        let out = repo.fm(args);
        assert_shows_the_syntax_error(&out, args);
        assert_eq!(everything(&repo), before, "{args:?} wrote");
    }
    snapshot("syntax_error_status", &stderr(&repo.fm(&["status"])));
}

#[test]
fn a_file_no_host_imports_can_be_excluded() {
    let repo = seed();
    repo.write("flake-migrate.toml", CONFIG);
    repo.write(
        "attic/old.nix",
        "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp; ];\n}\n",
    );
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-qm", "an unparsable file no host imports"]);
    let out = repo.fm(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--> attic/old.nix:2:48"),
        "{}",
        stderr(&out)
    );
    repo.write(
        "flake-migrate.toml",
        &format!("{CONFIG}[guard]\nexclude = [\"attic/**\"]\n"),
    );
    repo.git_ok(&["commit", "-qam", "exclude the attic"]);
    for args in [&["status"][..], &["up", "--to", "5", "--dry-run"]] {
        let out = repo.fm(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_config_that_is_not_toml_is_shown_at_its_line() {
    let repo = seed();
    repo.write(
        "flake-migrate.toml",
        "[hosts]\ncarbon = \"cuda\nberyllium = \"vulkan\"\n",
    );
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-qm", "a broken config"]);
    let before = everything(&repo);
    for args in [&["status"][..], &["up", "--dry-run"], &["check"]] {
        let out = repo.fm(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("--> flake-migrate.toml:2:"), "{args:?}: {err}");
        assert!(err.contains("2 | carbon = \"cuda"), "{args:?}: {err}");
        assert!(err.contains("= help: fix the file"), "{args:?}: {err}");
        assert_eq!(everything(&repo), before, "{args:?} wrote");
    }
    snapshot("config_not_toml", &stderr(&repo.fm(&["status"])));
}

#[test]
fn a_config_value_of_the_wrong_kind_is_shown_at_its_place() {
    let repo = seed();
    repo.write("flake-migrate.toml", "[hosts]\ncarbon = \"cudaa\"\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-qm", "a misspelt variant"]);
    let out = repo.fm(&["status"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown variant `cudaa`"), "{err}");
    assert!(err.contains("--> flake-migrate.toml:2:10"), "{err}");
    assert!(err.contains("^^^^^^^"), "{err}");
}

#[test]
fn a_file_that_is_not_utf8_is_shown_at_its_line() {
    let repo = seed();
    repo.write("flake-migrate.toml", CONFIG);
    let mut bytes = repo.read(BORON).into_bytes();
    bytes.extend(b"# caf\xe9\n");
    std::fs::write(repo.path().join(BORON), bytes).unwrap();
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-qm", "latin-1"]);
    let out = repo.fm(&["status"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    snapshot("not_utf8_status", &err);
}

/// Two files that do not parse and one that is not UTF-8, staged.
fn stage_three_unreadable_files(repo: &Repo) {
    repo.write(
        "machines/a.nix",
        "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.hello; ];\n}\n",
    );
    repo.write("machines/b.nix", "{ pkgs, ... }: {\n  x = \"unclosed;\n}\n");
    std::fs::write(
        repo.path().join("machines/c.nix"),
        b"{ y = 1; }\n# caf\xe9\n",
    )
    .unwrap();
    repo.git_ok(&["add", "machines/a.nix", "machines/b.nix", "machines/c.nix"]);
}

#[test]
fn the_hook_reports_every_unparsable_staged_file() {
    let repo = migrated_seed();
    repo.fm_ok(&["hook", "install"]);
    stage_three_unreadable_files(&repo);
    let head = repo.head();
    let out = repo.commit("three unreadable files", &[]);
    assert!(!out.status.success(), "the commit went through");
    assert_eq!(repo.head(), head);
    let err = stderr(&out);
    assert_eq!(err.matches("error[syntax-error]").count(), 3, "{err}");
    snapshot("hook_unparsable_files", &err);

    let run = repo.fm(&["hook", "run"]);
    assert_eq!(run.status.code(), Some(4), "{}", stderr(&run));
}

#[test]
fn check_reports_every_unparsable_file_it_is_given() {
    let repo = migrated_seed();
    stage_three_unreadable_files(&repo);
    let out = repo.fm(&["check", "--json", "machines"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<String> = json["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{}:{}:{} {} {}",
                v["file"].as_str().unwrap(),
                v["line"],
                v["column"],
                v["rule"].as_str().unwrap(),
                v["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "machines/a.nix:2:44 syntax-error unexpected `;`: expected an expression or `]`",
            "machines/b.nix:2:7 syntax-error a string is not closed: expected `\"`",
            "machines/c.nix:2:6 syntax-error not valid UTF-8: byte 0xE9 at offset 16",
        ]
    );
}

#[test]
fn check_over_the_tree_reports_a_file_a_rule_must_read() {
    let repo = migrated_seed();
    repo.edit(
        "machines/carbon.nix",
        "    llama-cpp-cuda # local models on the 4070\n",
        "    llama-cpp-cuda; # local models on the 4070\n",
    );
    let out = repo.fm(&["check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}{}", stderr(&out));
    assert!(
        text.contains("error[syntax-error]: unexpected `;`"),
        "{text}"
    );
    assert!(text.contains("--> machines/carbon.nix:22:19"), "{text}");

    repo.write(
        "flake-migrate.toml",
        &format!(
            "{}\n[guard]\nexclude = [\"machines/carbon.nix\"]\n",
            repo.read("flake-migrate.toml")
        ),
    );
    let out = repo.fm(&["check"]);
    assert!(
        !stdout(&out).contains("syntax-error]"),
        "an excluded file is not read: {}",
        stdout(&out)
    );
}

#[test]
fn with_evaluation_a_syntax_error_is_shown_the_same_way() {
    require_nix!();
    let repo = seed_with_a_syntax_error();
    let before = everything(&repo);
    for args in [&["init", "--host", "carbon=cuda"][..], &["status"], &["up"]] {
        let out = guard_support::fm_eval_in(repo.path(), args);
        assert_shows_the_syntax_error(&out, args);
        assert_eq!(everything(&repo), before, "{args:?} wrote");
    }
}
