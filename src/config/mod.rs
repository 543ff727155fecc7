//! The repository's config file, `flake-migrate.toml`: which variant each
//! host gets, and where things live. `init` writes it; the user edits it; the
//! tool never guesses a variant at apply time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod build;
mod document;
mod raw;
mod variant;

pub use build::{Build, NATIVE_HELPER, Options, cuda_helper};
pub use document::Document;
pub use variant::Variant;

pub const CONFIG_FILE: &str = "flake-migrate.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "raw::RawConfig", into = "raw::RawConfig")]
pub struct Config {
    /// Name of the upstream flake input.
    #[serde(default = "default_input")]
    pub input: String,
    #[serde(default = "default_url")]
    pub url: String,
    /// The overlay file, relative to the repository root.
    #[serde(default = "default_overlay")]
    pub overlay: PathBuf,
    /// Old override files to delete in step 0005. Empty: detect them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub old_overrides: Vec<PathBuf>,
    /// Host name to variant; hosts not listed do not use llama.cpp.
    pub hosts: BTreeMap<String, Variant>,
    /// The options of hosts written `h = { variant = "…", native = true }`;
    /// a host without options is not here.
    pub options: BTreeMap<String, Options>,
    pub guard: GuardConfig,
}

/// `[guard]`: paths that deliberately build with nixpkgs' llama-cpp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GuardConfig {
    /// Globs relative to the flake's root (`pkgs/legacy/**`): files the
    /// reference rules and step 0004 leave alone, as statix's ignore list.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl GuardConfig {
    pub(crate) fn is_empty(&self) -> bool {
        self.exclude.is_empty()
    }
}

/// The compiled `[guard] exclude` globs.
#[derive(Debug, Clone)]
pub struct Excluded(globset::GlobSet);

impl Excluded {
    pub fn contains(&self, path: &Path) -> bool {
        self.0.is_match(path)
    }
}

fn compile(globs: &[String]) -> std::result::Result<Excluded, String> {
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("`[guard] exclude`: {e}"))?;
        set.add(glob);
    }
    set.build().map(Excluded).map_err(|e| e.to_string())
}

fn default_input() -> String {
    "llama-cpp".into()
}
fn default_url() -> String {
    "github:ggml-org/llama.cpp".into()
}
fn default_overlay() -> PathBuf {
    PathBuf::from("nixos/overlays/llama-cpp.nix")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            input: default_input(),
            url: default_url(),
            overlay: default_overlay(),
            old_overrides: Vec::new(),
            hosts: BTreeMap::new(),
            options: BTreeMap::new(),
            guard: GuardConfig::default(),
        }
    }
}

/// What in `config` cannot be written into Nix as the steps write it, or
/// would make them write outside the repository. The url and the ROCm
/// targets are quoted strings in Nix and may hold anything; these cannot be
/// quoted: the input is an attribute name and a function argument, the
/// overlay a path literal.
fn unwritable(config: &Config) -> Option<String> {
    if !crate::syntax::is_identifier(&config.input) {
        return Some(format!(
            "`input = {:?}` is not a name Nix can take as a flake input and a function argument: use letters, digits, `_`, `-` and `'`, starting with a letter or `_`",
            config.input
        ));
    }
    if config.overlay.is_absolute()
        || config
            .overlay
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Some(
            "`overlay` must be a path relative to the repository root, inside it (no `..`)".into(),
        );
    }
    if !crate::syntax::is_path_literal_safe(&config.overlay) {
        return Some(format!(
            "`overlay = {:?}` cannot be written as a Nix path literal: use letters, digits, `.`, `_`, `-` and `+` in its directory and file names",
            config.overlay.display().to_string()
        ));
    }
    for (host, options) in &config.options {
        if let Some(targets) = &options.rocm_targets
            && targets
                .split([';', ',', ' '])
                .any(|t| !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Some(format!(
                "host {host}: `rocm-targets = {targets:?}` must list GPU targets such as `gfx1100;gfx1030` (letters, digits and `_`): each is also part of the overlay attribute's name"
            ));
        }
    }
    None
}

/// A TOML error (toml's or toml_edit's) at its place in the file, when it
/// has one: the first line of its message says what is wrong, the rest
/// (what was expected) goes under the caret.
pub(crate) fn toml_error(
    path: &Path,
    text: &str,
    message: &str,
    span: Option<std::ops::Range<usize>>,
) -> Error {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let what = lines.next().unwrap_or("not valid TOML").to_string();
    let Some(span) = span else {
        return Error::Config {
            path: path.to_path_buf(),
            message: what,
        };
    };
    let rest: Vec<&str> = lines.collect();
    let label = if rest.is_empty() {
        "here".to_string()
    } else {
        rest.join("; ")
    };
    Error::ConfigSyntax(Box::new(crate::error::Located::new(
        path,
        text,
        span,
        format!("{} is not valid: {what}", path.display()),
        label,
    )))
}

impl Config {
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| toml_error(path, text, e.message(), e.span()))?;
        if let Some(message) = unwritable(&config) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message,
            });
        }
        compile(&config.guard.exclude).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// The paths `[guard] exclude` lists (globs checked when parsed).
    pub fn excluded(&self) -> Excluded {
        compile(&self.guard.exclude).unwrap_or_else(|_| Excluded(globset::GlobSet::empty()))
    }

    /// Loads the config from the repository root, or `None` when there is none yet.
    pub fn load(root: &Path) -> Result<Option<Config>> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            // Named as the user sees it beside flake.nix, as Nix files are.
            Ok(text) => Config::parse(Path::new(CONFIG_FILE), &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// A new file for this config, hosts one line each. The tool's edits
    /// of an existing file go through [`Document`].
    pub fn to_toml(&self) -> String {
        let without_hosts = Config {
            hosts: BTreeMap::new(),
            options: BTreeMap::new(),
            ..self.clone()
        };
        let text = toml::to_string(&without_hosts).expect("config serializes");
        let mut doc = Document::parse(Path::new(CONFIG_FILE), &text).expect("toml reads its own");
        for host in self.hosts.keys() {
            doc.set_build(host, &self.build(host).expect("a host has a build"));
        }
        let metal = self.variants().contains(&Variant::Metal);
        format!("{}{doc}", document::header(metal))
    }

    /// The variants in use, each once, in a stable order.
    pub fn variants(&self) -> Vec<Variant> {
        let mut v: Vec<Variant> = self.hosts.values().copied().collect();
        v.sort();
        v.dedup();
        v
    }

    /// A host's build: its variant with its options.
    pub fn build(&self, host: &str) -> Option<Build> {
        Some(Build {
            base: *self.hosts.get(host)?,
            options: self.options.get(host).cloned().unwrap_or_default(),
        })
    }

    /// The builds in use, each once, in a stable order: one overlay
    /// attribute each.
    pub fn builds(&self) -> Vec<Build> {
        let mut b: Vec<Build> = self.hosts.keys().filter_map(|h| self.build(h)).collect();
        b.sort();
        b.dedup();
        b
    }

    /// Gives `host` the build: its variant, and its options when it has any.
    pub fn set_build(&mut self, host: String, build: Build) {
        if build.options.is_empty() {
            self.options.remove(&host);
        } else {
            self.options.insert(host.clone(), build.options);
        }
        self.hosts.insert(host, build.base);
    }

    /// The overlay attribute a host installs (`llama-cpp-vulkan-native`).
    pub fn package_attr(&self, host: &str) -> Option<String> {
        self.build(host).map(|b| b.package_attr())
    }

    /// Hosts using `build`.
    pub fn hosts_of(&self, build: &Build) -> Vec<String> {
        self.hosts
            .keys()
            .filter(|h| self.build(h).as_ref() == Some(build))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml() {
        let mut config = Config::default();
        config.hosts.insert("carbon".into(), Variant::Cuda);
        config.hosts.insert("beryllium".into(), Variant::Vulkan);
        let text = config.to_toml();
        assert_eq!(Config::parse(Path::new("x"), &text).unwrap(), config);
        assert_eq!(config.variants(), vec![Variant::Cuda, Variant::Vulkan]);
    }

    #[test]
    fn guard_excludes_are_globs_relative_to_the_root() {
        let config = Config::parse(
            Path::new("flake-migrate.toml"),
            "[guard]\nexclude = [\"pkgs/legacy/**\", \"./hosts/*.nix\"]\n",
        )
        .unwrap();
        let excluded = config.excluded();
        assert!(excluded.contains(Path::new("pkgs/legacy/a/b.nix")));
        assert!(excluded.contains(Path::new("hosts/x.nix")));
        assert!(!excluded.contains(Path::new("hosts/x/default.nix")));
        assert!(!excluded.contains(Path::new("pkgs/llama.nix")));
        assert_eq!(
            Config::parse(Path::new("x"), &config.to_toml()).unwrap(),
            config
        );
        let bad = Config::parse(
            Path::new("flake-migrate.toml"),
            "[guard]\nexclude = [\"a/[\"]\n",
        );
        assert!(bad.unwrap_err().to_string().contains("exclude"));
    }

    #[test]
    fn a_host_with_options_is_a_table_and_the_short_form_stays() {
        let text = "[hosts]\ncarbon = { variant = \"vulkan\", native = true }\nneon = \"cuda\"\nboron = { variant = \"rocm\", rpc = true, rocm-targets = \"gfx1100\" }\n[guard]\nexclude = [\"legacy/**\"]\n";
        let config = Config::parse(Path::new("x"), text).unwrap();
        assert_eq!(config.hosts["carbon"], Variant::Vulkan);
        assert_eq!(
            config.package_attr("carbon").as_deref(),
            Some("llama-cpp-vulkan-native")
        );
        assert_eq!(
            config.package_attr("neon").as_deref(),
            Some("llama-cpp-cuda")
        );
        assert_eq!(
            config.package_attr("boron").as_deref(),
            Some("llama-cpp-rocm-rpc-gfx1100")
        );
        assert_eq!(config.builds().len(), 3);
        let again = config.to_toml();
        assert!(again.contains("neon = \"cuda\""), "{again}");
        assert!(
            again.contains("carbon = { variant = \"vulkan\", native = true }\n"),
            "{again}"
        );
        assert_eq!(Config::parse(Path::new("x"), &again).unwrap(), config);
        let bad = Config::parse(
            Path::new("flake-migrate.toml"),
            "[hosts]\nx = { variant = \"cpu\", nativ = true }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("nativ"), "{bad}");
        assert!(Config::parse(Path::new("x"), "[hosts]\nx = { native = true }\n").is_err());
    }

    #[test]
    fn cuda_capabilities_are_a_list_for_cuda_hosts_only() {
        let text = "[hosts]\nneon = { variant = \"cuda\", cuda-capabilities = [\"8.9\"] }\nwin = \"windows\"\n";
        let config = Config::parse(Path::new("x"), text).unwrap();
        assert_eq!(
            config.package_attr("neon").as_deref(),
            Some("llama-cpp-cuda-sm89")
        );
        assert_eq!(
            config.package_attr("win").as_deref(),
            Some("llama-cpp-windows")
        );
        let again = config.to_toml();
        assert!(
            again.contains("neon = { variant = \"cuda\", cuda-capabilities = [\"8.9\"] }"),
            "{again}"
        );
        assert_eq!(Config::parse(Path::new("x"), &again).unwrap(), config);
        // Every host with options: still one line each.
        let mut all = config.clone();
        all.hosts.remove("win");
        let text = all.to_toml();
        assert!(!text.contains("[hosts."), "{text}");
        assert_eq!(Config::parse(Path::new("x"), &text).unwrap(), all);
        let err = Config::parse(
            Path::new("flake-migrate.toml"),
            "[hosts]\nc = { variant = \"vulkan\", cuda-capabilities = [\"8.9\"] }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs a CUDA variant"), "{err}");
    }

    #[test]
    fn unknown_variant_is_an_error_naming_the_file() {
        let err = Config::parse(Path::new("flake-migrate.toml"), "[hosts]\nx = \"tpu\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("flake-migrate.toml"), "{err}");
        assert!(err.contains("tpu"), "{err}");
    }
}
