//! A module whose llama.cpp references reach hosts of different variants:
//! one rewrite cannot suit them all, so each reference leaves the shared
//! module and goes, as each host's variant, into that host's own module (the
//! file only it imports, e.g. where its `networking.hostName` is), in the
//! same option: `environment.systemPackages = [ pkgs.llama-cpp ];` in the
//! shared module becomes `environment.systemPackages = [ pkgs.llama-cpp-cuda
//! ];` in the CUDA host's module. Refused, naming the host or the reference,
//! where no such edit is right: a host without a variant or a module of its
//! own, a reference under a condition (moving it would drop the condition).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rnix::{SyntaxKind, SyntaxNode, ast};
use rowan::ast::AstNode;

use super::shared::shared_conflict;
use crate::config::Build;
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::files::Files;
use crate::model::{self, Model};
use crate::refs::{LlamaRef, RefKind};
use crate::steps::Plan;
use crate::steps::insertion::{add_entry, append_item, module_body, option_entry};
use crate::syntax::{self, end, start};

/// The splices that move `found` (references of the shared `file`) into the
/// own modules of `hosts`, by file (the shared one included), with a note
/// per host; or the plan that refuses.
pub(super) struct Relocation {
    pub splices: BTreeMap<PathBuf, Vec<Splice>>,
    pub notes: Vec<String>,
}

pub(super) fn relocate(
    files: &dyn Files,
    model: &Model,
    (file, text, root): (&Path, &str, &ast::Root),
    found: &[LlamaRef],
    hosts: &[(String, Option<Build>)],
) -> Result<std::result::Result<Relocation, Plan>> {
    let refuse = |why: String| {
        let mut plan = shared_conflict(file, text, &found[0], hosts);
        if let Plan::Blocked { reason, .. } = &mut plan {
            reason.push_str(&format!(
                "; it cannot be moved into each host's own module: {why}"
            ));
        }
        plan
    };
    let mut places = Vec::new();
    for r in found {
        match place(root, r) {
            Some(p) => places.push((r, p)),
            None => {
                return Ok(Err(refuse(format!(
                    "{} is not a plain entry of an option's list or value (under a condition, or inside an expression)",
                    model::location(file, text, r.range.start)
                ))));
            }
        }
    }
    let mut relocation = Relocation {
        splices: BTreeMap::new(),
        notes: Vec::new(),
    };
    let shared = relocation.splices.entry(file.to_path_buf()).or_default();
    for (_, place) in &places {
        if let Some(range) = &place.remove {
            shared.push(delete_item(text, range.clone()));
        }
    }
    for (host, build) in hosts {
        let Some(build) = build else {
            return Ok(Err(refuse(format!(
                "host {host} has no variant in {}",
                crate::config::CONFIG_FILE
            ))));
        };
        let own = model
            .host(host)
            .and_then(|h| h.own_module.clone())
            .filter(|own| own != file);
        let Some(own) = own else {
            return Ok(Err(refuse(format!("host {host} has no module of its own"))));
        };
        let own_text = files.read(&own)?.unwrap_or_default();
        let own_root = syntax::parse(&own, &own_text)?;
        let Some((pattern, set)) = module_body(&own_root) else {
            return Ok(Err(refuse(format!(
                "{} is not a plain `{{ … }}` or `{{ … }}: {{ … }}` module",
                own.display()
            ))));
        };
        let name = build.package_attr();
        let mut splices = Vec::new();
        // One entry per option, however many references it held.
        let mut options: Vec<(&Vec<String>, bool)> = Vec::new();
        for (r, place) in &places {
            relocation.notes.push(format!(
                "{}: moved out of this module, shared by hosts of different variants, into host {host}'s {} as `pkgs.{name}` ({})",
                model::location(file, text, r.range.start),
                own.display(),
                place.option.join(".")
            ));
            if !options.contains(&(&place.option, place.in_list)) {
                options.push((&place.option, place.in_list));
            }
        }
        for (option, in_list) in options {
            match insert(&own_text, &set, option, in_list, &name) {
                Some(s) => splices.push(s),
                None => {
                    return Ok(Err(refuse(format!(
                        "{} sets {} in a form flake-migrate does not add to",
                        own.display(),
                        option.join(".")
                    ))));
                }
            }
        }
        match pattern {
            Some(p) => splices.extend(edit::add_formal(&own_text, &p, "pkgs")),
            None => splices.push(Splice::insert(start(set.syntax()), "{ pkgs, ... }:\n")),
        }
        relocation.splices.entry(own).or_default().extend(splices);
    }
    Ok(Ok(relocation))
}

/// Where a reference sits in its module: the option, whether it is an item
/// of the option's list (else its value), and what to delete from the
/// shared module (`None`: nothing, a service left to its default package).
pub(super) struct Place {
    pub option: Vec<String>,
    pub in_list: bool,
    remove: Option<Range<usize>>,
}

/// Where reference `r` sits: the option it is set in, and whether as an
/// item of that option's list.
pub(super) fn place(root: &ast::Root, r: &LlamaRef) -> Option<Place> {
    let (_, top) = module_body(root)?;
    if r.kind == RefKind::ServiceWithoutPackage {
        return Some(Place {
            option: ["services", "llama-cpp", "package"]
                .map(String::from)
                .to_vec(),
            in_list: false,
            remove: None,
        });
    }
    if !matches!(
        r.kind,
        RefKind::Select | RefKind::Bare | RefKind::Override { .. }
    ) {
        return None;
    }
    let mut node = covering(root, r.range.clone())?;
    while node.parent()?.kind() == SyntaxKind::NODE_PAREN {
        node = node.parent()?;
    }
    let item = node.clone();
    let in_list = node.parent()?.kind() == SyntaxKind::NODE_LIST;
    if in_list {
        node = node.parent()?;
        if node.parent()?.kind() == SyntaxKind::NODE_WITH {
            node = node.parent()?;
        }
    }
    let apv = ast::AttrpathValue::cast(node.parent()?)?;
    if apv.value()?.syntax() != &node {
        return None;
    }
    // Only through plain sets up to the module's own set: a condition
    // (`mkIf`, `optionals`, `if`) or a nested module stops it.
    let mut option = syntax::attrpath_names(&apv.attrpath()?)?;
    let mut set = apv.syntax().parent()?;
    while set != *top.syntax() {
        let outer = ast::AttrpathValue::cast(set.parent()?)?;
        let mut prefix = syntax::attrpath_names(&outer.attrpath()?)?;
        prefix.extend(option);
        option = prefix;
        set = outer.syntax().parent()?;
    }
    Some(Place {
        option,
        in_list,
        remove: Some(if in_list {
            start(&item)..end(&item)
        } else {
            start(apv.syntax())..end(apv.syntax())
        }),
    })
}

fn covering(root: &ast::Root, range: Range<usize>) -> Option<SyntaxNode> {
    let range = rnix::TextRange::new((range.start as u32).into(), (range.end as u32).into());
    match root.syntax().covering_element(range) {
        rowan::NodeOrToken::Node(n) => Some(n),
        rowan::NodeOrToken::Token(t) => t.parent(),
    }
}

/// Deletes an item or entry: with its line when nothing else but a comment
/// is on it, else with one space beside it.
fn delete_item(text: &str, range: Range<usize>) -> Splice {
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[range.end..]
        .find('\n')
        .map_or(text.len(), |i| range.end + i);
    let before = &text[line_start..range.start];
    let after = text[range.end..line_end].trim();
    if before.trim().is_empty() && (after.is_empty() || after.starts_with('#')) {
        let through = (line_end + 1).min(text.len());
        return Splice::delete(line_start..through);
    }
    if text[range.end..].starts_with(' ') {
        Splice::delete(range.start..range.end + 1)
    } else if text[..range.start].ends_with(' ') {
        Splice::delete(range.start - 1..range.end)
    } else {
        Splice::delete(range)
    }
}

/// The splice that gives the own module's options `set` the variant
/// `name` at `option`: appended to the option's list where it has one, else
/// a new entry. `None` where the option is set in a form this does not add
/// to, or (a value) is set already: two definitions would conflict, and the
/// host's own one is what it means.
fn insert(
    text: &str,
    set: &ast::AttrSet,
    option: &[String],
    in_list: bool,
    name: &str,
) -> Option<Splice> {
    let path: Vec<&str> = option.iter().map(String::as_str).collect();
    match option_entry(set.syntax(), &path) {
        Some(existing) if in_list => {
            let (list, item) = match syntax::unparen(existing.value()?) {
                ast::Expr::List(l) => (l, format!("pkgs.{name}")),
                ast::Expr::With(w) => match syntax::unparen(w.body()?) {
                    ast::Expr::List(l) => (l, name.to_string()),
                    _ => return None,
                },
                _ => return None,
            };
            Some(append_item(text, &list, &item))
        }
        Some(_) => None,
        None => {
            let value = if in_list {
                format!("[ pkgs.{name} ]")
            } else {
                format!("pkgs.{name}")
            };
            Some(add_entry(
                text,
                set,
                &format!("{} = {value};", path.join(".")),
            ))
        }
    }
}
