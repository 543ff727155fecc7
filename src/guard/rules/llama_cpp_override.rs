//! `llama-cpp-override` (after 0005): nothing builds nixpkgs' llama-cpp
//! with `override` or `overrideAttrs` again, in any file.

use crate::error::Result;
use crate::guard::{Finding, Rule, Scope};
use crate::refs::RefKind;

pub const RULE: Rule = Rule {
    id: "llama-cpp-override",
    summary: "no `override`/`overrideAttrs` of nixpkgs' llama-cpp",
    help: "use the upstream variant from the overlay (`llama-cpp-cuda`, …) instead of overriding nixpkgs' build",
    explanation: "\
Step 0005 deleted the old override file, which built hardware variants with
`prev.llama-cpp.override { cudaSupport = true; }` and `overrideAttrs`. Upstream
builds each variant itself (`packages.<system>.cuda`, `vulkan`, `rocm`, …),
so an override of nixpkgs' llama-cpp anywhere in the repository, in a new
overlay or a module, is a step back.

Arguments that upstream does not cover (for example a pinned `src`) are
better raised upstream; for an intentional exception put
`# flake-migrate: allow llama-cpp-override` at the end of the line, or alone
on the line before.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for file in scope.nix_files() {
        if *file == scope.config.overlay {
            continue;
        }
        let Some(src) = scope.source(file)? else {
            continue;
        };
        for r in src.llama_refs() {
            let RefKind::Override { args, attrs } = &r.kind else {
                continue;
            };
            let what = if *attrs && args.is_empty() {
                "overrideAttrs"
            } else {
                "override"
            };
            let mut f = Finding::at(
                file.clone(),
                r.range.clone(),
                format!("{what} of nixpkgs' llama-cpp"),
            )
            .label("builds nixpkgs' llama-cpp");
            if !args.is_empty() {
                f = f.help(format!(
                    "use the upstream variant from the overlay instead (`llama-cpp-cuda`, `-vulkan`, `-rocm`, `-cpu`); this override sets {}",
                    args.join(", ")
                ));
            }
            out.push(f);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    #[test]
    fn an_override_in_any_file_fails() {
        let overlay = "final: prev: {\n  mine = (prev.llama-cpp.override { vulkanSupport = true; }).overrideAttrs (o: { });\n  other = prev.myns.llama-cpp.override { };\n}";
        assert_eq!(
            findings(&super::RULE, &[("overlays/mine.nix", overlay)]),
            ["overlays/mine.nix:2:10: override of nixpkgs' llama-cpp"]
        );
    }
}
