//! A module imported by hosts of different variants: one rewrite cannot
//! suit them all, so the step is refused with a way out.

use std::path::Path;

use crate::config::Build;
use crate::model;
use crate::refs::LlamaRef;
use crate::steps::Plan;

pub(super) fn shared_conflict(
    file: &Path,
    text: &str,
    first: &LlamaRef,
    hosts: &[(String, Option<Build>)],
) -> Plan {
    let list = hosts
        .iter()
        .map(|(h, v)| {
            format!(
                "{h} ({})",
                v.as_ref().map_or("no variant".into(), |v| v.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Plan::blocked(
        format!(
            "{}: this module references nixpkgs' llama-cpp and is shared by hosts of different variants: {list}",
            model::location(file, text, first.range.start)
        ),
        format!(
            "move the reference out of {} into each host's own module (for example `environment.systemPackages = [ pkgs.llama-cpp-<variant> ];` there), or give those hosts one variant in flake-migrate.toml; then run `flake-migrate up` again",
            file.display()
        ),
    )
}
