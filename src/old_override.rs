//! Recognising the user's old llama-cpp override files: the configured
//! ones, or overlays and callPackage files that build from nixpkgs'
//! `llama-cpp`. Read by step 0004 (which leaves them to 0005) and by 0005
//! (which deletes them).

use std::path::{Path, PathBuf};

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use crate::config::Config;
use crate::error::Result;
use crate::files::Files;
use crate::flake::FLAKE_FILE;
use crate::refs;
use crate::syntax;

/// Old override files: the configured ones, or every overlay that builds
/// `llama-cpp…` attributes from nixpkgs' llama-cpp (and the callPackage
/// form `{ llama-cpp, … }: llama-cpp.override { … }`).
pub fn files(files: &dyn Files, config: &Config) -> Result<Vec<PathBuf>> {
    if !config.old_overrides.is_empty() {
        return Ok(config
            .old_overrides
            .iter()
            .filter(|p| files.exists(p))
            .cloned()
            .collect());
    }
    let mut out = Vec::new();
    for path in files.nix_files() {
        if path == config.overlay || path == Path::new(FLAKE_FILE) {
            continue;
        }
        let Some(text) = files.read(&path)? else {
            continue;
        };
        if !text.contains("llama") {
            continue;
        }
        let Ok(root) = syntax::parse(&path, &text) else {
            continue;
        };
        if is_old_override(&root) {
            out.push(path);
        }
    }
    Ok(out)
}

/// The package file a `callPackage` of `target` calls, parsed, when its
/// function takes `llama-cpp` (so callPackage hands it nixpkgs' build).
pub fn package_file_taking_llama(
    files: &dyn Files,
    target: &Path,
) -> Option<(PathBuf, String, ast::Root)> {
    let file = crate::nix_paths::module_file(files, target)?;
    let text = files.read(&file).ok().flatten()?;
    if !text.contains(refs::PACKAGE) {
        return None;
    }
    let root = syntax::parse(&file, &text).ok()?;
    refs::takes_llama_cpp(&root).then_some((file, text, root))
}

pub(crate) fn is_old_override(root: &ast::Root) -> bool {
    let Some(mut expr) = root.expr() else {
        return false;
    };
    let mut params: Vec<ast::Param> = Vec::new();
    while let ast::Expr::Lambda(l) = syntax::unparen(expr.clone()) {
        let (Some(p), Some(body)) = (l.param(), l.body()) else {
            return false;
        };
        params.push(p);
        expr = body;
    }
    let found = refs::find(root);
    let overlay = params.len() >= 2
        && params[params.len() - 2..]
            .iter()
            .all(|p| matches!(p, ast::Param::IdentParam(_)));
    if overlay {
        // Only an overlay of nothing but llama-cpp goes whole; one that
        // also defines other packages loses just its llama-cpp entries.
        let defines_only_llama = match syntax::body(expr) {
            ast::Expr::AttrSet(set) => {
                let entries = syntax::named_entries(&set);
                !entries.is_empty()
                    && set.inherits().next().is_none()
                    && entries.iter().all(|(n, _)| n[0].starts_with(refs::PACKAGE))
            }
            _ => false,
        };
        return defines_only_llama && found.iter().any(|r| r.in_overlay());
    }
    // callPackage form: takes `llama-cpp` and overrides it.
    let takes_llama = params.iter().any(|p| match p {
        ast::Param::Pattern(p) => p.pat_entries().any(|e| {
            e.ident()
                .is_some_and(|i| i.syntax().text() == refs::PACKAGE)
        }),
        _ => false,
    });
    takes_llama
        && root
            .syntax()
            .descendants()
            .filter_map(ast::Select::cast)
            .filter_map(|s| syntax::select_path(&ast::Expr::Select(s)))
            .any(|p| p.len() >= 2 && p[0] == refs::PACKAGE && p[1].starts_with("override"))
}

/// The attribute set an overlay file returns (`final: prev: { … }`, after
/// any leading `{ inputs }:`), `None` for any other file.
pub(crate) fn overlay_set(root: &ast::Root) -> Option<ast::AttrSet> {
    let mut expr = root.expr()?;
    let mut params = 0;
    while let ast::Expr::Lambda(l) = syntax::unparen(expr.clone()) {
        if !matches!(l.param()?, ast::Param::IdentParam(_)) {
            params = 0;
        } else {
            params += 1;
        }
        expr = l.body()?;
    }
    match syntax::body(expr) {
        ast::Expr::AttrSet(set) if params >= 2 => Some(set),
        _ => None,
    }
}
