//! flake-migrate's own `flake.nix`: it parses, its outputs have the
//! expected structure when evaluated against a stand-in nixpkgs
//! (tests/fixtures/standins/rust-nixpkgs), and `lib.check`'s script passes
//! a clean fleet and fails one with a violation. Nothing is built: the
//! package needs crates.io and a real nixpkgs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{nix_cmd, nix_instantiate_cmd, require_nix, standins_dir};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files the flake reads, copied so that nix sees them as a `path:`
/// flake (a git checkout would hide files not yet committed).
fn flake_copy(tmp: &Path) -> PathBuf {
    let dir = tmp.join("flake-migrate");
    std::fs::create_dir_all(dir.join("nix")).unwrap();
    for f in ["flake.nix", "Cargo.toml", "Cargo.lock", "nix/check.sh"] {
        std::fs::copy(root().join(f), dir.join(f)).unwrap();
    }
    dir
}

fn eval(flake: &Path, attr: &str, apply: &str) -> serde_json::Value {
    let standin = standins_dir().join("rust-nixpkgs");
    let out = nix_cmd()
        .args(["eval", "--json", "--impure", "--no-write-lock-file"])
        .arg(format!("path:{}#{attr}", flake.display()))
        .args(["--apply", apply, "--override-input", "nixpkgs"])
        .arg(format!("path:{}", standin.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{attr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_flake_parses() {
    if !require_nix("the_flake_parses") {
        return;
    }
    let out = nix_instantiate_cmd()
        .arg("--parse")
        .arg(root().join("flake.nix"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_flake_has_a_package_app_overlay_shell_and_check_per_system() {
    if !require_nix("the_flake_has_a_package_app_overlay_shell_and_check_per_system") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let flake = flake_copy(tmp.path());
    let names = "builtins.attrNames";
    let per_system = |output: &str| eval(&flake, output, names);
    let systems = serde_json::json!([
        "aarch64-darwin",
        "aarch64-linux",
        "x86_64-darwin",
        "x86_64-linux"
    ]);
    for output in ["packages", "apps", "devShells"] {
        assert_eq!(per_system(output), systems, "{output}");
    }
    assert_eq!(
        eval(&flake, "packages.aarch64-linux", names),
        serde_json::json!(["default", "flake-migrate"])
    );
    assert_eq!(
        eval(&flake, "apps.x86_64-darwin", names),
        serde_json::json!(["default"])
    );
    assert_eq!(
        eval(&flake, "devShells.x86_64-linux", names),
        serde_json::json!(["default"])
    );
    assert_eq!(
        eval(&flake, "overlays.default", "builtins.isFunction"),
        true
    );
    assert_eq!(eval(&flake, "lib.check", "builtins.isFunction"), true);
}

#[test]
fn the_package_builds_from_cargo_lock_and_installs_completions_and_the_man_page() {
    if !require_nix("the_package_builds_from_cargo_lock_and_installs_completions_and_the_man_page")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let flake = flake_copy(tmp.path());
    let pkg = eval(
        &flake,
        "packages.x86_64-linux.default",
        r#"p: {
          inherit (p) name;
          lock = baseNameOf (toString p.standin.cargoLock.lockFile);
          main = p.meta.mainProgram;
          post = p.standin.postInstall;
        }"#,
    );
    assert_eq!(
        pkg["name"],
        format!("flake-migrate-{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(pkg["lock"], "Cargo.lock");
    assert_eq!(pkg["main"], "flake-migrate");
    let post = pkg["post"].as_str().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        assert!(post.contains(&format!("completions {shell}")), "{post}");
    }
    assert!(
        post.contains("flake-migrate man > flake-migrate.1"),
        "{post}"
    );
    assert!(post.contains("installManPage"), "{post}");

    let app = eval(&flake, "apps.x86_64-linux.default", "a: a");
    assert_eq!(app["type"], "app");
    assert!(
        app["program"]
            .as_str()
            .unwrap()
            .ends_with("-flake-migrate-0.1.0/bin/flake-migrate"),
        "{app}"
    );
    let overlaid = eval(
        &flake,
        "overlays.default",
        "o: (o { rustPlatform = { buildRustPackage = a: { inherit (a) pname; }; }; pkg-config = null; installShellFiles = null; git = null; stdenv = { hostPlatform = { }; buildPlatform.canExecute = _: false; }; } { }).flake-migrate.pname",
    );
    assert_eq!(overlaid, "flake-migrate");
    let shell = eval(
        &flake,
        "devShells.x86_64-linux.default",
        "s: map (p: p.name) s.standin.packages",
    );
    assert_eq!(
        shell,
        serde_json::json!(["cargo", "rustc", "clippy", "rustfmt", "nix", "git"])
    );
}

#[test]
fn lib_check_is_a_derivation_running_the_check_script_on_src() {
    if !require_nix("lib_check_is_a_derivation_running_the_check_script_on_src") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let flake = flake_copy(tmp.path());
    let check = eval(
        &flake,
        "lib",
        r#"lib: let
          pkgs = (builtins.getFlake "path:STANDIN").legacyPackages.x86_64-linux;
          drv = lib.check { inherit pkgs; src = builtins.toFile "flake.nix" "{ }"; };
        in {
          inherit (drv) type name;
          script = drv.standin.script;
          inputs = map (p: p.name) drv.standin.nativeBuildInputs;
          src = baseNameOf (toString drv.standin.src);
        }"#
        .replace(
            "STANDIN",
            standins_dir().join("rust-nixpkgs").to_str().unwrap(),
        )
        .as_str(),
    );
    assert_eq!(check["type"], "derivation");
    assert_eq!(check["name"], "flake-migrate-check");
    assert_eq!(
        check["script"],
        std::fs::read_to_string(root().join("nix/check.sh")).unwrap()
    );
    assert_eq!(
        check["inputs"],
        serde_json::json!(["flake-migrate-0.1.0", "git"])
    );
    assert!(
        check["src"].as_str().unwrap().ends_with("flake.nix"),
        "{check}"
    );
}

/// Runs nix/check.sh as the derivation's builder would: `src` a copy
/// without `.git`, `out` to create, flake-migrate and git on PATH.
fn run_check_script(src: &Path, work: &Path) -> (std::process::Output, PathBuf) {
    let out = work.join("out");
    let bin = Path::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .parent()
        .unwrap();
    let run = Command::new("sh")
        .arg(root().join("nix/check.sh"))
        .current_dir(work)
        .env("src", src)
        .env("out", &out)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", "/homeless-shelter")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    (run, out)
}

/// The example fleet, migrated (`flake-migrate demo`), without its `.git`
/// as a flake's `src` is.
fn migrated_source(tmp: &Path) -> PathBuf {
    let dir = tmp.join("fleet");
    let demo = Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .arg("demo")
        .arg(&dir)
        .env("HOME", tmp)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    std::fs::remove_dir_all(dir.join(".git")).unwrap();
    dir
}

#[test]
fn the_check_script_passes_a_clean_fleet_and_fails_on_a_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let src = migrated_source(tmp.path());

    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    let (run, out) = run_check_script(&src, &clean);
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("ok: "));
    assert!(out.exists(), "the derivation's output is created");

    let carbon = src.join("machines/carbon.nix");
    let text = std::fs::read_to_string(&carbon).unwrap();
    std::fs::write(&carbon, text.replacen("llama-cpp-cuda", "llama-cpp", 1)).unwrap();
    let dirty = tmp.path().join("dirty");
    std::fs::create_dir(&dirty).unwrap();
    let (run, out) = run_check_script(&src, &dirty);
    assert_eq!(
        run.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("machines/carbon.nix"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(!out.exists());
}
