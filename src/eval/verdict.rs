//! Step 0006's verdicts: for each host, whether what it installs is the
//! upstream input's package for its variant, with the backend and each
//! option checked in the evaluated derivation (`upstream` evaluates).

use std::collections::BTreeMap;

use super::checks::{backend_check, options_check};
use super::upstream::{Evaluation, Installed};
use crate::config::{Config, Variant};

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
                "not among the flake's machines (nixosConfigurations, darwinConfigurations, homeConfigurations: {}); fix [hosts] in flake-migrate.toml",
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
                        "{} is upstream's {} ({})",
                        pkg.name,
                        want,
                        want.upstream_label(&host.system)
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
                        "does not install upstream's {want} build ({}): add pkgs.{} to its packages",
                        want.upstream_label(&host.system),
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
