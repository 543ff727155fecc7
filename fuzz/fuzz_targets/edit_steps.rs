//! Arbitrary bytes as a host module or as `flake.nix` of a two-host
//! fleet: every edit step refuses, or writes files that parse, in the
//! file's line endings, and is not planned again once applied. No input
//! may make planning panic.

#![no_main]

use std::path::Path;

use flake_migrate::catalogue::{self, Operation};
use flake_migrate::config::Config;
use flake_migrate::files::{Files, WorkTree};
use flake_migrate::record::{Applied, State};
use flake_migrate::steps::{self, Context, Plan};
use flake_migrate::syntax;
use libfuzzer_sys::fuzz_target;

const FLAKE: &str = "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs\";\n  outputs = { self, nixpkgs, ... }@inputs: {\n    nixosConfigurations.alpha = nixpkgs.lib.nixosSystem {\n      specialArgs = { inherit inputs; };\n      modules = [ ./alpha.nix ];\n    };\n    nixosConfigurations.beta = nixpkgs.lib.nixosSystem {\n      modules = [ ./beta.nix ];\n    };\n  };\n}\n";
const ALPHA: &str =
    "{ pkgs, ... }:\n{\n  environment.systemPackages = with pkgs; [ llama-cpp git ];\n}\n";
const BETA: &str = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }\n";
const CONFIG: &str = "[hosts]\nalpha = \"cuda\"\nbeta = \"vulkan\"\n";

fuzz_target!(|data: &[u8]| {
    let Some((&role, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if syntax::parse(Path::new("x.nix"), text).is_err() {
        return;
    }
    let (flake, alpha) = if role % 2 == 0 {
        (text, ALPHA)
    } else {
        (FLAKE, text)
    };
    let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
    tree.stage(Path::new("flake.nix"), Some(flake.into()));
    tree.stage(Path::new("alpha.nix"), Some(alpha.into()));
    tree.stage(Path::new("beta.nix"), Some(BETA.into()));
    let mut config = Config::parse(Path::new("flake-migrate.toml"), CONFIG).unwrap();
    let mut state = State::default();
    for m in catalogue::bundled() {
        if matches!(m.operation, Operation::Verify { .. } | Operation::Switch) {
            continue;
        }
        let Ok(plan) = plan_step(&m.operation, &tree, &config, &state) else {
            return;
        };
        let changes = match plan {
            Plan::Blocked { .. } => return,
            Plan::Satisfied => None,
            Plan::Changes(c) => Some(c),
            Plan::Verify => unreachable!(),
        };
        for (path, after) in changes.iter().flat_map(|c| &c.files) {
            // 0001 may rewrite flake-migrate.toml's `input` line too.
            let Some(after) = after
                .as_ref()
                .filter(|_| path.extension().is_some_and(|e| e == "nix"))
            else {
                continue;
            };
            assert!(
                syntax::parse(path, after).is_ok(),
                "{}: {} does not parse:\n{after}",
                m.id,
                path.display()
            );
            if let Ok(Some(before)) = tree.read(path) {
                let crlf =
                    |t: &str| t.matches("\r\n").count() * 2 >= t.matches('\n').count().max(1);
                if crlf(&before) && !before.replace("\r\n", "").contains('\n') {
                    assert!(
                        !after.replace("\r\n", "").contains('\n'),
                        "{}: {} mixes line endings: {after:?}",
                        m.id,
                        path.display()
                    );
                }
            }
        }
        for (path, after) in changes.iter().flat_map(|c| &c.files) {
            tree.stage(path, after.clone());
            // As the engine reloads it after 0001 reused an input.
            if let (Some("flake-migrate.toml"), Some(text)) = (path.to_str(), after) {
                config = Config::parse(path, text).unwrap();
            }
        }
        state.record(Applied {
            id: m.id.clone(),
            checksum: m.checksum.clone(),
            adopted: changes.is_none(),
            files: Vec::new(),
        });
        if let Ok(again) = plan_step(&m.operation, &tree, &config, &state) {
            assert!(
                !matches!(again, Plan::Changes(_)),
                "{}: planned again once applied: {again:?}",
                m.id
            );
        }
    }
});

fn plan_step(
    op: &Operation,
    tree: &WorkTree,
    config: &Config,
    state: &State,
) -> flake_migrate::error::Result<Plan> {
    let ctx = Context {
        files: tree,
        config,
        state,
        discovery: None,
    };
    steps::plan(op, &ctx)
}
