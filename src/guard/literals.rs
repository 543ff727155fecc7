//! The relative path literals of a file, from its tokens alone.
//!
//! The hook asks of every staged `.nix` file whether it adds or drops a
//! path (and, for an added one, what it reaches), which is most of what a
//! commit of ordinary modules costs if each file and its HEAD version are
//! parsed for it. A literal without interpolation (what
//! [`crate::nix_paths::literals`] reports) is exactly a relative path token
//! that neither continues nor is continued by an interpolation, so the
//! tokenizer finds them without building a tree. On a file with syntax
//! errors the parser may leave such a token out of any path node: then this
//! finds more literals than the parser does, never fewer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rnix::SyntaxKind::{TOKEN_INTERPOL_END, TOKEN_INTERPOL_START, TOKEN_PATH_REL};

/// What the relative path literals of `text`, a file at `file`, resolve to.
pub fn targets(file: &Path, text: &str) -> BTreeSet<PathBuf> {
    // Every literal contains a `/` (`./x`, `../x`, `a/b`): most files have
    // few, and a file without one has none.
    if !text.contains('/') {
        return BTreeSet::new();
    }
    let mut found = Literals::new(file);
    for token in rnix::tokenize(text) {
        found.see(token.0, token.1);
    }
    found.finish()
}

/// The same from a file's syntax tree, whose tokens are the file's tokens
/// (the tree is lossless): for a staged file, which the hook parses anyway
/// for the syntax-error finding, this spares lexing it a second time.
pub fn targets_in_tree(file: &Path, text: &str, root: &rnix::SyntaxNode) -> BTreeSet<PathBuf> {
    if !text.contains('/') {
        return BTreeSet::new();
    }
    // The green tree is walked, not the syntax tree: its nodes are plain
    // data, where the syntax tree makes (and frees) a handle per node.
    fn walk<'t>(node: &'t rowan::GreenNodeData, found: &mut Literals<'_, 't>) {
        for child in node.children() {
            match child {
                rowan::NodeOrToken::Node(n) => walk(n, found),
                rowan::NodeOrToken::Token(t) => found.see(
                    <rnix::NixLanguage as rowan::Language>::kind_from_raw(t.kind()),
                    t.text(),
                ),
            }
        }
    }
    let mut found = Literals::new(file);
    walk(root.green(), &mut found);
    found.finish()
}

/// Picks the literals out of a file's tokens as they stream by: a
/// relative path token is one when the token before it does not end an
/// interpolation and the one after it does not start one.
struct Literals<'f, 't> {
    file: &'f Path,
    previous: Option<rnix::SyntaxKind>,
    /// A path token waiting to see whether an interpolation follows it.
    pending: Option<&'t str>,
    found: BTreeSet<PathBuf>,
}

impl<'f, 't> Literals<'f, 't> {
    fn new(file: &'f Path) -> Self {
        Literals {
            file,
            previous: None,
            pending: None,
            found: BTreeSet::new(),
        }
    }

    fn see(&mut self, kind: rnix::SyntaxKind, text: &'t str) {
        if let Some(literal) = self.pending.take()
            && kind != TOKEN_INTERPOL_START
        {
            self.add(literal);
        }
        if kind == TOKEN_PATH_REL && self.previous != Some(TOKEN_INTERPOL_END) {
            self.pending = Some(text);
        }
        self.previous = Some(kind);
    }

    fn add(&mut self, literal: &str) {
        if let Some(target) = crate::nix_paths::resolve(self.file, literal) {
            self.found.insert(target);
        }
    }

    fn finish(mut self) -> BTreeSet<PathBuf> {
        if let Some(literal) = self.pending.take() {
            self.add(literal);
        }
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(file: &Path, text: &str) -> BTreeSet<PathBuf> {
        let root = rnix::Root::parse(text).tree();
        crate::nix_paths::literals(file, &root)
            .into_iter()
            .map(|l| l.target)
            .collect()
    }

    #[test]
    fn agrees_with_the_parser_on_every_kind_of_path() {
        let file = Path::new("machines/boron.nix");
        let text = r#"{ pkgs, name, ... }: {
  imports = [ ./hardware/boron.nix ../modules/a.nix ./by-name/${name}.nix ./x/${name} /etc/abs.nix ~/home.nix <nixpkgs/nixos> ];
  a = "./not-a-path.nix ${./in-string.nix}";
  # ./in-comment.nix
  b = ./dir/${name}/tail.nix;
  c = x/y.nix;
  d = 6 / 3;
}"#;
        let found = targets(file, text);
        assert_eq!(found, parsed(file, text));
        let root = rnix::Root::parse(text).syntax();
        assert_eq!(found, targets_in_tree(file, text, &root));
        let names: Vec<&str> = found.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(
            names,
            [
                "machines/hardware/boron.nix",
                "machines/in-string.nix",
                "machines/x/y.nix",
                "modules/a.nix"
            ]
        );
    }

    #[test]
    fn a_file_without_a_slash_has_none() {
        assert!(targets(Path::new("a.nix"), "{ x = 1; }").is_empty());
    }
}
