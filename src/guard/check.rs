//! `flake-migrate check [--json] [PATH…]`: the active rules over the working
//! tree (tracked files), for CI and editors. And the same rules over HEAD,
//! for `status` to call a step drifted.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use git2::Repository;

use super::{Rule, Scope, Selection, Violation, report};
use crate::catalogue::Migration;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, exit};
use crate::files::{Files, Subdir, TreeFiles, WorkTree};
use crate::git;
use crate::record::{STATE_FILE, State};

pub struct CheckOptions {
    pub json: bool,
    /// Restrict to these files or directories (relative to `dir`).
    pub paths: Vec<PathBuf>,
    pub color: bool,
}

/// Runs the check and prints the report; returns the exit code.
pub fn command(dir: &Path, opts: &CheckOptions, out: &mut dyn Write) -> Result<i32> {
    let repo = git::open(dir)?;
    let workdir = git::workdir(&repo)?;
    let prefix = git::flake_prefix(&workdir, dir);
    let root = workdir.join(&prefix);
    let Some(config) = Config::load(&root)? else {
        if opts.json {
            let _ = writeln!(out, "{}", report::json(&[]));
        } else {
            let _ = writeln!(
                out,
                "nothing to check: no {CONFIG_FILE} yet (run `flake-migrate init`)"
            );
        }
        return Ok(exit::OK);
    };
    let state = State::load(&root)?;
    let rules = super::active_rules(&state);
    let selection = if opts.paths.is_empty() {
        Selection::All
    } else {
        Selection::Paths(
            opts.paths
                .iter()
                .map(|p| repo_relative(&root, dir, p))
                .collect::<Result<_>>()?,
        )
    };
    // The index read as the hook reads it: libgit2 also checks the whole
    // file's SHA-1 and copies every entry, a tenth of `check` on 20,000 files.
    let tracked = crate::files::StagedIndex::load(&repo)?.paths_under(&prefix);
    if let Selection::Paths(paths) = &selection
        && let Some((given, _)) = opts
            .paths
            .iter()
            .zip(paths)
            .find(|(_, p)| !root.join(p).exists() && !tracked.iter().any(|t| t.starts_with(p)))
    {
        // Checking nothing must not read as a pass in CI.
        return Err(Error::usage(
            format!("{} does not exist", given.display()),
            "give files or directories of the repository (or no path, to check everything)",
        ));
    }
    let tree = WorkTree::read_once(&root, tracked);
    let scope = Scope::new(
        &tree,
        &config,
        &state,
        rules.iter().map(|r| r.id).collect(),
        selection,
    );
    let violations = super::run(&scope, &rules)?;
    // The process ends after the report: freeing every file the scope read
    // one by one (20,000 on a large tree) would cost a tenth of the check.
    std::mem::forget(scope);
    if opts.json {
        let _ = writeln!(out, "{}", report::json(&violations));
    } else if rules.is_empty() {
        let _ = writeln!(
            out,
            "nothing to check: no step is applied yet, so no guard rule is on"
        );
    } else {
        let text = report::human(&violations, opts.color);
        if text.is_empty() {
            let ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
            let _ = writeln!(out, "ok: {} rule(s) pass: {}", ids.len(), ids.join(", "));
        } else {
            let _ = write!(out, "{text}");
        }
    }
    Ok(if violations.iter().any(|v| !v.allowed) {
        exit::VIOLATIONS
    } else {
        exit::OK
    })
}

/// `path` (as given on the command line, relative to `dir`) relative to the
/// flake's directory `root`.
fn repo_relative(root: &Path, dir: &Path, path: &Path) -> Result<PathBuf> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    };
    let full = full.canonicalize().unwrap_or_else(|_| normalize(&full));
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    full.strip_prefix(&root)
        .map(Path::to_path_buf)
        .map_err(|_| {
            Error::usage(
                format!(
                    "{} is outside the repository {}",
                    path.display(),
                    root.display()
                ),
                "give paths inside the repository",
            )
        })
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The violations of `migration`'s rules in HEAD's tree, with HEAD's config
/// and record, for the flake at `prefix`: what makes `status` call an
/// applied step drifted.
pub fn failing_on_head(
    repo: &Repository,
    prefix: &Path,
    migration: &Migration,
) -> Result<Vec<Violation>> {
    let rules: Vec<&'static Rule> = migration
        .guard
        .rules
        .iter()
        .filter_map(|id| super::rules::find(id))
        .collect();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let Ok(head) = repo.head().and_then(|h| h.peel_to_tree()) else {
        return Ok(Vec::new());
    };
    let head_files = TreeFiles::new(repo, head);
    let files = Subdir::new(&head_files, prefix);
    let Some(config_text) = files.read(Path::new(CONFIG_FILE))? else {
        return Ok(Vec::new());
    };
    let config = Config::parse(Path::new(CONFIG_FILE), &config_text)?;
    let state = match files.read(Path::new(STATE_FILE))? {
        Some(text) => State::parse(&text)?,
        None => State::default(),
    };
    let active = super::active_rules(&state);
    let scope = Scope::new(
        &files,
        &config,
        &state,
        active.iter().map(|r| r.id).collect(),
        Selection::All,
    );
    Ok(super::run(&scope, &rules)?
        .into_iter()
        .filter(|v| !v.allowed)
        .collect())
}

/// Why `status` should call `migration` drifted: its first rule failing on
/// HEAD, or `None` when they all pass.
pub fn drift(repo: &Repository, prefix: &Path, migration: &Migration) -> Result<Option<String>> {
    let violations = failing_on_head(repo, prefix, migration)?;
    let Some(first) = violations.first() else {
        return Ok(None);
    };
    let place = match first.position {
        Some((line, col)) => format!("{}:{line}:{col}", first.finding.path.display()),
        None => first.finding.path.display().to_string(),
    };
    let more = match violations.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    Ok(Some(format!(
        "its guard rule `{}` fails on HEAD: {place}: {}{more}; run `flake-migrate check` for details",
        first.rule.id, first.finding.message
    )))
}
