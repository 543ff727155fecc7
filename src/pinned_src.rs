//! The upstream revision an old override builds: `src = fetchFromGitHub {
//! owner = "ggml-org"; repo = "llama.cpp"; rev = "b6500"; … }` in an
//! `overrideAttrs` set, the revision written out or made of the set's
//! `version` (`tag = "b${version}"`, `"b${finalAttrs.version}"`). 0001 pins
//! the flake input to it when every old override agrees; 0004 and 0005 then
//! count the `src` they drop as carried.

use std::ops::Range;
use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::model;
use crate::syntax::{self, start};

/// Owners upstream llama.cpp was published under (it moved from
/// ggerganov to ggml-org; GitHub redirects).
const UPSTREAM_OWNERS: [&str; 2] = ["ggml-org", "ggerganov"];

/// One `src` an old override sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// `file:line:col` of the `src` entry.
    pub at: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Upstream at this revision (a tag like `b6500` or a commit).
    Upstream(String),
    /// Not a revision of upstream read from the text: a fork, another
    /// fetcher, a computed revision; what it is, as a reader says it.
    Other(String),
}

impl Pin {
    pub fn revision(&self) -> Option<&str> {
        match &self.source {
            Source::Upstream(rev) => Some(rev),
            Source::Other(_) => None,
        }
    }
}

/// The `src` pins of the sets in `root` that lie within `within`.
pub fn pins_within(file: &Path, text: &str, root: &ast::Root, within: Range<usize>) -> Vec<Pin> {
    root.syntax()
        .descendants()
        .filter_map(ast::AttrSet::cast)
        .filter(|set| within.contains(&start(set.syntax())))
        .filter_map(|set| of_set(&set))
        .map(|(offset, source)| Pin {
            at: model::location(file, text, offset),
            source,
        })
        .collect()
}

/// What `src` in this set pins (with the entry's offset), if it sets one.
pub fn of_set(set: &ast::AttrSet) -> Option<(usize, Source)> {
    let entries = syntax::named_entries(set);
    let (_, src) = entries.iter().find(|(names, _)| names == &["src"])?;
    let version = entries
        .iter()
        .find(|(names, _)| names == &["version"])
        .and_then(|(_, apv)| match apv.value().map(syntax::unparen) {
            Some(ast::Expr::Str(s)) => syntax::string_literal(&s),
            _ => None,
        });
    let offset = start(src.syntax());
    let value = syntax::unparen(src.value()?);
    Some((offset, source(&value, version.as_deref())))
}

fn source(value: &ast::Expr, version: Option<&str>) -> Source {
    let written = || {
        let text = value.syntax().to_string();
        let first = text.lines().next().unwrap_or("").trim().to_string();
        Source::Other(format!("src = {first}"))
    };
    let ast::Expr::Apply(apply) = value else {
        return written();
    };
    let fetcher = apply
        .lambda()
        .and_then(|f| syntax::select_path(&f))
        .and_then(|p| p.last().cloned());
    if fetcher.as_deref() != Some("fetchFromGitHub") {
        return written();
    }
    let Some(ast::Expr::AttrSet(args)) = apply.argument().map(syntax::unparen) else {
        return written();
    };
    let arg = |name: &str| {
        syntax::named_entries(&args)
            .into_iter()
            .find(|(names, _)| names == &[name])
            .and_then(|(_, apv)| match apv.value().map(syntax::unparen) {
                Some(ast::Expr::Str(s)) => with_version(&s, version),
                _ => None,
            })
    };
    let (owner, repo) = (arg("owner"), arg("repo"));
    let upstream = owner
        .as_deref()
        .is_some_and(|o| UPSTREAM_OWNERS.iter().any(|u| u.eq_ignore_ascii_case(o)))
        && repo.as_deref() == Some("llama.cpp");
    if !upstream {
        return Source::Other(format!(
            "src from github:{}/{} (not upstream)",
            owner.as_deref().unwrap_or("?"),
            repo.as_deref().unwrap_or("?")
        ));
    }
    match arg("rev").or_else(|| arg("tag")) {
        Some(rev) if !rev.is_empty() => Source::Upstream(rev),
        _ => Source::Other("src from upstream at a revision flake-migrate cannot read".into()),
    }
}

/// A string's value with `${version}` (or `${old.version}`,
/// `${finalAttrs.version}`) replaced by the set's literal `version`.
fn with_version(s: &ast::Str, version: Option<&str>) -> Option<String> {
    let mut out = String::new();
    for part in s.normalized_parts() {
        match part {
            ast::InterpolPart::Literal(text) => out.push_str(&text),
            ast::InterpolPart::Interpolation(i) => {
                let path = i.expr().and_then(|e| syntax::select_path(&e))?;
                if path.last().map(String::as_str) != Some("version") || path.len() > 2 {
                    return None;
                }
                out.push_str(version?);
            }
        }
    }
    Some(out)
}

/// `github:ggml-org/llama.cpp` pinned to `rev`; `None` when `url` already
/// names a revision or branch, or is not a plain GitHub flake reference.
pub fn pinned_url(url: &str, rev: &str) -> Option<String> {
    let rest = url.strip_prefix("github:")?;
    if rest.contains('?') || rest.split('/').count() != 2 {
        return None;
    }
    Some(format!("{url}/{rev}"))
}

/// The revision a `github:OWNER/REPO/REV` url names, if any.
pub fn url_revision(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("github:")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    let mut parts = rest.splitn(3, '/');
    let (_, _, rev) = (parts.next()?, parts.next()?, parts.next()?);
    (!rev.is_empty()).then_some(rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(text: &str) -> Vec<Pin> {
        let root = rnix::Root::parse(text).tree();
        pins_within(Path::new("o.nix"), text, &root, 0..text.len())
    }

    #[test]
    fn a_written_revision_a_tag_and_one_made_of_the_version_are_read() {
        let found = pins(
            r#"{
  a = x.overrideAttrs (o: { src = pkgs.fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; rev = "b6500"; hash = ""; }; });
  b = x.overrideAttrs (o: { version = "6501"; src = fetchFromGitHub { owner = "ggerganov"; repo = "llama.cpp"; tag = "b${version}"; hash = ""; }; });
  c = x.overrideAttrs (finalAttrs: o: { version = "6502"; src = fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; rev = "b${finalAttrs.version}"; }; });
}"#,
        );
        let revs: Vec<Option<&str>> = found.iter().map(Pin::revision).collect();
        assert_eq!(revs, [Some("b6500"), Some("b6501"), Some("b6502")]);
        assert_eq!(found[0].at, "o.nix:2:29");
    }

    #[test]
    fn forks_and_computed_revisions_are_not_upstream_revisions() {
        let found = pins(
            r#"{
  a = x.overrideAttrs (o: { src = fetchFromGitHub { owner = "someone"; repo = "llama.cpp"; rev = "abc"; }; });
  b = x.overrideAttrs (o: { src = fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; rev = myRev; }; });
  c = x.overrideAttrs (o: { src = inputs.llama-src; });
}"#,
        );
        assert!(found.iter().all(|p| p.revision().is_none()), "{found:?}");
        assert_eq!(
            found[0].source,
            Source::Other("src from github:someone/llama.cpp (not upstream)".into())
        );
        assert_eq!(
            found[2].source,
            Source::Other("src = inputs.llama-src".into())
        );
    }

    #[test]
    fn only_a_plain_github_url_is_pinned() {
        assert_eq!(
            pinned_url("github:ggml-org/llama.cpp", "b6500").as_deref(),
            Some("github:ggml-org/llama.cpp/b6500")
        );
        assert_eq!(pinned_url("github:ggml-org/llama.cpp/b6000", "b6500"), None);
        assert_eq!(pinned_url("github:ggml-org/llama.cpp?ref=x", "b6500"), None);
        assert_eq!(pinned_url("git+https://example/llama.cpp", "b6500"), None);
        assert_eq!(
            url_revision("github:ggml-org/llama.cpp/b6500"),
            Some("b6500")
        );
        assert_eq!(url_revision("github:ggml-org/llama.cpp"), None);
    }
}
