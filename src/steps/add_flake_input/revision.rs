//! The revision the old overrides pinned, which the input takes over: 0001
//! is where the input's url is written, and the old overrides (which 0004
//! and 0005 replace later in the same run) are still in the tree when it
//! plans.

use std::collections::BTreeSet;

use super::Context;
use crate::error::Result;
use crate::pinned_src::{self, Pin, Resolved, Source};
use crate::refs::{self, RefKind};

/// What the old overrides' `src` pins say the input's revision should be.
pub(super) enum Revision {
    /// No old override pins `src`: upstream's default branch, as before.
    Unpinned,
    /// Every pin names this upstream revision.
    Pinned { rev: String, pins: Vec<Pin> },
    /// The pins disagree, or one cannot be read as an upstream revision.
    Disagree(Vec<Pin>),
}

/// Reads every old override of nixpkgs' llama-cpp the later steps replace
/// (outside `[guard] exclude`, which they leave alone) for a pinned `src`.
pub(super) fn read(ctx: &Context) -> Result<Revision> {
    let excluded = ctx.config.excluded();
    // A `src = inputs.llama-src;` names a checkout the flake declares.
    let checkouts = super::super::revisions(ctx)?;
    let mut pins = Vec::new();
    for file in ctx.files.nix_files() {
        if excluded.contains(&file) {
            continue;
        }
        let Some(text) = ctx.files.read(&file)? else {
            continue;
        };
        // Only an `overrideAttrs` sets `src`; most files have none.
        if !text.contains("overrideAttrs") || !refs::may_refer(&text) {
            continue;
        }
        let root = rnix::Root::parse(&text).tree();
        for r in refs::find(&root) {
            if matches!(r.kind, RefKind::Override { attrs: true, .. }) {
                pins.extend(pinned_src::pins_within(&file, &text, &root, r.range));
            }
        }
    }
    // A checkout of upstream's default branch pins nothing.
    let pins: Vec<Pin> = pins
        .into_iter()
        .filter_map(|p| {
            let source = match checkouts.resolve(&p.source) {
                Resolved::Upstream(rev) => Source::Upstream(rev),
                Resolved::DefaultBranch => return None,
                Resolved::Other(what) => Source::Other(what),
            };
            Some(Pin { source, ..p })
        })
        .collect();
    let revs: BTreeSet<Option<&str>> = pins.iter().map(Pin::revision).collect();
    Ok(match revs.into_iter().collect::<Vec<_>>()[..] {
        [] => Revision::Unpinned,
        [Some(rev)] => Revision::Pinned {
            rev: rev.to_string(),
            pins,
        },
        _ => Revision::Disagree(pins),
    })
}

/// `b6500 in a.nix:3:5, b6600 in b.nix:7:9`.
pub(super) fn listed(pins: &[Pin]) -> String {
    pins.iter()
        .map(|p| match &p.source {
            Source::Upstream(rev) => format!("src pinned to {rev} in {}", p.at),
            Source::Input(name) => format!("src = inputs.{name} in {}", p.at),
            Source::Other(what) => format!("{what} in {}", p.at),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
