//! `flake-migrate demo [DIR]`: the seed plan's fleet as a git repository,
//! migrated step by step, with the guard blocking a regression. Needs no
//! `nix`: what needs it (flake.lock, the verification) is said and skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{init, status};
use crate::engine::{self, RunOptions, Session};
use crate::error::{Error, Result};
use crate::output::{self, Stream};
use crate::{git, guard};

macro_rules! example {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../tests/fixtures/repos/seed/", $path)))),*]
    };
}

/// The example configuration: the seed plan's layout (carbon with an NVIDIA
/// card, beryllium with an AMD iGPU, boron without llama.cpp, and the old
/// variants overlay). The same files are the `seed` test fixture.
const EXAMPLE: &[(&str, &str)] = example!(
    "flake.nix",
    "home/dan.nix",
    "machines/beryllium.nix",
    "machines/boron.nix",
    "machines/carbon.nix",
    "machines/hardware/beryllium.nix",
    "machines/hardware/boron.nix",
    "machines/hardware/carbon.nix",
    "nixos/default.nix",
    "nixos/pkgs/llama-cpp-variants.nix",
);

pub fn run(dir: Option<PathBuf>, out: &mut dyn Write) -> Result<()> {
    let dir = match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(&d)
                    .map_err(|e| Error::io(&d, e))?
                    .next()
                    .is_some()
            {
                return Err(Error::refused(
                    format!("{} is not empty", d.display()),
                    "give the demo a new or empty directory, or none for a temporary one",
                ));
            }
            d
        }
        None => tempfile::Builder::new()
            .prefix("flake-migrate-demo-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?
            .keep(),
    };
    create_repository(&dir)?;
    let color = output::color(Stream::Stdout);
    let _ = writeln!(
        out,
        "The example fleet, as a git repository in {}\n",
        dir.display()
    );

    // The demo's inputs are not fetched, so it reads the flake statically.
    step(out, "flake-migrate init --yes --no-eval");
    {
        let session = Session::open_for_change(&dir, out)?;
        init::run(
            &session,
            &init::InitOptions {
                hosts: vec![],
                yes: true,
                nix_args: vec![],
                no_eval: true,
            },
            out,
        )?;
    }
    step(out, "flake-migrate status --no-eval");
    print_status(&dir, color, out)?;

    step(out, "flake-migrate up --to 5 --no-lock --no-eval");
    let _ = writeln!(
        out,
        "(--no-lock: this demo does not fetch the upstream flake; step 6, `nix flake check`, needs it and is left for a real run)"
    );
    {
        let session = Session::open_for_change(&dir, out)?;
        let opts = RunOptions {
            to: Some("5".into()),
            no_lock: true,
            no_eval: true,
            ..RunOptions::default()
        };
        engine::up(&session, &opts, out)?;
    }
    step(out, "flake-migrate status --no-eval");
    print_status(&dir, color, out)?;

    step(out, "flake-migrate hook install");
    let repo = git::open(&dir)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("flake-migrate", e))?;
    guard::hook::install(&repo, &exe, out)?;

    let regression = Path::new("machines/carbon.nix");
    step(
        out,
        "sed -i 's/llama-cpp-cuda/llama-cpp/' machines/carbon.nix && git add machines/carbon.nix && git commit",
    );
    let full = dir.join(regression);
    let text = std::fs::read_to_string(&full).map_err(|e| Error::io(&full, e))?;
    git::write_atomic(
        &full,
        text.replacen("llama-cpp-cuda", "llama-cpp", 1).as_bytes(),
    )?;
    let mut index = repo.index()?;
    index.add_path(regression)?;
    index.write()?;
    let code = guard::hook::run(&repo, out, color)?;
    let _ = writeln!(
        out,
        "\nthe pre-commit hook exited with {code}: the commit is blocked. Putting the file back."
    );
    git::checkout_paths(&repo, &[regression.to_path_buf()])?;

    let _ = writeln!(
        out,
        "\nWhere to look (in {0}):\n  git log --format='%h %s%n%(trailers)'   one commit per checklist item, with its trailers\n  git show HEAD~1                         one step's diff\n  flake-migrate status                    the checklist\n  flake-migrate down --all                roll everything back",
        dir.display()
    );
    Ok(())
}

fn step(out: &mut dyn Write, command: &str) {
    let _ = writeln!(out, "\n$ {command}");
}

fn print_status(dir: &Path, color: bool, out: &mut dyn Write) -> Result<()> {
    let session = Session::open(dir)?;
    let eval = status::EvalOptions {
        nix_args: vec![],
        no_eval: true,
    };
    let steps = status::compute(&session, &eval)?;
    let _ = write!(
        out,
        "{}",
        status::render(&steps, session.config()?.as_ref(), color)
    );
    Ok(())
}

fn create_repository(dir: &Path) -> Result<()> {
    for (path, text) in EXAMPLE {
        git::write_atomic(&dir.join(path), text.as_bytes())?;
    }
    let repo = git2::Repository::init(dir)?;
    if git::identities(&repo).is_err() {
        let mut config = repo.config()?;
        config.set_str("user.name", "flake-migrate demo")?;
        config.set_str("user.email", "demo@example.invalid")?;
    }
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let (author, committer) = git::identities(&repo)?;
    repo.commit(
        Some("HEAD"),
        &author,
        &committer,
        "My NixOS machines\n",
        &tree,
        &[],
    )?;
    Ok(())
}
