//! Reading `flake.nix`: its top-level set, its inputs (nested or dotted, in
//! any mix) and the formals of `outputs`.

use std::path::Path;

use rnix::ast;
use rowan::ast::AstNode;

use crate::syntax;

pub const FLAKE_FILE: &str = "flake.nix";

/// One leaf definition under `inputs`, flattened: `inputs = { a = { url = x; }; }`
/// and `inputs.a.url = x` both give `path = ["a", "url"]`.
#[derive(Debug, Clone)]
pub struct InputEntry {
    pub path: Vec<String>,
    pub value: ast::Expr,
    /// The attrpath-value that holds this leaf, as written.
    pub entry: ast::AttrpathValue,
}

impl InputEntry {
    pub fn input(&self) -> &str {
        &self.path[0]
    }

    pub fn string_value(&self) -> Option<String> {
        match syntax::unparen(self.value.clone()) {
            ast::Expr::Str(s) => syntax::string_literal(&s),
            _ => None,
        }
    }
}

impl InputEntry {
    /// `url = "github:owner/llama.cpp…"` or `repo = "llama.cpp"` directly
    /// under the input (not under its own `inputs.*`): a llama.cpp source,
    /// upstream or a fork. `llama-cpp-python` and the like are not.
    pub fn names_llama_cpp(&self) -> bool {
        let Some(value) = self.string_value() else {
            return false;
        };
        let is_repo = |name: &str| name.eq_ignore_ascii_case("llama.cpp");
        match self.path[1..].join(".").as_str() {
            "url" => value
                .split(['/', ':', '?', '#'])
                .any(|s| is_repo(s.strip_suffix(".git").unwrap_or(s))),
            "repo" => is_repo(&value),
            _ => false,
        }
    }
}

/// What `flake.nix` says, as far as the migration needs to know.
pub struct Flake {
    pub root: ast::Root,
    /// The top-level attribute set.
    pub top: ast::AttrSet,
}

impl Flake {
    /// Reads the parsed file, or says why its shape is not a flake we can edit.
    pub fn read(root: ast::Root) -> Result<Flake, String> {
        let expr = root.expr().ok_or("flake.nix is empty")?;
        match syntax::body(expr) {
            ast::Expr::AttrSet(top) => Ok(Flake { root, top }),
            _ => Err("the top level of flake.nix is not an attribute set".into()),
        }
    }

    pub fn text(&self) -> String {
        self.root.syntax().to_string()
    }

    /// Top-level entries whose path starts with `first`.
    pub fn top_entries(&self, first: &str) -> Vec<(Vec<String>, ast::AttrpathValue)> {
        syntax::named_entries(&self.top)
            .into_iter()
            .filter(|(names, _)| names[0] == first)
            .collect()
    }

    /// The `inputs = { … }` set, when inputs are written nested.
    pub fn inputs_set(&self) -> Option<ast::AttrSet> {
        self.top_entries("inputs")
            .into_iter()
            .find(|(names, _)| names.len() == 1)
            .and_then(|(_, apv)| match syntax::unparen(apv.value()?) {
                ast::Expr::AttrSet(set) => Some(set),
                _ => None,
            })
    }

    /// Every leaf under `inputs`, whichever way it is written.
    pub fn input_entries(&self) -> Vec<InputEntry> {
        let mut out = Vec::new();
        for (names, apv) in self.top_entries("inputs") {
            if let Some(value) = apv.value() {
                flatten(names[1..].to_vec(), value, &apv, &mut out);
            }
        }
        out
    }

    /// Names of all inputs, in order of first appearance.
    pub fn input_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in self.input_entries() {
            if !names.iter().any(|n| n == e.input()) {
                names.push(e.input().to_string());
            }
        }
        names
    }

    /// The `outputs` function, when it is written as one here.
    pub fn outputs_lambda(&self) -> Option<ast::Lambda> {
        self.top_entries("outputs")
            .into_iter()
            .find(|(names, _)| names.len() == 1)
            .and_then(|(_, apv)| match syntax::unparen(apv.value()?) {
                ast::Expr::Lambda(l) => Some(l),
                _ => None,
            })
    }

    /// The name under which `outputs` sees all inputs: `inputs` in
    /// `{ self, ... }@inputs:` or `inputs:`; `None` when there is none.
    pub fn inputs_binding(&self) -> Option<String> {
        match self.outputs_lambda()?.param()? {
            ast::Param::IdentParam(p) => Some(p.ident()?.syntax().text().to_string()),
            ast::Param::Pattern(p) => Some(p.pat_bind()?.ident()?.syntax().text().to_string()),
        }
    }
}

fn flatten(
    prefix: Vec<String>,
    value: ast::Expr,
    entry: &ast::AttrpathValue,
    out: &mut Vec<InputEntry>,
) {
    if let ast::Expr::AttrSet(set) = syntax::unparen(value.clone())
        && !syntax::is_rec(&set)
    {
        for (names, apv) in syntax::named_entries(&set) {
            if let Some(v) = apv.value() {
                let mut path = prefix.clone();
                path.extend(names);
                flatten(path, v, &apv, out);
            }
        }
        return;
    }
    if !prefix.is_empty() {
        out.push(InputEntry {
            path: prefix,
            value,
            entry: entry.clone(),
        });
    }
}

/// The flake's own nixpkgs input for upstream's `nixpkgs` to follow: the
/// input named `nixpkgs`, else the nixpkgs input the hosts are built with
/// (`stable-nixpkgs.lib.nixosSystem`), else the only input whose url names
/// nixpkgs. Step 0001 writes it and the guard's `flake-input` expects it.
pub fn follow_target(flake: &Flake, text: &str, follows: &str) -> Option<String> {
    let names = flake.input_names();
    if names.iter().any(|n| n == follows) {
        return Some(follows.to_string());
    }
    let nixpkgs_inputs: Vec<String> = flake
        .input_entries()
        .into_iter()
        .filter(|e| e.path[1..] == ["url"])
        .filter(|e| {
            e.string_value()
                .is_some_and(|u| u.to_ascii_lowercase().contains("/nixpkgs"))
        })
        .map(|e| e.input().to_string())
        .collect();
    nixpkgs_inputs
        .iter()
        .find(|n| text.contains(&format!("{n}.lib.nixosSystem")))
        .or_else(|| (nixpkgs_inputs.len() == 1).then(|| &nixpkgs_inputs[0]))
        .cloned()
}

/// Whether `found` is the input url `url`, or it pinned (`…/llama.cpp/b4000`,
/// `…?rev=…`). GitHub owners and repositories are case-insensitive, so
/// `github:GGML-org/llama.cpp` is upstream too.
pub fn is_upstream(found: &str, url: &str) -> bool {
    let Some(head) = found.get(..url.len()) else {
        return false;
    };
    let same = if url.starts_with("github:") {
        head.eq_ignore_ascii_case(url)
    } else {
        head == url
    };
    let rest = &found[url.len()..];
    same && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

/// Parses `flake.nix` text into a [`Flake`], with errors naming the file.
pub fn parse(text: &str) -> crate::error::Result<Result<Flake, String>> {
    let root = syntax::parse(Path::new(FLAKE_FILE), text)?;
    Ok(Flake::read(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_ignore_the_case_of_the_github_owner() {
        let url = "github:ggml-org/llama.cpp";
        for yes in [
            url,
            "github:GGML-org/llama.cpp",
            "github:ggml-org/llama.cpp/b6000",
            "github:ggml-org/llama.cpp?ref=x",
        ] {
            assert!(is_upstream(yes, url), "{yes}");
        }
        for no in [
            "github:ggml-org/llama.cpp-fork",
            "github:me/llama.cpp",
            "github:ggml",
        ] {
            assert!(!is_upstream(no, url), "{no}");
        }
    }

    fn flake(text: &str) -> Flake {
        parse(text).unwrap().unwrap()
    }

    #[test]
    fn nested_and_dotted_inputs_flatten_alike() {
        let nested = flake(
            r#"{ inputs = { nixpkgs.url = "a"; hm = { url = "b"; inputs.nixpkgs.follows = "nixpkgs"; }; }; outputs = _: {}; }"#,
        );
        let dotted = flake(
            r#"{ inputs.nixpkgs.url = "a"; inputs.hm.url = "b"; inputs.hm.inputs.nixpkgs.follows = "nixpkgs"; outputs = _: {}; }"#,
        );
        for f in [nested, dotted] {
            let paths: Vec<String> = f.input_entries().iter().map(|e| e.path.join(".")).collect();
            assert_eq!(
                paths,
                vec!["nixpkgs.url", "hm.url", "hm.inputs.nixpkgs.follows"]
            );
            assert_eq!(f.input_names(), vec!["nixpkgs", "hm"]);
        }
    }

    #[test]
    fn inputs_binding_comes_from_the_at_pattern_or_the_parameter() {
        assert_eq!(
            flake("{ outputs = { self, ... }@inputs: {}; }").inputs_binding(),
            Some("inputs".into())
        );
        assert_eq!(
            flake("{ outputs = attrs: {}; }").inputs_binding(),
            Some("attrs".into())
        );
        assert_eq!(flake("{ outputs = { self }: {}; }").inputs_binding(), None);
    }
}
