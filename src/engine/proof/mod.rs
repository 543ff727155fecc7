//! The proof of a run: before `up` writes anything, the planned tree
//! (every step up to the target applied) is evaluated with the same wrapper
//! flake and nix arguments as the discovery the run planned with, and
//! judged against it (`eval::outcome`). Only a proven run is written. The
//! steps only plan; evaluating their result is the engine's.

mod blame;
mod planned_tree;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use planned_tree::PlannedTree;

use super::up::{Planned, Planning};
use super::{RunOptions, Session};
use crate::catalogue::{Migration, Operation};
use crate::config::Config;
use crate::error::{Blocked, Error, Result};
use crate::eval::discover::{Discovery, HostFacts};
use crate::eval::outcome::{self, Failure, HostFailure, Outcome};
use crate::eval::proof::{self, Ask};
use crate::eval::upstream::indent;
use crate::output::say;
use crate::steps::Changeset;

/// What the proof found.
#[derive(Debug, Clone)]
pub enum Proof {
    /// Every host that evaluated still does, as the run requires.
    Proven {
        hosts: usize,
        /// What `verify` finds right, per host now on upstream's build.
        upstream: BTreeMap<String, Vec<String>>,
        /// Where things are in the planned tree: the discovery of the
        /// tree the run commits.
        after: Discovery,
    },
    /// Not evaluated, and why.
    NotProven(String),
    /// The run edits no file: there is nothing new to prove.
    NothingToProve,
}

impl Proof {
    /// The value of the run's commits' `Proven:` trailer.
    pub fn trailer(&self) -> Option<String> {
        match self {
            Proof::Proven { hosts, .. } => Some(format!("{hosts} hosts")),
            Proof::NotProven(why) => Some(format!("no ({why})")),
            Proof::NothingToProve => None,
        }
    }

    /// One line for the user.
    pub fn describe(&self) -> Option<String> {
        match self {
            Proof::Proven {
                hosts, upstream, ..
            } => {
                // Named while a person can read the list; counted beyond.
                let on = match upstream.len() {
                    0 => String::new(),
                    1 => format!(
                        ": {} gets upstream's build of its variant",
                        upstream.keys().next().expect("one")
                    ),
                    2..=6 => format!(
                        ": {} get upstream's build of their variant",
                        upstream.keys().cloned().collect::<Vec<_>>().join(", "),
                    ),
                    n => format!(": {n} configured hosts get upstream's build of their variant"),
                };
                let rest = hosts - upstream.len();
                let others = match (rest, upstream.is_empty()) {
                    (0, _) => String::new(),
                    (n, true) => format!(": {n} host(s) evaluate, their llama.cpp unchanged"),
                    (n, false) => format!("; the other {n} evaluate, their llama.cpp unchanged"),
                };
                Some(format!(
                    "proven: the planned result evaluated for {hosts} host(s){on}{others}"
                ))
            }
            Proof::NotProven(why) => Some(format!(
                "not proven: {why}, so the planned result was not evaluated before writing; `flake-migrate verify` checks it once written"
            )),
            Proof::NothingToProve => None,
        }
    }
}

/// Proves `planned` (the run's plans, in order). A failure is the run
/// blocked (nothing is written), naming each host, what it got, and the
/// step and file whose edit caused it.
pub(super) fn prove(
    session: &Session,
    planning: &Planning,
    planned: &[Planned],
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<Proof> {
    let steps: Vec<(&Migration, &Changeset)> = planned
        .iter()
        .filter_map(|p| match p {
            Planned::Apply(m, _, changes) => Some((*m, changes)),
            Planned::Adopt(_) => None,
        })
        .collect();
    if steps.is_empty() {
        return Ok(Proof::NothingToProve);
    }
    let Some(before) = planning.discovery else {
        return Ok(Proof::NotProven(if opts.no_eval {
            "--no-eval".into()
        } else {
            "nix is not installed here".into()
        }));
    };
    let layers: Vec<_> = steps.iter().map(|(_, c)| &c.files).collect();
    let tree = PlannedTree::create(session, &layers)?;
    // The config as the run leaves it: 0001 may name a reused input in it.
    let planned_config = Config::load(&tree.root().join(&session.prefix))?;
    let config = planned_config.as_ref().unwrap_or(planning.config);
    let hosts = outcome::evaluated_before(before);
    let judged = outcome::judged(before, config, planning.completes);
    let ask = Ask {
        hosts: &hosts,
        judged: &judged,
        messages: true,
    };
    let started = std::time::Instant::now();
    let after = proof::evaluate(tree.root(), &session.prefix, config, &opts.nix_args, &ask)?;
    let judgement = outcome::judge_run(before, &after, config, &judged);
    if judgement.failures.is_empty() {
        let mut carried = before.clone();
        carried.hosts.extend(after.discovery.hosts);
        return Ok(Proof::Proven {
            hosts: judgement.checked,
            upstream: judgement.upstream,
            after: carried,
        });
    }
    say(
        out,
        format!(
            "the planned result fails for {} host(s) ({}s); finding the step that breaks each",
            judgement.failures.len(),
            started.elapsed().as_secs()
        ),
    );
    let changes: Vec<&Changeset> = steps.iter().map(|(_, c)| *c).collect();
    let culprits = blame::first_breaking(
        session,
        config,
        &opts.nix_args,
        (before, &after),
        &changes,
        &judgement.failures,
    )?;
    Err(Error::Blocked(blocked(
        &judgement, &culprits, &steps, before, planning,
    )))
}

/// One entry per step and failure, naming every host it concerns.
fn blocked(
    judgement: &Outcome,
    culprits: &BTreeMap<String, Option<usize>>,
    steps: &[(&Migration, &Changeset)],
    before: &Discovery,
    planning: &Planning,
) -> Vec<Blocked> {
    // Hosts left on nixpkgs' build are the host step's to reach.
    let fallback = steps
        .iter()
        .rposition(|(m, _)| matches!(m.operation, Operation::RewriteHostPackages))
        .unwrap_or(steps.len() - 1);
    let mut grouped: BTreeMap<(usize, String, String), Vec<&HostFailure>> = BTreeMap::new();
    for f in &judgement.failures {
        let culprit = culprits.get(&f.host).copied().flatten();
        let changes = steps[culprit.unwrap_or(fallback)].1;
        let whose = match culprit {
            Some(_) => format!(
                "first broken by this step's edit of {}",
                named_files(changes, &f.host, &f.failure, before)
            ),
            None => "no planned edit changes what it installs".to_string(),
        };
        let key = (culprit.unwrap_or(fallback), whose, what(&f.failure));
        grouped.entry(key).or_default().push(f);
    }
    grouped
        .into_iter()
        .map(|((step, whose, what), failures)| {
            let hosts: Vec<String> = failures
                .iter()
                .map(|f| match planning.config.hosts.get(&f.host) {
                    Some(v) => format!("{} ({v})", f.host),
                    None => f.host.clone(),
                })
                .collect();
            let who = match hosts.as_slice() {
                [one] => format!("host {one}"),
                many => format!("hosts {}", many.join(", ")),
            };
            Blocked {
                step: steps[step].0.id.clone(),
                reason: format!("the planned result was evaluated: {who} {what}\n  ({whose})"),
                help: help(&failures[0].failure, &failures[0].host, planning),
            }
        })
        .collect()
}

/// What went wrong, as nix or `verify` says it.
fn what(failure: &Failure) -> String {
    match failure {
        Failure::Broken(error) => format!(
            "evaluated before the run and would not after it; nix said:\n{}",
            indent(error)
        ),
        Failure::NotUpstream(problems) => format!(
            "would not get upstream's build as configured (what `verify` checks):\n{}",
            problems
                .iter()
                .map(|p| format!("    - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Failure::Changed { before, after } => format!(
            "is not the run's to change, but its llama.cpp would change:\n    before: {}\n    after:  {}",
            list(before),
            list(after)
        ),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn help(failure: &Failure, host: &str, planning: &Planning) -> String {
    let fix = match failure {
        Failure::Broken(_) => "make that edit by hand so the host still evaluates (`flake-migrate up --dry-run` shows it), commit, and run `flake-migrate up` again".to_string(),
        Failure::NotUpstream(_) => format!(
            "make {host} install pkgs.{} by hand and commit, then run `flake-migrate up` again",
            planning.config.package_attr(host).unwrap_or_default()
        ),
        Failure::Changed { .. } => format!(
            "give {host} a variant (`flake-migrate init --host {host}=VARIANT`), or keep the edit from reaching it by hand, then run `flake-migrate up` again"
        ),
    };
    format!(
        "nothing was written; {fix} (`--no-eval` skips the proof: the result is then not proven)"
    )
}

/// The files of a step's edit to name for `host`: those nix's error points
/// at, else those the host's configuration is read from, else all of them.
fn named_files(changes: &Changeset, host: &str, failure: &Failure, before: &Discovery) -> String {
    let files: Vec<&PathBuf> = changes.files.keys().collect();
    let show = |picked: Vec<&PathBuf>| {
        picked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Failure::Broken(error) = failure {
        let cited: Vec<&PathBuf> = files
            .iter()
            .copied()
            .filter(|p| error.contains(&format!("/{}:", p.display())))
            .collect();
        if !cited.is_empty() {
            return show(cited);
        }
    }
    if let Some(HostFacts::Known(info)) = before.hosts.get(host) {
        let own: Vec<&PathBuf> = files
            .iter()
            .copied()
            .filter(|p| info.module_files.contains(*p))
            .collect();
        if !own.is_empty() {
            return show(own);
        }
    }
    show(files)
}
