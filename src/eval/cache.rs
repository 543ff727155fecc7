//! Remembered discoveries: one per tree, nix arguments and flake directory,
//! under the git directory, so that `status` after `up` need not evaluate.

use std::path::{Path, PathBuf};

use super::discover::{DISCOVER_NIX, Discovery, HostFacts, MACHINES_NIX, UNITS_NIX, discover};
use crate::error::Result;
use crate::git;

/// [`discover`] for the repository `repo`, with the result cached under its
/// git directory (`flake-migrate/discover-<key>.json`), keyed by the content
/// tree, the nix arguments, `flake_dir` and this evaluation's own code. With
/// tracked changes in the working tree, the cache is neither read nor
/// written. Inputs overridden with mutable `path:` references are taken as
/// they were when the entry was written.
pub fn discover_cached(
    repo: &git2::Repository,
    flake_dir: &Path,
    nix_args: &[String],
) -> Result<Discovery> {
    if let Some(hit) = cached(repo, flake_dir, nix_args)? {
        return Ok(hit);
    }
    let root = git::workdir(repo)?;
    let found = discover(&root, flake_dir, nix_args)?;
    // Every host failing looks like a broken environment (no network, no
    // store), not like the tree's answer: not worth remembering.
    let all_unknown = found
        .hosts
        .values()
        .all(|h| matches!(h, HostFacts::Unknown { .. }));
    if !all_unknown && git::dirty_files(repo)?.is_empty() {
        let json = serde_json::to_vec(&found).expect("discovery serializes");
        git::write_atomic(&cache_path(repo, flake_dir, nix_args)?, &json)?;
    }
    Ok(found)
}

/// The remembered answer for HEAD's tree, if there is one and the working
/// tree has no tracked changes; never runs nix.
pub fn cached(
    repo: &git2::Repository,
    flake_dir: &Path,
    nix_args: &[String],
) -> Result<Option<Discovery>> {
    if !git::dirty_files(repo)?.is_empty() {
        return Ok(None);
    }
    Ok(std::fs::read(cache_path(repo, flake_dir, nix_args)?)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

fn cache_path(repo: &git2::Repository, flake_dir: &Path, nix_args: &[String]) -> Result<PathBuf> {
    Ok(repo.path().join("flake-migrate").join(format!(
        "discover-{}.json",
        cache_key(repo, flake_dir, nix_args)?
    )))
}

/// Remembers `discovery` as the answer for HEAD as it is now. `up` calls
/// this after its commits: they change what the hosts install, not where
/// things are (which hosts exist, which files define their options, their
/// own modules), which is all the steps ask of it, so `status` after `up`
/// need not evaluate again. Files the commits deleted are dropped from it.
/// `up` passes its proof's discovery of the planned tree when it has one;
/// otherwise the `origin`s describe the tree before `up`.
pub fn carry_forward(
    repo: &git2::Repository,
    flake_dir: &Path,
    nix_args: &[String],
    discovery: &Discovery,
) -> Result<()> {
    let root = git::workdir(repo)?.join(flake_dir);
    let mut kept = discovery.clone();
    for facts in kept.hosts.values_mut() {
        if let HostFacts::Known(info) = facts {
            info.module_files.retain(|f| root.join(f).exists());
        }
    }
    let json = serde_json::to_vec(&kept).expect("discovery serializes");
    git::write_atomic(&cache_path(repo, flake_dir, nix_args)?, &json)
}

fn cache_key(repo: &git2::Repository, flake_dir: &Path, nix_args: &[String]) -> Result<String> {
    let mut text = git::content_tree(repo, flake_dir)?.to_string();
    for part in std::iter::once(flake_dir.to_string_lossy().into_owned())
        .chain(nix_args.iter().cloned())
        .chain([
            DISCOVER_NIX.to_string(),
            MACHINES_NIX.to_string(),
            UNITS_NIX.to_string(),
        ])
    {
        text.push('\0');
        text.push_str(&part);
    }
    Ok(git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())?.to_string())
}
