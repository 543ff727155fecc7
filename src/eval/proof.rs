//! The evaluation behind `up`'s proof: a tree (the planned one, on disk
//! in a repository of its own) evaluated through the same wrapper flake and
//! nix arguments as discovery and `verify`, by `proof.nix`, which runs
//! `discover.nix` for every host asked and `upstream.nix` for the hosts
//! whose result is judged as `verify` judges it, in one process.
//!
//! A host's throw is caught in the batch; an error `tryEval` cannot catch
//! (`attribute 'inputs' missing`) fails the process, and then the probe
//! (probe.rs: one `nix flake check --keep-going`) finds every failing host
//! with nix's message, and the others are evaluated in one batch again:
//! three processes however many hosts fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde::Deserialize;

use super::discover::{self, DISCOVER_NIX, Discovery, HostFacts};
use super::upstream::{self, Evaluation, HOSTS_NIX};
use super::wrapper::{Wrapper, nix_string, spawn_error};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::spinner;

const PROOF_NIX: &str = include_str!("proof.nix");
/// What proof.nix says of a host whose throw it caught: no message.
const CAUGHT: &str = "evaluation failed (throw or assert)";

/// What the proof asks of a tree.
pub struct Ask<'a> {
    /// The hosts to evaluate.
    pub hosts: &'a [String],
    /// Those whose packages `upstream.nix` reads, for `verdict::judge`.
    pub judged: &'a [String],
    /// Evaluate each host whose throw was caught again, alone and
    /// uncaught, for nix's message (the final tree: the user reads it).
    pub messages: bool,
}

/// A tree as evaluated: where things are for every host asked (`Unknown`
/// with nix's error when it does not evaluate), and the judged hosts'
/// packages for those that do.
#[derive(Debug, Clone)]
pub struct TreeEval {
    pub discovery: Discovery,
    pub evaluation: Evaluation,
}

#[derive(Deserialize)]
struct Raw {
    discovery: serde_json::Value,
    evaluation: Evaluation,
}

/// Evaluates `ask` in the flake at `flake_dir` of the repository at
/// `repo_root`, as its index lists its files (see `wrapper`).
pub fn evaluate(
    repo_root: &Path,
    flake_dir: &Path,
    config: &Config,
    nix_args: &[String],
    ask: &Ask,
) -> Result<TreeEval> {
    let (hosts, attrs) = upstream::variants_json(config);
    let result = format!(
        "import ./proof.nix ({{ flake = target; input = {}; hosts = builtins.fromJSON (builtins.readFile ./hosts.json); attrs = builtins.fromJSON (builtins.readFile ./attrs.json); }} // builtins.fromJSON (builtins.readFile ./select.json))",
        nix_string(&config.input)
    );
    let files = [
        ("proof.nix", PROOF_NIX),
        ("discover.nix", DISCOVER_NIX),
        ("machines.nix", discover::MACHINES_NIX),
        ("units.nix", discover::UNITS_NIX),
        ("upstream.nix", HOSTS_NIX),
        ("hosts.json", hosts.as_str()),
        ("attrs.json", attrs.as_str()),
        ("select.json", "{}"),
    ];
    let run = Run {
        wrapper: Wrapper::create(repo_root, flake_dir, &result, &files)?,
        flake_dir,
        nix_args,
        judged: ask.judged,
    };
    let mut found = TreeEval {
        discovery: Discovery {
            hosts: BTreeMap::new(),
        },
        evaluation: Evaluation {
            has_input: false,
            missing: Vec::new(),
            hosts: BTreeMap::new(),
        },
    };
    if let Err(whole) = run.batch(ask.hosts, &mut found)? {
        match run.probe(ask.hosts)? {
            Some(failures) => {
                let fine: Vec<String> = ask
                    .hosts
                    .iter()
                    .filter(|h| !failures.contains_key(*h))
                    .cloned()
                    .collect();
                if let Err(error) = run.batch(&fine, &mut found)? {
                    return Err(Error::Failed(format!(
                        "the planned tree's hosts that evaluate one by one fail together: {error}"
                    )));
                }
                for (h, error) in failures {
                    found
                        .discovery
                        .hosts
                        .insert(h, HostFacts::Unknown { error });
                }
            }
            // Nothing of the flake evaluates (its flake.nix, an input that
            // cannot be fetched): one answer for every host.
            None => {
                for h in ask.hosts {
                    found.discovery.hosts.insert(
                        h.clone(),
                        HostFacts::Unknown {
                            error: whole.clone(),
                        },
                    );
                }
                return Ok(found);
            }
        }
    }
    if ask.messages {
        let caught: Vec<String> = found
            .discovery
            .hosts
            .iter()
            .filter(|(_, f)| matches!(f, HostFacts::Unknown { error } if error == CAUGHT))
            .map(|(h, _)| h.clone())
            .collect();
        if !caught.is_empty() {
            let failures = run.probe(&caught)?.unwrap_or_default();
            for (h, error) in failures {
                found
                    .discovery
                    .hosts
                    .insert(h, HostFacts::Unknown { error });
            }
        }
    }
    Ok(found)
}

struct Run<'a> {
    wrapper: Wrapper,
    flake_dir: &'a Path,
    nix_args: &'a [String],
    judged: &'a [String],
}

impl Run<'_> {
    fn select(&self, hosts: &[String], catch: bool) -> Result<()> {
        let judged: Vec<&String> = self.judged.iter().filter(|h| hosts.contains(h)).collect();
        let json = serde_json::json!({ "only": hosts, "judged": judged, "catch": catch });
        self.wrapper.write("select.json", &json.to_string())
    }

    fn eval(&self, attr: &str) -> Result<Output> {
        let (mut cmd, label) = self.wrapper.eval_command(attr, self.nix_args);
        let label = format!("proving the planned tree: {label}");
        Ok(spinner::run(&mut cmd, &label).map_err(spawn_error)?.0)
    }

    /// `hosts` in one process, throws caught: merged into `found`, or
    /// nix's error when the process failed.
    fn batch(&self, hosts: &[String], found: &mut TreeEval) -> Result<Result<(), String>> {
        if hosts.is_empty() {
            return Ok(Ok(()));
        }
        self.select(hosts, true)?;
        let out = self.eval("result")?;
        if !out.status.success() {
            return Ok(Err(nix_error(&out)));
        }
        let raw: Raw = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Failed(format!("could not read the proof's evaluation ({e})")))?;
        let discovery =
            discover::from_json(&raw.discovery.to_string().into_bytes(), self.flake_dir)?;
        found.discovery.hosts.extend(discovery.hosts);
        found.evaluation.has_input |= raw.evaluation.has_input;
        found.evaluation.missing = raw.evaluation.missing;
        found.evaluation.hosts.extend(raw.evaluation.hosts);
        Ok(Ok(()))
    }

    /// Every host of `hosts` that fails uncaught, with nix's message;
    /// `None` when the output names no host (the flake fails before any).
    fn probe(&self, hosts: &[String]) -> Result<Option<BTreeMap<String, String>>> {
        self.select(hosts, false)?;
        Ok(super::probe::probe(&self.wrapper, self.nix_args)?.map(|p| p.failures))
    }
}

/// What nix said of the error: from its last `error:` line (before it come
/// the wrapper's lock notes and discover.nix's progress traces).
fn nix_error(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("error:"))
        .unwrap_or(lines.len().saturating_sub(12));
    lines[from..]
        .iter()
        .take(12)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}
