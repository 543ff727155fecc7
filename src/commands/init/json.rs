//! `init --json`: what `init` found and would suggest, each machine with
//! its kind and system, as one JSON object (documented in the README).

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{InitOptions, find, report_readings};
use crate::config::Variant;
use crate::engine::Session;
use crate::error::{Result, exit};
use crate::host_kind::HostKind;

/// `init --json`: what `init` found and would suggest, as one JSON object
/// (documented in the README); reads only, writes nothing.
pub fn json(dir: &Path, opts: &InitOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open(dir)?;
    let found = find(&session, opts, &mut std::io::stderr())?;
    let mut notes = Vec::new();
    report_readings(&found.model, &found.diff, found.evaluated, &mut notes);
    let report = InitJson {
        version: 1,
        evaluated: found.evaluated,
        hosts: found
            .suggestions
            .iter()
            .map(|s| HostJson {
                name: &s.host,
                kind: found
                    .model
                    .host(&s.host)
                    .map_or(HostKind::Nixos, |h| h.kind)
                    .to_string(),
                system: found.systems.get(&s.host).map(String::as_str),
                variant: s.variant.map(Variant::name),
                options: &s.options,
                evidence: &s.evidence,
            })
            .collect(),
        notes: String::from_utf8_lossy(&notes)
            .lines()
            .map(|l| l.strip_prefix("note: ").unwrap_or(l).to_string())
            .collect(),
    };
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&report).expect("serializes")
    );
    Ok(exit::OK)
}

#[derive(Serialize)]
struct InitJson<'a> {
    version: u32,
    /// Whether nix evaluated the flake (false: read statically).
    evaluated: bool,
    hosts: Vec<HostJson<'a>>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct HostJson<'a> {
    name: &'a str,
    /// `nixos`, `darwin` (nix-darwin) or `home` (standalone home-manager).
    kind: String,
    /// Its system, where evaluation or its files say it.
    system: Option<&'a str>,
    /// `null`: the host does not use llama.cpp (or failed to evaluate).
    variant: Option<&'static str>,
    /// The options the evidence shows (`native`, `rpc`), as `--yes` writes them.
    options: &'a [String],
    evidence: &'a str,
}
