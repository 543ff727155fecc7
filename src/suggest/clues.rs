//! What each file says about llama.cpp and the hardware, read once per
//! file however many hosts import it: its references, syntax nodes and
//! option signs, sorted by offset (a host's definition is a slice).

use std::ops::Range;
use std::path::Path;

use rowan::ast::AstNode;

use super::condition::{self, Condition};
use super::{Clue, Strength, cmake_backend, first_line, option_clues, scan_node, support_flag};
use crate::config::Variant;
use crate::error::Result;
use crate::files::Files;
use crate::refs::{self, RefKind};
use crate::syntax;

/// Everything one file says, in the order a host's scan meets it: its
/// references, then its syntax nodes (in document order), then its option
/// signs. Each list is sorted by offset, so the part inside one host's
/// definition is a slice.
pub(super) struct FileClues {
    pub(super) refs: Vec<Found>,
    pub(super) nodes: Vec<Found>,
    /// (offset, option's suffix, `file:line: what`).
    pub(super) options: Vec<(usize, String, String)>,
    /// The text, for what only a host's own definition says (its system).
    pub(super) text: String,
}

/// What one reference or node says: the first description of a use, if
/// any, and its clues.
pub(super) struct Found {
    pub(super) offset: usize,
    pub(super) uses: Option<String>,
    pub(super) clues: Vec<Clue>,
    /// A callPackage of a file that builds something else with llama-cpp.
    pub(super) built_into_package: bool,
    /// The option the reference is set in, when evaluation does not read
    /// that option (a systemd service's command): see [`unread_option`].
    pub(super) unread_option: Option<String>,
}

impl FileClues {
    pub(super) fn read(files: &dyn Files, file: &Path) -> Result<Option<FileClues>> {
        let Some(text) = files.read(file)? else {
            return Ok(None);
        };
        let root = syntax::parse(file, &text)?;
        let at =
            |offset: usize| format!("{}:{}", file.display(), syntax::line_col(&text, offset).0);
        let refs = refs::find_in(file, &root, &mut |target| {
            crate::old_override::package_file_taking_llama(files, target).is_some()
        })
        .into_iter()
        .map(|r| {
            let mut clues = Vec::new();
            let conditions = root
                .syntax()
                .covering_element(rowan::TextRange::new(
                    (r.range.start as u32).into(),
                    (r.range.end as u32).into(),
                ))
                .ancestors()
                .next()
                .map(|node| condition::around(&node, &at))
                .unwrap_or_default();
            if let RefKind::Override { args, .. } = &r.kind {
                for arg in args {
                    match support_flag(arg) {
                        Some((v, true)) => clues.push(Clue {
                            strength: Strength::OverrideArgument,
                            variant: v,
                            evidence: format!("{}: override argument `{arg}`", at(r.range.start)),
                            conditions: conditions.clone(),
                        }),
                        Some((_, false)) => clues.push(Clue {
                            strength: Strength::OverrideArgumentOff,
                            variant: Variant::Cpu,
                            evidence: format!(
                                "{}: override argument `{arg}` (the old build had no GPU backend)",
                                at(r.range.start)
                            ),
                            conditions: conditions.clone(),
                        }),
                        None => {}
                    }
                }
                // `.overrideAttrs` turning a backend on through cmake flags.
                if let Some((flag, v)) = cmake_backend(&text[r.range.clone()]) {
                    clues.push(Clue {
                        strength: Strength::OverrideArgument,
                        variant: v,
                        evidence: format!("{}: override sets {flag}", at(r.range.start)),
                        conditions: conditions.clone(),
                    });
                }
            }
            // A package file that customises llama-cpp says which build
            // the host had, as an override written here would.
            let mut built_into_package = false;
            if let RefKind::CallPackage { target } = &r.kind {
                let found = package_file_clues(files, target, &at(r.range.start), &conditions);
                built_into_package = found.is_none();
                clues.extend(found.unwrap_or_default());
            }
            let unread_option = unread_option(root.syntax(), r.range.clone());
            // An overlay's `prev.llama-cpp` only redefines the package:
            // its arguments may say which build, not that a host uses it.
            Found {
                offset: r.range.start,
                uses: (!r.in_overlay()).then(|| {
                    format!(
                        "{}: {}",
                        at(r.range.start),
                        first_line(&text[r.range.clone()])
                    )
                }),
                clues,
                built_into_package,
                unread_option,
            }
        })
        .collect();
        let nodes = root
            .syntax()
            .descendants()
            .filter_map(|node| {
                let mut found = Found {
                    offset: syntax::start(&node),
                    uses: None,
                    clues: Vec::new(),
                    built_into_package: false,
                    unread_option: None,
                };
                scan_node(&node, &at, &mut found.clues, &mut found.uses);
                if !found.clues.is_empty() {
                    let conditions = condition::around(&node, &at);
                    for clue in &mut found.clues {
                        clue.conditions = conditions.clone();
                    }
                }
                (found.uses.is_some() || !found.clues.is_empty()).then_some(found)
            })
            .collect();
        let options = option_clues(&text)
            .into_iter()
            .map(|(offset, option, what)| (offset, option, format!("{}: {what}", at(offset))))
            .collect();
        Ok(Some(FileClues {
            refs,
            nodes,
            options,
            text,
        }))
    }
}

/// The clues of the customisation in the package file `target` (its
/// override arguments and cmake flags), called at `called`; `None` for a
/// file that builds something else with llama-cpp.
fn package_file_clues(
    files: &dyn Files,
    target: &Path,
    called: &str,
    conditions: &[Condition],
) -> Option<Vec<Clue>> {
    let (file, text, root) = crate::old_override::package_file_taking_llama(files, target)?;
    let custom = refs::customisation(&root)?;
    let at = format!(
        "{}:{}",
        file.display(),
        syntax::line_col(&text, custom.range.start).0
    );
    let mut clues = Vec::new();
    if let RefKind::Override { args, .. } = &custom.kind {
        for arg in args {
            if let Some((variant, on)) = support_flag(arg) {
                clues.push(Clue {
                    strength: if on {
                        Strength::OverrideArgument
                    } else {
                        Strength::OverrideArgumentOff
                    },
                    variant: if on { variant } else { Variant::Cpu },
                    evidence: format!("{at}: override argument `{arg}` (called at {called})"),
                    conditions: conditions.to_vec(),
                });
            }
        }
    }
    if let Some((flag, variant)) = cmake_backend(&text[custom.range.clone()]) {
        clues.push(Clue {
            strength: Strength::OverrideArgument,
            variant,
            evidence: format!("{at}: override sets {flag} (called at {called})"),
            conditions: conditions.to_vec(),
        });
    }
    Some(clues)
}

/// The part of a list sorted by offset that lies `within` a range (all of
/// it without one).
pub(super) fn inside<'a, T>(
    list: &'a [T],
    within: Option<&Range<usize>>,
    offset: impl Fn(&T) -> usize,
) -> &'a [T] {
    match within {
        None => list,
        Some(r) => {
            let from = list.partition_point(|x| offset(x) < r.start);
            let to = list.partition_point(|x| offset(x) < r.end);
            &list[from..to.max(from)]
        }
    }
}

/// The option a reference at `range` is set in (`systemd.services.x.
/// serviceConfig.ExecStart`), when it is one evaluation does not read:
/// discovery lists what a host installs (`environment.systemPackages`,
/// `home.packages`, users' and programs' packages) and the llama-cpp
/// service, not every option a store path can reach a host through. `None`
/// for those it reads, and where the reference is not under an option's
/// plain attribute path (a `let` binding, a function's argument): there
/// evaluation's answer stands.
fn unread_option(root: &rnix::SyntaxNode, range: Range<usize>) -> Option<String> {
    let range = rowan::TextRange::new((range.start as u32).into(), (range.end as u32).into());
    let mut names: Vec<String> = Vec::new();
    let mut node = match root.covering_element(range) {
        rowan::NodeOrToken::Node(n) => n,
        rowan::NodeOrToken::Token(t) => t.parent()?,
    };
    while let Some(parent) = node.parent() {
        if parent.kind() == rnix::SyntaxKind::NODE_LET_IN {
            return None;
        }
        if let Some(apv) = rnix::ast::AttrpathValue::cast(parent.clone())
            && apv.value().is_some_and(|v| v.syntax() == &node)
        {
            let mut path = syntax::attrpath_names(&apv.attrpath()?)?;
            path.append(&mut names);
            names = path;
        }
        node = parent;
    }
    if names.first().is_some_and(|n| n == "config") {
        names.remove(0);
    }
    let read = names.is_empty()
        || names.iter().any(|n| {
            matches!(
                n.as_str(),
                "systemPackages" | "packages" | "package" | "overlays" | "launchd"
            )
        })
        || names.starts_with(&["services".into(), "llama-cpp".into()]);
    (!read).then(|| names.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option_of(text: &str) -> Option<String> {
        let root = rnix::Root::parse(text).syntax();
        let at = text.find("pkgs.llama-cpp").unwrap();
        unread_option(&root, at..at + "pkgs.llama-cpp".len())
    }

    #[test]
    fn a_reference_in_an_option_evaluation_does_not_read_names_it() {
        assert_eq!(
            option_of(
                r#"{ pkgs, ... }: { environment.etc."llama".text = "${pkgs.llama-cpp}/bin"; }"#
            )
            .as_deref(),
            Some("environment.etc.llama.text")
        );
        assert_eq!(
            option_of(
                "{ pkgs, lib, ... }: { config = lib.mkIf true { systemd.services.x.serviceConfig.ExecStart = \"${pkgs.llama-cpp}/bin/llama-server\"; }; }"
            )
            .as_deref(),
            Some("systemd.services.x.serviceConfig.ExecStart")
        );
    }

    #[test]
    fn options_evaluation_reads_and_bindings_leave_it_to_evaluation() {
        for text in [
            "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }",
            "{ pkgs, ... }: { home-manager.users.a = { home.packages = [ pkgs.llama-cpp ]; }; }",
            "{ pkgs, ... }: { services.llama-cpp.package = pkgs.llama-cpp; }",
            "{ pkgs, ... }: let l = pkgs.llama-cpp; in { environment.etc.x.text = \"${l}\"; }",
        ] {
            assert_eq!(option_of(text), None, "{text}");
        }
    }
}
