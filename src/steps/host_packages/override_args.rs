//! Which arguments of an old `.override { … }` the upstream variant
//! already builds with, and which the rewrite drops.

use crate::config::Variant;

/// Whether an override argument (`name = value`) is what the variant
/// already does upstream.
pub(super) fn covered(variant: Variant, arg: &str) -> bool {
    let Some((name, value)) = arg.split_once(" = ") else {
        return false;
    };
    let flag = |v: Variant| match v {
        Variant::Cuda => Some("cudaSupport"),
        Variant::Vulkan => Some("vulkanSupport"),
        Variant::Rocm => Some("rocmSupport"),
        Variant::Cpu => None,
    };
    let value = value.trim();
    if Some(name) == flag(variant) {
        return value == "true";
    }
    let other_flag = Variant::ALL
        .iter()
        .any(|v| *v != variant && flag(*v) == Some(name));
    (other_flag && value == "false") || (name == "blasSupport" && value == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_override_arguments() {
        assert!(covered(Variant::Cuda, "cudaSupport = true"));
        assert!(covered(Variant::Vulkan, "cudaSupport = false"));
        assert!(!covered(Variant::Cpu, "blasSupport = false"));
        assert!(!covered(Variant::Cuda, "rpcSupport = true"));
    }
}
