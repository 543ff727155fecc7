//! A host's build: a variant and the options the overlay expresses on top
//! of upstream's package (`native`, package arguments), each combination in
//! use one overlay attribute.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Variant;

/// What a host's build changes from upstream's output for its variant.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// GGML_NATIVE on, with the compiler wrapper keeping `-march=native`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub native: bool,
    /// `useRpc`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rpc: bool,
    /// `useBlas`, when it should differ from upstream's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blas: Option<bool>,
    /// `enableStatic`.
    #[serde(default, rename = "static", skip_serializing_if = "is_false")]
    pub static_link: bool,
    /// `rocmGpuTargets` (`"gfx1100"`, `;`-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rocm_targets: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Options {
    pub fn is_empty(&self) -> bool {
        *self == Options::default()
    }

    /// `package.nix` arguments, as Nix bindings, in a stable order.
    pub fn package_args(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(blas) = self.blas {
            out.push(("useBlas", blas.to_string()));
        }
        if self.rpc {
            out.push(("useRpc", "true".into()));
        }
        if self.static_link {
            out.push(("enableStatic", "true".into()));
        }
        if let Some(t) = &self.rocm_targets {
            out.push(("rocmGpuTargets", crate::syntax::nix_string(t)));
        }
        out
    }

    /// Name suffixes, in the order they read in an attribute name.
    fn suffixes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.native {
            out.push("native".into());
        }
        if self.rpc {
            out.push("rpc".into());
        }
        match self.blas {
            Some(true) => out.push("blas".into()),
            Some(false) => out.push("noblas".into()),
            None => {}
        }
        if self.static_link {
            out.push("static".into());
        }
        if let Some(t) = &self.rocm_targets {
            out.push(
                t.split([';', ',', ' '])
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("-"),
            );
        }
        out
    }
}

/// A variant with its options.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Build {
    pub base: Variant,
    pub options: Options,
}

/// The overlay's helper for native builds. GGML_NATIVE alone is not
/// enough: nixpkgs' cc-wrapper drops `-march=native` (and `-mcpu`/`-mtune`
/// `=native`) while `NIX_ENFORCE_NO_NATIVE` is 1, which stdenv's setup
/// makes the default unless the derivation sets it. The later `-D` wins
/// over upstream's `GGML_NATIVE:BOOL=FALSE`.
pub const NATIVE_HELPER: &str = "native = p: p.overrideAttrs (o: { cmakeFlags = o.cmakeFlags ++ [ \"-DGGML_NATIVE:BOOL=TRUE\" ]; NIX_ENFORCE_NO_NATIVE = \"0\"; });";

impl From<Variant> for Build {
    fn from(base: Variant) -> Self {
        Build {
            base,
            options: Options::default(),
        }
    }
}

impl Build {
    /// The package name the overlay defines: `llama-cpp-vulkan-native`.
    pub fn package_attr(&self) -> String {
        let mut name = self.base.package_attr();
        for s in self.options.suffixes() {
            name.push('-');
            name.push_str(&s);
        }
        name
    }

    /// The attribute of upstream's `packages.<system>` this build starts from.
    pub fn upstream_package(&self) -> &'static str {
        self.base.upstream_package()
    }

    /// A build written as its attribute's suffix, as `init --host` takes
    /// it: `vulkan`, `vulkan-native`, `rocm-rpc-gfx1100-gfx1030`.
    pub fn parse(spec: &str) -> Option<Build> {
        let (base, rest) = Variant::ALL
            .into_iter()
            .filter_map(|v| {
                let rest = spec.strip_prefix(v.name())?;
                (rest.is_empty() || rest.starts_with('-')).then_some((v, rest))
            })
            .max_by_key(|(v, _)| v.name().len())?;
        let mut options = Options::default();
        let mut targets: Vec<&str> = Vec::new();
        for word in rest.split('-').filter(|w| !w.is_empty()) {
            match word {
                "native" => options.native = true,
                "rpc" => options.rpc = true,
                "blas" => options.blas = Some(true),
                "noblas" => options.blas = Some(false),
                "static" => options.static_link = true,
                gfx if gfx.starts_with("gfx") => targets.push(gfx),
                _ => return None,
            }
        }
        if !targets.is_empty() {
            options.rocm_targets = Some(targets.join(";"));
        }
        Some(Build { base, options })
    }

    /// The overlay's value for this build, reading upstream's packages as
    /// `upstream` and the native helper as `native`.
    pub fn expression(&self) -> String {
        let mut expr = format!("upstream.{}", self.upstream_package());
        let args = self.options.package_args();
        if !args.is_empty() {
            let body: String = args.iter().map(|(k, v)| format!(" {k} = {v};")).collect();
            expr = format!("{expr}.override {{{body} }}");
        }
        if self.options.native {
            expr = if args.is_empty() {
                format!("native {expr}")
            } else {
                format!("native ({expr})")
            };
        }
        expr
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.package_attr();
        f.write_str(name.strip_prefix("llama-cpp-").unwrap_or(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_expressions_read_as_the_options() {
        let mut b = Build::from(Variant::Vulkan);
        assert_eq!(b.package_attr(), "llama-cpp-vulkan");
        assert_eq!(b.expression(), "upstream.vulkan");
        b.options.native = true;
        assert_eq!(b.package_attr(), "llama-cpp-vulkan-native");
        assert_eq!(b.expression(), "native upstream.vulkan");
        b.options.rpc = true;
        b.options.rocm_targets = Some("gfx1100;gfx1030".into());
        assert_eq!(
            b.package_attr(),
            "llama-cpp-vulkan-native-rpc-gfx1100-gfx1030"
        );
        assert_eq!(
            b.expression(),
            "native (upstream.vulkan.override { useRpc = true; rocmGpuTargets = \"gfx1100;gfx1030\"; })"
        );
        assert_eq!(Build::from(Variant::Cpu).expression(), "upstream.default");
        assert_eq!(b.to_string(), "vulkan-native-rpc-gfx1100-gfx1030");
        assert_eq!(Build::parse(&b.to_string()), Some(b));
        assert_eq!(
            Build::parse("mpi-cuda-static").map(|b| b.package_attr()),
            Some("llama-cpp-mpi-cuda-static".into())
        );
        assert_eq!(Build::parse("cuda"), Some(Build::from(Variant::Cuda)));
        assert_eq!(Build::parse("vulkan-fast"), None);
        assert_eq!(Build::parse("cudax"), None);
    }
}
