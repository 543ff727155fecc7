//! The hardware variants of upstream llama.cpp a host's build starts from,
//! and which of upstream's packages each is.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hardware variant of upstream llama.cpp: the base a host's build starts
/// from (its options are [`Options`](super::Options)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    Cpu,
    Cuda,
    Vulkan,
    Rocm,
    MpiCpu,
    MpiCuda,
    /// Upstream's `windows` output: a cross build for x86_64 Windows
    /// (mingw-w64), for a host that builds or serves it, not one running it.
    Windows,
    /// Apple Silicon: upstream's `default` on aarch64-darwin, the Metal
    /// build (`useMetalKit`, `GGML_METAL` on, `llama-cpp-metalkit-…`).
    Metal,
}

impl Variant {
    pub const ALL: [Variant; 8] = [
        Variant::Cpu,
        Variant::Cuda,
        Variant::Vulkan,
        Variant::Rocm,
        Variant::MpiCpu,
        Variant::MpiCuda,
        Variant::Windows,
        Variant::Metal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Cpu => "cpu",
            Variant::Cuda => "cuda",
            Variant::Vulkan => "vulkan",
            Variant::Rocm => "rocm",
            Variant::MpiCpu => "mpi-cpu",
            Variant::MpiCuda => "mpi-cuda",
            Variant::Windows => "windows",
            Variant::Metal => "metal",
        }
    }

    /// The attribute of upstream's `packages.<system>` this variant builds
    /// from. `cpu` is upstream's `default`: a portable build (GGML_NATIVE
    /// off). `mpi-cuda` is `cuda` with [`Variant::package_args`]: upstream's
    /// own `mpi-cuda` output is its CPU build with MPI.
    pub fn upstream_package(self) -> &'static str {
        match self {
            Variant::Cpu | Variant::Metal => "default",
            Variant::MpiCuda => "cuda",
            other => other.name(),
        }
    }

    /// The `package.nix` arguments the variant adds to its upstream package.
    pub fn package_args(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Variant::MpiCuda => &[("useMpi", "true")],
            _ => &[],
        }
    }

    /// Upstream's package for the variant, for messages:
    /// `packages.x86_64-linux.cuda with useMpi = true`.
    pub fn upstream_label(self, system: &str) -> String {
        let mut label = format!("packages.{system}.{}", self.upstream_package());
        for (i, (k, v)) in self.package_args().iter().enumerate() {
            label.push_str(if i == 0 { " with " } else { ", " });
            label.push_str(&format!("{k} = {v}"));
        }
        label
    }

    /// The package name the overlay defines, e.g. `llama-cpp-cuda`.
    pub fn package_attr(self) -> String {
        format!("llama-cpp-{}", self.name())
    }

    /// Whether upstream builds the variant for `system`, and why not:
    /// CUDA and MPI only on Linux, ROCm only on x86_64-linux, no CUDA, ROCm
    /// or Vulkan on darwin, Metal only on Apple Silicon (aarch64-darwin).
    pub fn available_on(self, system: &str) -> std::result::Result<(), String> {
        let darwin = system.ends_with("-darwin");
        let missing = match self {
            Variant::Metal if system != "aarch64-darwin" => {
                "the Metal build is upstream's `default` on Apple Silicon (aarch64-darwin) only"
            }
            Variant::Cuda | Variant::Rocm | Variant::Vulkan if darwin => {
                "upstream builds no CUDA, ROCm or Vulkan for darwin: its packages there are `default` (the Metal build on aarch64-darwin, the CPU build on x86_64-darwin), `windows` and `python-scripts`"
            }
            Variant::MpiCpu | Variant::MpiCuda if darwin => {
                "upstream builds its MPI packages for Linux only"
            }
            Variant::Cuda | Variant::MpiCuda if !system.ends_with("-linux") => {
                "upstream builds CUDA for Linux only"
            }
            Variant::Rocm if system != "x86_64-linux" => {
                "upstream builds ROCm for x86_64-linux only"
            }
            _ => return Ok(()),
        };
        Err(format!("{self} does not exist for {system}: {missing}"))
    }

    /// The variant to suggest on `system` for one the configuration's
    /// evidence points at: on Apple Silicon the Metal build, on an Intel
    /// Mac the CPU build, elsewhere the CPU build where upstream lacks it.
    pub fn fitted_to(self, system: &str) -> Variant {
        match self {
            Variant::Windows => self,
            _ if system == "aarch64-darwin" => Variant::Metal,
            v if v.available_on(system).is_ok() => v,
            _ => Variant::Cpu,
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
