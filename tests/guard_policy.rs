//! One policy for the hook and `check` (issue 10): what a staged change to
//! an `imports` list does to unchanged files, a path that does not exist,
//! and step 0004 agreeing with the guard right after `up`.

mod guard_support;
mod support;

use guard_support::{Repo, json_locations, migrated_seed, seed, stderr, stdout};

const BORON: &str = "machines/boron.nix";
const LLM: &str = "machines/llm.nix";

fn guarded() -> Repo {
    let repo = migrated_seed();
    repo.fm_ok(&["hook", "install"]);
    repo
}

#[test]
fn a_nixpkgs_reference_is_blocked_before_any_host_imports_its_file() {
    let repo = guarded();
    repo.write(
        LLM,
        "{pkgs, ...}: {\n  environment.systemPackages = [pkgs.llama-cpp];\n}\n",
    );
    repo.git_ok(&["add", LLM]);
    let out = repo.commit("llm module, imported later", &[]);
    assert!(!out.status.success(), "the commit went through");
    let err = stderr(&out);
    assert!(err.contains("--> machines/llm.nix:2:33"), "{err}");
    assert!(
        err.contains("no host is known to import machines/llm.nix"),
        "{err}"
    );
}

#[test]
fn an_imports_change_cannot_walk_a_variant_name_onto_a_host_without_the_overlay() {
    let repo = guarded();
    // cuda is a configured variant, and no host imports the file yet: fine.
    repo.write(
        LLM,
        "{pkgs, ...}: {\n  environment.systemPackages = [pkgs.llama-cpp-cuda];\n}\n",
    );
    repo.git_ok(&["add", LLM]);
    let first = repo.commit("llm module", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    // boron does not import the overlay: there it is nixpkgs' llama-cpp-cuda.
    repo.edit(
        BORON,
        "imports = [./hardware/boron.nix];",
        "imports = [./hardware/boron.nix ./llm.nix];",
    );
    repo.git_ok(&["add", BORON]);
    let second = repo.commit("boron gets the llm module", &[]);
    assert!(!second.status.success(), "the imports change went through");
    let err = stderr(&second);
    assert!(err.contains("--> machines/llm.nix:2:33"), "{err}");
    assert!(
        err.contains(
            "`llama-cpp-cuda` is nixpkgs' build on boron, which does not import the overlay"
        ),
        "{err}"
    );
    // And check, on the same content, says the same.
    let check = repo.fm(&["check", "--json"]);
    assert_eq!(
        json_locations(&stdout(&check)),
        ["machines/llm.nix:2:33 nixpkgs-llama-cpp"]
    );
}

#[test]
fn an_imports_change_cannot_walk_a_variant_name_in_through_a_module_that_imports_it() {
    let repo = guarded();
    // Two unchanged levels below the new import: the hook follows what the
    // added path reaches, not only the file it names.
    repo.write(
        "machines/ai/default.nix",
        "{\n  imports = [../llm.nix];\n}\n",
    );
    repo.write(
        LLM,
        "{pkgs, ...}: {\n  environment.systemPackages = [pkgs.llama-cpp-cuda];\n}\n",
    );
    repo.git_ok(&["add", "machines/ai/default.nix", LLM]);
    let first = repo.commit("ai modules", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    repo.edit(
        BORON,
        "imports = [./hardware/boron.nix];",
        "imports = [./hardware/boron.nix ./ai];",
    );
    repo.git_ok(&["add", BORON]);
    let second = repo.commit("boron gets the ai modules", &[]);
    assert!(!second.status.success(), "the imports change went through");
    let err = stderr(&second);
    assert!(err.contains("--> machines/llm.nix:2:33"), "{err}");
    assert!(err.contains("nixpkgs' build on boron"), "{err}");
}

#[test]
fn check_of_a_path_that_does_not_exist_is_a_usage_error() {
    let repo = migrated_seed();
    let out = repo.fm(&["check", "machines/carbn.nix"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("machines/carbn.nix does not exist"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        repo.fm(&["check", "machines/carbon.nix"]).status.code(),
        Some(0)
    );
}

#[test]
fn step_0004_refuses_what_it_cannot_rewrite_and_an_exclude_lets_it_through() {
    let repo = seed();
    repo.write(
        "pkgs/legacy/llama.nix",
        "# built with nixpkgs' llama-cpp on purpose\n{pkgs}: pkgs.llama-cpp\n",
    );
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "-m", "a legacy package"]);
    repo.fm_ok(&[
        "init",
        "--host",
        "carbon=cuda",
        "--host",
        "beryllium=vulkan",
    ]);
    let up = repo.fm(&["up", "--to", "5", "--no-lock"]);
    assert_eq!(up.status.code(), Some(3), "{}{}", stdout(&up), stderr(&up));
    let said = format!("{}{}", stdout(&up), stderr(&up));
    assert!(said.contains("pkgs/legacy/llama.nix:2:9"), "{said}");
    for way in ["--host H=VARIANT", "rewrite it by hand", "[guard] exclude"] {
        assert!(said.contains(way), "{way}: {said}");
    }
    let config = repo.read("flake-migrate.toml");
    repo.write(
        "flake-migrate.toml",
        &format!("{config}\n[guard]\nexclude = [\"pkgs/legacy/**\"]\n"),
    );
    repo.git_ok(&["commit", "-q", "-am", "exclude the legacy package"]);
    repo.fm_ok(&["up", "--to", "5", "--no-lock"]);
    let check = repo.fm(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

/// Step 0004 and the guard agree: on every fixture shape, right after an
/// `up` that goes through, `check` is clean.
#[test]
fn right_after_up_check_is_clean_on_every_shape() {
    require_nix!();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos");
    let mut shapes: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    shapes.sort();
    let mut migrated = 0;
    for shape in &shapes {
        let expect: toml::Table = toml::from_str(
            &std::fs::read_to_string(root.join(format!("{shape}.expect.toml"))).unwrap(),
        )
        .unwrap();
        let repo = support::fixture_repo(shape);
        let mut args = vec!["init".to_string()];
        for (host, variant) in expect["hosts"].as_table().unwrap() {
            let variant = variant.as_str().unwrap();
            if variant != "none" {
                args.extend(["--host".to_string(), format!("{host}={variant}")]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let init = guard_support::fm_eval_in(repo.path(), &args);
        assert!(init.status.success(), "{shape}: {}", stderr(&init));
        let up = guard_support::fm_eval_in(repo.path(), &["up", "--to", "5", "--no-lock"]);
        if !up.status.success() {
            continue; // a refusal, which migrate_shapes checks is expected
        }
        migrated += 1;
        let check = guard_support::fm_in(repo.path(), &["check"]);
        assert_eq!(check.status.code(), Some(0), "{shape}: {}", stdout(&check));
    }
    assert!(
        migrated >= shapes.len() - 2,
        "only {migrated} of {} shapes migrated",
        shapes.len()
    );
}
