//! Tests of `discover.rs` (kept apart to keep it short).

use super::*;

#[test]
fn store_copies_of_the_flakes_files_are_named_as_in_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("modules")).unwrap();
    std::fs::write(dir.path().join("modules/common.nix"), "{ }").unwrap();
    let text = "error: attribute 'x' missing\n  at /nix/store/abc-source/modules/common.nix:4:11:\n  \
                in `/nix/store/def-source/lib/modules.nix'";
    assert_eq!(
        localize(text, dir.path()),
        "error: attribute 'x' missing\n  at modules/common.nix:4:11:\n  \
         in `/nix/store/def-source/lib/modules.nix'"
    );
}

#[test]
fn the_trace_says_which_host_and_of_how_many() {
    assert_eq!(
        progress("trace: flake-migrate: evaluating my (odd) host (of 12)"),
        Some(("my (odd) host", 12))
    );
    assert_eq!(progress("warning: Git tree is dirty"), None);
}

#[test]
fn store_paths_become_repository_paths_and_echoes_go() {
    let json = r#"{"root":"/nix/store/x-source","names":["a","b"],"hosts":{
      "a":{"known":{"kind":"nixos","attr":"a","system":"x86_64-linux","inputsInModules":true,
        "hostNameFiles":["/nix/store/n-source/nixos/modules/misc/base.nix","/nix/store/x-source/hosts/a.nix"],
        "packages":[
          {"option":"home-manager.users.bob.home.packages","file":"/nix/store/x-source/home/bob.nix","name":"llama-cpp-6000","origin":"nixpkgs"},
          {"option":"users.users.bob.packages","file":"/nix/store/h-source/nixos/default.nix","name":"llama-cpp-6000","origin":"nixpkgs"}],
        "service":[],"overlays":[{"file":"/nix/store/x-source/overlays/llama.nix","names":["llama-cpp"],"fromPrevLlama":["llama-cpp"]}],
        "overlaysIgnored":"pkgs passed through specialArgs",
        "moduleFiles":["/nix/store/x-source/hosts/a.nix","<unknown-file>"]}},
      "b":{"error":"evaluation failed"}}}"#;
    let d = parse(json.as_bytes())
        .unwrap()
        .into_discovery(Path::new(""));
    let HostFacts::Known(a) = &d.hosts["a"] else {
        panic!("{d:?}")
    };
    assert_eq!(a.own_module, Some(PathBuf::from("hosts/a.nix")));
    assert_eq!(a.packages.len(), 1, "{:?}", a.packages);
    assert_eq!(a.packages[0].file, Some(PathBuf::from("home/bob.nix")));
    assert_eq!(
        a.overlays_take_effect,
        Err("pkgs passed through specialArgs".into())
    );
    let files: Vec<&str> = a.module_files.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(files, ["home/bob.nix", "hosts/a.nix", "overlays/llama.nix"]);
    assert!(matches!(d.hosts["b"], HostFacts::Unknown { .. }));
}
