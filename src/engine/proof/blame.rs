//! Which step's edit breaks a host, asked only when the whole run fails:
//! the trees after each step but the last, evaluated for the failing hosts
//! only (one process per tree), until each host is seen to break. A host
//! that breaks in none of them breaks with the last step.

use std::collections::BTreeMap;

use super::planned_tree::PlannedTree;
use crate::config::Config;
use crate::engine::Session;
use crate::error::Result;
use crate::eval::discover::{Discovery, HostFacts};
use crate::eval::outcome::{Failure, HostFailure, summary};
use crate::eval::proof::{self, Ask, TreeEval};
use crate::steps::Changeset;

/// For each failing host, the index in `steps` of the first step after
/// which it fails as it does after all of them; `None` when no step changes
/// it (a host left on nixpkgs' build: no edit reaches it).
pub(super) fn first_breaking(
    session: &Session,
    config: &Config,
    nix_args: &[String],
    (before, after): (&Discovery, &TreeEval),
    steps: &[&Changeset],
    failures: &[HostFailure],
) -> Result<BTreeMap<String, Option<usize>>> {
    let mut found = BTreeMap::new();
    let mut open: Vec<&HostFailure> = Vec::new();
    for f in failures {
        if broken(before, &after.discovery, f) {
            open.push(f);
        } else {
            found.insert(f.host.clone(), None);
        }
    }
    let last = steps.len().saturating_sub(1);
    for k in 0..last {
        if open.is_empty() {
            break;
        }
        let layers: Vec<_> = steps[..=k].iter().map(|c| &c.files).collect();
        let tree = PlannedTree::create(session, &layers)?;
        let hosts: Vec<String> = open.iter().map(|f| f.host.clone()).collect();
        let ask = Ask {
            hosts: &hosts,
            judged: &[],
            messages: false,
        };
        let now = proof::evaluate(tree.root(), &session.prefix, config, nix_args, &ask)?;
        open.retain(|f| {
            let hit = broken(before, &now.discovery, f);
            if hit {
                found.insert(f.host.clone(), Some(k));
            }
            !hit
        });
    }
    for f in open {
        found.insert(f.host.clone(), Some(last));
    }
    Ok(found)
}

/// Whether `f`'s host, in the tree `now`, fails the way it fails at the
/// end: does not evaluate, or (for a host whose result is wrong) installs
/// other llama.cpp than it did.
fn broken(before: &Discovery, now: &Discovery, f: &HostFailure) -> bool {
    match (now.hosts.get(&f.host), &f.failure) {
        (None | Some(HostFacts::Unknown { .. }), _) => true,
        (Some(HostFacts::Known(_)), Failure::Broken(_)) => false,
        (Some(HostFacts::Known(info)), _) => match before.hosts.get(&f.host) {
            Some(HostFacts::Known(was)) => summary(was) != summary(info),
            _ => true,
        },
    }
}
