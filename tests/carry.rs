//! What the old overrides did is carried or kept in view (issue 12):
//! `init --yes` writes the options the evidence shows; a revision every
//! old override pinned becomes the input's pin (different ones do not);
//! what is not carried stays in `status` until the user edits those hosts'
//! entries. The tool's edits of flake-migrate.toml keep the user's comments
//! and order (issue 14).

#[macro_use]
mod support;

use std::path::Path;

use support::*;

fn repo(files: &[(&str, &str)]) -> TempRepo {
    repo_of_files(files, "carry")
}

const FLAKE: &str = "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n\n  outputs = { self, nixpkgs, ... }@inputs: {\n    nixosConfigurations = {\n      carbon = nixpkgs.lib.nixosSystem {\n        system = \"x86_64-linux\";\n        modules = [ ./carbon.nix ];\n      };\n      neon = nixpkgs.lib.nixosSystem {\n        system = \"x86_64-linux\";\n        modules = [ ./neon.nix ];\n      };\n    };\n  };\n}\n";

/// A native Vulkan build of upstream b6500, its revision made of `version`.
const CARBON: &str = r#"{ pkgs, ... }: {
  environment.systemPackages = [
    ((pkgs.llama-cpp.override { vulkanSupport = true; }).overrideAttrs (finalAttrs: old: {
      cmakeFlags = old.cmakeFlags ++ [ "-DGGML_NATIVE=ON" "-DGGML_SCHED_MAX_COPIES=1" ];
      NIX_ENFORCE_NO_NATIVE = 0;
      version = "6500";
      src = pkgs.fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; tag = "b${finalAttrs.version}"; hash = ""; };
    }))
  ];
}
"#;

/// A portable CPU build of upstream at `REV`, under the old owner's name.
const NEON: &str = r#"{ pkgs, ... }: {
  environment.systemPackages = [
    (pkgs.llama-cpp.overrideAttrs (old: {
      src = pkgs.fetchFromGitHub { owner = "ggerganov"; repo = "llama.cpp"; rev = "REV"; hash = ""; };
    }))
  ];
}
"#;

fn fleet(neon_rev: &str) -> TempRepo {
    repo(&[
        ("flake.nix", FLAKE),
        ("carbon.nix", CARBON),
        ("neon.nix", &NEON.replace("REV", neon_rev)),
    ])
}

/// The message of the commit that applied `step` (`0004`).
fn step_message(repo: &TempRepo, step: &str) -> String {
    let git = repo.git();
    let mut walk = git.revwalk().unwrap();
    walk.push_head().unwrap();
    walk.map(|id| git.find_commit(id.unwrap()).unwrap())
        .map(|c| c.message().unwrap().to_string())
        .find(|m| m.contains(&format!("Migration: {step}")))
        .unwrap_or_else(|| panic!("no commit of {step}"))
}

fn head_message(repo: &TempRepo) -> String {
    let git = repo.git();
    let commit = git.head().unwrap().peel_to_commit().unwrap();
    commit.message().unwrap().to_string()
}

#[test]
fn init_yes_writes_the_options_the_evidence_shows() {
    let repo = fleet("b6500");
    let found = ok(fm_static(repo.path(), &["init", "--json"]));
    let found: serde_json::Value = serde_json::from_str(&found.stdout).unwrap();
    let options: Vec<(&str, &serde_json::Value)> = found["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap(), &h["options"]))
        .collect();
    assert_eq!(
        options,
        [
            ("carbon", &serde_json::json!(["native"])),
            ("neon", &serde_json::json!([]))
        ]
    );
    ok(fm_static(repo.path(), &["init", "--yes"]));
    let written = repo.read("flake-migrate.toml");
    assert!(
        written.contains("carbon = { variant = \"vulkan\", native = true }\n"),
        "{written}"
    );
    assert!(written.contains("neon = \"cpu\"\n"), "{written}");
    assert!(
        head_message(&repo).contains("carbon=vulkan-native"),
        "{}",
        head_message(&repo)
    );
}

/// A config as a user keeps it: comments everywhere, `[hosts]` last, keys
/// in no order the tool would choose.
const USERS_CONFIG: &str = "# Our llama.cpp fleet.\n\noverlay = \"nixos/overlays/llama-cpp.nix\" # where 0002 writes\n\n[guard]\n# the museum keeps nixpkgs' build\nexclude = [\"museum/**\"]\n\n[hosts]\n# the GPU box\nneon = \"cpu\" # for now\n";

#[test]
fn init_adds_a_host_to_the_users_file_keeping_its_comments_and_order() {
    let repo = fleet("b6500");
    repo.write("flake-migrate.toml", USERS_CONFIG);
    repo.commit_all("configure");
    ok(fm_static(
        repo.path(),
        &["init", "--host", "carbon=vulkan-native"],
    ));
    assert_eq!(
        repo.read("flake-migrate.toml"),
        format!("{USERS_CONFIG}carbon = {{ variant = \"vulkan\", native = true }}\n")
    );
    ok(fm_static(repo.path(), &["init", "--host", "neon=cuda"]));
    assert_eq!(
        repo.read("flake-migrate.toml"),
        format!(
            "{}carbon = {{ variant = \"vulkan\", native = true }}\n",
            USERS_CONFIG.replace("neon = \"cpu\" # for now", "neon = \"cuda\" # for now")
        ),
        "the changed host keeps its place and its comment"
    );
}

#[test]
fn reusing_an_input_renames_it_in_the_users_file_and_nothing_else() {
    let repo = fleet("b6500");
    repo.write(
        "flake.nix",
        &FLAKE.replace(
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";",
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  inputs.llama-flake.url = \"github:ggml-org/llama.cpp\";",
        ),
    );
    let config = USERS_CONFIG.replace(
        "neon = \"cpu\" # for now",
        "neon = \"cpu\" # for now\ncarbon = { variant = \"vulkan\", native = true }",
    );
    repo.write("flake-migrate.toml", &config);
    repo.commit_all("configure");
    ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "1"]));
    assert_eq!(
        repo.read("flake-migrate.toml"),
        config.replace(
            "overlay = \"nixos/overlays/llama-cpp.nix\" # where 0002 writes\n",
            "overlay = \"nixos/overlays/llama-cpp.nix\" # where 0002 writes\ninput = \"llama-flake\"\n"
        )
    );
    let flake = repo.read("flake.nix");
    assert!(
        flake.contains("inputs.llama-flake.url = \"github:ggml-org/llama.cpp/b6500\";"),
        "the reused input takes the old overrides' revision: {flake}"
    );
}

#[test]
fn an_upstream_input_nix_only_takes_quoted_is_refused_before_writing() {
    let repo = fleet("b6500");
    repo.write(
        "flake.nix",
        &FLAKE.replace(
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";",
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  inputs.\"llama.cpp\".url = \"github:ggml-org/llama.cpp\";",
        ),
    );
    repo.write("flake-migrate.toml", USERS_CONFIG);
    repo.commit_all("configure");
    let before = head(repo.path());
    let run = fm_static(repo.path(), &["up", "--no-lock", "--to", "1"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("`llama.cpp`, which Nix only takes quoted"),
        "{run:?}"
    );
    assert_eq!(head(repo.path()), before);
    assert_eq!(porcelain(repo.path()), "");
    assert_eq!(repo.read("flake-migrate.toml"), USERS_CONFIG);
}

#[test]
fn one_revision_pinned_everywhere_becomes_the_inputs_pin_and_is_locked() {
    require_nix!();
    let repo = fleet("b6500");
    ok(fm_static(repo.path(), &["init", "--yes"]));
    let nix_args = migration_override_args(repo.path());
    ok(run(repo.path(), &["up", "--to", "1"], &nix_args));
    let flake = repo.read("flake.nix");
    assert!(
        flake.contains("url = \"github:ggml-org/llama.cpp/b6500\";"),
        "{flake}"
    );
    let message = head_message(&repo);
    assert!(message.contains("pinned to b6500"), "{message}");
    assert!(
        message.contains("carbon.nix:7:7") && message.contains("neon.nix:4:7"),
        "names both old overrides: {message}"
    );
    assert!(
        message.contains("flake.lock updated with `nix flake lock`"),
        "{message}"
    );
    let git = repo.git();
    let head = git.head().unwrap().peel_to_tree().unwrap();
    assert!(head.get_path(Path::new("flake.lock")).is_ok());

    // The rest of the run counts the src as carried, and names what is not.
    ok(run(
        repo.path(),
        &["up", "--no-lock", "--to", "5"],
        &nix_args,
    ));
    let host_step = step_message(&repo, "0004");
    assert!(
        host_step.contains("carried into llama-cpp-vulkan-native: GGML_NATIVE=ON, NIX_ENFORCE_NO_NATIVE=0 (flake-migrate.toml's options); version=6500, src=b6500 (the input's revision)"),
        "{host_step}"
    );
    assert!(
        host_step.contains("not carried: GGML_SCHED_MAX_COPIES=1:"),
        "{host_step}"
    );
    assert!(
        !host_step.contains("neon.nix:3:5: not carried"),
        "neon's override only pinned src: {host_step}"
    );
}

#[test]
fn different_revisions_leave_the_input_unpinned_and_say_so() {
    let repo = fleet("b6600");
    ok(fm_static(repo.path(), &["init", "--yes"]));
    let up = ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "1"]));
    let flake = repo.read("flake.nix");
    assert!(
        flake.contains("url = \"github:ggml-org/llama.cpp\";"),
        "{flake}"
    );
    assert!(
        up.stdout.contains("input `llama-cpp` is not pinned: the old overrides' sources are not one upstream revision (src pinned to b6500 in carbon.nix:7:7, src pinned to b6600 in neon.nix:4:7)"),
        "{up:?}"
    );
    ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "5"]));
    let status = ok(fm_static(repo.path(), &["status", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let left: Vec<(&str, &str, &str)> = json["not_carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["step"].as_str().unwrap(),
                l["what"].as_str().unwrap(),
                l["hosts"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            (
                "0004-host-packages",
                "GGML_SCHED_MAX_COPIES=1, version=6500, src=b6500",
                "carbon"
            ),
            ("0004-host-packages", "src=b6600", "neon")
        ],
        "each pin once, by the step that drops it"
    );
}

#[test]
fn status_shows_what_was_not_carried_until_the_hosts_entry_is_edited() {
    let repo = fleet("b6500");
    ok(fm_static(repo.path(), &["init", "--yes"]));
    ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "5"]));
    let status = ok(fm_static(repo.path(), &["status"]));
    let open = status
        .stdout
        .split("not carried over from the old overrides")
        .nth(1)
        .unwrap_or_else(|| panic!("no not-carried section: {status:?}"));
    assert!(
        open.contains("  GGML_SCHED_MAX_COPIES=1 in carbon.nix:3:5 (carbon; 0004)"),
        "{status:?}"
    );
    assert!(!open.contains("acknowledged"), "{status:?}");
    let json = |repo: &TempRepo| -> Vec<serde_json::Value> {
        let status = ok(fm_static(repo.path(), &["status", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        v["not_carried"].as_array().unwrap().clone()
    };
    let before = json(&repo);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["acknowledged"], false);
    assert_eq!(before[0]["hosts"], serde_json::json!(["carbon"]));

    // Editing another host's entry is no acknowledgement.
    let config = repo.read("flake-migrate.toml");
    repo.write(
        "flake-migrate.toml",
        &config.replace("neon = \"cpu\"", "neon = \"cpu\" # fine as it is"),
    );
    repo.commit_all("neon");
    assert_eq!(json(&repo)[0]["acknowledged"], false);

    // A comment on carbon's line is.
    let config = repo.read("flake-migrate.toml");
    repo.write(
        "flake-migrate.toml",
        &config.replace(
            "carbon = { variant = \"vulkan\", native = true }",
            "carbon = { variant = \"vulkan\", native = true } # SCHED_MAX_COPIES: upstream's default is fine",
        ),
    );
    repo.commit_all("carbon");
    assert_eq!(json(&repo)[0]["acknowledged"], true);
    let status = ok(fm_static(repo.path(), &["status"]));
    assert!(
        !status
            .stdout
            .contains("not carried over from the old overrides"),
        "{status:?}"
    );
    assert!(
        status
            .stdout
            .contains("acknowledged (the hosts' entries changed since):\n  GGML_SCHED_MAX_COPIES=1 in carbon.nix:3:5"),
        "{status:?}"
    );

    // Undoing the step takes its record, and the item, with it.
    ok(fm_static(repo.path(), &["down", "--to", "3"]));
    assert!(json(&repo).is_empty());
}

const OVERLAY_FLAKE: &str = "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n\n  outputs = { self, nixpkgs, ... }@inputs: {\n    nixosConfigurations = {\n      carbon = nixpkgs.lib.nixosSystem {\n        system = \"x86_64-linux\";\n        modules = [ ./carbon.nix { nixpkgs.overlays = [ (import ./overlays/llama.nix) ]; } ];\n      };\n      neon = nixpkgs.lib.nixosSystem {\n        system = \"x86_64-linux\";\n        modules = [ ./neon.nix { nixpkgs.overlays = [ (import ./overlays/llama.nix) ]; } ];\n      };\n    };\n  };\n}\n";

/// The fleet's old overlay: a native build of upstream b6500.
const OLD_OVERLAY: &str = r#"final: prev: {
  llama-cpp = prev.llama-cpp.overrideAttrs (old: {
    cmakeFlags = old.cmakeFlags ++ [ "-DGGML_NATIVE=ON" "-DGGML_SCHED_MAX_COPIES=1" ];
    NIX_ENFORCE_NO_NATIVE = 0;
    src = prev.fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; rev = "b6500"; hash = ""; };
  });
}
"#;

const USES: &str = "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n";

#[test]
fn an_old_overlay_is_judged_by_every_build_it_served() {
    let repo = repo(&[
        ("flake.nix", OVERLAY_FLAKE),
        ("carbon.nix", USES),
        ("neon.nix", USES),
        ("overlays/llama.nix", OLD_OVERLAY),
    ]);
    ok(fm_static(
        repo.path(),
        &[
            "init",
            "--host",
            "carbon=vulkan-native",
            "--host",
            "neon=cpu",
        ],
    ));
    ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "5"]));
    assert!(
        repo.read("flake.nix")
            .contains("url = \"github:ggml-org/llama.cpp/b6500\";"),
        "the overlay's pin is the input's"
    );
    let removal = step_message(&repo, "0005");
    assert!(
        removal.contains("overlays/llama.nix:2:15: dropped with the old override of `llama-cpp`: an overrideAttrs; not carried: GGML_NATIVE=ON, GGML_SCHED_MAX_COPIES=1, NIX_ENFORCE_NO_NATIVE=0"),
        "neon's portable build does not carry the native flags; the pinned src is carried: {removal}"
    );
    let status = ok(fm_static(repo.path(), &["status"]));
    let section = status
        .stdout
        .split_once("not carried over")
        .map(|(_, rest)| format!("not carried over{rest}"))
        .unwrap_or_else(|| panic!("{status:?}"));
    insta::assert_snapshot!("status_not_carried_from_an_old_overlay", section);
}

#[test]
fn a_pinned_checkout_of_upstream_becomes_the_inputs_pin() {
    let flake = OVERLAY_FLAKE
        .replace(
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";",
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  inputs.llama-src = { url = \"github:ggml-org/llama.cpp/b6400\"; flake = false; };",
        )
        .replace(
            "(import ./overlays/llama.nix)",
            "(import ./overlays/llama.nix { inherit inputs; })",
        );
    let overlay = "{ inputs }: final: prev: {\n  llama-cpp = prev.llama-cpp.overrideAttrs (old: {\n    src = inputs.llama-src;\n  });\n}\n";
    let repo = repo(&[
        ("flake.nix", &flake),
        ("carbon.nix", USES),
        ("neon.nix", USES),
        ("overlays/llama.nix", overlay),
    ]);
    ok(fm_static(
        repo.path(),
        &["init", "--host", "carbon=vulkan", "--host", "neon=cpu"],
    ));
    ok(fm_static(repo.path(), &["up", "--no-lock", "--to", "5"]));
    let flake = repo.read("flake.nix");
    assert!(
        flake.contains("url = \"github:ggml-org/llama.cpp/b6400\";")
            && !flake.contains("llama-src"),
        "the checkout's revision is the input's, and the checkout is gone: {flake}"
    );
    let removal = step_message(&repo, "0005");
    assert!(
        removal.contains("an overrideAttrs (the hosts' builds carry all of it)"),
        "{removal}"
    );
    let status = ok(fm_static(repo.path(), &["status", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["not_carried"], serde_json::json!([]), "{status:?}");
}
