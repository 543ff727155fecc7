//! Where evaluation and the static reading meet in `init`: evaluation says
//! which hosts use llama.cpp at all, and the two readings' differences are
//! reported (evaluation wins).

use std::io::Write;

use crate::config::Variant;
use crate::eval::discover::{Definition, HostInfo, Origin};
use crate::model::by_reason;
use crate::model::{Differences, Model};
use crate::output::{names_shown, say};
use crate::suggest;

/// Evaluation knows what each host installs and runs: a host uses
/// llama.cpp only where something it installs or runs is llama.cpp. An
/// overlay that merely redefines `llama-cpp` is not use; `ollama` is not
/// llama.cpp.
pub(super) fn settle_with_evaluation(s: &mut suggest::Suggestion, info: &HostInfo) {
    let uses: Vec<&Definition> = info
        .packages
        .iter()
        .chain(&info.service)
        .filter(|d| is_llama_cpp(d))
        .collect();
    match (uses.first(), s.variant) {
        // A package built with llama-cpp is not llama.cpp by name: the
        // syntax tree's reading of its callPackage stands.
        (None, Some(_)) if s.built_into_package => {
            s.evidence.push_str(
                " (built into another package, which evaluation does not list as llama.cpp)",
            );
        }
        // Set where evaluation does not look (a systemd service's
        // command): the syntax tree's reading stands.
        (None, Some(_)) if s.unread_option.is_some() => {
            let option = s.unread_option.as_deref().unwrap_or_default();
            s.evidence
                .push_str(&format!(" (in {option}, which evaluation does not list)"));
        }
        (None, _) => {
            s.variant = None;
            s.evidence = "evaluation: installs and runs no llama.cpp".into();
        }
        (Some(d), static_variant) => {
            // The backend the host's build turns on is what it runs,
            // however the configuration spells it (`cudaSupport =
            // cfg.nvidia`); the syntax tree's reading stands otherwise.
            let built = uses
                .iter()
                .find_map(|d| Some((*d, d.backend.as_deref().and_then(Variant::parse)?)));
            match (built, static_variant) {
                (Some((d, v)), _) if static_variant.and_then(gpu_backend) != Some(v) => {
                    s.variant = Some(match static_variant {
                        Some(Variant::MpiCpu | Variant::MpiCuda) if v == Variant::Cuda => {
                            Variant::MpiCuda
                        }
                        _ => v,
                    });
                    s.evidence = format!(
                        "evaluation: {} ({}, {}) is built with {} on",
                        d.name,
                        d.option,
                        where_defined(d),
                        cmake_flag(v)
                    );
                }
                (_, None) => {
                    s.variant = Some(Variant::Cpu);
                    s.evidence = format!(
                        "evaluation: {} ({}, {}) (no GPU found in the configuration)",
                        d.name,
                        d.option,
                        where_defined(d)
                    );
                }
                _ => {}
            }
        }
    }
    suggest::fit_system(s, &info.system);
}

/// The GPU backend a variant builds with.
fn gpu_backend(v: Variant) -> Option<Variant> {
    match v {
        Variant::Cuda | Variant::MpiCuda => Some(Variant::Cuda),
        Variant::Vulkan | Variant::Rocm | Variant::Metal => Some(v),
        Variant::Cpu | Variant::MpiCpu | Variant::Windows => None,
    }
}

/// The cmake flag that turns `backend` on in llama.cpp's build.
fn cmake_flag(backend: Variant) -> &'static str {
    match backend {
        Variant::Cuda => "GGML_CUDA",
        Variant::Rocm => "GGML_HIP",
        Variant::Vulkan => "GGML_VULKAN",
        Variant::Metal => "GGML_METAL",
        _ => "no GPU backend",
    }
}

fn where_defined(d: &Definition) -> String {
    d.file
        .as_ref()
        .map_or("inline".to_string(), |f| f.display().to_string())
}

fn is_llama_cpp(d: &Definition) -> bool {
    d.option.ends_with(".enable")
        || d.origin != Origin::Other
        || d.name.starts_with("llama-cpp")
        || d.name.starts_with("llama.cpp")
}

/// What the static reading could not follow, and, with evaluation, where
/// the two readings differ (evaluation wins).
pub(super) fn report_readings(
    model: &Model,
    diff: &Differences,
    evaluated: bool,
    out: &mut dyn Write,
) {
    if !diff.found_by_evaluation.is_empty() {
        say(
            out,
            format!(
                "note: evaluation found host(s) the static reading misses: {}",
                diff.found_by_evaluation.join(", ")
            ),
        );
    }
    if !diff.not_in_evaluation.is_empty() {
        say(
            out,
            format!(
                "note: the static reading saw host(s) that nixosConfigurations does not have: {} (ignored)",
                diff.not_in_evaluation.join(", ")
            ),
        );
    }
    for (host, files) in &diff.files_by_evaluation {
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        say(
            out,
            format!(
                "note: {host}: evaluation connects module file(s) the static reading does not follow: {}",
                files.join(", ")
            ),
        );
    }
    for u in &model.unresolved {
        let tail = if evaluated {
            "static reading could not follow it; evaluation covers it"
        } else {
            "not followed: unknown without evaluation"
        };
        say(
            out,
            format!(
                "note: {}:{}:{}: {} ({tail})",
                u.file.display(),
                u.line,
                u.column,
                u.what
            ),
        );
    }
    for (reason, hosts) in by_reason(&model.unknown_hosts) {
        let said = match hosts.as_slice() {
            [one] => format!("host {one} failed to evaluate, so it gets no variant"),
            many => format!(
                "{} hosts failed to evaluate, all the same way, so they get no variant ({})",
                many.len(),
                names_shown(many)
            ),
        };
        say(out, format!("note: {said}; nix said: {reason}"));
    }
}
