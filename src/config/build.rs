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
    /// nixpkgs' `cudaCapabilities` (`["8.9"]`) for a CUDA build: upstream's
    /// package has no such argument and reads them from the nixpkgs that
    /// builds it, so the overlay builds it from one configured with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_capabilities: Option<Vec<String>>,
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
        for c in self.cuda_capabilities.iter().flatten() {
            out.push(format!("sm{}", c.replace('.', "")));
        }
        out
    }

    /// `CMAKE_CUDA_ARCHITECTURES` as upstream's package.nix derives it
    /// from the capabilities (`"8.6" "8.9"` → `86;89`).
    pub fn cuda_architectures(&self) -> Option<String> {
        let caps = self.cuda_capabilities.as_ref()?;
        Some(
            caps.iter()
                .map(|c| c.replace('.', ""))
                .collect::<Vec<_>>()
                .join(";"),
        )
    }
}

/// A CUDA capability as nixpkgs writes it: `8.9`, `9.0a`, `10.0`.
fn is_capability(c: &str) -> bool {
    let Some((major, minor)) = c.split_once('.') else {
        return false;
    };
    let minor = minor.strip_suffix(['a', 'f']).unwrap_or(minor);
    !major.is_empty()
        && major.chars().all(|d| d.is_ascii_digit())
        && minor.len() == 1
        && minor.chars().all(|d| d.is_ascii_digit())
}

/// `sm89` (a name suffix) back to `8.9`: the last digit is the minor.
fn capability_of(word: &str) -> Option<String> {
    let digits = word.strip_prefix("sm")?;
    let (digits, tail) = match digits.strip_suffix(['a', 'f']) {
        Some(d) => (d, &digits[d.len()..]),
        None => (digits, ""),
    };
    if digits.len() < 2 || !digits.chars().all(|d| d.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = digits.split_at(digits.len() - 1);
    Some(format!("{major}.{minor}{tail}"))
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

/// The overlay's helper for CUDA builds with chosen capabilities, reading
/// upstream's flake as `inputs.<input>`. Upstream's `package.nix` takes the
/// architectures from `cudaPackages.flags.cudaCapabilities`, which follow
/// the `config.cudaCapabilities` of the nixpkgs that builds it: so the
/// package comes from upstream's `overlays.default` over the host's own
/// nixpkgs (`prev.path`) imported with that config, as upstream's flake.nix
/// documents for Jetson builds. The name stays upstream's `cuda` one.
pub fn cuda_helper(input: &str) -> String {
    format!(
        "cuda = caps: (import prev.path {{ inherit (prev.stdenv.hostPlatform) system; config = {{ allowUnfree = true; cudaSupport = true; cudaCapabilities = caps; }}; overlays = [ inputs.{input}.overlays.default ]; }}).llamaPackages.llama-cpp;"
    )
}

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
                sm => options
                    .cuda_capabilities
                    .get_or_insert_with(Vec::new)
                    .push(capability_of(sm)?),
            }
        }
        if !targets.is_empty() {
            options.rocm_targets = Some(targets.join(";"));
        }
        let build = Build { base, options };
        build.conflict().is_none().then_some(build)
    }

    /// Why the options do not fit the base, if they do not.
    pub fn conflict(&self) -> Option<String> {
        let o = &self.options;
        if let Some(caps) = &o.cuda_capabilities {
            if !matches!(self.base, Variant::Cuda | Variant::MpiCuda) {
                return Some(format!(
                    "`cuda-capabilities` needs a CUDA variant (cuda, mpi-cuda), not {}",
                    self.base
                ));
            }
            if caps.is_empty() {
                return Some(
                    "`cuda-capabilities` is empty: leave it out for upstream's default".into(),
                );
            }
            if let Some(bad) = caps.iter().find(|c| !is_capability(c)) {
                return Some(format!(
                    "`cuda-capabilities`: `{bad}` is not a CUDA capability such as \"8.9\""
                ));
            }
        }
        if self.base == Variant::Windows && o.native {
            return Some(
                "`native` does not fit windows: a cross build cannot target the building machine's CPU"
                    .into(),
            );
        }
        None
    }

    /// The overlay's value for this build, reading upstream's packages as
    /// `upstream` and the helpers as `native` and `cuda`.
    pub fn expression(&self) -> String {
        let mut args: Vec<(&str, String)> = self
            .base
            .package_args()
            .iter()
            .map(|&(k, v)| (k, v.to_string()))
            .collect();
        args.extend(self.options.package_args());
        let mut expr = match &self.options.cuda_capabilities {
            Some(caps) => {
                let list: String = caps.iter().map(|c| format!("{c:?} ")).collect();
                format!("cuda [ {list}]")
            }
            None => format!("upstream.{}", self.upstream_package()),
        };
        let applied = expr.contains(' ');
        if !args.is_empty() {
            let body: String = args.iter().map(|(k, v)| format!(" {k} = {v};")).collect();
            if applied {
                expr = format!("({expr})");
            }
            expr = format!("{expr}.override {{{body} }}");
        }
        if self.options.native {
            expr = if expr.contains(' ') {
                format!("native ({expr})")
            } else {
                format!("native {expr}")
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

    #[test]
    fn mpi_cuda_is_upstreams_cuda_with_mpi_not_its_mpi_cuda_output() {
        let mut b = Build::from(Variant::MpiCuda);
        assert_eq!(b.package_attr(), "llama-cpp-mpi-cuda");
        assert_eq!(b.expression(), "upstream.cuda.override { useMpi = true; }");
        b.options.native = true;
        b.options.static_link = true;
        assert_eq!(
            b.expression(),
            "native (upstream.cuda.override { useMpi = true; enableStatic = true; })"
        );
        let b = Build::parse("mpi-cuda-sm89").unwrap();
        assert_eq!(
            b.expression(),
            "(cuda [ \"8.9\" ]).override { useMpi = true; }"
        );
        assert_eq!(
            Build::from(Variant::MpiCpu).expression(),
            "upstream.mpi-cpu"
        );
        assert_eq!(
            Variant::MpiCuda.upstream_label("x86_64-linux"),
            "packages.x86_64-linux.cuda with useMpi = true"
        );
    }

    #[test]
    fn cuda_capabilities_name_the_build_and_fit_only_cuda() {
        let b = Build::parse("cuda-native-sm86-sm90a").unwrap();
        assert_eq!(
            b.options.cuda_capabilities.as_deref(),
            Some(&["8.6".to_string(), "9.0a".to_string()][..])
        );
        assert_eq!(b.options.cuda_architectures().as_deref(), Some("86;90a"));
        assert_eq!(b.package_attr(), "llama-cpp-cuda-native-sm86-sm90a");
        assert_eq!(b.expression(), "native (cuda [ \"8.6\" \"9.0a\" ])");
        assert_eq!(Build::parse(&b.to_string()), Some(b));
        assert_eq!(
            Build::parse("cuda-sm100").and_then(|b| b.options.cuda_capabilities),
            Some(vec!["10.0".to_string()])
        );
        assert_eq!(Build::parse("vulkan-sm86"), None);
        assert_eq!(Build::parse("cuda-sm8"), None);
        assert_eq!(Build::parse("windows-native"), None);
        assert_eq!(
            Build::parse("windows-static").map(|b| b.expression()),
            Some("upstream.windows.override { enableStatic = true; }".into())
        );
        let mut bad = Build::from(Variant::Cuda);
        bad.options.cuda_capabilities = Some(vec!["86".into()]);
        assert!(bad.conflict().unwrap().contains("`86`"));
    }
}
