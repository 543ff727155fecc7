//! A file as the guard checks it: its text, and what the rules ask of it
//! (its syntax tree, its references to llama-cpp), each worked out once.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use rnix::ast;

use crate::config::Variant;
use crate::error::Located;
use crate::refs::{self, LlamaRef};

/// A file as checked: its text, and its syntax tree once a rule asks for it
/// (most files of a large tree are only searched for a name).
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    /// Set when the file is not UTF-8 (`text` then has U+FFFD for the bad
    /// bytes), so the guard can say so and still look at the rest.
    not_utf8: Option<Box<Located>>,
    root: OnceCell<ast::Root>,
    syntax_error: OnceCell<Option<Located>>,
    refs: OnceCell<Vec<LlamaRef>>,
    variant_refs: OnceCell<Vec<(Variant, LlamaRef)>>,
}

impl Source {
    /// A file that is not UTF-8: the rules see its other bytes (so it does
    /// not look deleted), and the syntax-error finding says where it is not.
    pub fn not_utf8(path: &Path, at: Box<Located>) -> Self {
        Source {
            text: at.text.clone(),
            not_utf8: Some(at),
            ..Source::new(path, String::new())
        }
    }

    pub fn new(path: &Path, text: String) -> Self {
        Source {
            path: path.to_path_buf(),
            text,
            not_utf8: None,
            root: OnceCell::new(),
            syntax_error: OnceCell::new(),
            refs: OnceCell::new(),
            variant_refs: OnceCell::new(),
        }
    }

    /// The syntax tree. A file with syntax errors still gives one: the rules
    /// see what parsed, and nix reports the rest.
    pub fn root(&self) -> &ast::Root {
        self.root.get_or_init(|| {
            let parsed = rnix::Root::parse(&self.text);
            let _ = self
                .syntax_error
                .set(crate::syntax::first_error(&self.path, &self.text, &parsed));
            parsed.tree()
        })
    }

    /// Why the guard could not read the file as Nix: not UTF-8, or (once
    /// its tree was asked for) its first syntax error.
    pub fn unreadable(&self) -> Option<&Located> {
        self.not_utf8
            .as_deref()
            .or_else(|| self.syntax_error.get().and_then(Option::as_ref))
    }

    /// References to nixpkgs' llama-cpp ([`refs::find`]); every form of
    /// them names `llama-cpp`, so a file without the name is not parsed.
    pub fn llama_refs(&self) -> &[LlamaRef] {
        self.refs.get_or_init(|| {
            if self.text.contains(refs::PACKAGE) {
                refs::find(self.root())
            } else {
                Vec::new()
            }
        })
    }

    /// References to `llama-cpp-<variant>` (`pkgs.llama-cpp-rocm`, …),
    /// whose meaning depends on the host: the overlay's build, or nixpkgs'.
    pub fn variant_refs(&self) -> &[(Variant, LlamaRef)] {
        self.variant_refs.get_or_init(|| {
            if !self.text.contains("llama-cpp-") {
                return Vec::new();
            }
            let is_variant = |n: &str| variant_of(n).is_some();
            refs::find_named(self.root(), &is_variant)
                .into_iter()
                .filter_map(|(n, r)| Some((variant_of(&n)?, r)))
                .collect()
        })
    }
}

/// `llama-cpp-cuda` gives cuda.
fn variant_of(name: &str) -> Option<Variant> {
    name.strip_prefix("llama-cpp-").and_then(Variant::parse)
}
