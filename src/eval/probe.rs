//! Which hosts fail to evaluate, and what nix says for each, in one
//! process however many fail.
//!
//! `builtins.tryEval` catches only `throw` and `assert`: a missing attribute
//! or a type error in a module every host imports stops the batch
//! evaluation at the first host, and a caught throw carries no message. One
//! `nix eval` per host would isolate them, at one process per host: on a
//! fleet whose common module fails, a thousand processes to say one thing.
//! `nix flake check --keep-going` (Nix >= 2.8) reports every failing check
//! and goes on, so the wrapper flake exposes each host's discovery, uncaught,
//! as a check (a derivation whose attribute is the host's facts as JSON,
//! never built); discover.nix's trace names the host before each error.

use std::collections::BTreeMap;

use super::discover::TRACE;
use super::wrapper::{Wrapper, spawn_error};
use crate::error::Result;
use crate::output::spinner;

/// What the probe learnt: every host it evaluated, and nix's error for each
/// that failed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Probed {
    pub names: Vec<String>,
    pub failures: BTreeMap<String, String>,
}

/// Runs the wrapper's checks (its select.json already written) with
/// `--keep-going`; `None` when the output cannot be attributed to hosts
/// (the flake failed before any host: the caller reports that error).
pub fn probe(wrapper: &Wrapper, nix_args: &[String]) -> Result<Option<Probed>> {
    let (mut cmd, label) = wrapper.check_command(nix_args);
    let (output, _) = spinner::run_watching(&mut cmd, &label, |line| {
        let said = line.split_once(TRACE)?.1;
        Some(spinner::Status {
            label: format!("evaluating {}", said.rsplit_once(" (of ")?.0),
            count: None,
        })
    })
    .map_err(spawn_error)?;
    Ok(attribute(&String::from_utf8_lossy(&output.stderr)))
}

const IGNORED: &str = "error (ignored): ";
const CLOSING: &str = "some errors were encountered";

/// Reads `nix flake check --keep-going`'s stderr: each `error (ignored):`
/// block belongs to the host whose trace came last before it.
fn attribute(stderr: &str) -> Option<Probed> {
    let mut probed = Probed::default();
    let mut expected = None;
    let mut current: Option<String> = None;
    let mut error: Option<Vec<&str>> = None;
    for line in stderr.lines() {
        if let Some(said) = line.split_once(TRACE).map(|(_, s)| s) {
            finish(&current, &mut error, &mut probed);
            let (host, of) = said.rsplit_once(" (of ")?;
            expected = of.strip_suffix(')').and_then(|n| n.parse::<usize>().ok());
            probed.names.push(host.to_string());
            current = Some(host.to_string());
        } else if let Some(rest) = line.strip_prefix(IGNORED).or_else(|| {
            // Nix versions that report a kept-going error as a plain one.
            line.strip_prefix("error: ")
                .filter(|r| !r.starts_with(CLOSING))
                .map(|_| line)
        }) {
            finish(&current, &mut error, &mut probed);
            current.as_ref()?;
            error = Some(vec![rest]);
        } else if line.starts_with("error: ") || line.starts_with("warning: ") {
            // The closing "some errors were encountered", or a warning: not
            // part of a host's message.
            finish(&current, &mut error, &mut probed);
        } else if let Some(lines) = &mut error {
            lines.push(line);
        }
    }
    finish(&current, &mut error, &mut probed);
    // Every host traced exactly once, or the output is not what we think.
    probed.names.sort();
    probed.names.dedup();
    (expected == Some(probed.names.len())).then_some(probed)
}

/// Ends the error block being read, as the failure of `host`.
fn finish(host: &Option<String>, error: &mut Option<Vec<&str>>, probed: &mut Probed) {
    if let (Some(host), Some(lines)) = (host, error.take()) {
        let text = lines.join("\n").trim().to_string();
        probed.failures.entry(host.clone()).or_insert(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_goes_to_the_host_traced_before_it() {
        let stderr = "evaluating flake...\n\
            warning: unknown flake output 'result'\n\
            trace: flake-migrate: evaluating a (of 3)\n\
            error (ignored): error: attribute 'x' missing\n\
            \n       at /nix/store/h-source/common.nix:4:11:\n\
            trace: flake-migrate: evaluating b (of 3)\n\
            trace: flake-migrate: evaluating my (odd) host (of 3)\n\
            error (ignored): error: cannot add a string to an integer\n\
            error: some errors were encountered during the evaluation\n";
        let p = attribute(stderr).unwrap();
        assert_eq!(p.names, ["a", "b", "my (odd) host"]);
        assert_eq!(
            p.failures["a"],
            "error: attribute 'x' missing\n\n       at /nix/store/h-source/common.nix:4:11:"
        );
        assert_eq!(
            p.failures["my (odd) host"],
            "error: cannot add a string to an integer"
        );
        assert!(!p.failures.contains_key("b"));
    }

    #[test]
    fn a_plain_error_line_is_a_hosts_error_too() {
        let stderr = "trace: flake-migrate: evaluating a (of 2)\n\
            error: attribute 'x' missing\n\
            trace: flake-migrate: evaluating b (of 2)\n\
            error: some errors were encountered during the evaluation\n";
        let p = attribute(stderr).unwrap();
        assert_eq!(p.failures["a"], "error: attribute 'x' missing");
        assert!(!p.failures.contains_key("b"));
    }

    #[test]
    fn output_that_names_no_host_or_misses_some_is_not_attributed() {
        assert_eq!(attribute("error (ignored): error: boom\n"), None);
        assert_eq!(
            attribute("trace: flake-migrate: evaluating a (of 2)\n"),
            None
        );
    }
}
