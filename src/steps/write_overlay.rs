//! 0002: write the one small overlay that names upstream's packages
//! `llama-cpp-<variant>`, for exactly the variants the hosts use; a host
//! with options (`native`, package arguments) gets one attribute for its
//! combination (`llama-cpp-vulkan-native`).

use std::path::{Path, PathBuf};

use super::{Changeset, Context, Plan};
use crate::config::{Build, Config, NATIVE_HELPER, cuda_helper};
use crate::error::Result;
use crate::files::Files;
use crate::flake::{self, FLAKE_FILE};
use crate::syntax;

pub fn plan(ctx: &Context, max_lines: usize) -> Result<Plan> {
    let config = ctx.config;
    let variants = config.variants();
    if variants.is_empty() {
        return Ok(Plan::blocked(
            "no host has a variant in flake-migrate.toml",
            "add hosts under [hosts] (for example `carbon = \"cuda\"`), or run `flake-migrate init`",
        ));
    }
    // A configured machine that is no NixOS host may be a Mac.
    let model = ctx.model()?;
    let macs = config.hosts.keys().any(|h| {
        model
            .host(h)
            .is_some_and(|h| h.kind != crate::host_kind::HostKind::Nixos)
    });
    let fleet = Fleet {
        macs,
        linux_without_rocm: linux_without_rocm(ctx),
    };
    let wanted = overlay_text_for(config, &upstream_input(ctx)?, fleet);
    // The limit holds for the four hardware bases; each further
    // combination adds its line, and each helper in use its own.
    let extra = config.builds().len().saturating_sub(4) + helpers(config, "", fleet).len();
    debug_assert!(wanted.lines().count() <= max_lines + extra);
    let path = config.overlay.as_path();
    match ctx.files.read(path)? {
        None => {
            let mut changes = Changeset::default();
            changes.files.insert(path.to_path_buf(), Some(wanted));
            Ok(Plan::Changes(changes))
        }
        Some(existing) if existing == wanted => Ok(Plan::Satisfied),
        Some(existing) => match missing_variants(config, &existing) {
            Ok(missing) if missing.is_empty() => Ok(Plan::Satisfied),
            Ok(missing) => {
                // Ours, but out of date with the config (a variant added):
                // regenerate it. Anything else is the user's file.
                if is_generated(&existing) {
                    let mut changes = Changeset::default();
                    changes.files.insert(path.to_path_buf(), Some(wanted));
                    Ok(Plan::Changes(changes))
                } else {
                    Ok(Plan::blocked(
                        format!(
                            "{} exists and does not define {}",
                            path.display(),
                            missing
                                .iter()
                                .map(Build::package_attr)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        "add those attributes to it by hand (see the README), or set `overlay` in flake-migrate.toml to a new path",
                    ))
                }
            }
            Err(e) => Err(e),
        },
    }
}

/// Where a new config puts the overlay: in the overlays directory the
/// repository already has (`overlays/`, `nix/overlays/`; the shallowest),
/// else the default. A directory that loads every file in it
/// (`builtins.readDir` in its `default.nix`) is passed over: the overlay
/// would then be applied to every host, and not as a function of `inputs`.
pub fn overlay_path(files: &dyn Files) -> Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .nix_files()
        .iter()
        .filter_map(|p| p.parent())
        .filter(|d| d.file_name().is_some_and(|n| n == "overlays"))
        .map(Path::to_path_buf)
        .collect();
    dirs.sort_by_key(|d| (d.components().count(), d.clone()));
    dirs.dedup();
    for dir in dirs {
        let loads_all = files
            .read(&dir.join("default.nix"))?
            .is_some_and(|t| t.contains("readDir"));
        if loads_all {
            continue;
        }
        for name in ["llama-cpp.nix", "llama-cpp-upstream.nix"] {
            if !files.exists(&dir.join(name)) {
                return Ok(dir.join(name));
            }
        }
    }
    Ok(Config::default().overlay)
}

const HEADER: &str =
    "# Upstream llama.cpp flake builds as llama-cpp-<variant> (portable: GGML_NATIVE off).";

/// The flake input the overlay reads: the configured one, or the input
/// that already brought upstream under another name (step 0001 reuses it).
pub(super) fn upstream_input(ctx: &Context) -> Result<String> {
    let text = ctx.files.read(Path::new(FLAKE_FILE))?.unwrap_or_default();
    let found = match flake::parse(&text) {
        Ok(Ok(flake)) => flake.upstream_input(&ctx.config.input, &ctx.config.url),
        _ => None,
    };
    Ok(found.unwrap_or_else(|| ctx.config.input.clone()))
}

/// The systems of the configured machines, as far as they matter to the
/// overlay: which of upstream's packages some of them lack.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fleet {
    /// A configured machine may be a Mac (a nix-darwin or home-manager
    /// one): no CUDA, ROCm, Vulkan or MPI there.
    pub macs: bool,
    /// A configured Linux machine is known (by evaluation) not to be
    /// x86_64: upstream builds ROCm for x86_64-linux only.
    pub linux_without_rocm: bool,
}

/// Whether evaluation knows a configured host to run a Linux other than
/// x86_64-linux (a Raspberry Pi). Without evaluation nobody knows.
fn linux_without_rocm(ctx: &Context) -> bool {
    let Some(discovery) = ctx.discovery else {
        return false;
    };
    ctx.config
        .hosts
        .keys()
        .any(|h| match discovery.hosts.get(h) {
            Some(crate::eval::discover::HostFacts::Known(info)) => {
                info.system.ends_with("-linux") && info.system != "x86_64-linux"
            }
            _ => false,
        })
}

/// The helpers the builds in use need, one line each: `native` for native
/// builds, `cuda` for CUDA builds with chosen capabilities.
fn helpers(config: &Config, input: &str, fleet: Fleet) -> Vec<String> {
    let builds = config.builds();
    let mut out = Vec::new();
    if builds.iter().any(|b| b.options.native) {
        out.push(NATIVE_HELPER.to_string());
    }
    if builds.iter().any(|b| b.options.cuda_capabilities.is_some()) {
        out.push(cuda_helper(input));
    }
    if !absent_elsewhere(config, fleet).is_empty() {
        out.push(ABSENT_HELPER.to_string());
    }
    out
}

/// Upstream's packages that some system of the fleet lacks, read with
/// `or (absent "cuda")`, so that on those systems the name is a throw
/// (which evaluation can catch) rather than a missing attribute (which
/// fails the whole evaluation of anything that looks at every name of the
/// overlay): every package but `default` and `windows` for a fleet that
/// may have a Mac (a `metal` build, or a configured nix-darwin or
/// home-manager machine), `rocm` for one with an aarch64 Linux host.
fn absent_elsewhere(config: &Config, fleet: Fleet) -> Vec<&'static str> {
    let builds = config.builds();
    let macs = fleet.macs || builds.iter().any(|b| b.base == Variant::Metal);
    if !macs && !fleet.linux_without_rocm {
        return Vec::new();
    }
    let mut out: Vec<&'static str> = builds
        .iter()
        .map(|b| b.upstream_package())
        .filter(|p| !matches!(*p, "default" | "windows"))
        .filter(|p| macs || *p == "rocm")
        .collect();
    out.sort();
    out.dedup();
    out
}

const ABSENT_HELPER: &str = "absent = v: throw \"upstream llama.cpp builds no ${v} for ${prev.stdenv.hostPlatform.system}\";";

/// The overlay reading the flake input `input`: at most 10 lines for the
/// four base variants, one more per other combination and one per helper.
pub fn overlay_text(config: &Config, input: &str) -> String {
    overlay_text_for(config, input, Fleet::default())
}

/// [`overlay_text`] for a fleet of those systems (see [`absent_elsewhere`]).
pub fn overlay_text_for(config: &Config, input: &str, fleet: Fleet) -> String {
    let upstream =
        format!("let upstream = inputs.{input}.packages.${{prev.stdenv.hostPlatform.system}};");
    let mut bindings = upstream;
    for helper in helpers(config, input, fleet) {
        bindings.push_str("\n    ");
        bindings.push_str(&helper);
    }
    bindings.push_str(" in");
    let mut out = format!("{HEADER}\n{{ inputs }}:\n_final: prev:\n{bindings}\n{{\n");
    let absent = absent_elsewhere(config, fleet);
    for b in config.builds() {
        let mut expr = b.expression();
        for p in &absent {
            expr = expr.replace(
                &format!("upstream.{p}"),
                &format!("(upstream.{p} or (absent \"{p}\"))"),
            );
        }
        out.push_str(&format!("  {} = {};\n", b.package_attr(), expr));
    }
    out.push_str("}\n");
    out
}

fn is_generated(text: &str) -> bool {
    text.starts_with(HEADER)
}

/// Builds of the config that the overlay file does not define.
fn missing_variants(config: &Config, text: &str) -> Result<Vec<Build>> {
    use rowan::ast::AstNode;
    let root = syntax::parse(&config.overlay, text)?;
    let defined: Vec<String> = root
        .syntax()
        .descendants()
        .filter_map(rnix::ast::AttrpathValue::cast)
        .filter_map(|apv| syntax::attrpath_names(&apv.attrpath()?))
        .filter_map(|names| names.last().cloned())
        .collect();
    Ok(config
        .builds()
        .into_iter()
        .filter(|v| !defined.contains(&v.package_attr()))
        .collect())
}

use crate::config::Variant;

#[cfg(test)]
#[path = "write_overlay_tests.rs"]
mod tests;
