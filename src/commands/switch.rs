//! `flake-migrate switch --host H` runs the switch on this machine (only
//! when asked) and records it; `flake-migrate confirm --host H` records one
//! done elsewhere, or, when the running NixOS reports its
//! `configurationRevision`, the commit it runs (checklist item 7).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::catalogue::{Migration, Operation};
use crate::config::{Config, Variant};
use crate::engine::{self, Session};
use crate::error::{Error, Result, exit};
use crate::git;
use crate::machine::{hostname, is_root, running_revision, which};
use crate::output::{say, spinner};

use super::switch_program;
use crate::record::{Applied, State, Switch};
use crate::steps::switch::Coverage;

fn switch_step(session: &Session) -> &Migration {
    session
        .migrations
        .iter()
        .find(|m| matches!(m.operation, Operation::Switch))
        .expect("the bundled plan has a switch step")
}

fn host_variant(config: &Config, host: &str) -> Result<Variant> {
    config.hosts.get(host).copied().ok_or_else(|| {
        Error::usage(
            format!("no host `{host}` in flake-migrate.toml"),
            if config.hosts.is_empty() {
                "add hosts under [hosts], or run `flake-migrate init`".to_string()
            } else {
                format!(
                    "use one of: {}",
                    config.hosts.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            },
        )
    })
}

/// When this machine is configured host H, runs a commit of this repository
/// (by its configurationRevision) and has no recorded switch: (H, commit).
pub fn running_host(session: &Session, config: &Config) -> Option<(String, String)> {
    let host = hostname()?;
    config.hosts.get(&host)?;
    let rev = running_revision()?;
    let commit = git::commit_in_history(&session.repo, &rev)?;
    Some((host, commit))
}

/// A line for `status`: this machine already runs a commit of the repository.
pub fn status_hint(session: &Session, config: &Config, state: &State) -> Option<String> {
    let (host, commit) = running_host(session, config)?;
    if state.switch.iter().any(|s| s.host == host) {
        return None;
    }
    Some(format!(
        "this machine, {host}, runs commit {} of this repository (its configurationRevision): `flake-migrate confirm --host {host}` records it",
        &commit[..10]
    ))
}

/// Records `entry` (replacing an older one of the same host) and, when that
/// completes the coverage, the step itself, in one commit.
fn record_switch(
    session: &Session,
    config: &Config,
    entry: Switch,
    summary: String,
    out: &mut dyn Write,
) -> Result<()> {
    let m = switch_step(session);
    let mut state = session.state()?;
    state.switch.retain(|s| s.host != entry.host);
    let subject = format!(
        "Record a successful switch of {} ({})",
        entry.host, entry.variant
    );
    state.switch.push(entry);
    state.switch.sort_by(|a, b| a.host.cmp(&b.host));
    let coverage = Coverage::of(config, &state);
    let complete = coverage.complete();
    if complete && !state.is_applied(&m.id) {
        state.record(Applied::without_edits(m, false));
    }
    let notes = vec![summary.clone(), coverage.describe()];
    engine::record(session, m, &state, Some(&subject), &notes)?;
    let _ = writeln!(out, "{summary} (committed)");
    let _ = writeln!(
        out,
        "{}: {}{}",
        m.id,
        coverage.describe(),
        if complete {
            " — every variant has a switched host"
        } else {
            ""
        }
    );
    Ok(())
}

/// `flake-migrate switch --host H [--force] [-- ARGS]`.
pub fn switch(
    dir: &Path,
    host: &str,
    force: bool,
    args: &[String],
    out: &mut dyn Write,
) -> Result<i32> {
    let session = &Session::open_for_change(dir, out)?;
    let config = session.require_config()?;
    let variant = host_variant(&config, host)?;
    session.refuse_dirty()?;
    let (kind, attr) = switch_program::kind_of(&session.work_tree()?, host)?;
    let remote = args.iter().any(|a| a == "--target-host");
    if let Some(this) = hostname()
        && let Some(machine) = switch_program::machine_name(kind, &attr)
        && this != machine
        && !force
        && !remote
    {
        return Err(Error::usage(
            format!(
                "this machine is `{this}`: `switch --host {host}` would switch it to {host}'s configuration"
            ),
            format!(
                "run it on {machine}; or pass `-- --target-host root@{machine}` to switch {machine} over ssh; or, if this machine really is {machine}, add --force"
            ),
        ));
    }
    let head = git::head_commit(&session.repo)?.id().to_string();
    let (program, argv) =
        switch_program::switch_program(kind, host, &attr, args, |p| which(p).is_some())?;
    let shown = spinner::display(program, &argv);
    say(out, format!("running: {shown}"));
    let _ = out.flush();
    let status = Command::new(program)
        .current_dir(&session.root)
        .args(&argv)
        .status()
        .map_err(|e| Error::Failed(format!("could not run `{shown}`: {e}")))?;
    if !status.success() {
        let mut msg = format!("`{shown}` failed ({status}); nothing was recorded");
        if program == "nixos-rebuild" && !is_root() {
            msg.push_str(
                "\n  nixos-rebuild switch needs root: pass `-- --use-remote-sudo` (`--sudo` on recent NixOS), or install nh",
            );
        }
        return Err(Error::Failed(msg));
    }
    record_switch(
        session,
        &config,
        Switch {
            host: host.to_string(),
            variant,
            how: "switch".into(),
            commit: head.clone(),
        },
        format!(
            "{host} ({variant}): switched with `{program}` at {}",
            &head[..10]
        ),
        out,
    )?;
    Ok(exit::OK)
}

/// `flake-migrate confirm --host H`.
pub fn confirm(dir: &Path, host: &str, out: &mut dyn Write) -> Result<i32> {
    let session = &Session::open_for_change(dir, out)?;
    let config = session.require_config()?;
    let variant = host_variant(&config, host)?;
    session.refuse_dirty()?;
    let (entry, summary) = match running_host(session, &config) {
        Some((running, commit)) if running == host => (
            Switch {
                host: host.to_string(),
                variant,
                how: "configuration-revision".into(),
                commit: commit.clone(),
            },
            format!(
                "{host} ({variant}): this machine runs commit {} (its configurationRevision)",
                &commit[..10]
            ),
        ),
        _ => {
            let head = git::head_commit(&session.repo)?.id().to_string();
            (
                Switch {
                    host: host.to_string(),
                    variant,
                    how: "confirmed".into(),
                    commit: head.clone(),
                },
                format!(
                    "{host} ({variant}): switch confirmed by the user at {}",
                    &head[..10]
                ),
            )
        }
    };
    record_switch(session, &config, entry, summary, out)?;
    Ok(exit::OK)
}
