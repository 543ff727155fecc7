//! Finding references to nixpkgs' `llama-cpp` in one file: the matcher that
//! step 0004 rewrites with and the guard blocks with. Look-alikes are not
//! references: option paths (`systemd.services.llama-cpp`), other package
//! sets (`pkgs.myns.llama-cpp`), inputs, strings and comments.

pub mod allow;
mod call_package;
mod classify;
mod instance;
mod matcher;
mod option_path;
mod scope;
mod service;
mod spared;

pub use call_package::{call_packages, customisation, takes_llama_cpp};
pub use matcher::{find, find_named};
pub use option_path::full_path;
pub use service::sets_service_package;
pub use spared::applies_upstream_overlay;

use std::ops::Range;
use std::path::Path;

use rnix::ast;

pub const PACKAGE: &str = "llama-cpp";

/// [`find`], and the `callPackage` calls of package files that take
/// `llama-cpp` (`takes` says which named file does: it reads the file,
/// which this module does not).
pub fn find_in(
    file: &Path,
    root: &ast::Root,
    takes: &mut dyn FnMut(&Path) -> bool,
) -> Vec<LlamaRef> {
    let mut refs = find(root);
    for (range, target) in call_packages(file, root) {
        if takes(&target) {
            refs.push(LlamaRef {
                kind: RefKind::CallPackage { target },
                range,
                base: None,
                own_instance: false,
            });
        }
    }
    refs.sort_by_key(|r| r.range.start);
    refs
}

/// Every form of reference names `llama-cpp` or calls `callPackage`: a
/// file with neither need not be parsed.
pub fn may_refer(text: &str) -> bool {
    text.contains(PACKAGE) || text.contains("callPackage")
}

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
    /// `callPackage ./pkgs/llama.nix { }` of a file that takes `llama-cpp`
    /// as an argument (so gets nixpkgs' build); the range is the call.
    CallPackage { target: std::path::PathBuf },
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
    /// Through a nixpkgs instance of its own (`legacyPackages`, `import
    /// nixpkgs { }`), which no overlay of the host reaches.
    pub own_instance: bool,
}

impl LlamaRef {
    /// Inside an overlay (`prev.llama-cpp`): an old override, which step
    /// 0005 removes, not a host's reference for 0004 to rewrite.
    pub fn in_overlay(&self) -> bool {
        matches!(self.base.as_deref(), Some("prev" | "super" | "final"))
    }

    /// Through the host's own `pkgs` (bare under `with pkgs;`, or
    /// `pkgs.…`), where the host's overlays apply.
    pub fn through_host_pkgs(&self) -> bool {
        !self.own_instance && matches!(self.base.as_deref(), None | Some("pkgs"))
    }
}
