//! The upstream revision an old override builds: `src = fetchFromGitHub {
//! owner = "ggml-org"; repo = "llama.cpp"; rev = "b6500"; … }` in an
//! `overrideAttrs` set, the revision written out or made of the set's
//! `version` (`tag = "b${version}"`, `"b${finalAttrs.version}"`). 0001 pins
//! the flake input to it when every old override agrees; 0004 and 0005 then
//! count the `src` they drop as carried.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::flake::Flake;
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
    /// A flake input (`src = inputs.llama-src;`), usually a `flake = false`
    /// checkout; what it is depends on the flake ([`Revisions::resolve`]).
    Input(String),
    /// Not a revision of upstream read from the text: a fork, another
    /// fetcher, a computed revision; what it is, as a reader says it.
    Other(String),
}

impl Pin {
    pub fn revision(&self) -> Option<&str> {
        match &self.source {
            Source::Upstream(rev) => Some(rev),
            Source::Input(_) | Source::Other(_) => None,
        }
    }
}

/// The revisions the flake's inputs name: the upstream input's pin, and
/// each `flake = false` checkout of upstream (`None`: its default branch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revisions {
    pub input: Option<String>,
    pub checkouts: BTreeMap<String, Option<String>>,
}

/// What a source resolves to through the flake's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Upstream(String),
    /// A checkout of upstream's default branch: what an unpinned input gives.
    DefaultBranch,
    Other(String),
}

impl Revisions {
    pub fn read(flake: &Flake, upstream_input: Option<&str>) -> Revisions {
        let input = upstream_input
            .and_then(|i| flake.input_url(i))
            .and_then(|u| url_revision(&u).map(String::from));
        let checkouts = flake
            .input_names()
            .into_iter()
            .filter(|n| flake.is_source_only(n))
            .filter_map(|n| {
                let url = flake.input_url(&n)?;
                is_upstream_url(&url).then(|| (n, url_revision(&url).map(String::from)))
            })
            .collect();
        Revisions { input, checkouts }
    }

    pub fn resolve(&self, source: &Source) -> Resolved {
        match source {
            Source::Upstream(rev) => Resolved::Upstream(rev.clone()),
            Source::Input(name) => match self.checkouts.get(name) {
                Some(Some(rev)) => Resolved::Upstream(rev.clone()),
                Some(None) => Resolved::DefaultBranch,
                None => Resolved::Other(format!("src = inputs.{name}")),
            },
            Source::Other(what) => Resolved::Other(what.clone()),
        }
    }

    /// Whether the upstream input builds what `source` did.
    pub fn carries(&self, source: &Source) -> bool {
        match self.resolve(source) {
            Resolved::Upstream(rev) => self.input.as_deref() == Some(rev.as_str()),
            Resolved::DefaultBranch => self.input.is_none(),
            Resolved::Other(_) => false,
        }
    }
}

/// `github:ggml-org/llama.cpp` (or the old owner), with or without a revision.
fn is_upstream_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("github:") else {
        return false;
    };
    let mut parts = rest.split(['/', '?']);
    let (owner, repo) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    UPSTREAM_OWNERS
        .iter()
        .any(|o| o.eq_ignore_ascii_case(owner))
        && repo == "llama.cpp"
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
    if let Some(path) = syntax::select_path(value) {
        match path.as_slice() {
            [name] | [_, name] if path.len() == 1 || path[0] == "inputs" => {
                return Source::Input(name.clone());
            }
            _ => {}
        }
    }
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
    // A revision or tag as a url path segment: anything else (a `/`, a
    // quote, `${`) is no pin flake-migrate writes.
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if rev.is_empty() || !rev.chars().all(plain) {
        return None;
    }
    Some(format!("{url}/{rev}"))
}

/// The revision a `github:OWNER/REPO/REV` url names (or `?rev=`, `?ref=`),
/// if any.
pub fn url_revision(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("github:")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_query = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("rev=").or_else(|| kv.strip_prefix("ref=")));
    let mut parts = path.splitn(3, '/');
    let in_path = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(rev)) => Some(rev),
        _ => None,
    };
    in_path.or(in_query).filter(|r| !r.is_empty())
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
        assert_eq!(found[2].source, Source::Input("llama-src".into()));
        let flake = crate::flake::parse(
            r#"{ inputs.llama-src = { url = "github:ggerganov/llama.cpp/b6400"; flake = false; };
                 inputs.llama-cpp.url = "github:ggml-org/llama.cpp/b6400";
                 inputs.tip = { url = "github:ggml-org/llama.cpp"; flake = false; };
                 outputs = _: { }; }"#,
        )
        .unwrap()
        .unwrap();
        let revisions = Revisions::read(&flake, Some("llama-cpp"));
        assert_eq!(
            revisions.resolve(&found[2].source),
            Resolved::Upstream("b6400".into())
        );
        assert!(revisions.carries(&found[2].source));
        assert_eq!(
            revisions.resolve(&Source::Input("tip".into())),
            Resolved::DefaultBranch
        );
        assert!(!revisions.carries(&Source::Input("tip".into())));
        assert!(!revisions.carries(&Source::Input("elsewhere".into())));
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
        assert_eq!(pinned_url("github:ggml-org/llama.cpp", "b\"${x}"), None);
        assert_eq!(pinned_url("github:ggml-org/llama.cpp", "a/b"), None);
        assert_eq!(
            url_revision("github:ggml-org/llama.cpp/b6500"),
            Some("b6500")
        );
        assert_eq!(url_revision("github:ggml-org/llama.cpp"), None);
        assert_eq!(
            url_revision("github:ggml-org/llama.cpp?rev=0123&dir=x"),
            Some("0123")
        );
    }
}
