//! `callPackage ./pkgs/llama.nix { }` of a file whose function takes
//! `llama-cpp`: callPackage fills that argument with nixpkgs' build, so the
//! call is a reference although it does not name the package.

use std::ops::Range;
use std::path::{Path, PathBuf};

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::{LlamaRef, PACKAGE, RefKind};
use crate::nix_paths;
use crate::syntax::{self, end, start};

/// Each `callPackage PATH ARGS` whose `ARGS` does not pass `llama-cpp`
/// itself: the call's range and the repository path it names (a file, or
/// a directory meaning its `default.nix`).
pub fn call_packages(file: &Path, root: &ast::Root) -> Vec<(Range<usize>, PathBuf)> {
    root.syntax()
        .descendants()
        .filter_map(ast::Apply::cast)
        .filter_map(|outer| {
            let ast::Expr::Apply(inner) = outer.lambda()? else {
                return None;
            };
            let callee = syntax::select_path(&inner.lambda()?)?;
            if callee.last().map(String::as_str) != Some("callPackage") {
                return None;
            }
            let ast::Expr::PathRel(path) = syntax::unparen(inner.argument()?) else {
                return None;
            };
            let target = nix_paths::literals_in(path.syntax(), file).pop()?.target;
            let passes_it = match syntax::unparen(outer.argument()?) {
                ast::Expr::AttrSet(set) => {
                    syntax::named_entries(&set)
                        .iter()
                        .any(|(n, _)| n[0] == PACKAGE)
                        || set.inherits().any(|i| {
                            i.attrs()
                                .any(|a| syntax::attr_name(&a).as_deref() == Some(PACKAGE))
                        })
                }
                _ => true, // arguments we cannot read: not ours to judge
            };
            (!passes_it).then(|| (start(outer.syntax())..end(outer.syntax()), target))
        })
        .collect()
}

/// A package file whose function takes `llama-cpp` without a default.
pub fn takes_llama_cpp(root: &ast::Root) -> bool {
    let Some(ast::Expr::Lambda(lambda)) = root.expr().map(syntax::unparen) else {
        return false;
    };
    let Some(ast::Param::Pattern(pattern)) = lambda.param() else {
        return false;
    };
    pattern
        .pat_entries()
        .any(|e| e.default().is_none() && e.ident().is_some_and(|i| i.syntax().text() == PACKAGE))
}

/// What a package file that takes `llama-cpp` makes of it, when it only
/// customises it (`llama-cpp.override { … }`, `.overrideAttrs …`, or
/// `llama-cpp` itself): the whole body as a reference of its kind. `None`
/// for a file that builds something else with it (a wrapper), which needs
/// the variant passed in rather than in its place.
pub fn customisation(root: &ast::Root) -> Option<LlamaRef> {
    let ast::Expr::Lambda(lambda) = root.expr().map(syntax::unparen)? else {
        return None;
    };
    let body = syntax::unparen(syntax::body(lambda.body()?));
    let whole = start(body.syntax())..end(body.syntax());
    if let ast::Expr::Ident(i) = &body
        && i.syntax().text() == PACKAGE
    {
        return Some(LlamaRef {
            kind: RefKind::Bare,
            range: whole,
            base: None,
            own_instance: false,
        });
    }
    let chain = body
        .syntax()
        .descendants()
        .filter_map(ast::Select::cast)
        .find(|s| {
            s.expr()
                .is_some_and(|e| matches!(&e, ast::Expr::Ident(i) if i.syntax().text() == PACKAGE))
                && s.attrpath()
                    .and_then(|p| syntax::attrpath_names(&p))
                    .is_some_and(|n| n.len() == 1 && super::classify::is_override_attr(&n[0]))
        })
        .map(|s| super::classify::override_chain(s.syntax(), None))?;
    // The chain is the whole body, with or without parentheses around it.
    let written = lambda.body().map(|b| start(b.syntax())..end(b.syntax()));
    (chain.range == whole || Some(&chain.range) == written.as_ref()).then_some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_only_customises_llama_cpp_is_told_from_a_wrapper() {
        let kind = |src: &str| {
            customisation(&rnix::Root::parse(src).tree()).map(|r| match r.kind {
                RefKind::Override { args, attrs } => format!("{args:?} {attrs}"),
                other => format!("{other:?}"),
            })
        };
        assert_eq!(
            kind("{ llama-cpp }: llama-cpp.override { cudaSupport = true; }").as_deref(),
            Some("[\"cudaSupport = true\"] false")
        );
        assert_eq!(
            kind("{ llama-cpp, ... }:\n(llama-cpp.override { vulkanSupport = true; }).overrideAttrs (o: { })")
                .as_deref(),
            Some("[\"vulkanSupport = true\"] true")
        );
        assert_eq!(kind("{ llama-cpp }: llama-cpp").as_deref(), Some("Bare"));
        assert_eq!(
            kind(
                "{ writeShellScriptBin, llama-cpp }: writeShellScriptBin \"ask\" \"${llama-cpp}/bin/llama-cli\""
            ),
            None
        );
    }

    #[test]
    fn calls_that_leave_llama_cpp_to_callpackage() {
        let src = "{ pkgs, ... }: { a = pkgs.callPackage ./pkgs/llama.nix { }; b = pkgs.callPackage ../x { llama-cpp = pkgs.llama-cpp-cuda; }; c = callPackage ./y.nix { inherit (pkgs) llama-cpp; }; }";
        let root = rnix::Root::parse(src).tree();
        let found: Vec<(String, PathBuf)> = call_packages(Path::new("hosts/a.nix"), &root)
            .into_iter()
            .map(|(r, t)| (src[r].to_string(), t))
            .collect();
        assert_eq!(
            found,
            [(
                "pkgs.callPackage ./pkgs/llama.nix { }".to_string(),
                PathBuf::from("hosts/pkgs/llama.nix")
            )]
        );
        let takes = |s: &str| takes_llama_cpp(&rnix::Root::parse(s).tree());
        assert!(takes(
            "{ llama-cpp, lib }: llama-cpp.override { cudaSupport = true; }"
        ));
        assert!(!takes("{ llama-cpp ? null }: 1"));
        assert!(!takes(
            "{ writeShellScriptBin }: writeShellScriptBin \"x\" \"\""
        ));
    }
}
