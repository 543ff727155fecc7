//! `flake-migrate verify [--json] [-- NIX ARGS]` (checklist item 6).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::engine::{self, Recorded, Session};
use crate::error::{Result, exit};
use crate::output;

pub fn run(dir: &Path, nix_args: &[String], out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    engine::verify(&session, nix_args, out)?;
    Ok(exit::OK)
}

/// `verify --json`: the check, each host's verdict and what was recorded,
/// as one JSON object (documented in the README). A failed verification
/// still prints it, then exits 1 with the error on stderr.
pub fn json(dir: &Path, nix_args: &[String], out: &mut dyn Write) -> Result<i32> {
    let mut progress = output::progress();
    let session = Session::open_for_change(dir, &mut progress)?;
    let report = engine::verify_report(&session, nix_args, &mut progress)?;
    let (recorded, tree) = match &report.recorded {
        Recorded::Committed { tree } => ("committed", Some(tree)),
        Recorded::AlreadyVerified { tree } => ("already-verified", Some(tree)),
        Recorded::Nothing => ("nothing", None),
    };
    let value = json!({
        "version": 1,
        "check": {
            "command": report.command,
            "passed": report.check_passed,
            "seconds": report.check_seconds,
            "output": report.check_output,
        },
        "hosts": report
            .hosts
            .iter()
            .map(|v| json!({
                "name": v.host,
                "variant": v.variant.map(|v| v.to_string()),
                "ok": v.ok(),
                "good": v.good,
                "problems": v.problems,
            }))
            .collect::<Vec<_>>(),
        "recorded": recorded,
        "tree": tree,
        "error": report.failure,
    });
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&value).expect("serializes")
    );
    report.into_result()?;
    Ok(exit::OK)
}
