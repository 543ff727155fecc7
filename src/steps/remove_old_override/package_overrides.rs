//! `packageOverrides = pkgs: { llama-cpp = pkgs.llama-cpp.override { … }; }`
//! in nixpkgs' `config`: an old override like an overlay's. It applies
//! before overlays, so it cannot name upstream's packages; its llama-cpp
//! entries go (the binding too, once emptied).

use rnix::ast;
use rowan::ast::AstNode;

use super::removal::remove_lines;
use crate::edit::Splice;
use crate::refs;
use crate::syntax::{self, end, start};

/// The llama-cpp entries of every `packageOverrides` function in the file,
/// with the splices that remove them.
pub(super) fn removals(text: &str, root: &ast::Root) -> Vec<(ast::AttrpathValue, Splice)> {
    let mut out = Vec::new();
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        if refs::full_path(&apv)
            .and_then(|p| p.last().cloned())
            .as_deref()
            != Some("packageOverrides")
        {
            continue;
        }
        let Some(ast::Expr::Lambda(lambda)) = apv.value().map(syntax::unparen) else {
            continue;
        };
        let Some(ast::Expr::AttrSet(set)) = lambda.body().map(syntax::body) else {
            continue;
        };
        for (names, entry) in syntax::named_entries(&set) {
            let about_llama = entry
                .value()
                .is_some_and(|v| v.syntax().to_string().contains(refs::PACKAGE));
            if names[0].starts_with(refs::PACKAGE) && about_llama {
                let splice = remove_lines(text, start(entry.syntax()), end(entry.syntax()));
                out.push((entry, splice));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_llama_cpp_entry_goes_and_other_overrides_stay() {
        let src = "{\n  nixpkgs.config.packageOverrides = pkgs: {\n    htop = pkgs.htop;\n    llama-cpp = pkgs.llama-cpp.override { cudaSupport = true; };\n  };\n}\n";
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let splices = removals(src, &root).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            crate::edit::apply(Path::new("m.nix"), src, splices).unwrap(),
            "{\n  nixpkgs.config.packageOverrides = pkgs: {\n    htop = pkgs.htop;\n  };\n}\n"
        );
    }
}
