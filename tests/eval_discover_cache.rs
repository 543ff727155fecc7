//! `discover_cached`: a second discovery of the same tree and arguments
//! runs no nix at all; tracked changes bypass the cache. Alone in its test
//! binary because it changes PATH.

mod support;

use std::path::Path;

use flake_migrate::error::Error;
use flake_migrate::eval::discover::{HostFacts, discover_cached};
use support::{fixtures_dir, repo_from_dir, standin_override_args};

#[test]
fn a_second_discovery_is_read_from_the_cache() {
    require_nix!();
    let repo = repo_from_dir(&fixtures_dir().join("discover/subdir"), "cache");
    let flake = Path::new("nix");
    let args = standin_override_args(&repo.path().join(flake));
    let git = repo.git();
    let first = discover_cached(&git, flake, &args).expect("discover");
    assert!(
        matches!(first.hosts["good"], HostFacts::Known(_)),
        "{first:?}"
    );
    let entries = std::fs::read_dir(git.path().join("flake-migrate"))
        .expect("cache directory")
        .count();
    assert_eq!(entries, 1);

    // No nix on PATH from here on: only the cache can answer.
    let empty = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    // SAFETY: the only test of this binary; no other thread reads the
    // environment meanwhile.
    unsafe { std::env::set_var("PATH", empty.path()) };
    let second = discover_cached(&git, flake, &args);
    let other_args = discover_cached(&git, flake, &args[..args.len() - 3]);
    repo.write(
        "nix/hosts/good.nix",
        "{ networking.hostName = \"good\"; }\n",
    );
    let dirty = discover_cached(&git, flake, &args);
    unsafe { std::env::set_var("PATH", path) };

    assert_eq!(second.expect("from the cache"), first);
    assert!(
        matches!(other_args, Err(Error::NixMissing { .. })),
        "{other_args:?}"
    );
    assert!(matches!(dirty, Err(Error::NixMissing { .. })), "{dirty:?}");
}
