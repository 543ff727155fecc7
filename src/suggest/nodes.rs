//! The clues one node of a configuration gives: hardware and driver
//! settings, nixos-hardware modules, `nixpkgs.config.cudaSupport`, the names
//! of an old variants overlay.

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::{Clue, Strength, first_line};
use crate::config::Variant;
use crate::refs;
use crate::syntax;

fn variant_of_name(name: &str) -> Option<Variant> {
    let suffix = name.strip_prefix("llama-cpp-")?;
    Variant::parse(suffix)
}

pub(super) fn scan_node(
    node: &SyntaxNode,
    at: &dyn Fn(usize) -> String,
    clues: &mut Vec<Clue>,
    uses: &mut Option<String>,
) {
    let offset = syntax::start(node);
    match node.kind() {
        // `llama-cpp-cuda` (from an old variants overlay) and forks' packages.
        SyntaxKind::NODE_IDENT | SyntaxKind::NODE_SELECT => {
            let names = if node.kind() == SyntaxKind::NODE_SELECT || is_value(node) {
                static_names(node)
            } else {
                Vec::new()
            };
            if let Some(v) = names.iter().find_map(|n| variant_of_name(n)) {
                uses.get_or_insert_with(|| format!("{}: {}", at(offset), names.join(".")));
                clues.push(Clue {
                    strength: Strength::OldVariantName,
                    variant: v,
                    evidence: format!("{}: uses `{}`", at(offset), names.join(".")),
                    conditions: Vec::new(),
                });
            }
            // A fork's package: `inputs.llama-fork.packages.${system}.rocm`.
            if names.first().is_some_and(|n| n == "inputs")
                && names.get(1).is_some_and(|n| n.contains("llama"))
                && names.iter().any(|n| n == "packages")
            {
                uses.get_or_insert_with(|| format!("{}: {}", at(offset), names.join(".")));
                let last = names.last().map(String::as_str).unwrap_or("");
                let variant = if last == "default" {
                    Some(Variant::Cpu)
                } else {
                    Variant::parse(last)
                };
                if let Some(v) = variant {
                    clues.push(Clue {
                        strength: Strength::OldVariantName,
                        variant: v,
                        evidence: format!("{}: uses `{}`", at(offset), names.join(".")),
                        conditions: Vec::new(),
                    });
                }
            }
            // nixos-hardware modules: `…-nvidia`, `…-amd`, `…-intel`.
            if names.iter().any(|n| n == "nixosModules")
                && let Some(module) = names.last()
            {
                // `common-cpu-amd` says nothing about the GPU.
                let v = if module.contains("cpu") {
                    None
                } else if module.contains("nvidia") {
                    Some(Variant::Cuda)
                } else if module.contains("amd") || module.contains("intel") {
                    Some(Variant::Vulkan)
                } else {
                    None
                };
                if let Some(v) = v {
                    clues.push(Clue {
                        strength: Strength::HardwareModule,
                        variant: v,
                        evidence: format!("{}: nixos-hardware module `{module}`", at(offset)),
                        conditions: Vec::new(),
                    });
                }
            }
        }
        SyntaxKind::NODE_ATTRPATH_VALUE => {
            let Some(apv) = ast::AttrpathValue::cast(node.clone()) else {
                return;
            };
            let Some(path) = refs::full_path(&apv) else {
                return;
            };
            let value = apv
                .value()
                .map(|v| v.syntax().to_string())
                .unwrap_or_default();
            let dotted = path.join(".");
            if dotted == "services.llama-cpp.enable" && value.trim() != "false" {
                uses.get_or_insert_with(|| format!("{}: services.llama-cpp.enable", at(offset)));
            }
            let clue = if dotted == "nixpkgs.config.cudaSupport" && value.trim() == "true" {
                Some((Strength::NixpkgsCudaSupport, Variant::Cuda))
            } else if dotted.starts_with("hardware.nvidia.") || dotted == "hardware.nvidia" {
                Some((Strength::Hardware, Variant::Cuda))
            } else if dotted == "services.xserver.videoDrivers" {
                if value.contains("nvidia") {
                    Some((Strength::Hardware, Variant::Cuda))
                } else if ["amdgpu", "radeon", "intel", "modesetting"]
                    .iter()
                    .any(|d| value.contains(d))
                {
                    Some((Strength::Hardware, Variant::Vulkan))
                } else {
                    None
                }
            } else if dotted.starts_with("hardware.amdgpu")
                || dotted.starts_with("hardware.intelgpu")
                || ((dotted.starts_with("hardware.graphics")
                    || dotted.starts_with("hardware.opengl"))
                    && ["vulkan", "amdvlk", "intel", "mesa"]
                        .iter()
                        .any(|d| value.contains(d)))
            {
                Some((Strength::Hardware, Variant::Vulkan))
            } else {
                None
            };
            if let Some((strength, variant)) = clue {
                clues.push(Clue {
                    strength,
                    variant,
                    evidence: format!("{}: `{dotted} = {}`", at(offset), first_line(value.trim())),
                    conditions: Vec::new(),
                });
            }
        }
        _ => {}
    }
}

/// `a.b.${x}.c` as `["a", "b", "${x}", "c"]` (dynamic parts kept as text).
pub(super) fn static_names(node: &SyntaxNode) -> Vec<String> {
    match ast::Expr::cast(node.clone()) {
        Some(ast::Expr::Ident(i)) => vec![i.syntax().to_string()],
        Some(ast::Expr::Select(s)) => {
            let mut names = s
                .expr()
                .map(|e| static_names(e.syntax()))
                .unwrap_or_default();
            if let Some(path) = s.attrpath() {
                names.extend(
                    path.attrs()
                        .map(|a| syntax::attr_name(&a).unwrap_or_else(|| a.syntax().to_string())),
                );
            }
            names
        }
        _ => Vec::new(),
    }
}

fn is_value(node: &SyntaxNode) -> bool {
    !node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            SyntaxKind::NODE_ATTRPATH
                | SyntaxKind::NODE_SELECT
                | SyntaxKind::NODE_PAT_ENTRY
                | SyntaxKind::NODE_INHERIT
        )
    })
}
