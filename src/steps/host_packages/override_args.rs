//! Which arguments of an old `.override { … }` the host's build (its
//! upstream variant and options) already has, and which the rewrite drops;
//! and a `cudaCapabilities` set outside the overrides, which upstream's
//! build does not see either.

use std::path::Path;

use crate::config::{Build, Variant};
use crate::model;
use crate::refs::LlamaRef;

/// Whether an override argument (`name = value`) is what the build
/// already does.
pub(crate) fn covered(build: &Build, arg: &str) -> bool {
    let Some((name, value)) = arg.split_once(" = ") else {
        return false;
    };
    let variant = build.base;
    let flag = |v: Variant| match v {
        Variant::Cuda | Variant::MpiCuda => Some("cudaSupport"),
        Variant::Vulkan => Some("vulkanSupport"),
        Variant::Rocm => Some("rocmSupport"),
        Variant::Metal => Some("metalSupport"),
        Variant::Cpu | Variant::MpiCpu | Variant::Windows => None,
    };
    let value = value.trim();
    let options = &build.options;
    match name {
        "rpcSupport" => return options.rpc == (value == "true"),
        "blasSupport" if options.blas.is_some() => {
            return options.blas == Some(value == "true");
        }
        "cudaCapabilities" => {
            return options.cuda_capabilities.as_ref().is_some_and(|caps| {
                let written: Vec<&str> = value
                    .trim_matches(['[', ']'])
                    .split_whitespace()
                    .map(|c| c.trim_matches('"'))
                    .collect();
                written == caps.iter().map(String::as_str).collect::<Vec<_>>()
            });
        }
        "rocmGpuTargets" => {
            return options
                .rocm_targets
                .as_ref()
                .is_some_and(|t| value.trim_matches('"') == t);
        }
        _ => {}
    }
    if Some(name) == flag(variant) {
        return value == "true";
    }
    let other_flag = Variant::ALL
        .iter()
        .any(|v| *v != variant && flag(*v) == Some(name));
    (other_flag && value == "false") || (name == "blasSupport" && value == "true")
}

/// `nixpkgs.config.cudaCapabilities` reached nixpkgs' llama-cpp, but not
/// upstream's `cuda` package, which upstream's own nixpkgs builds: named
/// for the CUDA hosts without `cuda-capabilities` (outside the references,
/// whose override arguments are judged with the rest of them).
pub(super) fn cuda_config_note(
    config: &crate::config::Config,
    file: &Path,
    text: &str,
    hosts: &[String],
    found: &[LlamaRef],
) -> Option<String> {
    let at = text
        .match_indices("cudaCapabilities")
        .map(|(at, _)| at)
        .find(|at| !found.iter().any(|r| r.range.contains(at)))?;
    let without: Vec<&str> = hosts
        .iter()
        .filter(|h| {
            config.build(h).is_some_and(|b| {
                matches!(b.base, Variant::Cuda | Variant::MpiCuda)
                    && b.options.cuda_capabilities.is_none()
            })
        })
        .map(String::as_str)
        .collect();
    (!without.is_empty()).then(|| {
        format!(
            "{}: not carried: cudaCapabilities (nixpkgs' config does not reach upstream's cuda package, built with upstream's nixpkgs): give {} `cuda-capabilities` in flake-migrate.toml",
            model::location(file, text, at),
            without.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_override_arguments() {
        let b = |v: Variant| Build::from(v);
        assert!(covered(&b(Variant::Cuda), "cudaSupport = true"));
        assert!(covered(&b(Variant::Vulkan), "cudaSupport = false"));
        assert!(!covered(&b(Variant::Cpu), "blasSupport = false"));
        assert!(!covered(&b(Variant::Cuda), "rpcSupport = true"));
        let mut rpc = b(Variant::Cuda);
        rpc.options.rpc = true;
        assert!(covered(&rpc, "rpcSupport = true"));
        rpc.options.blas = Some(false);
        assert!(covered(&rpc, "blasSupport = false"));
        assert!(!covered(&rpc, "cudaCapabilities = [ \"8.6\" ]"));
        rpc.options.cuda_capabilities = Some(vec!["8.6".into()]);
        assert!(covered(&rpc, "cudaCapabilities = [ \"8.6\" ]"));
        assert!(!covered(&rpc, "cudaCapabilities = [ \"8.6\" \"8.9\" ]"));
    }
}
