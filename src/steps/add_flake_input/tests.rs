use super::*;
use crate::config::Config;
use crate::files::WorkTree;
use crate::record::State;

fn run(flake_text: &str) -> Plan {
    run_with(flake_text, None)
}

fn run_with(flake_text: &str, config_text: Option<&str>) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flake.nix"), flake_text).unwrap();
    if let Some(c) = config_text {
        std::fs::write(dir.path().join(CONFIG_FILE), c).unwrap();
    }
    let files = WorkTree::new(dir.path(), vec!["flake.nix".into()]);
    let config = Config::default();
    let state = State::default();
    let ctx = Context {
        files: &files,
        config: &config,
        state: &state,
        discovery: None,
    };
    plan(&ctx, "nixpkgs").unwrap()
}

fn new_text(flake_text: &str) -> String {
    match run(flake_text) {
        Plan::Changes(c) => c.files[Path::new("flake.nix")].clone().unwrap(),
        other => panic!("expected changes, got {other:?}"),
    }
}

#[test]
fn nested_sets_get_a_nested_set() {
    let out = new_text(
        "{\n  inputs = {\n    nixpkgs.url = \"github:NixOS/nixpkgs\"; # unstable\n    hm = {\n      url = \"x\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n",
    );
    assert_eq!(
        out,
        "{\n  inputs = {\n    nixpkgs.url = \"github:NixOS/nixpkgs\"; # unstable\n    hm = {\n      url = \"x\";\n    };\n    llama-cpp = {\n      url = \"github:ggml-org/llama.cpp\";\n      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n"
    );
}

#[test]
fn dotted_inputs_get_dotted_lines_and_formals_get_the_name_and_binding() {
    let out =
        new_text("{\n\tinputs.nixpkgs.url = \"n\";\n\n\toutputs = { self, nixpkgs }: { };\n}\n");
    assert_eq!(
        out,
        "{\n\tinputs.nixpkgs.url = \"n\";\n\tinputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n\tinputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n\n\toutputs = { self, nixpkgs, llama-cpp }@inputs: { };\n}\n"
    );
}

#[test]
fn an_existing_input_only_gets_the_missing_follows() {
    let out = new_text(
        "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n  outputs = inputs: { };\n}\n",
    );
    assert!(out.contains("  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n  inputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n"), "{out}");
    assert_eq!(out.matches("llama-cpp.url").count(), 1);
}

#[test]
fn a_complete_input_is_satisfied() {
    let plan = run(
        "{ inputs.nixpkgs.url = \"n\"; inputs.llama-cpp = { url = \"github:ggml-org/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs\"; }; outputs = { self, ... }@inputs: { }; }",
    );
    assert!(matches!(plan, Plan::Satisfied), "{plan:?}");
}

#[test]
fn a_fork_under_the_same_name_is_refused() {
    let plan = run(
        "{ inputs.nixpkgs.url = \"n\"; inputs.llama-cpp.url = \"github:someone/llama.cpp\"; outputs = inputs: { }; }",
    );
    match plan {
        Plan::Blocked { reason, .. } => assert!(reason.contains("github:someone/llama.cpp")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn trailing_comma_formals_keep_their_layout() {
    let out = new_text(
        "{\n  inputs.nixpkgs.url = \"n\";\n  outputs =\n    {\n      self,\n      nixpkgs,\n    }@inputs:\n    { };\n}\n",
    );
    assert!(
        out.contains("      nixpkgs,\n      llama-cpp,\n    }@inputs:"),
        "{out}"
    );
}

#[test]
fn an_upstream_input_under_another_name_is_reused_and_the_config_names_it() {
    let flake = "{\n  inputs = {\n    nixpkgs.url = \"n\";\n    llama-cpp-flake = {\n      url = \"github:ggml-org/llama.cpp/b6500\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n";
    let config = "# mine\ninput = \"llama-cpp\" # the default\n\n[hosts]\ncarbon = \"cuda\"\n";
    let Plan::Changes(c) = run_with(flake, Some(config)) else {
        panic!("expected changes");
    };
    let out = c.files[Path::new("flake.nix")].clone().unwrap();
    assert_eq!(
        out,
        "{\n  inputs = {\n    nixpkgs.url = \"n\";\n    llama-cpp-flake = {\n      url = \"github:ggml-org/llama.cpp/b6500\";\n      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n",
        "the pin stays, the follows is added, no second input"
    );
    let written = c.files[Path::new(CONFIG_FILE)].clone().unwrap();
    assert_eq!(
        written,
        "# mine\ninput = \"llama-cpp-flake\" # the default\n\n[hosts]\ncarbon = \"cuda\"\n"
    );
    assert_eq!(
        Config::parse(Path::new(CONFIG_FILE), &written)
            .unwrap()
            .input,
        "llama-cpp-flake"
    );
}

#[test]
fn a_config_without_an_input_line_gets_one_above_its_settings() {
    let text = naming_input(
        &Config::default(),
        Some("# c\n\n[hosts]\nx = \"cpu\"\n"),
        "up",
    )
    .unwrap();
    assert_eq!(text, "# c\n\ninput = \"up\"\n\n[hosts]\nx = \"cpu\"\n");
}

#[test]
fn a_generated_flake_is_refused_with_the_manual_step() {
    let plan = run(
        "# DO-NOT-EDIT. This file was auto-generated using github:vic/flake-file\n{ inputs.nixpkgs.url = \"n\"; outputs = inputs: { }; }\n",
    );
    match plan {
        Plan::Blocked { reason, help } => {
            assert!(reason.contains("github:vic/flake-file"), "{reason}");
            assert!(
                help.contains("llama-cpp = { url = \"github:ggml-org/llama.cpp\""),
                "{help}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_input_takes_the_depth_of_its_neighbours_not_of_one_odd_line() {
    let out = new_text(
        "{\n  inputs = {\n      nixpkgs.url = \"n\";\n      hm = {\n        url = \"x\";\n         # one odd line\n      };\n  };\n  outputs = inputs: { };\n}\n",
    );
    assert!(
        out.contains("      llama-cpp = {\n        url = \"github:ggml-org/llama.cpp\";\n        inputs.nixpkgs.follows = \"nixpkgs\";\n      };\n"),
        "{out}"
    );
}

#[test]
fn the_follows_goes_on_its_own_line_like_the_url_or_beside_it_on_one_line() {
    let out = new_text(
        "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp = {\n    url = \"github:ggml-org/llama.cpp\"; # upstream\n    flake = true;\n  };\n  outputs = inputs: { };\n}\n",
    );
    assert!(
        out.contains("    url = \"github:ggml-org/llama.cpp\"; # upstream\n    inputs.nixpkgs.follows = \"nixpkgs\";\n    flake = true;\n"),
        "{out}"
    );
    let out = new_text(
        "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp = { url = \"github:ggml-org/llama.cpp\"; flake = true; };\n  outputs = inputs: { };\n}\n",
    );
    assert!(
        out.contains("{ url = \"github:ggml-org/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs\"; flake = true; }"),
        "{out}"
    );
}

/// `flake_text` planned with a module whose old override pins `src` to b6500.
fn with_pinned_override(flake_text: &str) -> Changeset {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flake.nix"), flake_text).unwrap();
    std::fs::write(
        dir.path().join("m.nix"),
        "{ pkgs, ... }: { environment.systemPackages = [ (pkgs.llama-cpp.overrideAttrs (o: { src = pkgs.fetchFromGitHub { owner = \"ggml-org\"; repo = \"llama.cpp\"; rev = \"b6500\"; hash = \"\"; }; })) ]; }\n",
    )
    .unwrap();
    let files = WorkTree::new(dir.path(), vec!["flake.nix".into(), "m.nix".into()]);
    let (config, state) = (Config::default(), State::default());
    let ctx = Context {
        files: &files,
        config: &config,
        state: &state,
        discovery: None,
    };
    match plan(&ctx, "nixpkgs").unwrap() {
        Plan::Changes(c) => c,
        other => panic!("expected changes, got {other:?}"),
    }
}

#[test]
fn an_input_with_its_own_revision_keeps_it_and_says_so() {
    let c = with_pinned_override(
        "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp/b6000\";\n  outputs = { self, ... }@inputs: { };\n}\n",
    );
    let flake = c.files[Path::new("flake.nix")].clone().unwrap();
    assert!(flake.contains("llama.cpp/b6000\";"), "{flake}");
    assert_eq!(
        c.notes,
        [
            "input `llama-cpp` keeps its own url `github:ggml-org/llama.cpp/b6000`; the old overrides built b6500 (src pinned to b6500 in m.nix:1:85), which 0004 and 0005 list as not carried"
        ]
    );
}

#[test]
fn an_unpinned_input_takes_the_old_overrides_revision() {
    let c = with_pinned_override(
        "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\"; # upstream\n  outputs = { self, ... }@inputs: { };\n}\n",
    );
    let flake = c.files[Path::new("flake.nix")].clone().unwrap();
    assert!(
        flake.contains(
            "inputs.llama-cpp.url = \"github:ggml-org/llama.cpp/b6500\"; # upstream\n  inputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";"
        ),
        "{flake}"
    );
    assert!(c.lock_flake);
    assert!(
        c.notes[0].starts_with("input `llama-cpp` is pinned to b6500"),
        "{:?}",
        c.notes
    );
}
