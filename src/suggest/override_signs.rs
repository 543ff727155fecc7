//! What an old override's arguments and cmake flags say of the backend it
//! built: `cudaSupport = true`, `-DGGML_VULKAN=ON`.

use crate::config::Variant;

/// A backend's switch in override arguments, `cudaSupport = true`, as the
/// backend and whether it is on; `None` for other arguments or values that
/// are not a literal boolean.
pub fn support_flag(arg: &str) -> Option<(Variant, bool)> {
    let (name, value) = arg.split_once(" = ")?;
    let on = match value.trim() {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    let variant = match name {
        "cudaSupport" => Variant::Cuda,
        "vulkanSupport" => Variant::Vulkan,
        "rocmSupport" => Variant::Rocm,
        _ => return None,
    };
    Some((variant, on))
}

/// `GGML_CUDA` (or `_VULKAN`, `_HIP`) turned on in an override's cmake
/// flags: `"-DGGML_CUDA=ON"` or `(lib.cmakeBool "GGML_CUDA" true)`.
pub(super) fn cmake_backend(code: &str) -> Option<(&'static str, Variant)> {
    [
        ("GGML_CUDA", Variant::Cuda),
        ("GGML_VULKAN", Variant::Vulkan),
        ("GGML_HIP", Variant::Rocm),
    ]
    .into_iter()
    .find(|(flag, _)| {
        [
            format!("{flag}=ON"),
            format!("{flag}:BOOL=ON"),
            format!("{flag}:BOOL=TRUE"),
            format!("{flag}=1"),
            format!("\"{flag}\" true"),
        ]
        .iter()
        .any(|on| code.contains(on.as_str()))
    })
}
