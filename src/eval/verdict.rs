//! Step 0006's verdicts: for each host, whether what it installs is the
//! upstream input's package for its variant, with the backend and each
//! option checked in the evaluated derivation (`upstream` evaluates).

use std::collections::BTreeMap;

use super::upstream::{Evaluation, Installed};
use crate::config::{Build, Config, Variant};

/// The verdict for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub host: String,
    pub variant: Option<Variant>,
    /// What is right, for the success output.
    pub good: Vec<String>,
    /// What is wrong; empty when the host passes.
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn label(&self) -> String {
        match self.variant {
            Some(v) => format!("{} ({v})", self.host),
            None => self.host.clone(),
        }
    }
}

pub use super::wrapper::eval_args;

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

/// The backend evidence the seed plan asks for, when the variant has one.
fn backend_check(variant: Variant, pkg: &Installed) -> Result<Option<String>, String> {
    match variant {
        Variant::Cuda | Variant::MpiCuda => {
            if pkg.cmake_flags.iter().any(|f| flag_on(f, "CUDA")) {
                Ok(Some("CUDA in cmakeFlags".into()))
            } else {
                Err(format!(
                    "{} has no CUDA among its cmakeFlags: upstream's `cuda` package of this input is not a CUDA build",
                    pkg.name
                ))
            }
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
fn options_check(build: &Build, pkg: &Installed) -> Vec<Result<String, String>> {
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

/// Where a package came from, for messages.
fn origin(pkg: &Installed) -> String {
    if pkg.files.is_empty() {
        pkg.from.clone()
    } else {
        format!("{} (defined in {})", pkg.from, pkg.files.join(", "))
    }
}

/// Judges every host: configured hosts must install their variant's upstream
/// package and no other llama.cpp; hosts without a variant must not install
/// nixpkgs' llama-cpp either.
pub fn judge(eval: &Evaluation, config: &Config) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for host in &eval.missing {
        verdicts.push(Verdict {
            host: host.clone(),
            variant: config.hosts.get(host).copied(),
            good: Vec::new(),
            problems: vec![format!(
                "not in the flake's nixosConfigurations (hosts there: {}); fix [hosts] in flake-migrate.toml",
                eval.hosts.keys().cloned().collect::<Vec<_>>().join(", ")
            )],
        });
    }
    for (name, host) in &eval.hosts {
        let mut v = Verdict {
            host: name.clone(),
            variant: host.variant,
            good: Vec::new(),
            problems: Vec::new(),
        };
        // Group by store path: a package can come from several places. The
        // service stays apart (its fix differs), and users.users.U.packages
        // is dropped when it only echoes home-manager's useUserPackages.
        let mut by_out: BTreeMap<(bool, &str), (Installed, Vec<String>)> = BTreeMap::new();
        for p in &host.packages {
            let service = p.from.starts_with("services.");
            by_out
                .entry((service, p.out.as_str()))
                .or_insert_with(|| (p.clone(), Vec::new()))
                .1
                .push(origin(p));
        }
        for (_, origins) in by_out.values_mut() {
            let echoes: Vec<String> = origins
                .iter()
                .filter_map(|o| {
                    let user = o
                        .strip_prefix("home-manager.users.")?
                        .strip_suffix(".home.packages")?;
                    Some(format!("users.users.{user}.packages"))
                })
                .collect();
            origins.retain(|o| !echoes.contains(o));
        }
        let nixpkgs_name = host.nixpkgs_name.as_deref().unwrap_or("llama-cpp");
        let mut found_expected = false;
        for (pkg, origins) in by_out.values() {
            let from = origins.join(", ");
            match (host.variant, pkg.upstream) {
                (Some(want), Some(got)) if want == got => {
                    found_expected = true;
                    let mut line = format!(
                        "{} is upstream's {} (packages.{}.{})",
                        pkg.name,
                        want,
                        host.system,
                        want.upstream_package()
                    );
                    match backend_check(want, pkg) {
                        Ok(Some(evidence)) => line.push_str(&format!(", {evidence}")),
                        Ok(None) => {}
                        Err(problem) => v.problems.push(problem),
                    }
                    if let Some(build) = config.build(name) {
                        for check in options_check(&build, pkg) {
                            match check {
                                Ok(evidence) => line.push_str(&format!(", {evidence}")),
                                Err(problem) => v.problems.push(problem),
                            }
                        }
                    }
                    line.push_str(&format!("; from {from}"));
                    v.good.push(line);
                }
                (Some(want), Some(got)) => v.problems.push(format!(
                    "installs upstream's {got} build ({}) from {from}, but its variant is {want}: use pkgs.{} there, or change its variant in flake-migrate.toml",
                    pkg.name,
                    config.package_attr(name).unwrap_or_else(|| want.package_attr())
                )),
                (None, Some(_)) => v.good.push(format!(
                    "{} is an upstream build (the host has no variant in flake-migrate.toml); from {from}",
                    pkg.name
                )),
                (_, None) => {
                    let what = if pkg.nixpkgs {
                        format!("nixpkgs' llama-cpp ({}) is still installed", pkg.name)
                    } else if pkg.name == nixpkgs_name {
                        format!(
                            "nixpkgs' llama-cpp ({}, overridden) is still installed",
                            pkg.name
                        )
                    } else {
                        format!(
                            "{} is installed, and it is not a package of the `{}` input",
                            pkg.name, config.input
                        )
                    };
                    let fix = match host.variant {
                        Some(want) if from.starts_with("services.llama-cpp.package") => format!(
                            "; the service's default package is nixpkgs' llama-cpp: set services.llama-cpp.package = pkgs.{}",
                            config.package_attr(name).unwrap_or_else(|| want.package_attr())
                        ),
                        Some(want) => format!(": use pkgs.{} instead", config.package_attr(name).unwrap_or_else(|| want.package_attr())),
                        None => format!(
                            ": give {name} a variant in flake-migrate.toml and run `flake-migrate up`, or remove it"
                        ),
                    };
                    v.problems.push(format!("{what}, from {from}{fix}"));
                }
            }
        }
        if let Some(want) = host.variant {
            if !eval.has_input {
                v.problems.push(format!(
                    "the flake has no `{}` input (step 0001 adds it)",
                    config.input
                ));
            } else if !found_expected {
                let attr = host
                    .expected
                    .as_ref()
                    .map_or(want.upstream_package(), |e| e.attr.as_str());
                let exists = host.expected.as_ref().is_some_and(|e| e.out.is_some());
                v.problems.push(if exists {
                    format!(
                        "does not install upstream's {want} build (packages.{}.{attr}): add pkgs.{} to its packages",
                        host.system,
                        config.package_attr(name).unwrap_or_else(|| want.package_attr())
                    )
                } else {
                    format!(
                        "the `{}` input has no packages.{}.{attr}: choose another variant for it in flake-migrate.toml",
                        config.input, host.system
                    )
                });
            }
        }
        verdicts.push(v);
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::upstream::{Expected, HostEval};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn cuda_flags_are_read_by_value() {
        assert!(flag_on("-DGGML_CUDA:BOOL=TRUE", "CUDA"));
        assert!(flag_on("-DCMAKE_CUDA_ARCHITECTURES:STRING=89", "CUDA"));
        assert!(!flag_on("-DGGML_CUDA:BOOL=FALSE", "CUDA"));
        assert!(!flag_on("-DGGML_VULKAN:BOOL=TRUE", "CUDA"));
    }

    fn pkg(name: &str, out: &str, upstream: Option<Variant>, nixpkgs: bool) -> Installed {
        Installed {
            from: "environment.systemPackages".into(),
            out: out.into(),
            name: name.into(),
            upstream,
            nixpkgs,
            files: vec![],
            cmake_flags: s(&["-DGGML_CUDA:BOOL=TRUE"]),
            build_inputs: vec![],
            nix_enforce_no_native: None,
        }
    }

    fn eval_of(packages: Vec<Installed>) -> (Evaluation, Config) {
        let mut config = Config::default();
        config.hosts.insert("carbon".into(), Variant::Cuda);
        let host = HostEval {
            system: "x86_64-linux".into(),
            variant: Some(Variant::Cuda),
            expected: Some(Expected {
                attr: "cuda".into(),
                out: Some("/nix/store/c".into()),
            }),
            nixpkgs_name: Some("llama-cpp-6000".into()),
            packages,
        };
        let eval = Evaluation {
            has_input: true,
            missing: vec![],
            hosts: [("carbon".to_string(), host)].into_iter().collect(),
        };
        (eval, config)
    }

    #[test]
    fn the_upstream_package_passes() {
        let (eval, config) = eval_of(vec![pkg(
            "llama-cpp-cuda-0.0.0",
            "/nix/store/c",
            Some(Variant::Cuda),
            false,
        )]);
        let v = judge(&eval, &config);
        assert!(v[0].ok(), "{v:?}");
        assert!(v[0].good[0].contains("CUDA in cmakeFlags"), "{v:?}");
    }

    #[test]
    fn nixpkgs_llama_cpp_fails_and_says_where() {
        let mut p = pkg("llama-cpp-6000", "/nix/store/n", None, true);
        p.from = "home-manager.users.dan.home.packages".into();
        let (eval, config) = eval_of(vec![p]);
        let v = judge(&eval, &config);
        let all = v[0].problems.join("\n");
        assert!(all.contains("nixpkgs' llama-cpp (llama-cpp-6000)"), "{all}");
        assert!(
            all.contains("home-manager.users.dan.home.packages"),
            "{all}"
        );
        assert!(all.contains("does not install upstream's cuda"), "{all}");
    }

    #[test]
    fn a_native_host_needs_ggml_native_on_and_the_wrapper_told() {
        let mut p = pkg(
            "llama-cpp-cuda-0.0.0",
            "/nix/store/o",
            Some(Variant::Cuda),
            false,
        );
        p.cmake_flags.push("-DGGML_NATIVE:BOOL=FALSE".into());
        let (eval, mut config) = eval_of(vec![p.clone()]);
        config.options.insert(
            "carbon".into(),
            crate::config::Options {
                native: true,
                ..Default::default()
            },
        );
        let v = judge(&eval, &config);
        let all = v[0].problems.join("\n");
        assert!(all.contains("GGML_NATIVE off"), "{all}");
        assert!(all.contains("NIX_ENFORCE_NO_NATIVE is unset"), "{all}");

        p.cmake_flags.push("-DGGML_NATIVE:BOOL=TRUE".into());
        p.nix_enforce_no_native = Some("0".into());
        let (eval, _) = eval_of(vec![p]);
        let v = judge(&eval, &config);
        assert!(v[0].ok(), "{v:?}");
        assert!(
            v[0].good[0].contains("GGML_NATIVE on, NIX_ENFORCE_NO_NATIVE off"),
            "{v:?}"
        );
    }

    #[test]
    fn cuda_capabilities_are_checked_against_the_architectures() {
        let mut p = pkg(
            "llama-cpp-cuda-0.0.0",
            "/nix/store/o",
            Some(Variant::Cuda),
            false,
        );
        p.cmake_flags
            .push("-DCMAKE_CUDA_ARCHITECTURES:STRING=75;86;89".into());
        let (eval, mut config) = eval_of(vec![p.clone()]);
        let caps = crate::config::Options {
            cuda_capabilities: Some(s(&["8.6", "8.9"])),
            ..Default::default()
        };
        config.options.insert("carbon".into(), caps);
        let all = judge(&eval, &config)[0].problems.join("\n");
        assert!(all.contains("CMAKE_CUDA_ARCHITECTURES `75;86;89`"), "{all}");
        p.cmake_flags
            .push("-DCMAKE_CUDA_ARCHITECTURES:STRING=86;89".into());
        let v = judge(&eval_of(vec![p]).0, &config);
        assert!(
            v[0].good[0].contains("CMAKE_CUDA_ARCHITECTURES 86;89"),
            "{v:?}"
        );
    }
}
