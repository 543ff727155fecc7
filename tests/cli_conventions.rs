//! What a shell user expects of any CLI: completions, a man page, `-C`
//! like git's, `--color`, `--quiet` and `--verbose`.

use std::path::Path;
use std::process::{Command, Output};

fn fm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A repository with a committed flake, not yet initialised.
fn fresh_flake(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("flake.nix"),
        "{ outputs = { self }: { nixosConfigurations = { }; }; }\n",
    )
    .unwrap();
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("flake.nix")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Test", "test@example.org").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "flake\n", &tree, &[])
        .unwrap();
}

#[test]
fn completions_are_generated_for_each_shell() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = fm(tmp.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in ["init", "status", "up", "verify", "hook", "completions"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let out = fm(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_bash_completion_is_valid_bash_and_completes_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("flake-migrate.bash");
    std::fs::write(&script, fm(tmp.path(), &["completions", "bash"]).stdout).unwrap();
    // Load it and ask for the completions of `flake-migrate st`.
    let probe = format!(
        "source {}; COMP_WORDS=(flake-migrate st); COMP_CWORD=1; _flake__migrate flake-migrate st flake-migrate; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "status");
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fm(tmp.path(), &["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH flake-migrate"),
        "{page}"
    );
    assert!(page.contains(".TH flake-migrate 1"), "{page}");
    for sub in ["init", "status", "switch", "check", "completions", "man"] {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
    assert!(
        page.contains("NO_COLOR"),
        "--color's help mentions NO_COLOR"
    );
}

#[test]
fn dash_c_is_relative_to_the_previous_one_like_git() {
    let tmp = tempfile::tempdir().unwrap();
    fresh_flake(&tmp.path().join("a/b"));
    let out = fm(tmp.path(), &["-C", "a", "-C", "b", "--no-eval", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 of 7 checklist items done"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn dash_c_of_a_missing_directory_or_a_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), "").unwrap();
    for (args, what) in [
        (
            vec!["-C", "missing", "status"],
            "missing: no such directory",
        ),
        (vec!["-C", "file", "status"], "file: it is not a directory"),
        (
            vec!["-C", ".", "-C", "missing", "check"],
            "missing: no such directory",
        ),
    ] {
        let out = fm(tmp.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("cannot change to "), "{err}");
        assert!(err.contains(what), "{err}");
        assert!(!err.contains("git repository"), "{err}");
    }
}

#[test]
fn color_always_colours_a_pipe_never_and_no_color_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    fresh_flake(tmp.path());
    let ansi = |out: &Output| stdout(out).contains("\x1b[");
    let always = fm(tmp.path(), &["--color", "always", "--no-eval", "status"]);
    assert!(always.status.success(), "{}", stderr(&always));
    assert!(ansi(&always), "{}", stdout(&always));
    assert!(!ansi(&fm(
        tmp.path(),
        &["--color", "never", "--no-eval", "status"]
    )));
    // Not a terminal: `auto` does not colour.
    assert!(!ansi(&fm(tmp.path(), &["--no-eval", "status"])));
    let no_color = Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .current_dir(tmp.path())
        .args(["--color", "always", "--no-eval", "status"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        ansi(&no_color),
        "an explicit --color always wins over NO_COLOR"
    );
    let bad = fm(tmp.path(), &["--color", "sometimes", "status"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn status_before_init_says_once_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    fresh_flake(tmp.path());
    let text = stdout(&fm(tmp.path(), &["--no-eval", "status"]));
    assert_eq!(text.matches("flake-migrate init").count(), 1, "{text}");
}

#[test]
fn quiet_prints_only_errors_and_what_was_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    fresh_flake(tmp.path());
    let quiet = fm(tmp.path(), &["--quiet", "--no-eval", "status"]);
    assert!(quiet.status.success());
    assert_eq!(stdout(&quiet), "");
    let json = fm(tmp.path(), &["-q", "--no-eval", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["version"], 1);
    let err = fm(tmp.path(), &["--quiet", "-C", "missing", "status"]);
    assert!(
        stderr(&err).contains("cannot change to"),
        "errors still show"
    );
    let both = fm(tmp.path(), &["--quiet", "--verbose", "status"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "--quiet and --verbose conflict"
    );
}

#[test]
fn verbose_shows_each_nix_command_and_its_time() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fresh_flake(&repo);
    // A `nix` that is installed but fails to evaluate: the command is still shown.
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let nix = bin.join("nix");
    std::fs::write(&nix, "#!/bin/sh\n[ \"$1\" = --version ] && exec echo 'nix (stand-in) 2.8'\necho 'error: stand-in nix' >&2\nexit 1\n").unwrap();
    let mut perms = std::fs::metadata(&nix).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&nix, perms).unwrap();
    let run = |flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
            .current_dir(&repo)
            .args(flags)
            .arg("init")
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap()
    };
    let verbose = stderr(&run(&["--verbose"]));
    assert!(verbose.contains("running: nix "), "{verbose}");
    assert!(verbose.contains("finished in "), "{verbose}");
    assert!(!stderr(&run(&[])).contains("running: nix "));
}
