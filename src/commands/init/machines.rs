//! What `init` says and checks about machines other than NixOS hosts:
//! a name two outputs share is written `darwin/NAME` or `home/NAME`, and a
//! variant upstream does not build for a machine's system (CUDA, ROCm or
//! Vulkan on a Mac, Metal off Apple Silicon) is a usage error saying why.

use std::collections::HashMap;
use std::io::Write;

use crate::config::{Build, Variant};
use crate::error::{Error, Result};
use crate::files::Files;
use crate::host_kind::HostKind;
use crate::model::Model;
use crate::output::say;
use crate::suggest;

/// Each host's system: evaluation's, else what its files name literally.
pub(super) fn systems(
    files: &dyn Files,
    model: &Model,
    evaluated: &HashMap<String, String>,
) -> Result<HashMap<String, String>> {
    let mut systems = evaluated.clone();
    for host in &model.hosts {
        if !systems.contains_key(&host.name)
            && let Some(system) = suggest::host_system(files, host)?
        {
            systems.insert(host.name.clone(), system);
        }
    }
    Ok(systems)
}

/// `--host NAME=BUILD` for a Mac with a variant upstream does not build
/// for darwin, or for a machine that is no Apple Silicon Mac with `metal`.
/// A NixOS host whose system nobody knows runs Linux. (Linux' own gaps,
/// such as ROCm off x86_64-linux, are `verify`'s to report, as before.)
pub(super) fn check_fits(
    name: &str,
    build: &Build,
    kind: Option<HostKind>,
    system: Option<&str>,
) -> Result<()> {
    let system = match (system, kind) {
        (Some(system), _) => system,
        (None, Some(HostKind::Nixos)) if build.base == Variant::Metal => "x86_64-linux",
        _ => return Ok(()),
    };
    if !system.ends_with("-darwin") && build.base != Variant::Metal {
        return Ok(());
    }
    match build.base.available_on(system) {
        Ok(()) => Ok(()),
        Err(_) if build.base == Variant::Metal && kind == Some(HostKind::Nixos) => {
            Err(Error::usage(
                format!(
                    "host `{name}` is a NixOS host: metal is upstream's build for Apple Silicon (aarch64-darwin) only"
                ),
                format!("choose a Linux variant: --host {name}=cpu (or cuda, vulkan, rocm)"),
            ))
        }
        Err(why) => Err(Error::usage(
            format!("host `{name}` ({system}): {why}"),
            format!(
                "choose a variant upstream builds there: --host {name}={}",
                build.base.fitted_to(system)
            ),
        )),
    }
}

/// The machines' kinds, when the flake has more than NixOS hosts, and the
/// names written with their kind because two outputs share them.
pub(super) fn report_kinds(model: &Model, out: &mut dyn Write) {
    let other: Vec<String> = model
        .hosts
        .iter()
        .filter(|h| h.kind != HostKind::Nixos)
        .map(|h| format!("{} ({})", h.name, h.kind.label()))
        .collect();
    if !other.is_empty() {
        say(
            out,
            format!(
                "note: besides NixOS hosts: {}; they are migrated like NixOS hosts",
                other.join(", ")
            ),
        );
    }
    for host in &model.hosts {
        if let Some(attr) = host.name.strip_prefix(host.kind.prefix())
            && host.kind != HostKind::Nixos
        {
            say(
                out,
                format!(
                    "note: `{attr}` is the name of machines in more than one output: {}'s is written `{}` in flake-migrate.toml",
                    host.kind.output(),
                    host.name
                ),
            );
        }
    }
}
