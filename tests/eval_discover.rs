//! `eval::discover` against real nix and the stand-ins: hosts built in the
//! shapes a static reading of flake.nix misses (tests/fixtures/discover/).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flake_migrate::eval::discover::{
    Definition, Discovery, HostFacts, HostInfo, Origin, OverlayDef, discover,
};
use support::{fixtures_dir, repo_from_dir, standin_override_args};

fn fleet() -> &'static Discovery {
    static FLEET: OnceLock<Discovery> = OnceLock::new();
    FLEET.get_or_init(|| {
        let repo = repo_from_dir(&fixtures_dir().join("discover/fleet"), "fleet");
        let args = standin_override_args(repo.path());
        let start = std::time::Instant::now();
        let found = discover(repo.path(), Path::new(""), &args).expect("discover");
        eprintln!("discovering the fleet took {:?}", start.elapsed());
        found
    })
}

fn host(name: &str) -> &'static HostInfo {
    match &fleet().hosts[name] {
        HostFacts::Known(info) => info,
        HostFacts::Unknown { error } => panic!("{name} is unknown: {error}"),
    }
}

fn def(option: &str, file: Option<&str>, name: &str, origin: Origin) -> Definition {
    Definition {
        option: option.into(),
        file: file.map(PathBuf::from),
        name: name.into(),
        origin,
        backend: None,
    }
}

/// `d` with the GPU backend its build's cmake flags turn on.
fn built(d: Definition, backend: &str) -> Definition {
    Definition {
        backend: Some(backend.into()),
        ..d
    }
}

fn files(info: &HostInfo) -> Vec<&str> {
    info.module_files
        .iter()
        .map(|p| p.to_str().unwrap())
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn every_host_is_found_whatever_builds_it() {
    require_nix!();
    let names: Vec<&str> = fleet().hosts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "alpha", "beta", "broken", "delta", "epsilon", "eta", "gamma", "iota", "zeta"
        ]
    );
}

#[test]
fn list_built_hosts_say_which_file_installs_what() {
    require_nix!();
    let alpha = host("alpha");
    assert_eq!(alpha.system, "x86_64-linux");
    assert!(alpha.inputs_in_modules);
    assert_eq!(alpha.own_module, Some(PathBuf::from("hosts/alpha.nix")));
    assert_eq!(
        alpha.packages,
        [def(
            "environment.systemPackages",
            Some("hosts/alpha.nix"),
            "llama-cpp-6000",
            Origin::Nixpkgs
        )]
    );
    assert_eq!(alpha.overlays_take_effect, Ok(()));
    assert_eq!(files(alpha), ["hosts/alpha.nix"]);
    // pkgs.callPackage ../pkgs/llama.nix {}: nixpkgs' llama-cpp, overridden
    // (its cmake flags say Vulkan).
    assert_eq!(
        host("beta").packages,
        [built(
            def(
                "environment.systemPackages",
                Some("hosts/beta.nix"),
                "llama-cpp-6000",
                Origin::Nixpkgs
            ),
            "vulkan"
        )]
    );
}

#[test]
fn a_module_reached_through_self_is_its_own_file() {
    require_nix!();
    let gamma = host("gamma");
    assert_eq!(gamma.own_module, Some(PathBuf::from("hosts/gamma.nix")));
    assert!(gamma.packages.is_empty(), "{:?}", gamma.packages);
    assert_eq!(
        gamma.service,
        [
            def(
                "services.llama-cpp.enable",
                Some("modules/llm.nix"),
                "true",
                Origin::Other
            ),
            def(
                "services.llama-cpp.package",
                Some("modules/llm.nix"),
                "llama-cpp-blas-0.0.0",
                Origin::Upstream
            ),
        ]
    );
    assert_eq!(files(gamma), ["hosts/gamma.nix", "modules/llm.nix"]);
}

#[test]
fn users_and_home_manager_users_are_attributed() {
    require_nix!();
    let delta = host("delta");
    assert_eq!(delta.system, "aarch64-linux");
    // home-manager's useUserPackages echo (users.users.bob.packages from
    // home-manager's own module) is not a second place.
    assert_eq!(
        delta.packages,
        [
            def(
                "users.users.alice.packages",
                Some("hosts/delta.nix"),
                "llama-cpp-6000",
                Origin::Nixpkgs
            ),
            def(
                "home-manager.users.bob.home.packages",
                Some("home/bob.nix"),
                "llama-cpp-6000",
                Origin::Nixpkgs
            ),
        ]
    );
    assert_eq!(files(delta), ["home/bob.nix", "hosts/delta.nix"]);
}

#[test]
fn a_function_made_module_and_an_overlay_file() {
    require_nix!();
    let epsilon = host("epsilon");
    // (import ../modules/m.nix { port = 8080; }) in a nixosSystem modules
    // list: nixpkgs attributes it to its own flake, so nix cannot tell; its
    // service runs the default package, nixpkgs' (overlaid) llama-cpp.
    assert_eq!(
        epsilon.service,
        [
            def("services.llama-cpp.enable", None, "true", Origin::Other),
            built(
                def(
                    "services.llama-cpp.package",
                    None,
                    "llama-cpp-6000",
                    Origin::Nixpkgs
                ),
                "cuda"
            ),
        ]
    );
    assert_eq!(
        epsilon.overlays,
        [OverlayDef {
            file: Some(PathBuf::from("hosts/epsilon.nix")),
            names: s(&["llama-cpp", "llama-tools"]),
            from_prev_llama: s(&["llama-cpp"]),
        }]
    );
    assert_eq!(epsilon.overlays_take_effect, Ok(()));
}

#[test]
fn overlays_that_cannot_take_effect_say_why() {
    require_nix!();
    let eta = host("eta");
    assert_eq!(
        eta.overlays_take_effect,
        Err("_module.args.pkgs forced".to_string())
    );
    assert_eq!(eta.overlays[0].from_prev_llama, s(&["my-llama"]));
    let zeta = host("zeta");
    assert_eq!(
        zeta.overlays_take_effect,
        Err("pkgs passed through specialArgs".to_string())
    );
    assert!(zeta.inputs_in_modules);
    assert_eq!(
        zeta.packages,
        [def(
            "environment.systemPackages",
            Some("hosts/zeta.nix"),
            "llama-cpp-6000",
            Origin::Nixpkgs
        )]
    );
}

#[test]
fn inline_modules_of_flake_nix_are_in_no_file() {
    require_nix!();
    let iota = host("iota");
    assert!(!iota.inputs_in_modules);
    assert_eq!(iota.own_module, None);
    assert_eq!(
        iota.packages,
        [def(
            "environment.systemPackages",
            None,
            "llama-cpp-6000",
            Origin::Nixpkgs
        )]
    );
    assert!(iota.module_files.is_empty(), "{:?}", iota.module_files);
}

#[test]
fn a_throwing_host_is_unknown_with_nix_message() {
    require_nix!();
    match &fleet().hosts["broken"] {
        HostFacts::Unknown { error } => assert!(error.contains("broken on purpose"), "{error}"),
        known => panic!("{known:?}"),
    }
}

#[test]
fn a_flake_below_the_root_and_an_error_try_cannot_catch() {
    require_nix!();
    let repo = repo_from_dir(&fixtures_dir().join("discover/subdir"), "subdir");
    let args = standin_override_args(&repo.path().join("nix"));
    let found = discover(repo.path(), Path::new("nix"), &args).expect("discover");
    // Paths are the flake's own (relative to nix/), as the steps read them.
    let hosts: BTreeMap<&str, &HostFacts> =
        found.hosts.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let HostFacts::Known(good) = hosts["good"] else {
        panic!("{hosts:?}")
    };
    assert_eq!(good.own_module, Some(PathBuf::from("hosts/good.nix")));
    assert_eq!(
        good.packages,
        [def(
            "environment.systemPackages",
            Some("hosts/good.nix"),
            "llama-cpp-6000",
            Origin::Nixpkgs
        )]
    );
    match hosts["missing"] {
        HostFacts::Unknown { error } => assert!(error.contains("no-such-package"), "{error}"),
        known => panic!("{known:?}"),
    }
}
