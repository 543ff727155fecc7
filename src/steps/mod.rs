//! The operation kinds the bundled plan is made of, one file each. An
//! operation reads the repository and says what it would change; it never
//! writes. The engine writes, commits and records.

pub mod add_flake_input;
pub mod host_packages;
pub mod import_overlay;
mod insertion;
pub mod left_behind;
pub mod links;
pub mod remove_old_override;
pub mod switch;
pub mod write_overlay;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalogue::Operation;
use crate::config::Config;
use crate::error::Result;
use crate::eval::discover::Discovery;
use crate::files::Files;
use crate::model::Model;
use crate::record::{NotCarried, State};

/// What an operation reads.
pub struct Context<'a> {
    pub files: &'a dyn Files,
    pub config: &'a Config,
    pub state: &'a State,
    /// Where things are, as Nix evaluation says (`None`: static reading
    /// only, `--no-eval` or no nix).
    pub discovery: Option<&'a Discovery>,
}

impl Context<'_> {
    /// The model of the hosts: the syntax tree's, corrected by evaluation
    /// when there is one.
    pub fn model(&self) -> Result<Model> {
        let model = Model::read(self.files)?;
        match self.discovery {
            Some(d) => Ok(model.with_evaluation(self.files, d)?.0),
            None => Ok(model),
        }
    }
}

/// What an operation found.
#[derive(Debug)]
pub enum Plan {
    /// The repository already is in the step's target state.
    Satisfied,
    /// These edits bring it there.
    Changes(Changeset),
    /// It cannot be done automatically; `help` teaches the manual step.
    Blocked { reason: String, help: String },
    /// The step is a verification: `flake-migrate verify` (or `up`) runs
    /// nix over the tree and records the result; nothing is edited.
    Verify,
}

#[derive(Debug, Default)]
pub struct Changeset {
    /// New content per path; `None` deletes the file.
    pub files: BTreeMap<PathBuf, Option<String>>,
    /// Things the user must know (dropped override arguments, warnings);
    /// printed and written into the commit message.
    pub notes: Vec<String>,
    /// Notes about what the step does not touch (hosts without a variant,
    /// files it leaves alone): printed, kept out of the commit message.
    pub aside: Vec<String>,
    /// Run `nix flake lock` once the files are written.
    pub lock_flake: bool,
    /// What the old overrides did that these edits do not carry over (also
    /// in `notes`); recorded, so `status` shows it.
    pub not_carried: Vec<NotCarried>,
}

impl Plan {
    pub fn blocked(reason: impl Into<String>, help: impl Into<String>) -> Plan {
        Plan::Blocked {
            reason: reason.into(),
            help: help.into(),
        }
    }
}

/// The revisions the flake's inputs name, as the tree shows them: an old
/// override's `src` the upstream input builds too is carried.
pub fn revisions(ctx: &Context) -> Result<crate::pinned_src::Revisions> {
    let Some(text) = ctx
        .files
        .read(std::path::Path::new(crate::flake::FLAKE_FILE))?
    else {
        return Ok(Default::default());
    };
    let Ok(flake) = crate::flake::parse(&text)? else {
        return Ok(Default::default());
    };
    let input = flake.upstream_input(&ctx.config.input, &ctx.config.url);
    Ok(crate::pinned_src::Revisions::read(&flake, input.as_deref()))
}

/// Plans one operation against the repository as `ctx` shows it.
/// Edits of a symlinked path go to the file it names, or are refused
/// ([`links`]).
pub fn plan(operation: &Operation, ctx: &Context) -> Result<Plan> {
    match plan_operation(operation, ctx)? {
        Plan::Changes(changes) => links::through_links(ctx.files, changes),
        other => Ok(other),
    }
}

fn plan_operation(operation: &Operation, ctx: &Context) -> Result<Plan> {
    match operation {
        Operation::AddFlakeInput { follows } => add_flake_input::plan(ctx, follows),
        Operation::WriteOverlay { max_lines } => write_overlay::plan(ctx, *max_lines),
        Operation::RewriteHostPackages => host_packages::plan(ctx),
        Operation::RemoveOldOverride => remove_old_override::plan(ctx),
        Operation::Verify { .. } => Ok(Plan::Verify),
        Operation::Switch => switch::plan(ctx),
        Operation::ImportOverlay => import_overlay::plan(ctx),
    }
}

/// A configured host that the flake does not define, or that fails to
/// evaluate: nothing can be planned for it.
pub fn missing_host(config: &Config, model: &Model) -> Option<Plan> {
    let hiding: Vec<String> = model
        .unresolved
        .iter()
        .filter(|u| u.hides_hosts)
        .map(|u| format!("{}:{}:{}: {}", u.file.display(), u.line, u.column, u.what))
        .collect();
    if !hiding.is_empty() {
        return Some(Plan::blocked(
            format!(
                "the static reading cannot list every host, so it cannot tell which hosts share a module it would edit: {}",
                hiding.join("; ")
            ),
            "run where nix is installed, without --no-eval: evaluation lists every host and the files each one uses",
        ));
    }
    let unknown: Vec<String> =
        crate::model::by_reason(config.hosts.keys().filter_map(|h| model.unknown_host(h)))
            .into_iter()
            .map(|(reason, hosts)| format!("{} ({reason})", crate::output::names_shown(&hosts)))
            .collect();
    if !unknown.is_empty() {
        return Some(Plan::blocked(
            format!(
                "host(s) with a variant fail to evaluate, so where their llama.cpp comes from is unknown: {}",
                unknown.join("; ")
            ),
            "fix the evaluation (`nix eval .#nixosConfigurations.HOST.config.system.build.toplevel.drvPath`, `.#darwinConfigurations.HOST.system.drvPath` or `.#homeConfigurations.HOST.activationPackage.drvPath` shows nix's error), then run `flake-migrate up` again",
        ));
    }
    let missing: Vec<&String> = config
        .hosts
        .keys()
        .filter(|h| model.host(h).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let found: Vec<&str> = model.hosts.iter().map(|h| h.name.as_str()).collect();
    Some(Plan::blocked(
        format!(
            "flake-migrate.toml names host(s) {} that the flake does not define in nixosConfigurations, darwinConfigurations or homeConfigurations (found: {})",
            missing
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            found.join(", ")
        ),
        "fix [hosts] in flake-migrate.toml",
    ))
}
