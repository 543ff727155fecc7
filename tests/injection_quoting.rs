//! Values users give that reach generated Nix cannot inject code (issue
//! 13): the url is written as a quoted string that Nix reads back as
//! exactly the value (checked with `nix-instantiate`), the ROCm targets
//! likewise; the input name and the overlay path, which Nix cannot take
//! quoted (a function argument, a path literal), are refused when they are
//! not plain, before anything is written. Host names never reach generated
//! Nix (the evaluation passes them as JSON).

mod support;

use std::path::Path;
use std::process::Command;

use flake_migrate::catalogue;
use flake_migrate::config::Config;
use flake_migrate::files::{Files, WorkTree};
use flake_migrate::record::State;
use flake_migrate::steps::{self, Context, Plan};
use flake_migrate::syntax::{self, nix_string};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rowan::ast::AstNode;

/// Values that end strings, interpolate or escape in one of Nix's two
/// string syntaxes.
const HOSTILE: [&str; 9] = [
    "github:ggml-org/llama.cpp\"; evil = builtins.abort \"pwned\"; x = \"",
    "github:x/${builtins.abort \"pwned\"}",
    "github:x/$${y}",
    "github:x/''${y}''",
    "github:x/''",
    "back\\slash\\\"",
    "new\nline\r\n\ttab",
    "dollar at the end $",
    "unicode é ✓ and \u{1}",
];

/// What Nix makes of each expression, as JSON.
fn nix_eval_json(exprs: &[String]) -> serde_json::Value {
    let items: Vec<String> = exprs.iter().map(|e| format!("({e})")).collect();
    let list = format!("[\n{}\n]", items.join("\n"));
    let out = support::nix_instantiate_cmd()
        .args(["--eval", "--strict", "--json", "-E", &list])
        .output()
        .expect("run nix-instantiate");
    assert!(
        out.status.success(),
        "nix-instantiate rejected:\n{list}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The only string literal of `expr`, as rnix reads it.
fn rnix_value(expr: &str) -> Option<String> {
    let root = syntax::parse(Path::new("q.nix"), expr).ok()?;
    let s = root.syntax().descendants().find_map(rnix::ast::Str::cast)?;
    syntax::string_literal(&s)
}

#[test]
fn quoted_values_read_back_as_themselves_in_nix() {
    if !support::require_nix("quoted_values_read_back_as_themselves_in_nix") {
        return;
    }
    let quoted: Vec<String> = HOSTILE.iter().map(|v| nix_string(v)).collect();
    let back = nix_eval_json(&quoted);
    let expected: Vec<&str> = HOSTILE.to_vec();
    assert_eq!(back, serde_json::json!(expected));
}

proptest! {
    /// Any string (Nix strings hold no NUL) is one string literal, with no
    /// interpolation, whose value is the string.
    #[test]
    fn any_string_quoted_is_one_literal_of_itself(s in "[^\u{0}]*") {
        let quoted = nix_string(&s);
        prop_assert_eq!(rnix_value(&quoted), Some(s));
    }
}

#[test]
fn generated_strings_quoted_are_given_back_by_nix() {
    if !support::require_nix("generated_strings_quoted_are_given_back_by_nix") {
        return;
    }
    let mut runner = proptest::test_runner::TestRunner::default();
    let strategy = proptest::collection::vec("([\"$'{}\\\\\n\r\t a-z]|''|\\$\\{|\u{e9})*", 64);
    let values = strategy.new_tree(&mut runner).unwrap().current();
    let back = nix_eval_json(&values.iter().map(|v| nix_string(v)).collect::<Vec<_>>());
    assert_eq!(back, serde_json::json!(values));
}

// ---------------------------------------------------------------------------
// The steps' output

fn config_with(extra: &str) -> Result<Config, String> {
    config_with_host(extra, "\"cuda\"")
}

fn config_with_host(extra: &str, alpha: &str) -> Result<Config, String> {
    let text = format!("{extra}\n[hosts]\nalpha = {alpha}\n");
    Config::parse(Path::new("flake-migrate.toml"), &text).map_err(|e| e.to_string())
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// 0001 and 0002 planned for a one-host flake whose config has `url`; the
/// new `flake.nix` and overlay.
fn migrate_with_url(url: &str, dotted: bool) -> (String, String) {
    let config = config_with(&format!("url = {}", toml_string(url))).unwrap();
    let inputs = if dotted {
        "  inputs.nixpkgs.url = \"github:NixOS/nixpkgs\";\n"
    } else {
        "  inputs = {\n    nixpkgs.url = \"github:NixOS/nixpkgs\";\n  };\n"
    };
    let flake = format!(
        "{{\n{inputs}  outputs = {{ self, nixpkgs, ... }}@inputs: {{\n    nixosConfigurations.alpha = nixpkgs.lib.nixosSystem {{\n      modules = [ ./alpha.nix ];\n    }};\n  }};\n}}\n"
    );
    let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
    tree.stage(Path::new("flake.nix"), Some(flake));
    tree.stage(
        Path::new("alpha.nix"),
        Some("{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }\n".into()),
    );
    let state = State::default();
    for m in catalogue::bundled().iter().take(2) {
        let ctx = Context {
            files: &tree,
            config: &config,
            state: &state,
            discovery: None,
        };
        let Plan::Changes(changes) = steps::plan(&m.operation, &ctx).unwrap() else {
            panic!("{} not planned for url {url:?}", m.id);
        };
        for (path, content) in changes.files {
            tree.stage(&path, content);
        }
    }
    let overlay = tree.read(&config.overlay).unwrap().unwrap();
    (tree.read(Path::new("flake.nix")).unwrap().unwrap(), overlay)
}

#[test]
fn a_hostile_url_is_written_into_flake_nix_as_exactly_that_string() {
    if !support::require_nix("a_hostile_url_is_written_into_flake_nix_as_exactly_that_string") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut exprs = Vec::new();
    let mut expected = Vec::new();
    for (i, url) in HOSTILE.iter().enumerate() {
        for dotted in [true, false] {
            let (flake, overlay) = migrate_with_url(url, dotted);
            assert!(
                syntax::parse(Path::new("o.nix"), &overlay).is_ok(),
                "{overlay}"
            );
            let path = dir.path().join(format!("flake-{i}-{dotted}.nix"));
            std::fs::write(&path, &flake).unwrap();
            assert!(support::nix_parses(&path), "does not parse:\n{flake}");
            assert!(
                !flake.contains("pwned\";"),
                "the value escaped its string:\n{flake}"
            );
            exprs.push(format!("(import {}).inputs.llama-cpp.url", path.display()));
            expected.push(*url);
        }
    }
    assert_eq!(nix_eval_json(&exprs), serde_json::json!(expected));
}

#[test]
fn rocm_targets_are_quoted_or_refused() {
    let rocm = |targets: &str| {
        config_with_host(
            "",
            &format!(
                "{{ variant = \"rocm\", rocm-targets = {} }}",
                toml_string(targets)
            ),
        )
    };
    let err = rocm("gfx1100\"; x = ${builtins.abort 1}").unwrap_err();
    assert!(
        err.contains("rocm-targets") && err.contains("gfx1100;gfx1030"),
        "{err}"
    );
    let config = rocm("gfx1100;gfx1030").unwrap();
    let build = config.build("alpha").unwrap();
    assert!(
        build
            .expression()
            .contains("rocmGpuTargets = \"gfx1100;gfx1030\";"),
        "{}",
        build.expression()
    );
}

#[test]
fn an_input_name_or_overlay_path_nix_cannot_take_is_refused_when_the_config_is_read() {
    for input in [
        "llama\"cpp",
        "llama${x}",
        "llama.cpp",
        "in",
        "1llama",
        "llama cpp",
        "a\nb",
    ] {
        let err = config_with(&format!("input = {}", toml_string(input))).unwrap_err();
        assert!(err.contains("not a name Nix can take"), "{input:?}: {err}");
    }
    for overlay in ["nixos/my overlay.nix", "o\"${x}.nix", "o''.nix", "a\nb.nix"] {
        let err = config_with(&format!("overlay = {}", toml_string(overlay))).unwrap_err();
        assert!(err.contains("path literal"), "{overlay:?}: {err}");
    }
    for overlay in [
        "../outside.nix",
        "nixos/../../outside.nix",
        "/etc/overlay.nix",
    ] {
        let err = config_with(&format!("overlay = {}", toml_string(overlay))).unwrap_err();
        assert!(err.contains("inside it"), "{overlay:?}: {err}");
    }
    for fine in [
        "input = \"llama-cpp\"",
        "input = \"llama_cpp'\"",
        "overlay = \"nix/o+v-1.nix\"",
    ] {
        config_with(fine).unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// End to end

#[test]
fn up_with_a_hostile_url_writes_a_flake_nix_that_parses_and_means_that_url() {
    if !support::require_nix(
        "up_with_a_hostile_url_writes_a_flake_nix_that_parses_and_means_that_url",
    ) {
        return;
    }
    let repo = support::fixture_repo("seed");
    let dir = repo.path();
    let url = HOSTILE[0];
    repo.write(
        "flake-migrate.toml",
        &format!(
            "url = {}\n\n[hosts]\ncarbon = \"cuda\"\nberyllium = \"vulkan\"\n",
            toml_string(url)
        ),
    );
    repo.commit_all("configure with a hostile url");
    let out = Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .arg("-C")
        .arg(dir)
        .args(["--no-eval", "up", "--no-lock", "--to", "2"])
        .env("NO_COLOR", "1")
        .env("NIX_CONFIG", support::NIX_CONFIG)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(support::nix_parses(&dir.join("flake.nix")));
    let got = nix_eval_json(&[format!(
        "(import {}).inputs.llama-cpp.url",
        dir.join("flake.nix").display()
    )]);
    assert_eq!(got, serde_json::json!([url]));
    // Only the one input was added: nothing the url held became code.
    let names = nix_eval_json(&[format!(
        "builtins.attrNames (import {}).inputs",
        dir.join("flake.nix").display()
    )]);
    assert_eq!(
        names,
        serde_json::json!([[
            "home-manager",
            "llama-cpp",
            "nixos-hardware",
            "nixpkgs",
            "nixpkgs-stable"
        ]])
    );
}
