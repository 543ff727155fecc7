//! 0007: a successful switch on at least one host per variant. The step is
//! satisfied when every variant in the config has a recorded switch on a
//! host that still has that variant. `flake-migrate switch --host H` runs
//! the switch on this machine (only when asked) and records it;
//! `flake-migrate confirm --host H` records one done elsewhere, or, when the
//! running NixOS reports its `configurationRevision`, the commit it runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Context, Plan};
use crate::catalogue::{Migration, Operation};
use crate::config::{Config, Variant};
use crate::engine::{self, Session};
use crate::error::{Error, Result};
use crate::git;
use crate::output::spinner;
use crate::record::{Applied, State, Switch};

/// Which variants have a recorded switch, and which hosts could give one to
/// the others.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Variant -> hosts with a recorded switch (and still that variant).
    pub covered: BTreeMap<Variant, Vec<String>>,
    /// Variant -> hosts of that variant, none switched yet.
    pub missing: BTreeMap<Variant, Vec<String>>,
}

impl Coverage {
    pub fn of(config: &Config, state: &State) -> Coverage {
        let mut c = Coverage::default();
        for variant in config.variants() {
            let hosts: Vec<String> = config
                .hosts
                .iter()
                .filter(|(_, v)| **v == variant)
                .map(|(h, _)| h.clone())
                .collect();
            let switched: Vec<String> = hosts
                .iter()
                .filter(|h| {
                    state
                        .switch
                        .iter()
                        .any(|s| &s.host == *h && s.variant == variant)
                })
                .cloned()
                .collect();
            if switched.is_empty() {
                c.missing.insert(variant, hosts);
            } else {
                c.covered.insert(variant, switched);
            }
        }
        c
    }

    pub fn complete(&self) -> bool {
        self.missing.is_empty() && !self.covered.is_empty()
    }

    /// "cuda covered by carbon; no recorded switch yet for vulkan (beryllium)".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .covered
            .iter()
            .map(|(v, hosts)| format!("{v} covered by {}", hosts.join(", ")))
            .collect();
        if !self.missing.is_empty() {
            let missing: Vec<String> = self
                .missing
                .iter()
                .map(|(v, hosts)| format!("{v} ({})", hosts.join(", ")))
                .collect();
            parts.push(format!("no recorded switch yet for {}", missing.join(", ")));
        }
        parts.join("; ")
    }

    /// What to run: "on carbon and on beryllium or neon".
    pub fn help(&self) -> String {
        let places: Vec<String> = self
            .missing
            .values()
            .map(|hosts| format!("on {}", hosts.join(" or ")))
            .collect();
        let places = match places.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => places.join(""),
        };
        format!(
            "run `flake-migrate switch --host H` {places} (or `flake-migrate confirm --host H` for a switch already done there)"
        )
    }
}

pub fn plan(ctx: &Context) -> Result<Plan> {
    let coverage = Coverage::of(ctx.config, ctx.state);
    if ctx.config.hosts.is_empty() {
        return Ok(Plan::blocked(
            "no host has a variant in flake-migrate.toml",
            "add hosts under [hosts], or run `flake-migrate init`",
        ));
    }
    if coverage.complete() {
        return Ok(Plan::Satisfied);
    }
    Ok(Plan::blocked(coverage.describe(), coverage.help()))
}

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

/// An executable called `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// This machine's host name.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The `configurationRevision` the running NixOS reports, when it does:
/// `/run/current-system/configuration-revision`, else `nixos-version --json`.
pub fn running_revision() -> Option<String> {
    let from_file = std::fs::read_to_string("/run/current-system/configuration-revision")
        .ok()
        .map(|s| s.trim().to_string());
    let rev = from_file.filter(|s| !s.is_empty()).or_else(|| {
        let out = Command::new("nixos-version").arg("--json").output().ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("configurationRevision")?.as_str().map(String::from)
    })?;
    Some(rev)
}

/// The full id of `rev` when it is a commit in HEAD's history. A revision
/// with a `-dirty` suffix (built from an uncommitted tree) is not.
pub fn commit_in_history(repo: &git2::Repository, rev: &str) -> Option<String> {
    if rev.len() < 7 || !rev.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let commit = repo.revparse_single(rev).ok()?.peel_to_commit().ok()?;
    let head = git::head_commit(repo).ok()?.id();
    (commit.id() == head || repo.graph_descendant_of(head, commit.id()).ok()?)
        .then(|| commit.id().to_string())
}

/// When this machine is configured host H, runs a commit of this repository
/// (by its configurationRevision) and has no recorded switch: (H, commit).
pub fn running_host(session: &Session, config: &Config) -> Option<(String, String)> {
    let host = hostname()?;
    config.hosts.get(&host)?;
    let rev = running_revision()?;
    let commit = commit_in_history(&session.repo, &rev)?;
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
        state.record(Applied {
            id: m.id.clone(),
            checksum: m.checksum.clone(),
            adopted: false,
            files: Vec::new(),
        });
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
    session: &Session,
    host: &str,
    force: bool,
    args: &[String],
    out: &mut dyn Write,
) -> Result<()> {
    let config = session.require_config()?;
    let variant = host_variant(&config, host)?;
    session.refuse_dirty()?;
    let remote = args.iter().any(|a| a == "--target-host");
    if let Some(this) = hostname()
        && this != host
        && !force
        && !remote
    {
        return Err(Error::usage(
            format!(
                "this machine is `{this}`: `switch --host {host}` would switch it to {host}'s configuration"
            ),
            format!(
                "run it on {host}; or pass `-- --target-host root@{host}` to switch {host} over ssh; or, if this machine really is {host}, add --force"
            ),
        ));
    }
    let head = git::head_commit(&session.repo)?.id().to_string();
    let (program, argv): (&str, Vec<String>) = if which("nh").is_some() {
        (
            "nh",
            ["os", "switch", ".", "--hostname", host]
                .iter()
                .map(|s| s.to_string())
                .chain(args.iter().cloned())
                .collect(),
        )
    } else if which("nixos-rebuild").is_some() {
        (
            "nixos-rebuild",
            ["switch".to_string(), "--flake".into(), format!(".#{host}")]
                .into_iter()
                .chain(args.iter().cloned())
                .collect(),
        )
    } else {
        return Err(Error::Failed(format!(
            "neither `nh` nor `nixos-rebuild` is on PATH, so {host} cannot be switched from here; nothing was recorded. Switch it on a NixOS machine, then run `flake-migrate confirm --host {host}`"
        )));
    };
    let shown = spinner::display(program, &argv);
    let _ = writeln!(out, "running: {shown}");
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
    )
}

/// `flake-migrate confirm --host H`.
pub fn confirm(session: &Session, host: &str, out: &mut dyn Write) -> Result<()> {
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
    record_switch(session, &config, entry, summary, out)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::default();
        c.hosts.insert("carbon".into(), Variant::Cuda);
        c.hosts.insert("beryllium".into(), Variant::Vulkan);
        c.hosts.insert("neon".into(), Variant::Vulkan);
        c
    }

    fn switched(host: &str, variant: Variant) -> Switch {
        Switch {
            host: host.into(),
            variant,
            how: "confirmed".into(),
            commit: String::new(),
        }
    }

    #[test]
    fn one_host_per_variant_is_enough() {
        let mut state = State::default();
        state.switch.push(switched("carbon", Variant::Cuda));
        let c = Coverage::of(&config(), &state);
        assert!(!c.complete());
        assert_eq!(
            c.missing[&Variant::Vulkan],
            vec!["beryllium".to_string(), "neon".to_string()]
        );
        assert_eq!(
            c.describe(),
            "cuda covered by carbon; no recorded switch yet for vulkan (beryllium, neon)"
        );
        assert_eq!(
            c.help(),
            "run `flake-migrate switch --host H` on beryllium or neon (or `flake-migrate confirm --host H` for a switch already done there)"
        );
        state.switch.clear();
        assert!(
            Coverage::of(&config(), &state)
                .help()
                .contains("on carbon and on beryllium or neon")
        );
        state.switch.push(switched("carbon", Variant::Cuda));
        state.switch.push(switched("neon", Variant::Vulkan));
        assert!(Coverage::of(&config(), &state).complete());
    }

    #[test]
    fn a_switch_counts_only_for_the_hosts_current_variant() {
        let mut state = State::default();
        state.switch.push(switched("carbon", Variant::Cpu));
        let c = Coverage::of(&config(), &state);
        assert!(c.missing.contains_key(&Variant::Cuda));
    }
}
