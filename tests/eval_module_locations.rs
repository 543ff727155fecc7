//! Where nixpkgs' real module system says a definition comes from, and the
//! steps editing the right file anyway (issue 19): a host module that is a
//! directory is reported as the directory, one that is a symlink at the
//! path it was imported by. The seed fixture, evaluated against the
//! stand-ins built on nixpkgs' real lib, migrated by the real binary.

#[macro_use]
mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use support::*;

/// `flake-migrate -C dir ARGS -- <stand-in overrides>`: evaluated.
fn fm_eval(dir: &Path, args: &[&str]) -> Run {
    run(dir, args, &migration_override_args(dir))
}

/// The seed with carbon's module a symlink (`machines/carbon.nix ->
/// carbon-desktop.nix`) and beryllium's a directory
/// (`machines/beryllium/default.nix`, imported as `./machines/beryllium`).
fn seed_with_link_and_directory() -> TempRepo {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let machines = dir.join("machines");
    // Both install nixpkgs' llama-cpp, so 0004 edits both modules.
    let carbon = repo
        .read("machines/carbon.nix")
        .replace("llama-cpp-cuda #", "llama-cpp #");
    fs::remove_file(machines.join("carbon.nix")).unwrap();
    fs::write(machines.join("carbon-desktop.nix"), carbon).unwrap();
    symlink("carbon-desktop.nix", machines.join("carbon.nix")).unwrap();

    let beryllium = repo
        .read("machines/beryllium.nix")
        .replace("./hardware/beryllium.nix", "../hardware/beryllium.nix")
        .replace("llama-cpp-vulkan", "llama-cpp");
    fs::remove_file(machines.join("beryllium.nix")).unwrap();
    fs::create_dir(machines.join("beryllium")).unwrap();
    fs::write(machines.join("beryllium/default.nix"), beryllium).unwrap();
    let flake = repo
        .read("flake.nix")
        .replace("./machines/beryllium.nix", "./machines/beryllium");
    repo.write("flake.nix", &flake);
    repo.commit_all("carbon's module is a link, beryllium's a directory");
    repo
}

#[test]
fn a_linked_and_a_directory_host_module_are_migrated_where_they_are() {
    require_nix!();
    let repo = seed_with_link_and_directory();
    let dir = repo.path();

    let init = fm_eval(
        dir,
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    );
    assert_eq!(init.code, 0, "{init:?}");
    assert!(
        !init.stdout.contains("does not follow") && !init.stderr.contains("does not follow"),
        "evaluation and the static reading agree on the files: {init:?}"
    );

    let up = fm_eval(dir, &["up", "--to", "5", "--no-lock"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(porcelain(dir), "", "{up:?}");

    // The link is still a link, and its target carries the edit.
    let link = dir.join("machines/carbon.nix");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    let carbon = repo.read("machines/carbon-desktop.nix");
    assert!(carbon.contains("llama-cpp-cuda # local models"), "{carbon}");
    let beryllium = repo.read("machines/beryllium/default.nix");
    assert!(beryllium.contains("llama-cpp-vulkan"), "{beryllium}");

    flake_lock(dir).unwrap();
    assert_eq!(host_llama_packages(dir, "carbon"), ["llama-cpp-cuda-0.0.0"]);
    assert_eq!(
        host_llama_packages(dir, "beryllium"),
        ["llama-cpp-vulkan-0.0.0"]
    );
}

/// flake-parts takes `flake.nixosModules.x` as an option of type
/// `deferredModule`: nixpkgs reports a definition in such a module as
/// `<file>, via option flake.nixosModules.x`, which is the file it is
/// written in. The module written inline in a flake-parts file is found
/// there and migrated.
#[test]
fn a_module_given_as_a_flake_parts_option_value_is_edited_where_it_is_written() {
    require_nix!();
    let repo = fixture_repo("flake-parts");
    repo.write(
        "parts/ai.nix",
        "# The model server, as a module other flakes can import too.\n{ ... }:\n{\n  flake.nixosModules.ai = { pkgs, ... }: {\n    environment.systemPackages = [ pkgs.llama-cpp ];\n  };\n}\n",
    );
    let flake = repo.read("flake.nix").replace(
        "imports = [ ./parts/hosts.nix ];",
        "imports = [ ./parts/hosts.nix ./parts/ai.nix ];",
    );
    repo.write("flake.nix", &flake);
    let hosts = repo.read("parts/hosts.nix").replace(
        "        ../hosts/common.nix\n        { networking.hostName = \"quasar\"; }",
        "        ../hosts/common.nix\n        inputs.self.nixosModules.ai\n        { networking.hostName = \"quasar\"; }",
    );
    repo.write("parts/hosts.nix", &hosts);
    repo.commit_all("quasar runs the model server of parts/ai.nix");
    let dir = repo.path();

    let found =
        flake_migrate::eval::discover::discover(dir, Path::new(""), &standin_override_args(dir))
            .expect("discover");
    let flake_migrate::eval::discover::HostFacts::Known(quasar) = &found.hosts["quasar"] else {
        panic!("{found:?}")
    };
    let files: Vec<_> = quasar
        .packages
        .iter()
        .filter(|d| d.name.starts_with("llama-cpp"))
        .map(|d| d.file.clone())
        .collect();
    assert_eq!(files, [Some(PathBuf::from("parts/ai.nix"))], "{quasar:?}");

    let init = fm_eval(
        dir,
        &[
            "init",
            "--host",
            "quasar=vulkan",
            "--host",
            "nova=cuda",
            "--host",
            "pulsar=cpu",
        ],
    );
    assert_eq!(init.code, 0, "{init:?}");
    let up = fm_eval(dir, &["up", "--to", "5", "--no-lock"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(repo.read("parts/ai.nix").contains("pkgs.llama-cpp-vulkan"));
    flake_lock(dir).unwrap();
    assert_eq!(
        host_llama_packages(dir, "quasar"),
        ["llama-cpp-vulkan-0.0.0"]
    );
}
