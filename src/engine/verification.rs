//! Step 0006's verification: `nix flake check`, then each host's packages
//! evaluated against the upstream input (`eval::upstream`); on success the
//! verified tree is recorded in a commit of its own.

use std::io::Write;

use super::Session;
use super::transaction::record;
use crate::catalogue::{Migration, Operation};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::eval::upstream as hosts;
use crate::git;
use crate::nix;
use crate::output::{say, spinner};
use crate::record::{Applied, State, Verification};

/// What a verification found, for `verify --json`; a failure is in it
/// rather than an error, so the hosts' verdicts can be shown.
#[derive(Debug)]
pub struct VerifyReport {
    /// The check that ran, as a person would type it.
    pub command: String,
    pub check_passed: bool,
    pub check_seconds: u64,
    /// The end of what the check said, when it failed.
    pub check_output: Option<String>,
    /// Each host's verdict; empty when the check failed.
    pub hosts: Vec<hosts::Verdict>,
    pub recorded: Recorded,
    /// What failed, as the error `verify` exits with.
    pub failure: Option<String>,
}

/// What the verification wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A commit recording this tree (its id without `.flake-migrate/`).
    Committed { tree: String },
    /// This tree was already verified: nothing new.
    AlreadyVerified { tree: String },
    /// It failed: nothing was written.
    Nothing,
}

impl VerifyReport {
    /// The verification's outcome as the command's result.
    pub fn into_result(self) -> Result<()> {
        match self.failure {
            Some(message) => Err(Error::Failed(message)),
            None => Ok(()),
        }
    }
}

/// `flake-migrate verify [-- NIX ARGS]`.
pub fn verify(session: &Session, nix_args: &[String], out: &mut dyn Write) -> Result<()> {
    verify_report(session, nix_args, out)?.into_result()
}

/// Like [`verify`], with what was found; an error only where nothing could
/// be checked (no config, a dirty tree, no nix).
pub fn verify_report(
    session: &Session,
    nix_args: &[String],
    out: &mut dyn Write,
) -> Result<VerifyReport> {
    let config = session.require_config()?;
    let m = session
        .migrations
        .iter()
        .find(|m| matches!(m.operation, Operation::Verify { .. }))
        .expect("the bundled plan has a verification step");
    let mut state = session.state()?;
    check_and_record(session, &config, &mut state, m, nix_args, out)
}

/// Runs the verification of step `m` and records it on success. On failure
/// nothing is written, and the error lists each host and what is wrong.
pub(super) fn run(
    session: &Session,
    config: &Config,
    state: &mut State,
    m: &Migration,
    nix_args: &[String],
    out: &mut dyn Write,
) -> Result<()> {
    check_and_record(session, config, state, m, nix_args, out)?.into_result()
}

fn check_and_record(
    session: &Session,
    config: &Config,
    state: &mut State,
    m: &Migration,
    nix_args: &[String],
    out: &mut dyn Write,
) -> Result<VerifyReport> {
    session.refuse_dirty()?;
    if !nix::available() {
        return Err(Error::NixMissing {
            what: format!(
                "{} runs `nix flake check` and evaluates each host with `nix eval`; nothing was recorded",
                m.id
            ),
        });
    }
    let command: Vec<String> = match &m.operation {
        Operation::Verify { command } => command.clone(),
        _ => unreachable!("run is only called for verify steps"),
    };
    let check = flake_check(session, &command, nix_args)?;
    let mut report = VerifyReport {
        command: check.label.clone(),
        check_passed: check.failure.is_none(),
        check_seconds: check.seconds,
        check_output: check.output,
        hosts: Vec::new(),
        recorded: Recorded::Nothing,
        failure: check.failure,
    };
    if report.failure.is_some() {
        return Ok(report);
    }
    say(
        out,
        format!("`{}` passed ({}s)", check.label, check.seconds),
    );

    let started = std::time::Instant::now();
    let workdir = git::workdir(&session.repo)?;
    let eval = hosts::evaluate(&workdir, &session.prefix, config, nix_args)?;
    say(
        out,
        format!(
            "evaluated {} host(s) against the `{}` input's packages ({}s)",
            eval.hosts.len(),
            config.input,
            started.elapsed().as_secs()
        ),
    );
    let verdicts = hosts::judge(&eval, config);
    let failed: Vec<&hosts::Verdict> = verdicts.iter().filter(|v| !v.ok()).collect();
    if !failed.is_empty() {
        let mut msg = format!(
            "{}: {} of {} host(s) do not get upstream llama.cpp as configured; nothing was recorded",
            m.id,
            failed.len(),
            verdicts.len()
        );
        for v in &failed {
            msg.push_str(&format!("\n  {}:", v.label()));
            for p in &v.problems {
                msg.push_str(&format!("\n    - {p}"));
            }
        }
        report.failure = Some(msg);
        report.hosts = verdicts;
        return Ok(report);
    }
    for v in &verdicts {
        if v.good.is_empty() {
            say(out, format!("  {}: no llama.cpp, as configured", v.label()));
        }
        for g in &v.good {
            say(out, format!("  {}: {g}", v.label()));
        }
    }
    report.hosts = verdicts.clone();

    let tree = git::content_tree(&session.repo, &session.prefix)?.to_string();
    let verified: Vec<String> = config.hosts.keys().cloned().collect();
    let unchanged = state
        .verification
        .as_ref()
        .is_some_and(|v| v.tree == tree && v.hosts == verified)
        && state.get(&m.id).is_some_and(|a| a.checksum == m.checksum);
    if unchanged {
        say(
            out,
            format!(
                "{}: this tree ({}) was already verified; nothing new to record",
                m.id,
                &tree[..10]
            ),
        );
        report.recorded = Recorded::AlreadyVerified { tree };
        return Ok(report);
    }
    let adopted = state.get(&m.id).is_some_and(|a| a.adopted);
    state.record(Applied::without_edits(m, adopted));
    state.verification = Some(Verification {
        tree: tree.clone(),
        hosts: verified.clone(),
    });
    let mut notes = vec![format!(
        "verified tree {} (HEAD without .flake-migrate/)",
        &tree[..10]
    )];
    for v in &verdicts {
        for g in &v.good {
            notes.push(format!("{}: {g}", v.label()));
        }
    }
    record(session, m, state, None, &notes)?;
    say(
        out,
        format!(
            "{}: {} (committed; verified {})",
            m.id,
            m.title,
            if verified.is_empty() {
                "no host".to_string()
            } else {
                verified.join(", ")
            }
        ),
    );
    report.recorded = Recorded::Committed { tree };
    Ok(report)
}

/// How the check went; `failure` is the error `verify` exits with.
struct CheckOutcome {
    label: String,
    seconds: u64,
    output: Option<String>,
    failure: Option<String>,
}

/// Runs the step's command (`nix flake check`) with the user's arguments.
/// `--no-update-lock-file`: a verification checks the committed flake.lock,
/// and must not leave the tree dirty by rewriting it.
fn flake_check(session: &Session, command: &[String], nix_args: &[String]) -> Result<CheckOutcome> {
    let (program, rest) = command
        .split_first()
        .expect("a verify step names its command");
    let mut args: Vec<String> = rest.to_vec();
    let is_nix_flake = program == "nix" && rest.first().is_some_and(|a| a == "flake");
    if is_nix_flake && !nix_args.iter().any(|a| a == "--no-update-lock-file") {
        args.push("--no-update-lock-file".into());
    }
    let mut cmd = if program == "nix" {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        nix::command(&session.root, &refs, nix_args)
    } else {
        let mut c = std::process::Command::new(program);
        c.current_dir(&session.root).args(&args).args(nix_args);
        c
    };
    let mut shown = args.clone();
    shown.extend(nix_args.iter().cloned());
    let label = spinner::display(program, &shown);
    let (output, took) = spinner::run(&mut cmd, &label).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NixMissing {
            what: format!("cannot run `{label}`"),
        },
        _ => Error::Failed(format!("could not run `{label}`: {e}")),
    })?;
    if !output.status.success() {
        let tail = nix::stderr_tail(&output, 20);
        let hint = if tail.contains("lock file") {
            "\n  flake.lock is out of date with flake.nix: run `nix flake lock`, commit it, and verify again"
        } else {
            ""
        };
        return Ok(CheckOutcome {
            failure: Some(format!(
                "`{label}` failed ({}); nothing was recorded. nix said:\n{}{hint}",
                output.status,
                hosts::indent(&tail)
            )),
            output: Some(tail),
            seconds: took.as_secs(),
            label,
        });
    }
    Ok(CheckOutcome {
        label,
        seconds: took.as_secs(),
        output: None,
        failure: None,
    })
}
