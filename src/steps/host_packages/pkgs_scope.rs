//! Binding `pkgs` where a rewritten reference names it but the code
//! around it does not have it.

use rnix::ast;
use rowan::ast::AstNode;

use crate::edit::{self, Splice};
use crate::syntax;

/// Code at `offset` that will say `pkgs.…` needs `pkgs` bound: by the
/// innermost module function around it (added to its formals when
/// missing), or, for a module file that is a plain set, a new
/// `{ pkgs, ... }:`. `Err` where there is no module function to add it to.
pub(super) fn pkgs_in_scope(
    text: &str,
    root: &ast::Root,
    offset: usize,
    module_file: bool,
) -> Result<Option<Splice>, ()> {
    let token = root
        .syntax()
        .token_at_offset((offset as u32).into())
        .right_biased()
        .ok_or(())?;
    let pattern = token
        .parent_ancestors()
        .filter_map(ast::Lambda::cast)
        .find_map(|l| match l.param()? {
            ast::Param::Pattern(p) => Some(p),
            ast::Param::IdentParam(_) => None,
        });
    match (pattern, root.expr().map(syntax::unparen)) {
        (Some(p), _) => Ok(edit::add_formal(text, &p, "pkgs")),
        (None, Some(ast::Expr::AttrSet(set))) if module_file => Ok(Some(Splice::insert(
            syntax::start(set.syntax()),
            "{ pkgs, ... }:\n",
        ))),
        _ => Err(()),
    }
}
