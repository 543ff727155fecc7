//! `flake-migrate init [--host NAME=VARIANT]… [--yes]`: find the hosts, take the user's variants, write
//! and commit `flake-migrate.toml`.

use std::io::Write;
use std::path::Path;

use crate::config::{CONFIG_FILE, Variant};
use crate::engine::Session;
use crate::error::{Error, Result, exit};
use crate::files::Files;
use crate::flake::FLAKE_FILE;
use crate::git;
use crate::model::Model;
use crate::suggest;

pub struct InitOptions {
    /// `NAME=VARIANT` pairs from `--host`.
    pub hosts: Vec<String>,
    pub yes: bool,
}

pub fn command(dir: &Path, opts: &InitOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    run(&session, opts, out)?;
    Ok(exit::OK)
}

pub fn run(session: &Session, opts: &InitOptions, out: &mut dyn Write) -> Result<()> {
    let tree = session.work_tree()?;
    if !tree.exists(std::path::Path::new(FLAKE_FILE)) {
        return Err(Error::usage(
            format!("no flake.nix in {}", session.root.display()),
            "run flake-migrate in the repository that holds your flake.nix (or pass -C DIR)",
        ));
    }
    let model = Model::read(&tree)?;
    let found: Vec<String> = model.hosts.iter().map(|h| h.name.clone()).collect();
    let suggestions = suggest::suggest(&tree, &model)?;
    let width = found.iter().map(String::len).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "hosts in nixosConfigurations, with the suggested variant and why:"
    );
    for s in &suggestions {
        let variant = s.variant.map_or("none".to_string(), |v| v.to_string());
        let _ = writeln!(out, "  {:width$}  {variant:6}  {}", s.host, s.evidence);
    }
    if found.is_empty() {
        let _ = writeln!(out, "  (none found)");
        let flake = tree
            .read(std::path::Path::new(FLAKE_FILE))?
            .unwrap_or_default();
        let framework = if flake.contains("mkFlake") {
            " Its outputs are built by a `mkFlake` framework (snowfall-lib and the like), which makes hosts from directories at evaluation time;"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "note: no `nixosConfigurations` entries in flake.nix or the flake-parts modules it imports.{framework} flake-migrate reads hosts statically and cannot migrate this layout: follow the plan in the README by hand."
        );
    }
    for u in &model.unresolved {
        let _ = writeln!(
            out,
            "note: {}:{}:{}: {} (not followed)",
            u.file.display(),
            u.line,
            u.column,
            u.what
        );
    }
    let mut config = session.config()?.unwrap_or_default();
    if opts.yes && opts.hosts.is_empty() && config.hosts.is_empty() {
        refuse_empty(&found, &suggestions)?;
    }
    if opts.yes {
        for s in &suggestions {
            if let Some(v) = s.variant {
                config.hosts.entry(s.host.clone()).or_insert(v);
            }
        }
    }
    for spec in &opts.hosts {
        let (name, variant) = parse_host(spec, &found)?;
        config.hosts.insert(name, variant);
    }
    if opts.hosts.is_empty() && !opts.yes {
        let args: String = suggestions
            .iter()
            .filter_map(|s| Some(format!(" --host {}={}", s.host, s.variant?)))
            .collect();
        let _ = writeln!(
            out,
            "nothing written. Accept the suggestions with `flake-migrate init --yes`, or choose:\n  flake-migrate init{args}"
        );
        return Ok(());
    }
    let path = session.root.join(CONFIG_FILE);
    let new_text = config.to_toml();
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
        .iter()
        .map(|(h, v)| format!("{h}={v}"))
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

/// `init --yes` with nothing to accept: writing a config without hosts
/// would let `up` add the input to a fleet it then cannot migrate.
fn refuse_empty(found: &[String], suggestions: &[suggest::Suggestion]) -> Result<()> {
    if found.is_empty() {
        return Err(Error::Failed(format!(
            "no host found in nixosConfigurations, so {CONFIG_FILE} was not written; see the notes above, or name hosts with --host NAME=VARIANT"
        )));
    }
    if suggestions.iter().all(|s| s.variant.is_none()) {
        return Err(Error::Failed(format!(
            "no host uses llama.cpp as far as flake-migrate can see, so {CONFIG_FILE} was not written; name the hosts that should get it with --host NAME=VARIANT"
        )));
    }
    Ok(())
}

fn parse_host(spec: &str, found: &[String]) -> Result<(String, Variant)> {
    let valid_variants = Variant::ALL.map(Variant::name).join(", ");
    let Some((name, variant)) = spec.split_once('=') else {
        return Err(Error::usage(
            format!("`--host {spec}` is not NAME=VARIANT"),
            format!("for example `--host carbon=cuda`; variants: {valid_variants}"),
        ));
    };
    let variant = Variant::parse(variant).ok_or_else(|| {
        Error::usage(
            format!("unknown variant `{variant}` for host `{name}`"),
            format!("use one of: {valid_variants}"),
        )
    })?;
    if !found.iter().any(|h| h == name) {
        return Err(Error::usage(
            format!("no host `{name}` in nixosConfigurations"),
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
