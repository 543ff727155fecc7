//! `flake-migrate up [--to ID] [--dry-run [--json]] [--no-lock] [-- NIX ARGS]`.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::engine::{self, DryAction, Proof, RunOptions, Session};
use crate::error::{Result, exit};
use crate::output;

pub fn run(dir: &Path, opts: &RunOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    engine::up(&session, opts, out)?;
    Ok(exit::OK)
}

/// `up --dry-run --json`: the planned run as one JSON object (documented
/// in the README); exit 3 when a step is blocked, as `up` would.
pub fn json(dir: &Path, opts: &RunOptions, out: &mut dyn Write) -> Result<i32> {
    let mut progress = output::progress();
    let session = Session::open_for_change(dir, &mut progress)?;
    let plan = engine::dry_run(&session, opts, &mut progress)?;
    let steps: Vec<serde_json::Value> = plan
        .steps
        .iter()
        .map(|s| {
            let (action, files, notes, lock_flake) = match &s.action {
                DryAction::Apply {
                    repair,
                    files,
                    notes,
                    lock_flake,
                } => (
                    if *repair { "repair" } else { "apply" },
                    files.as_slice(),
                    notes.as_slice(),
                    *lock_flake,
                ),
                DryAction::Adopt => ("adopt", &[][..], &[][..], false),
                DryAction::Verify => ("verify", &[][..], &[][..], false),
            };
            json!({
                "id": s.id,
                "title": s.title,
                "action": action,
                "files": files
                    .iter()
                    .map(|f| json!({ "path": f.path, "change": f.change, "diff": f.diff }))
                    .collect::<Vec<_>>(),
                "notes": notes,
                "lock_flake": lock_flake,
            })
        })
        .collect();
    let blocked: Vec<serde_json::Value> = plan
        .blocked
        .iter()
        .map(|b| json!({ "step": b.step, "reason": b.reason, "help": b.help }))
        .collect();
    let report = json!({
        "version": 1,
        "steps": steps,
        "blocked": blocked,
        "proof": proof_json(plan.proof.as_ref()),
    });
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&report).expect("serializes")
    );
    Ok(if plan.blocked.is_empty() {
        exit::OK
    } else {
        exit::MANUAL
    })
}

/// Whether the planned result was proven: `null` when there is nothing to
/// prove (no file edited) or the plan is blocked (a failed proof is listed
/// under `blocked`).
fn proof_json(proof: Option<&Proof>) -> serde_json::Value {
    match proof {
        Some(
            p @ Proof::Proven {
                hosts, upstream, ..
            },
        ) => json!({
            "proven": true,
            "hosts": hosts,
            "upstream": upstream.keys().collect::<Vec<_>>(),
            "detail": p.describe(),
        }),
        Some(p @ Proof::NotProven(why)) => json!({
            "proven": false,
            "reason": why,
            "detail": p.describe(),
        }),
        Some(Proof::NothingToProve) | None => serde_json::Value::Null,
    }
}
