//! Overlays written inline that override nixpkgs' llama-cpp: removed
//! whole when they hold nothing else, else just their llama-cpp entries.

use std::path::Path;

use rnix::SyntaxNode;
use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::dropped::Dropped;
use super::removal::{removal, remove_lines};
use crate::edit::Splice;
use crate::model;
use crate::refs;
use crate::steps::Plan;
use crate::syntax::{self, end, start};

/// The splices that remove `file`'s inline overlays of llama-cpp, each with
/// a note; a blocked plan where one cannot be removed safely.
pub(super) fn removals(
    file: &Path,
    text: &str,
    root: &ast::Root,
    dropped: &mut Dropped<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<Splice>, Plan> {
    let found = inline_overrides(text, root).map_err(|(offset, why)| {
        Plan::blocked(
            format!("{}: {why}", model::location(file, text, offset)),
            "remove this override of nixpkgs' llama-cpp by hand, then run `flake-migrate up` to adopt step 0005",
        )
    })?;
    let mut splices = Vec::new();
    for (offset, splice, entries) in found {
        notes.push(format!(
            "{}: removed an inline overlay of nixpkgs' llama-cpp",
            model::location(file, text, offset)
        ));
        dropped.record(file, text, root, &entries, notes);
        splices.push(splice);
    }
    Ok(splices)
}

/// Overlays written inline (`final: prev: { llama-cpp-cuda =
/// prev.llama-cpp.override { … }; }` in a list, or a file of overlays that
/// also defines other packages): the splices that remove their llama-cpp
/// entries, or the whole overlay when it holds nothing else; each with the
/// entries it removes.
type Removal = (usize, Splice, Vec<ast::AttrpathValue>);
fn inline_overrides(text: &str, root: &ast::Root) -> Result<Vec<Removal>, (usize, String)> {
    let from_prev: Vec<std::ops::Range<usize>> = refs::find(root)
        .into_iter()
        .filter(|r| r.in_overlay())
        .map(|r| r.range)
        .collect();
    if from_prev.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for outer in root.syntax().descendants().filter_map(ast::Lambda::cast) {
        let Some(ast::Param::IdentParam(_)) = outer.param() else {
            continue;
        };
        let Some(ast::Expr::Lambda(inner)) = outer.body().map(syntax::unparen) else {
            continue;
        };
        let Some(ast::Param::IdentParam(_)) = inner.param() else {
            continue;
        };
        let Some(ast::Expr::AttrSet(set)) = inner.body().map(syntax::body) else {
            continue;
        };
        let entries = syntax::named_entries(&set);
        let llama: Vec<ast::AttrpathValue> = entries
            .iter()
            .filter(|(n, apv)| {
                n[0].starts_with(refs::PACKAGE)
                    && from_prev.iter().any(|r| {
                        apv.syntax()
                            .text_range()
                            .contains_range(rnix::TextRange::new(
                                (r.start as u32).into(),
                                (r.end as u32).into(),
                            ))
                    })
            })
            .map(|(_, apv)| apv.clone())
            .collect();
        if llama.is_empty() {
            continue;
        }
        let whole_file = root_lambdas(root).contains(outer.syntax());
        let only_llama = llama.len() == entries.len() && set.inherits().next().is_none();
        if only_llama && whole_file {
            continue; // an old override file: deleted as a whole
        }
        if only_llama {
            let at = start(outer.syntax());
            let splice = removal(text, outer.syntax()).map_err(|why| (at, why))?;
            out.push((at, splice, llama));
        } else {
            for apv in llama {
                out.push((
                    start(apv.syntax()),
                    remove_lines(text, start(apv.syntax()), end(apv.syntax())),
                    vec![apv],
                ));
            }
        }
    }
    Ok(out)
}

/// The lambdas a file's expression starts with (`{ inputs }: final: prev:`).
fn root_lambdas(root: &ast::Root) -> Vec<SyntaxNode> {
    let mut out = Vec::new();
    let mut expr = root.expr();
    while let Some(ast::Expr::Lambda(l)) = expr.map(syntax::unparen) {
        out.push(l.syntax().clone());
        expr = l.body();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::old_override;

    fn without_inline_overrides(src: &str) -> String {
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let splices = inline_overrides(src, &root)
            .unwrap()
            .into_iter()
            .map(|(_, s, _)| s)
            .collect();
        crate::edit::apply(Path::new("m.nix"), src, splices).unwrap()
    }

    #[test]
    fn an_inline_overlay_of_only_llama_cpp_goes_with_its_comment() {
        let src = "{\n  nixpkgs.overlays = [\n    (final: prev: { htop = prev.htop; })\n    # CUDA build\n    (self: super: { llama-cpp = super.llama-cpp.override { cudaSupport = true; }; })\n  ];\n}\n";
        assert_eq!(
            without_inline_overrides(src),
            "{\n  nixpkgs.overlays = [\n    (final: prev: { htop = prev.htop; })\n  ];\n}\n"
        );
    }

    #[test]
    fn a_mixed_overlay_keeps_its_other_packages() {
        let src = "final: prev: {\n  foo = prev.hello;\n  llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; };\n}\n";
        assert_eq!(
            without_inline_overrides(src),
            "final: prev: {\n  foo = prev.hello;\n}\n"
        );
        // Not an old override file to delete: it defines `foo` too.
        assert!(!old_override::is_old_override(
            &syntax::parse(Path::new("m.nix"), src).unwrap()
        ));
    }

    #[test]
    fn an_overlay_of_only_llama_cpp_is_an_old_override_file() {
        let src = "final: prev: {\n  llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; };\n}\n";
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        assert!(old_override::is_old_override(&root));
        assert!(
            inline_overrides(src, &root).unwrap().is_empty(),
            "deleted whole, not edited"
        );
    }
}
