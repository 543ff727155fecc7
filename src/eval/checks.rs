//! What 0006 checks in an evaluated package besides its store path: the
//! variant's backend, and each of the host's options (GGML_NATIVE with the
//! compiler wrapper told, GGML_RPC, GGML_STATIC, GGML_BLAS, the CUDA
//! architectures), as cmake will see them.

use super::upstream::Installed;
use crate::config::{Build, Variant};

/// Whether a cmake flag turns something on (`-DGGML_CUDA:BOOL=TRUE`,
/// `-DCMAKE_CUDA_ARCHITECTURES=89`), as opposed to `…=OFF`/`FALSE`/`0`.
fn flag_on(flag: &str, word: &str) -> bool {
    if !flag.to_ascii_uppercase().contains(word) {
        return false;
    }
    let value = flag.rsplit_once('=').map_or("", |(_, v)| v);
    !matches!(
        value.to_ascii_uppercase().as_str(),
        "OFF" | "FALSE" | "0" | "NO" | "N" | ""
    )
}

/// nixpkgs' MPI implementations (`mpi` is openmpi unless overlaid), by
/// name: upstream's package.nix has no MPI cmake flag, only `mpi` in its
/// buildInputs.
const MPI_NAMES: [&str; 3] = ["openmpi-", "mpich-", "mvapich"];

fn cuda_check(pkg: &Installed) -> Result<String, String> {
    if pkg.cmake_flags.iter().any(|f| flag_on(f, "CUDA")) {
        Ok("CUDA in cmakeFlags".into())
    } else {
        Err(format!(
            "{} has no CUDA among its cmakeFlags: upstream's `cuda` package of this input is not a CUDA build",
            pkg.name
        ))
    }
}

fn mpi_check(pkg: &Installed) -> Result<String, String> {
    match pkg
        .build_inputs
        .iter()
        .find(|b| MPI_NAMES.iter().any(|m| b.starts_with(m)))
    {
        Some(mpi) => Ok(format!(
            "{} in buildInputs",
            mpi.split_once('-').map_or(mpi.as_str(), |(n, _)| n)
        )),
        None => Err(format!(
            "{} has no MPI implementation among its buildInputs: it is not built with `useMpi = true`",
            pkg.name
        )),
    }
}

/// The backend evidence the seed plan asks for, when the variant has one.
pub(super) fn backend_check(variant: Variant, pkg: &Installed) -> Result<Option<String>, String> {
    match variant {
        Variant::Cuda => cuda_check(pkg).map(Some),
        Variant::MpiCuda => {
            let cuda = cuda_check(pkg)?;
            Ok(Some(format!("{cuda}, {}", mpi_check(pkg)?)))
        }
        Variant::Vulkan => {
            if pkg
                .build_inputs
                .iter()
                .any(|b| b.starts_with("vulkan-loader"))
            {
                Ok(Some("vulkan-loader in buildInputs".into()))
            } else {
                Err(format!(
                    "{} does not have vulkan-loader among its buildInputs: upstream's `vulkan` package of this input is not a Vulkan build",
                    pkg.name
                ))
            }
        }
        Variant::Rocm => Ok(pkg
            .cmake_flags
            .iter()
            .any(|f| flag_on(f, "HIP") || flag_on(f, "ROCM"))
            .then(|| "HIP in cmakeFlags".to_string())),
        Variant::Metal => {
            if pkg.cmake_flags.iter().any(|f| flag_on(f, "METAL")) {
                Ok(Some("GGML_METAL in cmakeFlags".into()))
            } else {
                Err(format!(
                    "{} is not built with GGML_METAL on: upstream's `default` is the Metal build only on aarch64-darwin",
                    pkg.name
                ))
            }
        }
        Variant::Cpu | Variant::MpiCpu | Variant::Windows => Ok(None),
    }
}

/// The last value cmake sees for `name` (a later `-D` wins), as on/off.
fn last_flag_on(pkg: &Installed, name: &str) -> Option<bool> {
    pkg.cmake_flags
        .iter()
        .rev()
        .find(|f| {
            f.strip_prefix("-D")
                .and_then(|f| f.split([':', '=']).next())
                .is_some_and(|n| n == name)
        })
        .map(|f| flag_on(f, name))
}

/// The last value cmake sees for `name` (`-DNAME:STRING=86;89` → `86;89`).
fn last_flag_value(pkg: &Installed, name: &str) -> Option<String> {
    pkg.cmake_flags.iter().rev().find_map(|f| {
        let (key, value) = f.strip_prefix("-D")?.split_once('=')?;
        (key.split(':').next() == Some(name)).then(|| value.to_string())
    })
}

/// Each of the build's options, seen in the evaluated package.
pub(super) fn options_check(build: &Build, pkg: &Installed) -> Vec<Result<String, String>> {
    let o = &build.options;
    let mut out = Vec::new();
    let mut flag = |option: &str, wanted: bool, name: &str| {
        out.push(match last_flag_on(pkg, name) {
            Some(on) if on == wanted => Ok(format!("{name} {}", if on { "on" } else { "off" })),
            got => Err(format!(
                "{} is `{option}` in flake-migrate.toml but its cmakeFlags have {name} {}",
                pkg.name,
                match got {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "unset",
                }
            )),
        })
    };
    if o.native {
        flag("native", true, "GGML_NATIVE");
    }
    if o.rpc {
        flag("rpc", true, "GGML_RPC");
    }
    if o.static_link {
        flag("static", true, "GGML_STATIC");
    }
    if let Some(blas) = o.blas {
        flag("blas", blas, "GGML_BLAS");
    }
    if let Some(wanted) = o.cuda_architectures() {
        let got = last_flag_value(pkg, "CMAKE_CUDA_ARCHITECTURES");
        out.push(if got.as_deref() == Some(wanted.as_str()) {
            Ok(format!("CMAKE_CUDA_ARCHITECTURES {wanted}"))
        } else {
            Err(format!(
                "{} has `cuda-capabilities = {:?}` in flake-migrate.toml but its cmakeFlags have CMAKE_CUDA_ARCHITECTURES {}",
                pkg.name,
                o.cuda_capabilities.as_deref().unwrap_or_default(),
                got.map_or("unset".to_string(), |g| format!("`{g}`"))
            ))
        });
    }
    if o.native {
        out.push(match pkg.nix_enforce_no_native.as_deref() {
            Some("0") | Some("") => Ok("NIX_ENFORCE_NO_NATIVE off".into()),
            other => Err(format!(
                "{} is `native` but NIX_ENFORCE_NO_NATIVE is {}: nixpkgs' compiler wrapper strips -march=native",
                pkg.name,
                other.map_or("unset (1 by default)".to_string(), |v| format!("`{v}`"))
            )),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_flags_are_read_by_value() {
        assert!(flag_on("-DGGML_CUDA:BOOL=TRUE", "CUDA"));
        assert!(flag_on("-DCMAKE_CUDA_ARCHITECTURES:STRING=89", "CUDA"));
        assert!(!flag_on("-DGGML_CUDA:BOOL=FALSE", "CUDA"));
        assert!(!flag_on("-DGGML_VULKAN:BOOL=TRUE", "CUDA"));
    }

    #[test]
    fn mpi_cuda_needs_cuda_and_mpi() {
        let pkg = |name: &str, cuda: bool, inputs: &[&str]| Installed {
            from: "environment.systemPackages".into(),
            out: "/nix/store/x".into(),
            name: name.into(),
            upstream: Some(Variant::MpiCuda),
            nixpkgs: false,
            files: vec![],
            cmake_flags: vec![format!(
                "-DGGML_CUDA:BOOL={}",
                if cuda { "TRUE" } else { "FALSE" }
            )],
            build_inputs: inputs.iter().map(|i| i.to_string()).collect(),
            nix_enforce_no_native: None,
        };
        let both = pkg(
            "llama-cpp-cuda-mpi-0.0.0",
            true,
            &["cuda_cudart-12.8", "openmpi-5.0.8"],
        );
        assert_eq!(
            backend_check(Variant::MpiCuda, &both),
            Ok(Some("CUDA in cmakeFlags, openmpi in buildInputs".into()))
        );
        // Upstream's own `mpi-cuda` output: the CPU build with MPI.
        let cpu = pkg(
            "llama-cpp-blas-mpi-0.0.0",
            false,
            &["openmpi-5.0.8", "blas-3"],
        );
        assert!(
            backend_check(Variant::MpiCuda, &cpu)
                .unwrap_err()
                .contains("no CUDA")
        );
        let cuda = pkg("llama-cpp-cuda-0.0.0", true, &["cuda_cudart-12.8"]);
        let err = backend_check(Variant::MpiCuda, &cuda).unwrap_err();
        assert!(err.contains("no MPI implementation"), "{err}");
        assert_eq!(
            backend_check(Variant::Cuda, &cuda),
            Ok(Some("CUDA in cmakeFlags".into()))
        );
    }
}
