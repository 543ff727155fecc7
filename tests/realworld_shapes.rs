//! Shapes seen in public NixOS configurations that the bundled fixtures do not
//! cover. Each test writes a small self-made repository reduced from the shape
//! (not third-party code), runs the real binary on it, and checks what a user
//! of that shape needs. Tests marked `#[ignore = "bug: …"]` fail today; run
//! them with `cargo test --test realworld_shapes -- --ignored`.

use std::fs;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn fm(dir: &Path, args: &[&str]) -> Run {
    // The static reading (`--no-eval`): each shape is either right or
    // refused before any write without nix.
    let out = Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .arg("--no-eval")
        .args(args)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run flake-migrate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A committed git repository holding `files` (path, contents).
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("flake-migrate-realworld-")
        .tempdir()
        .unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    }
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "user.name", "Test User"]);
    git(
        dir.path(),
        &["config", "user.email", "test@example.invalid"],
    );
    git(dir.path(), &["config", "commit.gpgsign", "false"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "import"]);
    dir
}

fn read(dir: &Path, rel: &str) -> String {
    fs::read_to_string(dir.join(rel)).unwrap()
}

/// The line of `init`'s host table for `host`.
fn init_line<'a>(init: &'a Run, host: &str) -> Option<&'a str> {
    init.stdout.lines().find(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some(host)
    })
}

#[track_caller]
fn init_hosts(dir: &Path, hosts: &[&str]) {
    let mut args = vec!["init"];
    for h in hosts {
        args.push("--host");
        args.push(h);
    }
    let r = fm(dir, &args);
    assert_eq!(r.code, 0, "init {hosts:?}: {}", r.all());
}

const HOST_MODULE_STUB: &str = "{ ... }: { }\n";

// ---------------------------------------------------------------------------
// llama-cpp from a second nixpkgs instance (`unstable.llama-cpp`,
// `pkgs-unstable.llama-cpp`, `pkgsLatest.llama-cpp`): very common, because
// nixpkgs' llama-cpp moves fast and stable users take it from unstable.

fn unstable_instance_repo() -> tempfile::TempDir {
    repo(&[
        (
            "flake.nix",
            r#"{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    nixpkgs-unstable.url = "github:NixOS/nixpkgs/nixos-unstable";
  };

  outputs = { self, nixpkgs, nixpkgs-unstable, ... }@inputs:
    let
      system = "x86_64-linux";
      unstable = import nixpkgs-unstable {
        inherit system;
        config.allowUnfree = true;
      };
    in {
      nixosConfigurations.gpu = nixpkgs.lib.nixosSystem {
        inherit system;
        specialArgs = { inherit inputs unstable; };
        modules = [ ./gpu.nix ];
      };
    };
}
"#,
        ),
        (
            "gpu.nix",
            r#"{ pkgs, unstable, ... }:
{
  environment.systemPackages = [
    pkgs.git
    (unstable.llama-cpp.override { cudaSupport = true; })
  ];
}
"#,
        ),
    ])
}

#[test]
fn init_sees_llama_cpp_from_a_second_nixpkgs_instance() {
    let repo = unstable_instance_repo();
    let init = fm(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let line = init_line(&init, "gpu").unwrap_or_else(|| panic!("no host gpu: {}", init.all()));
    assert!(
        line.contains("cuda"),
        "gpu uses `(unstable.llama-cpp.override {{ cudaSupport = true; }})`: {line}"
    );
}

#[test]
fn step_0004_does_not_adopt_while_a_second_instance_llama_cpp_remains() {
    let repo = unstable_instance_repo();
    init_hosts(repo.path(), &["gpu=cuda"]);
    let up = fm(repo.path(), &["up", "--to", "5", "--no-lock"]);
    let module = read(repo.path(), "gpu.nix");
    if up.code == 0 {
        assert!(
            !module.contains("unstable.llama-cpp"),
            "up succeeded but gpu.nix still installs nixpkgs' llama-cpp:\n{module}\n{}",
            up.all()
        );
        let check = fm(repo.path(), &["check"]);
        assert_eq!(check.code, 0, "{}", check.all());
    } else {
        // Refusing is acceptable, as long as it names the reference.
        assert_eq!(up.code, 3, "{}", up.all());
        assert!(up.stderr.contains("gpu.nix:"), "{}", up.all());
    }
}

// ---------------------------------------------------------------------------
// flake-parts with hosts two imports deep (flake.nix -> system/flake-module.nix
// -> system/<host>/flake-module.nix): the usual layout of larger flake-parts
// configurations.

#[test]
fn flake_parts_hosts_two_imports_deep_are_found() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-parts.url = "github:hercules-ci/flake-parts";
  };

  outputs = inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" ];
      imports = [ ./system/flake-module.nix ];
    };
}
"#,
        ),
        (
            "system/flake-module.nix",
            "{\n  imports = [\n    ./box/flake-module.nix\n  ];\n}\n",
        ),
        (
            "system/box/flake-module.nix",
            r#"{ inputs, ... }:
{
  flake.nixosConfigurations.box = inputs.nixpkgs.lib.nixosSystem {
    system = "x86_64-linux";
    specialArgs = { inherit inputs; };
    modules = [ ./configuration.nix ];
  };
}
"#,
        ),
        (
            "system/box/configuration.nix",
            r#"{ pkgs, ... }:
{
  services.llama-cpp = {
    enable = true;
    package = pkgs.llama-cpp.override { rocmSupport = true; };
  };
}
"#,
        ),
    ]);
    let init = fm(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let line =
        init_line(&init, "box").unwrap_or_else(|| panic!("host box not found:\n{}", init.all()));
    assert!(line.contains("rocm"), "{line}");
}

// ---------------------------------------------------------------------------
// A helper taking the host name and a per-host `extraModules` list:
// `mkHost "name" { extraModules = [ ... ]; }`. The list belongs to one host,
// so 0003 can put the overlay there (flake.nix has `inputs` in scope).

#[test]
fn step_0003_uses_the_per_host_extra_modules_argument_of_a_helper() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      mkHost = hostname: { extraModules ? [ ] }:
        nixpkgs.lib.nixosSystem {
          modules = extraModules ++ [
            ./machines/${hostname}
            { networking.hostName = hostname; }
          ];
        };
    in
    {
      nixosConfigurations = {
        alpha = mkHost "alpha" {
          extraModules = [
            ./modules/ai.nix
          ];
        };
        bravo = mkHost "bravo" { };
      };
    };
}
"#,
        ),
        (
            "modules/ai.nix",
            "{ pkgs, ... }:\n{\n  environment.systemPackages = [ (pkgs.llama-cpp.override { cudaSupport = true; }) ];\n}\n",
        ),
        ("machines/alpha/default.nix", HOST_MODULE_STUB),
        ("machines/bravo/default.nix", HOST_MODULE_STUB),
    ]);
    init_hosts(repo.path(), &["alpha=cuda"]);
    let up = fm(repo.path(), &["up", "--to", "3", "--no-lock"]);
    assert_eq!(up.code, 0, "{}", up.all());
    let flake = read(repo.path(), "flake.nix");
    let alpha =
        &flake[flake.find("alpha = mkHost").unwrap()..flake.find("bravo = mkHost").unwrap()];
    assert!(
        alpha.contains("llama-cpp.nix"),
        "overlay not in alpha's extraModules:\n{flake}"
    );
    let bravo = &flake[flake.find("bravo = mkHost").unwrap()..];
    assert!(!bravo.contains("llama-cpp.nix"), "bravo reached:\n{flake}");
}

// ---------------------------------------------------------------------------
// A host built by a helper the model does not follow (defined in another file
// or by another flake-parts module), called with a visible `modules` list.

#[test]
fn host_built_by_an_unfollowed_helper_is_not_reported_as_unused() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = inputs: rec {
    lib = import ./lib.nix { inherit inputs; };

    nixosConfigurations = {
      box = lib.mkSystem {
        hostname = "box";
        modules = [ ./hosts/box.nix ];
      };
    };
  };
}
"#,
        ),
        (
            "lib.nix",
            r#"{ inputs }:
inputs.nixpkgs.lib.extend (_: _: {
  mkSystem = { hostname, modules }:
    inputs.nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = modules ++ [ { networking.hostName = hostname; } ];
    };
})
"#,
        ),
        (
            "hosts/box.nix",
            "{ pkgs, ... }:\n{\n  nixpkgs.config.cudaSupport = true;\n  environment.systemPackages = with pkgs; [ llama-cpp ];\n}\n",
        ),
    ]);
    let init = fm(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let line = init_line(&init, "box").unwrap_or_else(|| panic!("no host box: {}", init.all()));
    assert!(
        !line.contains("no reference to llama.cpp"),
        "box was not followed, yet is reported as not using llama.cpp: {line}\n{}",
        init.all()
    );
}

// ---------------------------------------------------------------------------
// snowfall-lib: `outputs = inputs: inputs.snowfall-lib.mkFlake { … }`, hosts
// are the directories systems/<arch>/<host>.

#[test]
fn snowfall_flake_hosts_are_found_or_the_shape_is_named() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
    snowfall-lib = {
      url = "github:snowfallorg/lib";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = inputs:
    inputs.snowfall-lib.mkFlake {
      inherit inputs;
      src = ./.;
    };
}
"#,
        ),
        (
            "systems/x86_64-linux/box/default.nix",
            "{ pkgs, ... }:\n{\n  services.xserver.videoDrivers = [ \"nvidia\" ];\n  environment.systemPackages = with pkgs; [ llama-cpp ];\n}\n",
        ),
    ]);
    let init = fm(repo.path(), &["init"]);
    let found = init_line(&init, "box").is_some();
    let explained = init.all().contains("snowfall") || init.all().contains("mkFlake");
    assert!(
        found || explained,
        "neither the host nor why it is not found:\n{}",
        init.all()
    );
}

// ---------------------------------------------------------------------------
// No input called `nixpkgs`: `stable-nixpkgs`, `nixpkgs_stable`, … with hosts
// built by `<that input>.lib.nixosSystem`.

#[test]
fn step_0001_follows_the_nixpkgs_input_the_hosts_are_built_with() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs = {
    stable-nixpkgs.url = "github:nixos/nixpkgs/nixos-25.05";
  };

  outputs = inputs@{ self, stable-nixpkgs, ... }: {
    nixosConfigurations.box = stable-nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      specialArgs = { inherit inputs; };
      modules = [ ./box.nix ];
    };
  };
}
"#,
        ),
        (
            "box.nix",
            "{ pkgs, ... }:\n{\n  environment.systemPackages = with pkgs; [ llama-cpp ];\n}\n",
        ),
    ]);
    init_hosts(repo.path(), &["box=cpu"]);
    let up = fm(repo.path(), &["up", "--to", "1", "--no-lock"]);
    assert_eq!(up.code, 0, "{}", up.all());
    let flake = read(repo.path(), "flake.nix");
    assert!(
        flake.contains(r#"follows = "stable-nixpkgs""#),
        "llama-cpp should follow stable-nixpkgs:\n{flake}"
    );
}

// ---------------------------------------------------------------------------
// `nixosConfigurations = builtins.mapAttrs (name: _: mkHost name)
// (builtins.readDir ./machines)`: one host per directory. README promises that
// hosts computed at evaluation time are reported with their location.

#[test]
fn hosts_from_read_dir_are_listed_or_reported_with_their_location() {
    let repo = repo(&[
        (
            "flake.nix",
            r#"{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixpkgs-unstable";

  outputs = {
    self,
    nixpkgs,
  }: let
    mkHost = name:
      nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          (./machines + "/${name}")
          {networking.hostName = name;}
        ];
      };
  in {
    nixosConfigurations = builtins.mapAttrs (name: _: mkHost name) (builtins.readDir ./machines);
  };
}
"#,
        ),
        (
            "machines/alpha/default.nix",
            "{pkgs, ...}: {environment.systemPackages = [pkgs.llama-cpp];}\n",
        ),
        ("machines/beta/default.nix", HOST_MODULE_STUB),
    ]);
    let init = fm(repo.path(), &["init"]);
    let listed = init_line(&init, "alpha").is_some();
    let reported = init.all().contains("flake.nix:");
    assert!(
        listed || reported,
        "neither the hosts nor where they are computed:\n{}",
        init.all()
    );
}

// ---------------------------------------------------------------------------
// `init --yes` with nothing to accept writes nothing

fn head_of(dir: &Path) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("run git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn init_yes_without_any_host_writes_nothing_and_says_why() {
    let repo = repo(&[(
        "flake.nix",
        "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  outputs = { self, nixpkgs }: { packages = { }; };\n}\n",
    )]);
    let before = head_of(repo.path());
    let init = fm(repo.path(), &["init", "--yes"]);
    assert_ne!(init.code, 0, "{}", init.all());
    assert!(init.stderr.contains("no host found"), "{}", init.all());
    assert!(!repo.path().join("flake-migrate.toml").exists());
    assert_eq!(head_of(repo.path()), before, "nothing committed");
}

#[test]
fn init_yes_when_no_host_uses_llama_cpp_writes_nothing_and_says_why() {
    let repo = repo(&[
        (
            "flake.nix",
            "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  outputs = { self, nixpkgs }: {\n    nixosConfigurations.desk = nixpkgs.lib.nixosSystem {\n      system = \"x86_64-linux\";\n      modules = [ ./desk.nix ];\n    };\n  };\n}\n",
        ),
        (
            "desk.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.git ];\n}\n",
        ),
    ]);
    let before = head_of(repo.path());
    let init = fm(repo.path(), &["init", "--yes"]);
    assert_ne!(init.code, 0, "{}", init.all());
    assert!(
        init.stdout.contains("desk"),
        "the host is listed: {}",
        init.all()
    );
    assert!(
        init.stderr.contains("no host uses llama.cpp"),
        "{}",
        init.all()
    );
    assert!(!repo.path().join("flake-migrate.toml").exists());
    assert_eq!(head_of(repo.path()), before, "nothing committed");
}

// ---------------------------------------------------------------------------
// A host without a variant importing nixpkgs' own modules by an interpolated
// path (`"${nixpkgs}/nixos/modules/…"`): the static reading cannot follow it
// and says so, but it is no part of the step that edits the other host.

/// The full message of the commit of `step` (found by its trailer).
fn commit_message_of(dir: &Path, step: &str) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "log",
            "--format=%B%x00",
            &format!("--grep=Migration: {step}"),
        ])
        .output()
        .expect("run git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn notes_about_hosts_a_step_does_not_touch_stay_out_of_its_commit_message() {
    let flake = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations = {
      carbon = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./carbon.nix ];
      };
      vps = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          "${nixpkgs}/nixos/modules/profiles/minimal.nix"
          ./vps.nix
        ];
      };
    };
  };
}
"#;
    let dir = repo(&[
        ("flake.nix", flake),
        (
            "carbon.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n",
        ),
        ("vps.nix", HOST_MODULE_STUB),
    ]);
    init_hosts(dir.path(), &["carbon=cpu"]);
    let up = fm(dir.path(), &["up", "--no-lock", "--to", "0004"]);
    assert_eq!(up.code, 0, "{}", up.all());
    assert!(
        up.stdout.contains("profiles/minimal.nix"),
        "the note is still printed: {}",
        up.all()
    );
    let message = commit_message_of(dir.path(), "0004");
    assert!(
        message.contains("Checklist:"),
        "the step's commit: {message}"
    );
    assert!(
        !message.contains("minimal.nix") && !message.contains("${nixpkgs}"),
        "{message}"
    );
}
