//! 0002: write the one small overlay that names upstream's packages
//! `llama-cpp-<variant>`, for exactly the variants the hosts use.

use super::{Changeset, Context, Plan};
use crate::config::{Config, Variant};
use crate::error::Result;
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
    let wanted = overlay_text(config);
    debug_assert!(wanted.lines().count() <= max_lines);
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
                                .map(|v| v.package_attr())
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

const HEADER: &str =
    "# Upstream llama.cpp flake builds as llama-cpp-<variant> (portable: GGML_NATIVE off).";

/// The overlay, at most 10 lines for all four variants.
pub fn overlay_text(config: &Config) -> String {
    let mut out = format!(
        "{HEADER}\n{{ inputs }}:\n_final: prev:\nlet upstream = inputs.{}.packages.${{prev.stdenv.hostPlatform.system}}; in\n{{\n",
        config.input
    );
    for v in config.variants() {
        out.push_str(&format!(
            "  {} = upstream.{};\n",
            v.package_attr(),
            v.upstream_package()
        ));
    }
    out.push_str("}\n");
    out
}

fn is_generated(text: &str) -> bool {
    text.starts_with(HEADER)
}

/// Variants of the config that the overlay file does not define.
fn missing_variants(config: &Config, text: &str) -> Result<Vec<Variant>> {
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
        .variants()
        .into_iter()
        .filter(|v| !defined.contains(&v.package_attr()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_for_all_variants_fits_in_ten_lines_and_parses() {
        let mut config = Config::default();
        for (i, v) in Variant::ALL.into_iter().enumerate() {
            config.hosts.insert(format!("h{i}"), v);
        }
        let text = overlay_text(&config);
        assert!(text.lines().count() <= 10, "{text}");
        syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
        assert!(text.contains("llama-cpp-cpu = upstream.default;"));
        assert!(text.contains("prev.stdenv.hostPlatform.system"));
        assert!(!text.contains("prev.system"));
        assert_eq!(text.lines().filter(|l| l.starts_with('#')).count(), 1);
    }

    #[test]
    fn overlay_has_exactly_the_configured_variants() {
        let mut config = Config::default();
        config.hosts.insert("carbon".into(), Variant::Cuda);
        config.hosts.insert("beryllium".into(), Variant::Vulkan);
        insta::assert_snapshot!(overlay_text(&config));
    }
}
