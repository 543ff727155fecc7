//! The floors `flake-migrate hook run` is measured against (BENCHMARKS.md).
//!
//! - `staged_floor diff REPO`: the minimal git2 + rnix program: libgit2's
//!   tree-to-index diff of HEAD against the index, then parse every staged
//!   `.nix` blob. One run per process, for hyperfine.
//! - `staged_floor parse REPO [ROUNDS]`: only the parsing of the staged
//!   `.nix` blobs, timed in-process over many rounds; prints microseconds per
//!   round (the part of the floor that `git diff --cached` does not do).

use std::time::Instant;

use git2::{DiffOptions, Repository};

fn staged_blobs(repo: &Repository) -> Vec<String> {
    let head = repo.head().unwrap().peel_to_tree().unwrap();
    let index = repo.index().unwrap();
    let mut opts = DiffOptions::new();
    let diff = repo
        .diff_tree_to_index(Some(&head), Some(&index), Some(&mut opts))
        .unwrap();
    diff.deltas()
        .filter(|d| {
            d.new_file()
                .path()
                .is_some_and(|p| p.extension().is_some_and(|e| e == "nix"))
        })
        .filter(|d| !d.new_file().id().is_zero())
        .map(|d| {
            let blob = repo.find_blob(d.new_file().id()).unwrap();
            String::from_utf8_lossy(blob.content()).into_owned()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: staged_floor diff REPO | staged_floor parse REPO [ROUNDS]";
    let (mode, path) = match &args[..] {
        [mode, path, ..] => (mode.as_str(), path.as_str()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let repo = Repository::open(path).unwrap();
    match mode {
        "diff" => {
            let nodes: usize = staged_blobs(&repo)
                .iter()
                .map(|text| rnix::Root::parse(text).syntax().descendants().count())
                .sum();
            std::hint::black_box(nodes);
        }
        "parse" => {
            let rounds: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(2000);
            let blobs = staged_blobs(&repo);
            let start = Instant::now();
            for _ in 0..rounds {
                for text in &blobs {
                    std::hint::black_box(rnix::Root::parse(text).tree());
                }
            }
            let per_round = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
            println!(
                "parsing {} staged .nix files: {per_round:.1} µs per round ({rounds} rounds)",
                blobs.len()
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
