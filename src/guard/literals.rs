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
    in_tokens(file, &rnix::tokenize(text).collect::<Vec<_>>())
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
    fn walk<'t>(node: &'t rowan::GreenNodeData, out: &mut Vec<(rnix::SyntaxKind, &'t str)>) {
        for child in node.children() {
            match child {
                rowan::NodeOrToken::Node(n) => walk(n, out),
                rowan::NodeOrToken::Token(t) => out.push((
                    <rnix::NixLanguage as rowan::Language>::kind_from_raw(t.kind()),
                    t.text(),
                )),
            }
        }
    }
    let green = root.green();
    let mut tokens = Vec::new();
    walk(green, &mut tokens);
    in_tokens(file, &tokens)
}

fn in_tokens(file: &Path, tokens: &[(rnix::SyntaxKind, &str)]) -> BTreeSet<PathBuf> {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, (kind, _))| {
            *kind == TOKEN_PATH_REL
                && !(*i > 0 && tokens[i - 1].0 == TOKEN_INTERPOL_END)
                && tokens
                    .get(i + 1)
                    .is_none_or(|t| t.0 != TOKEN_INTERPOL_START)
        })
        .filter_map(|(_, (_, literal))| crate::nix_paths::resolve(file, literal))
        .collect()
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
