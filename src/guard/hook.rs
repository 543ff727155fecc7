//! `flake-migrate hook install | uninstall | run`.
//!
//! The hook goes where `git rev-parse --git-path hooks` points: the
//! `core.hooksPath` directory when set (relative to the top of the working
//! tree, as git runs hooks there), else the common git directory's `hooks/`,
//! shared by every worktree. A hook already there is moved aside and run
//! first by ours, never overwritten; uninstalling moves it back unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;

use super::{Scope, Selection, report, staged};
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, exit};
use crate::files::{Files, StagedFiles, StagedIndex, Subdir, TreeFiles};
use crate::output::say;
use crate::record::{STATE_FILE, State};

const TEMPLATE: &str = include_str!("../../hooks/pre-commit");
const PLACEHOLDER: &str = "@FLAKE_MIGRATE@";
/// Every script we install carries this line.
const MARKER: &str = "# flake-migrate-hook:";
pub const HOOK_NAME: &str = "pre-commit";
/// Where a hook that was there before ours is kept (ours runs it first).
pub const PREVIOUS_NAME: &str = "pre-commit.before-flake-migrate";

/// The repository to work on: the one git names in `GIT_DIR` when it runs
/// the hook, else the one holding `dir`.
pub fn open(dir: &Path) -> Result<Repository> {
    if std::env::var_os("GIT_DIR").is_some() {
        return Ok(Repository::open_from_env()?);
    }
    crate::git::open(dir)
}

/// The directory git runs hooks from.
pub fn hooks_dir(repo: &Repository) -> Result<PathBuf> {
    let config = repo.config()?;
    match config.get_path("core.hooksPath") {
        Ok(p) if p.is_absolute() => Ok(p),
        Ok(p) => Ok(repo.workdir().unwrap_or(repo.path()).join(p)),
        Err(_) => Ok(repo.commondir().join("hooks")),
    }
}

/// The script for a binary at `exe`.
pub fn script(exe: &Path) -> String {
    TEMPLATE.replace(PLACEHOLDER, &shell_quote(&exe.display().to_string()))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_ours(content: &[u8]) -> bool {
    String::from_utf8_lossy(content).contains(MARKER)
}

/// Reads a hook, `None` when there is none. A symlink counts as present
/// even when it dangles: it is the user's, and moved as it is.
fn read_hook(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
        Ok(_) => Ok(Some(std::fs::read(path).unwrap_or_default())),
    }
}

fn write_executable(path: &Path, content: &str) -> Result<()> {
    crate::git::write_atomic(path, content.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::io(from, e))
}

/// `hook install`: idempotent; chains a hook that is already there.
pub fn install(repo: &Repository, exe: &Path, out: &mut dyn Write) -> Result<()> {
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let hook = dir.join(HOOK_NAME);
    let previous = dir.join(PREVIOUS_NAME);
    let wanted = script(exe);
    match read_hook(&hook)? {
        Some(existing) if is_ours(&existing) => {
            if existing == wanted.as_bytes() {
                say(
                    out,
                    format!(
                        "the pre-commit hook is already installed in {}",
                        dir.display()
                    ),
                );
                return Ok(());
            }
            write_executable(&hook, &wanted)?;
            say(
                out,
                format!(
                    "updated the pre-commit hook in {} (binary {})",
                    dir.display(),
                    exe.display()
                ),
            );
        }
        Some(_) => {
            if read_hook(&previous)?.is_some() {
                return Err(Error::usage(
                    format!(
                        "{} is not flake-migrate's hook, and {} already holds another one",
                        hook.display(),
                        previous.display()
                    ),
                    "flake-migrate chains one existing hook; merge the two by hand (or delete the one you do not need), then run `flake-migrate hook install` again",
                ));
            }
            rename(&hook, &previous)?;
            if let Err(e) = write_executable(&hook, &wanted) {
                let _ = rename(&previous, &hook);
                return Err(e);
            }
            say(
                out,
                format!(
                    "installed the pre-commit hook in {}; the hook that was there moved to {} and runs first",
                    dir.display(),
                    PREVIOUS_NAME
                ),
            );
        }
        None => {
            write_executable(&hook, &wanted)?;
            say(
                out,
                format!("installed the pre-commit hook in {}", dir.display()),
            );
        }
    }
    say(
        out,
        "it checks staged files against the rules of the applied steps; `git commit --no-verify` bypasses it",
    );
    Ok(())
}

/// `hook uninstall`: removes ours and puts back what was there before.
pub fn uninstall(repo: &Repository, out: &mut dyn Write) -> Result<()> {
    let dir = hooks_dir(repo)?;
    let hook = dir.join(HOOK_NAME);
    let previous = dir.join(PREVIOUS_NAME);
    match read_hook(&hook)? {
        Some(existing) if is_ours(&existing) => {
            if read_hook(&previous)?.is_some() {
                rename(&previous, &hook)?;
                say(
                    out,
                    format!(
                        "removed the pre-commit hook from {} and restored the one that was there before",
                        dir.display()
                    ),
                );
            } else {
                std::fs::remove_file(&hook).map_err(|e| Error::io(&hook, e))?;
                say(
                    out,
                    format!("removed the pre-commit hook from {}", dir.display()),
                );
            }
        }
        _ => say(
            out,
            format!(
                "flake-migrate's pre-commit hook is not installed in {}; nothing to do",
                dir.display()
            ),
        ),
    }
    Ok(())
}

/// `hook run`: checks what the commit would change, from the index.
/// Returns the exit code: 0 to let the commit through, [`exit::VIOLATIONS`]
/// to block it.
pub fn run(repo: &Repository, err: &mut dyn Write, color: bool) -> Result<i32> {
    // libgit2 re-hashes every object it reads to check it; git itself does
    // not when it reads objects for a diff, and the hook reads trees and
    // blobs on every commit.
    git2::opts::strict_hash_verification(false);
    let index = StagedIndex::load(repo)?;
    let staged = StagedFiles::new(repo, index);
    let Some(prefix) = flake_prefix(staged.index()) else {
        return Ok(exit::OK);
    };
    let files = Subdir::new(&staged, &prefix);
    let Some(config_text) = files.read(Path::new(CONFIG_FILE))? else {
        return Ok(exit::OK);
    };
    let config = Config::parse(Path::new(CONFIG_FILE), &config_text)?;
    let state = match files.read(Path::new(STATE_FILE))? {
        Some(text) => State::parse(&text)?,
        None => return Ok(exit::OK),
    };
    let rules = super::active_rules(&state);
    if rules.is_empty() {
        return Ok(exit::OK);
    }
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let changes = staged::changes(repo, staged.index(), head.as_ref())?.within(&prefix);
    if changes.is_empty() {
        return Ok(exit::OK);
    }
    let head_files = head.as_ref().map(|t| TreeFiles::new(repo, t.clone()));
    let previous = head_files.as_ref().map(|t| Subdir::new(t, &prefix));
    let mut scope = Scope::new(
        &files,
        &config,
        &state,
        rules.iter().map(|r| r.id).collect(),
        Selection::Staged(changes),
    );
    if let Some(previous) = &previous {
        scope = scope.with_previous(previous);
    }
    let violations = super::run(&scope, &rules)?;
    // The process ends next: freeing what the scope read costs more than
    // the rest of a small commit's check (see `check`).
    std::mem::forget(scope);
    if violations.iter().all(|v| v.allowed) {
        return Ok(exit::OK);
    }
    let _ = write!(err, "{}", report::human(&violations, color));
    let _ = writeln!(
        err,
        "The commit was blocked by flake-migrate's guard (positions are in the staged content).\n\
         Fix the staged files and `git add` them; allow an intentional exception with a\n\
         `# flake-migrate: allow RULE` comment; `git commit --no-verify` skips the check\n\
         (CI's `flake-migrate check` will still report it)."
    );
    Ok(exit::VIOLATIONS)
}

/// Where the migrated flake is in the index: the directory of the
/// shallowest `flake-migrate.toml` staged beside a `flake.nix` (the root for
/// most repositories). `None` when no flake is configured.
fn flake_prefix(index: &StagedIndex) -> Option<PathBuf> {
    index
        .files_named(CONFIG_FILE)
        .filter_map(|p| {
            let dir = p.strip_suffix(CONFIG_FILE)?;
            let flake = format!("{dir}{}", crate::flake::FLAKE_FILE);
            index.blob(Path::new(&flake)).is_some().then_some(dir)
        })
        .min_by_key(|dir| (dir.matches('/').count(), dir.to_string()))
        .map(|dir| PathBuf::from(dir.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_names_the_binary_quoted() {
        let s = script(Path::new("/opt/it's here/flake-migrate"));
        assert!(
            s.contains("installed='/opt/it'\\''s here/flake-migrate'"),
            "{s}"
        );
        assert!(is_ours(s.as_bytes()));
        assert!(!s.contains(PLACEHOLDER));
    }
}
