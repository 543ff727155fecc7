//! The system a host is for, as far as its files say it literally: its
//! builder's `system = "…"`, a home-manager configuration's
//! `pkgs = nixpkgs.legacyPackages.<system>`, a module's
//! `nixpkgs.hostPlatform = "…"`. Evaluation knows it exactly; this is the
//! static reading's answer (for `--no-eval` and the hook), or none.

use super::Suggestion;
use crate::config::Variant;
use crate::error::Result;
use crate::files::Files;
use crate::model::Host;

const SYSTEMS: [&str; 4] = [
    "x86_64-linux",
    "aarch64-linux",
    "x86_64-darwin",
    "aarch64-darwin",
];

/// The system a host's definition (`definition`: the text of its range)
/// and its module files (`module_text`) name, when they name one.
pub(super) fn named_system<'a>(
    definition: &'a str,
    modules: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if let Some(s) = literal_after(definition, "system = \"") {
        return Some(s.to_string());
    }
    if let Some(s) = SYSTEMS
        .iter()
        .find(|s| definition.contains(&format!("legacyPackages.{s}")))
    {
        return Some(s.to_string());
    }
    modules.into_iter().find_map(|text| {
        literal_after(text, "hostPlatform = \"")
            .or_else(|| literal_after(text, "nixpkgs.system = \""))
            .map(str::to_string)
    })
}

/// The string literal that follows `key` in `text`.
fn literal_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let after = &text[text.find(key)? + key.len()..];
    Some(&after[..after.find('"')?])
}

/// [`named_system`] of a host, reading its files.
pub fn host_system(files: &dyn Files, host: &Host) -> Result<Option<String>> {
    let definition = files
        .read(&host.def_file)?
        .and_then(|t| t.get(host.range.clone()).map(str::to_string))
        .unwrap_or_default();
    let mut texts = Vec::new();
    for file in &host.files {
        if let Some(text) = files.read(file)? {
            texts.push(text);
        }
    }
    Ok(named_system(&definition, texts.iter().map(String::as_str)))
}

/// Upstream builds `rocm` only for x86_64-linux, CUDA only for Linux, and
/// on Apple Silicon its `default` is the Metal build: a host's variant is
/// fitted to its system (`Variant::fitted_to`), and the evidence says why.
pub fn fit_system(s: &mut Suggestion, system: &str) {
    let Some(v) = s.variant else {
        return;
    };
    let fitted = v.fitted_to(system);
    if fitted == v {
        return;
    }
    s.variant = Some(fitted);
    s.evidence = if fitted == Variant::Metal && v == Variant::Cpu {
        format!(
            "{} (on {system} upstream's default is the Metal build: metal)",
            s.evidence
        )
    } else {
        format!(
            "{} (suggests {v}, which upstream does not build for {system}: {fitted} instead)",
            s.evidence
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_is_read_from_the_builder_the_package_set_or_a_module() {
        assert_eq!(
            named_system("nixosSystem { system = \"aarch64-linux\"; }", []).as_deref(),
            Some("aarch64-linux")
        );
        assert_eq!(
            named_system("{ pkgs = nixpkgs.legacyPackages.x86_64-darwin; }", []).as_deref(),
            Some("x86_64-darwin")
        );
        assert_eq!(
            named_system(
                "darwinSystem { }",
                ["{ nixpkgs.hostPlatform = \"aarch64-darwin\"; }"]
            )
            .as_deref(),
            Some("aarch64-darwin")
        );
        assert_eq!(named_system("darwinSystem { }", ["{ }"]), None);
    }
}
