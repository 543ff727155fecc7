//! `pkgs.callPackage ./pkgs/llama.nix { }` of a local file that takes
//! `llama-cpp`: callPackage hands it nixpkgs' build. A file that only
//! customises it (`{ llama-cpp }: llama-cpp.override { cudaSupport = true;
//! }`) is an old override: the call becomes the host's variant, what the
//! customisation did is carried or named (as for an override written in
//! place), and 0005 deletes the file. A file that builds something else
//! with it (a wrapper script) keeps its call, which passes the variant in:
//! `{ llama-cpp = pkgs.llama-cpp-cuda; }`.

use std::path::PathBuf;

use rnix::ast;
use rowan::ast::AstNode;

use super::rewrite::{Said, Target, rewrite};
use crate::edit::Splice;
use crate::error::Result;
use crate::files::Files;
use crate::refs::{self, LlamaRef, RefKind};
use crate::steps::insertion::add_entry;
use crate::syntax::{self, end, start};

/// A package file that only customises llama-cpp, and that customisation.
pub(super) struct Customised {
    target: PathBuf,
    text: String,
    root: ast::Root,
    reference: LlamaRef,
}

/// What 0004 rewrites for the call `r` (of `root`): the call as a plain
/// reference to replace by the variant, with the customisation it drops;
/// or the call itself, for [`pass_variant`].
pub(super) fn as_reference(
    files: &dyn Files,
    root: &ast::Root,
    r: &LlamaRef,
) -> Result<(LlamaRef, Option<Customised>)> {
    let RefKind::CallPackage { target } = &r.kind else {
        return Ok((r.clone(), None));
    };
    let base = call_base(root, r);
    let customised = crate::old_override::package_file_taking_llama(files, target).and_then(
        |(target, text, root)| {
            refs::customisation(&root).map(|reference| Customised {
                target,
                text,
                root,
                reference,
            })
        },
    );
    Ok(match customised {
        // Parentheses that only wrapped the call go with it.
        Some(c) => (
            LlamaRef {
                kind: RefKind::Select,
                base,
                range: call(root, r)
                    .and_then(|a| a.syntax().parent())
                    .filter(|p| p.kind() == rnix::SyntaxKind::NODE_PAREN)
                    .map_or(r.range.clone(), |p| start(&p)..end(&p)),
                ..r.clone()
            },
            Some(c),
        ),
        None => (LlamaRef { base, ..r.clone() }, None),
    })
}

/// The package set the call goes through: `pkgs` of `pkgs.callPackage`,
/// `None` for a bare `callPackage` (under `with pkgs;`).
fn call_base(root: &ast::Root, r: &LlamaRef) -> Option<String> {
    let apply = call(root, r)?;
    let ast::Expr::Apply(inner) = apply.lambda()? else {
        return None;
    };
    let path = syntax::select_path(&inner.lambda()?)?;
    (path.len() > 1).then(|| path[..path.len() - 1].join("."))
}

fn call(root: &ast::Root, r: &LlamaRef) -> Option<ast::Apply> {
    root.syntax()
        .descendants()
        .filter_map(ast::Apply::cast)
        .find(|a| start(a.syntax()) == r.range.start && end(a.syntax()) == r.range.end)
}

/// What each customisation did that `target`'s build keeps or drops, said
/// at the customisation, as for an override written in place.
pub(super) fn notes(customised: &[Customised], target: &Target, said: &mut Said) {
    for c in customised {
        let mut each = Said::default();
        rewrite(
            &c.target,
            &c.text,
            &c.root,
            std::slice::from_ref(&c.reference),
            target,
            false,
            &mut each,
        );
        said.not_carried.extend(each.not_carried);
        for note in each.notes {
            if !said.notes.contains(&note) {
                said.notes.push(note);
            }
        }
    }
}

/// `callPackage ./ask.nix { }` → `callPackage ./ask.nix { llama-cpp =
/// pkgs.llama-cpp-cuda; }`: the wrapper builds with the variant. `None`
/// when its arguments are not a set written there.
pub(super) fn pass_variant(
    text: &str,
    root: &ast::Root,
    r: &LlamaRef,
    package: &str,
) -> Option<Splice> {
    let ast::Expr::AttrSet(set) = syntax::unparen(call(root, r)?.argument()?) else {
        return None;
    };
    let entry = format!("{} = {package};", refs::PACKAGE);
    if syntax::entry_nodes(&set).next().is_none() {
        return Some(Splice::replace(
            start(set.syntax())..end(set.syntax()),
            format!("{{ {entry} }}"),
        ));
    }
    Some(add_entry(text, &set, &entry))
}
