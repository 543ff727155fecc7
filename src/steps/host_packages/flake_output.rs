//! A reference outside every host in the flake's own outputs, through a
//! package set of its own (`packages.${system}.llama =
//! pkgs.llama-cpp.override { cudaSupport = true; }` with `pkgs =
//! nixpkgs.legacyPackages.${system}`), which hosts install as
//! `self.packages.…`. The overlay does not reach that set, so the reference becomes
//! upstream's package itself, of the backend its override turns on:
//! `inputs.llama-cpp.packages.${pkgs.stdenv.hostPlatform.system}.cuda`.
//! The proof then evaluates what the hosts get.

use crate::config::Variant;
use crate::edit::Splice;
use crate::refs::{LlamaRef, RefKind};

/// The splice that makes `r`, a reference in the flake's outputs outside
/// every host, upstream's package, reached from the outputs as `input`
/// (`inputs.llama-cpp`), and the variant it picked; `None` when the
/// reference is not through a named package set, or its override turns on
/// two backends. Outside every host, the set is no host's `pkgs` (a `let`
/// binding of `legacyPackages` or `import nixpkgs { … }`, flake-parts'
/// `perSystem` argument): the overlay, imported in hosts, is not in it.
pub(super) fn upstream_package(r: &LlamaRef, input: &str) -> Option<(Splice, Variant)> {
    let set = r.base.as_deref()?;
    let variant = variant_of(r)?;
    let text = format!(
        "{input}.packages.${{{set}.stdenv.hostPlatform.system}}.{}",
        variant.upstream_package()
    );
    Some((Splice::replace(r.range.clone(), text), variant))
}

/// The backend the override's arguments turn on (`cudaSupport = true`),
/// `cpu` for none; `None` for more than one.
fn variant_of(r: &LlamaRef) -> Option<Variant> {
    let args: &[String] = match &r.kind {
        // `.overrideAttrs` on top may pin a source: not dropped silently.
        RefKind::Override { args, attrs: false } => args,
        RefKind::Select | RefKind::Bare => &[],
        _ => return None,
    };
    let on: Vec<Variant> = args
        .iter()
        .filter_map(|a| crate::suggest::support_flag(a))
        .filter(|(_, on)| *on)
        .map(|(v, _)| v)
        .collect();
    match on.as_slice() {
        [] => Some(Variant::Cpu),
        [v] => Some(*v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picked(code: &str) -> Option<(String, Variant)> {
        let text = format!("{{ pkgs }}: {{ x = {code}; }}");
        let root = rnix::Root::parse(&text).tree();
        let r = crate::refs::find(&root).remove(0);
        let (splice, variant) = upstream_package(&r, "inputs.llama-cpp")?;
        let out = crate::edit::apply(std::path::Path::new("f.nix"), &text, vec![splice]).ok()?;
        Some((out, variant))
    }

    #[test]
    fn the_override_says_which_of_upstreams_packages() {
        let (out, v) = picked("pkgs.llama-cpp.override { vulkanSupport = true; }").unwrap();
        assert_eq!(v, Variant::Vulkan);
        assert!(
            out.contains(
                "x = inputs.llama-cpp.packages.${pkgs.stdenv.hostPlatform.system}.vulkan;"
            ),
            "{out}"
        );
        assert_eq!(picked("pkgs.llama-cpp").unwrap().1, Variant::Cpu);
    }

    #[test]
    fn two_backends_or_an_override_of_attributes_are_left_alone() {
        assert!(
            picked("pkgs.llama-cpp.override { cudaSupport = true; vulkanSupport = true; }")
                .is_none()
        );
        assert!(
            picked("(pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: { })")
                .is_none()
        );
    }
}
