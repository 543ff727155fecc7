//! The proof's judgement: the planned tree's evaluation against the tree's
//! as it is (the discovery the run planned with). Every host that evaluated
//! must still evaluate; a configured host that installed or ran nixpkgs'
//! llama.cpp must pass `verify`'s own verdict (`verdict::judge`, the same
//! code); every other host must install exactly the llama.cpp packages it
//! did, from the same origins.

use std::collections::BTreeMap;

use super::discover::{Definition, Discovery, HostFacts, HostInfo, Origin};
use super::proof::TreeEval;
use super::upstream::Evaluation;
use super::verdict::judge;
use crate::config::Config;

/// What is wrong with one host after the planned edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It evaluated before and does not now: nix's error.
    Broken(String),
    /// `verify` would fail it: what it got instead.
    NotUpstream(Vec<String>),
    /// A host the run must leave alone installs other llama.cpp packages.
    Changed {
        before: Vec<String>,
        after: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure {
    pub host: String,
    pub failure: Failure,
}

/// The judgement of a planned tree.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Hosts evaluated and judged.
    pub checked: usize,
    /// What `verify` finds right, per host now on upstream's build.
    pub upstream: BTreeMap<String, Vec<String>>,
    pub failures: Vec<HostFailure>,
}

/// The hosts the proof evaluates: those that evaluated before the run (a
/// host that did not is no worse for it, and nothing can be said of it).
pub fn evaluated_before(before: &Discovery) -> Vec<String> {
    before
        .hosts
        .iter()
        .filter(|(_, f)| matches!(f, HostFacts::Known(_)))
        .map(|(h, _)| h.clone())
        .collect()
}

/// The hosts judged as `verify` judges them: configured hosts that
/// installed or ran llama.cpp other than upstream's. Only when the run
/// completes the migration (`complete`): before 0004 and 0005 have landed,
/// a host still gets nixpkgs' build, as it should.
pub fn judged(before: &Discovery, config: &Config, complete: bool) -> Vec<String> {
    if !complete {
        return Vec::new();
    }
    before
        .hosts
        .iter()
        .filter(|(h, _)| config.hosts.contains_key(*h))
        .filter_map(|(h, f)| match f {
            HostFacts::Known(info) if runs_llama_cpp(info) => Some(h.clone()),
            _ => None,
        })
        .collect()
}

/// nixpkgs' llama.cpp, overridden or not, an old fork's, or the service
/// (whose default package is nixpkgs'); not a look-alike (`ollama`).
fn runs_llama_cpp(info: &HostInfo) -> bool {
    let llama_cpp = |d: &Definition| {
        d.origin != Origin::Upstream && (d.name == "llama-cpp" || d.name.starts_with("llama-cpp-"))
    };
    info.packages.iter().any(llama_cpp) || !info.service.is_empty()
}

/// Judges `after` (the planned tree, its `judged` hosts read by
/// upstream.nix) against `before`.
pub fn judge_run(
    before: &Discovery,
    after: &TreeEval,
    config: &Config,
    judged: &[String],
) -> Outcome {
    let mut outcome = Outcome::default();
    for host in evaluated_before(before) {
        outcome.checked += 1;
        let failure = match after.discovery.hosts.get(&host) {
            None => Some(Failure::Broken(
                "it is no longer among the flake's machines (nixosConfigurations, darwinConfigurations, homeConfigurations)".into(),
            )),
            Some(HostFacts::Unknown { error }) => Some(Failure::Broken(error.clone())),
            Some(HostFacts::Known(_)) if judged.contains(&host) => {
                match verdict_of(&host, &after.evaluation, config) {
                    Ok(good) => {
                        outcome.upstream.insert(host.clone(), good);
                        None
                    }
                    Err(problems) => Some(Failure::NotUpstream(problems)),
                }
            }
            Some(HostFacts::Known(now)) => {
                let was = match before.hosts.get(&host) {
                    Some(HostFacts::Known(info)) => summary(info),
                    _ => Vec::new(),
                };
                let is = summary(now);
                (was != is).then_some(Failure::Changed {
                    before: was,
                    after: is,
                })
            }
        };
        if let Some(failure) = failure {
            outcome.failures.push(HostFailure { host, failure });
        }
    }
    outcome
}

/// `verify`'s verdict on one host: what is right, or what is wrong.
fn verdict_of(
    host: &str,
    evaluation: &Evaluation,
    config: &Config,
) -> Result<Vec<String>, Vec<String>> {
    let Some(eval) = evaluation.hosts.get(host) else {
        return Err(vec!["nix did not evaluate its packages".into()]);
    };
    let one = Evaluation {
        has_input: evaluation.has_input,
        missing: Vec::new(),
        hosts: [(host.to_string(), eval.clone())].into_iter().collect(),
    };
    let verdict = judge(&one, config).remove(0);
    if verdict.ok() {
        Ok(verdict.good)
    } else {
        Err(verdict.problems)
    }
}

/// A host's llama.cpp packages and service, as compared: what, where and
/// from whom, not in which file (a file the run leaves alone keeps its
/// definitions; one it edits is the question).
pub fn summary(info: &HostInfo) -> Vec<String> {
    let mut out: Vec<String> = info
        .packages
        .iter()
        .chain(&info.service)
        .map(|d| {
            let origin = match d.origin {
                Origin::Nixpkgs => "nixpkgs'",
                Origin::Upstream => "upstream's",
                Origin::Other => "another",
            };
            format!("{} ({origin}) in {}", d.name, d.option)
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn info(packages: &[(&str, Origin)]) -> HostFacts {
        HostFacts::Known(Box::new(HostInfo {
            kind: Default::default(),
            attr: String::new(),
            system: "x86_64-linux".into(),
            inputs_in_modules: true,
            own_module: None,
            packages: packages
                .iter()
                .map(|(name, origin)| Definition {
                    option: "environment.systemPackages".into(),
                    file: None,
                    name: name.to_string(),
                    origin: *origin,
                    backend: None,
                })
                .collect(),
            service: Vec::new(),
            overlays: Vec::new(),
            overlays_take_effect: Ok(()),
            module_files: BTreeSet::new(),
        }))
    }

    fn discovery(hosts: Vec<(&str, HostFacts)>) -> Discovery {
        Discovery {
            hosts: hosts.into_iter().map(|(h, f)| (h.to_string(), f)).collect(),
        }
    }

    fn tree(hosts: Vec<(&str, HostFacts)>) -> TreeEval {
        TreeEval {
            discovery: discovery(hosts),
            evaluation: Evaluation {
                has_input: true,
                missing: Vec::new(),
                hosts: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn a_host_that_evaluated_must_still_evaluate_and_others_stay_as_they_were() {
        let before = discovery(vec![
            ("boron", info(&[("llama-cpp-6000", Origin::Nixpkgs)])),
            ("carbon", info(&[])),
            ("neon", HostFacts::Unknown { error: "x".into() }),
        ]);
        let after = tree(vec![
            ("boron", info(&[("llama-cpp-vulkan-0.0.0", Origin::Other)])),
            (
                "carbon",
                HostFacts::Unknown {
                    error: "error: attribute 'inputs' missing".into(),
                },
            ),
        ]);
        let outcome = judge_run(&before, &after, &Config::default(), &[]);
        assert_eq!(outcome.checked, 2, "neon did not evaluate before");
        assert_eq!(
            outcome.failures,
            vec![
                HostFailure {
                    host: "boron".into(),
                    failure: Failure::Changed {
                        before: vec![
                            "llama-cpp-6000 (nixpkgs') in environment.systemPackages".into()
                        ],
                        after: vec![
                            "llama-cpp-vulkan-0.0.0 (another) in environment.systemPackages".into()
                        ],
                    },
                },
                HostFailure {
                    host: "carbon".into(),
                    failure: Failure::Broken("error: attribute 'inputs' missing".into()),
                },
            ]
        );
    }

    #[test]
    fn only_configured_hosts_that_ran_llama_cpp_are_judged_and_only_when_complete() {
        let mut config = Config::default();
        config
            .hosts
            .insert("carbon".into(), crate::config::Variant::Cuda);
        config
            .hosts
            .insert("argon".into(), crate::config::Variant::Cpu);
        let before = discovery(vec![
            ("carbon", info(&[("llama-cpp-6000", Origin::Nixpkgs)])),
            ("argon", info(&[("ollama-0.5", Origin::Other)])),
            ("boron", info(&[("llama-cpp-6000", Origin::Nixpkgs)])),
        ]);
        assert_eq!(judged(&before, &config, true), vec!["carbon".to_string()]);
        assert!(judged(&before, &config, false).is_empty());
    }
}
