//! Finding references to nixpkgs' `llama-cpp` in one file: the matcher that
//! step 0004 rewrites with and the guard blocks with. Look-alikes are not
//! references: option paths (`systemd.services.llama-cpp`), other package
//! sets (`pkgs.myns.llama-cpp`), inputs, strings and comments.

mod classify;
mod matcher;
mod option_path;
mod scope;
mod service;

pub use matcher::find;
pub use option_path::full_path;

use std::ops::Range;

pub const PACKAGE: &str = "llama-cpp";

/// Names under which modules and overlays see nixpkgs.
const PACKAGE_SETS: &[&str] = &["pkgs", "prev", "final", "super"];

/// Whether a name is a nixpkgs instance: `pkgs`, an overlay's `prev`, or a
/// second instance passed to modules (`unstable`, `pkgs-unstable`,
/// `pkgsUnstable`, `unstablePkgs`, `stable`).
pub fn is_package_set(name: &str) -> bool {
    PACKAGE_SETS.contains(&name)
        || matches!(name, "stable" | "unstable" | "master")
        || name.to_ascii_lowercase().contains("pkgs")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind {
    /// `llama-cpp` under `with pkgs;`.
    Bare,
    /// `pkgs.llama-cpp`.
    Select,
    /// `inherit (pkgs) llama-cpp;` (the range is the inherit).
    Inherit,
    /// `(pkgs.llama-cpp.override { … })`, possibly with `.overrideAttrs`
    /// (`attrs`); `args` are the override arguments as written, `name = value`.
    Override { args: Vec<String>, attrs: bool },
    /// `services.llama-cpp.enable = true` with no `package` in the file:
    /// the module's default is nixpkgs' build. The range is the `enable` entry.
    ServiceWithoutPackage,
    /// `"${pkgs.llama-cpp}/bin/…"`.
    Interpolation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaRef {
    pub kind: RefKind,
    /// Byte range of the whole reference (the expression to replace).
    pub range: Range<usize>,
    /// The package-set expression the reference goes through (`pkgs`),
    /// `None` for a bare name under `with pkgs;` (under `with unstable;`,
    /// that instance).
    pub base: Option<String>,
}

impl LlamaRef {
    /// Inside an overlay (`prev.llama-cpp`): an old override, which step
    /// 0005 removes, not a host's reference for 0004 to rewrite.
    pub fn in_overlay(&self) -> bool {
        matches!(self.base.as_deref(), Some("prev" | "super" | "final"))
    }
}
