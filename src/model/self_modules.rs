//! The flake's own `nixosModules`, so that `self.nixosModules.x` (or
//! `inputs.self.nixosModules.x`) in a module list names the file the flake
//! defines `nixosModules.x` as.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::env::Env;
use super::hosts::flatten_apply;
use crate::nix_paths;
use crate::syntax;

pub(super) enum SelfModule {
    /// A path (`./x.nix`, `import ./x.nix`), resolved.
    File(PathBuf),
    /// A module written in place in the given file.
    Inline(PathBuf, SyntaxNode),
}

/// Each `nixosModules.NAME` the flake defines in a form that can be read
/// without evaluation.
#[derive(Default)]
pub(super) struct SelfModules(HashMap<String, SelfModule>);

impl SelfModules {
    /// Adds the `nixosModules` entries of a file that defines outputs
    /// (flake.nix or a flake-parts module).
    pub(super) fn add(&mut self, root: &ast::Root, file: &Path) {
        for apv in root
            .syntax()
            .descendants()
            .filter_map(ast::AttrpathValue::cast)
        {
            let (Some(path), Some(value)) = (
                apv.attrpath().and_then(|p| syntax::attrpath_names(&p)),
                apv.value(),
            ) else {
                continue;
            };
            match &path[..] {
                [.., m, name] if m == "nixosModules" => self.define(name, &value, file),
                [.., m] if m == "nixosModules" => {
                    if let ast::Expr::AttrSet(set) = syntax::body(value) {
                        for (names, entry) in syntax::named_entries(&set) {
                            if let (1, Some(v)) = (names.len(), entry.value()) {
                                self.define(&names[0], &v, file);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn define(&mut self, name: &str, value: &ast::Expr, file: &Path) {
        if let Some(module) = read_module(value, file, 0) {
            self.0.entry(name.to_string()).or_insert(module);
        }
    }

    /// For a reference to the flake's own modules, `Some` with the module
    /// when it is known; `None` for any other reference.
    pub(super) fn named_by(&self, path: &[String]) -> Option<Option<&SelfModule>> {
        let name = match path {
            [s, m, name] if s == "self" && m == "nixosModules" => name,
            [i, s, m, name] if i == "inputs" && s == "self" && m == "nixosModules" => name,
            _ => return None,
        };
        Some(self.0.get(name))
    }
}

fn read_module(value: &ast::Expr, file: &Path, depth: usize) -> Option<SelfModule> {
    match syntax::unparen(value.clone()) {
        ast::Expr::PathRel(p) => {
            nix_paths::resolve(file, &p.syntax().to_string()).map(SelfModule::File)
        }
        ast::Expr::AttrSet(s) => Some(SelfModule::Inline(file.to_path_buf(), s.syntax().clone())),
        ast::Expr::Lambda(l) => Some(SelfModule::Inline(file.to_path_buf(), l.syntax().clone())),
        apply @ ast::Expr::Apply(_) => {
            let (f, args) = flatten_apply(&apply);
            match (syntax::select_path(&f).as_deref(), &args[..]) {
                (Some([import]), [target]) if import == "import" => {
                    read_module(target, file, depth + 1)
                }
                _ => None,
            }
        }
        other if depth < 4 => Env::around(other.syntax())
            .lookup(&other)
            .and_then(|v| read_module(&v, file, depth + 1)),
        _ => None,
    }
}
