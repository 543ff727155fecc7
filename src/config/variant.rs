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
}

impl Variant {
    pub const ALL: [Variant; 7] = [
        Variant::Cpu,
        Variant::Cuda,
        Variant::Vulkan,
        Variant::Rocm,
        Variant::MpiCpu,
        Variant::MpiCuda,
        Variant::Windows,
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
        }
    }

    /// The attribute of upstream's `packages.<system>` this variant builds
    /// from. `cpu` is upstream's `default`: a portable build (GGML_NATIVE
    /// off). `mpi-cuda` is `cuda` with [`Variant::package_args`]: upstream's
    /// own `mpi-cuda` output is its CPU build with MPI.
    pub fn upstream_package(self) -> &'static str {
        match self {
            Variant::Cpu => "default",
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

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
