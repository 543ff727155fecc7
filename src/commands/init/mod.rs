//! `flake-migrate init [--host NAME=VARIANT]… [--yes] [-- NIX ARGS]`: find
//! the hosts (by evaluation when nix is here), take the user's variants,
//! write and commit `flake-migrate.toml`. A host that fails to evaluate is
//! never given a variant.

use std::io::Write;
use std::path::Path;

use crate::config::{Build, CONFIG_FILE, Config, Document, Variant};
use crate::engine::Session;
use crate::error::{Error, Result, exit};
use crate::eval::discover::HostFacts;
use crate::files::Files;
use crate::files::WorkTree;
use crate::flake::FLAKE_FILE;
use crate::git;
use crate::model::{Differences, Model};
use crate::output::{self, say};
use crate::steps::write_overlay;
use crate::suggest;

mod json;
mod machines;
mod readings;

pub use json::json;
use readings::{report_readings, settle_with_evaluation};

pub struct InitOptions {
    /// `NAME=VARIANT` pairs from `--host`.
    pub hosts: Vec<String>,
    pub yes: bool,
    /// For the evaluation that finds the hosts.
    pub nix_args: Vec<String>,
    pub no_eval: bool,
}

pub fn command(dir: &Path, opts: &InitOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    run(&session, opts, out)?;
    Ok(exit::OK)
}

/// The machines of the flake with a suggested variant each.
struct Found {
    suggestions: Vec<suggest::Suggestion>,
    model: Model,
    diff: Differences,
    evaluated: bool,
    /// Each host's system, where evaluation or its files say it.
    systems: std::collections::HashMap<String, String>,
}

fn find(session: &Session, opts: &InitOptions, progress: &mut dyn Write) -> Result<Found> {
    let reading_tree = session.unchecked_work_tree()?;
    if !reading_tree.exists(std::path::Path::new(FLAKE_FILE)) {
        return Err(Error::refused(
            format!("no flake.nix in {}", session.root.display()),
            "run flake-migrate in the repository that holds your flake.nix (or pass -C DIR)",
        ));
    }
    // The static reading needs no nix: it runs (with the check that every
    // .nix file is UTF-8, which reads them all) while nix evaluates, and
    // hands its tree back with every file read once.
    let (discovery, reading) = std::thread::scope(|scope| {
        let reading = scope.spawn(move || -> Result<(Model, WorkTree)> {
            reading_tree.refuse_non_utf8()?;
            let model = Model::read(&reading_tree)?;
            Ok((model, reading_tree))
        });
        let discovery = session.discover(&opts.nix_args, opts.no_eval, progress);
        (
            discovery,
            reading.join().expect("the static reading does not panic"),
        )
    });
    let (statically, tree) = reading?;
    let tree = session.checked(tree);
    let discovery = discovery?;
    let (model, diff) = match &discovery {
        Some(found) => statically.with_evaluation(&tree, found)?,
        None => (statically, Differences::default()),
    };
    let systems: std::collections::HashMap<String, String> = discovery
        .iter()
        .flat_map(|found| &found.hosts)
        .filter_map(|(name, facts)| match facts {
            HostFacts::Known(info) => Some((name.clone(), info.system.clone())),
            _ => None,
        })
        .collect();
    let mut suggestions = suggest::suggest_with_systems(&tree, &model, &systems)?;
    let systems = machines::systems(&tree, &model, &systems)?;
    if let Some(found) = &discovery {
        for s in &mut suggestions {
            if let Some(HostFacts::Known(info)) = found.hosts.get(&s.host) {
                settle_with_evaluation(s, info);
            }
        }
    }
    // What the static reading suggests for a host that fails to evaluate
    // is a guess about a configuration that does not build: drop it.
    suggestions.retain(|s| model.unknown_host(&s.host).is_none());
    for u in &model.unknown_hosts {
        suggestions.push(suggest::Suggestion {
            host: u.name.clone(),
            variant: None,
            evidence: "unknown: it failed to evaluate (see the note); choose with --host once it evaluates".into(),
            ..Default::default()
        });
    }
    suggestions.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(Found {
        suggestions,
        model,
        diff,
        evaluated: discovery.is_some(),
        systems,
    })
}

pub fn run(session: &Session, opts: &InitOptions, out: &mut dyn Write) -> Result<()> {
    let Found {
        suggestions,
        model,
        diff,
        evaluated,
        systems,
    } = find(session, opts, out)?;
    let tree = session.work_tree()?;
    let found: Vec<String> = suggestions.iter().map(|s| s.host.clone()).collect();
    let width = found.iter().map(String::len).max().unwrap_or(0);
    let how = if evaluated {
        "evaluated"
    } else {
        "read statically"
    };
    let _ = writeln!(
        out,
        "machines in nixosConfigurations, darwinConfigurations and homeConfigurations ({how}), with the suggested variant and why:"
    );
    for s in &suggestions {
        let variant = s.variant.map_or("none".to_string(), |v| v.to_string());
        let _ = writeln!(out, "  {:width$}  {variant:6}  {}", s.host, s.evidence);
    }
    if found.is_empty() {
        let _ = writeln!(out, "  (none found)");
        if !evaluated {
            let _ = writeln!(
                out,
                "note: no `nixosConfigurations`, `darwinConfigurations` or `homeConfigurations` entries in flake.nix or the flake-parts modules it imports, as far as the static reading follows; run without --no-eval where nix is installed to evaluate them."
            );
        }
    }
    report_readings(&model, &diff, evaluated, out);
    machines::report_kinds(&model, out);
    let existing = session.config()?;
    let mut config = match &existing {
        Some(config) => config.clone(),
        None => Config {
            overlay: write_overlay::overlay_path(&tree)?,
            ..Config::default()
        },
    };
    if opts.yes && opts.hosts.is_empty() && config.hosts.is_empty() {
        refuse_empty(&found, &suggestions)?;
    }
    if opts.yes {
        for s in &suggestions {
            if let Some(build) = s.build()
                && !config.hosts.contains_key(&s.host)
            {
                config.set_build(s.host.clone(), build);
            }
        }
    }
    let mut named: Vec<String> = Vec::new();
    for spec in &opts.hosts {
        let (name, build) = parse_host(spec, &found)?;
        let kind = model.host(&name).map(|h| h.kind);
        machines::check_fits(&name, &build, kind, systems.get(&name).map(String::as_str))?;
        // The second of two choices for one host would silently win.
        if named.contains(&name) {
            return Err(Error::usage(
                format!("host `{name}` is given more than one --host"),
                format!("give `{name}` one variant (one --host {name}=VARIANT)"),
            ));
        }
        named.push(name.clone());
        config.set_build(name, build);
    }
    if !opts.hosts.is_empty() {
        warn_left_out(&config, &suggestions, out);
    }
    if opts.hosts.is_empty() && !opts.yes {
        let mut command = vec!["flake-migrate".to_string(), "init".to_string()];
        for s in &suggestions {
            if let Some(build) = s.build() {
                command.extend(["--host".to_string(), format!("{}={}", s.host, build)]);
            }
        }
        let _ = writeln!(
            out,
            "nothing written. Accept the suggestions with `flake-migrate init --yes`, or choose:\n  {}",
            output::shell_command(&command)
        );
        return Ok(());
    }
    let path = session.root.join(CONFIG_FILE);
    let new_text = written(&path, existing.as_ref(), &config)?;
    git::signature(&session.repo)?;
    let committed = git::head_blob(&session.repo, &session.repo_path(Path::new(CONFIG_FILE)))?;
    if committed.as_deref() == Some(new_text.as_bytes()) {
        let _ = writeln!(out, "{CONFIG_FILE} is already up to date");
        return Ok(());
    }
    let config_path = session.repo_path(Path::new(CONFIG_FILE));
    let dirty = git::dirty_files(&session.repo)?;
    if dirty.iter().any(|f| Path::new(f) != config_path) {
        return Err(Error::Dirty { files: dirty });
    }
    git::write_atomic(&path, new_text.as_bytes())?;
    let hosts: Vec<String> = config
        .hosts
        .keys()
        .filter_map(|h| Some(format!("{h}={}", config.build(h)?)))
        .collect();
    let message = format!(
        "Configure flake-migrate: {}\n\nWhich upstream llama.cpp variant each host gets.\n",
        if hosts.is_empty() {
            "no hosts yet".into()
        } else {
            hosts.join(", ")
        }
    );
    git::commit_paths(
        &session.repo,
        &[session.repo_path(Path::new(CONFIG_FILE))],
        &message,
    )?;
    let _ = writeln!(
        out,
        "wrote and committed {CONFIG_FILE}: {}",
        hosts.join(", ")
    );
    Ok(())
}

/// The config file's new text: the user's file with only the hosts whose
/// build changed rewritten (comments and order kept), or a new file.
fn written(path: &Path, existing: Option<&Config>, config: &Config) -> Result<String> {
    let Some(before) = existing else {
        return Ok(config.to_toml());
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut doc = Document::parse(path, &text)?;
    for host in config.hosts.keys() {
        let build = config.build(host);
        if before.build(host) != build {
            doc.set_build(host, &build.expect("a configured host has a build"));
        }
    }
    Ok(doc.to_string())
}

/// Hosts the evidence says use llama.cpp but the config leaves out: later
/// steps remove what they relied on (the old overlay, the fork input).
fn warn_left_out(config: &Config, suggestions: &[suggest::Suggestion], out: &mut dyn Write) {
    let left: Vec<&suggest::Suggestion> = suggestions
        .iter()
        .filter(|s| s.variant.is_some() && !config.hosts.contains_key(&s.host))
        .collect();
    if left.is_empty() {
        return;
    }
    say(
        out,
        format!(
            "warning: {} host(s) with evidence of using llama.cpp are left out of {CONFIG_FILE}; later steps remove the old llama.cpp they may rely on:",
            left.len()
        ),
    );
    for s in left {
        let variant = s.variant.map_or("cpu", Variant::name);
        say(
            out,
            format!(
                "  {} ({}); add it with {}",
                s.host,
                s.evidence,
                output::shell_command(["--host".to_string(), format!("{}={variant}", s.host)])
            ),
        );
    }
}

/// `init --yes` with nothing to accept: writing a config without hosts
/// would let `up` add the input to a fleet it then cannot migrate.
fn refuse_empty(found: &[String], suggestions: &[suggest::Suggestion]) -> Result<()> {
    if found.is_empty() {
        return Err(Error::Failed(format!(
            "no host found in nixosConfigurations, darwinConfigurations or homeConfigurations, so {CONFIG_FILE} was not written; see the notes above, or name hosts with --host NAME=VARIANT"
        )));
    }
    if suggestions.iter().all(|s| s.variant.is_none()) {
        return Err(Error::Failed(format!(
            "no host uses llama.cpp as far as flake-migrate can see, so {CONFIG_FILE} was not written; name the hosts that should get it with --host NAME=VARIANT"
        )));
    }
    Ok(())
}

fn parse_host(spec: &str, found: &[String]) -> Result<(String, Build)> {
    let valid_variants = Variant::ALL.map(Variant::name).join(", ");
    let Some((name, variant)) = spec.split_once('=') else {
        return Err(Error::usage(
            format!("`--host {spec}` is not NAME=VARIANT"),
            format!("for example `--host carbon=cuda`; variants: {valid_variants}"),
        ));
    };
    let variant = Build::parse(variant).ok_or_else(|| {
        Error::usage(
            format!("unknown variant `{variant}` for host `{name}`"),
            format!("use one of: {valid_variants}"),
        )
    })?;
    if !found.iter().any(|h| h == name) {
        return Err(Error::usage(
            format!("no host `{name}` in the flake's machines"),
            format!(
                "hosts found: {}",
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            ),
        ));
    }
    Ok((name.to_string(), variant))
}
