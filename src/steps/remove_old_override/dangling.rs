//! Uses of names that a removed overlay defined (`pkgs.llama-cpp-latest`),
//! which would dangle once it is gone: each becomes the host's variant when
//! every host that sees the file has the same one; any other is refused.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::config::{Build, Config};
use crate::edit::Splice;
use crate::model;
use crate::refs;
use crate::syntax::{self, end, start};

/// Names whose uses must be rewritten: defined by a removed overlay, and
/// neither nixpkgs' own `llama-cpp` (0004 rewrites those) nor a name the
/// new overlay defines.
pub(super) fn dangling(config: &Config, defined: &BTreeSet<String>) -> BTreeSet<String> {
    let ours: Vec<String> = config.builds().iter().map(|v| v.package_attr()).collect();
    defined
        .iter()
        .filter(|n| n.as_str() != refs::PACKAGE && !ours.contains(n))
        .cloned()
        .collect()
}

/// One use that cannot be rewritten, for the refusal.
pub(super) struct Stuck {
    pub at: String,
    pub why: String,
}

/// The splices that rewrite `file`'s uses of `names` outside `removed`
/// (ranges the step already deletes), with a note each; the uses that
/// cannot be rewritten go to `stuck`.
#[allow(clippy::too_many_arguments)]
pub(super) fn rewrite_uses(
    config: &Config,
    file: &Path,
    text: &str,
    root: &ast::Root,
    names: &BTreeSet<String>,
    removed: &[Range<usize>],
    hosts: Option<&[String]>,
    notes: &mut Vec<String>,
    stuck: &mut Vec<Stuck>,
) -> Vec<Splice> {
    let mut splices = Vec::new();
    if names.is_empty() {
        return splices;
    }
    let variant = shared_variant(config, hosts);
    for u in uses(root, names) {
        if removed
            .iter()
            .any(|r| r.start <= u.range.start && u.range.end <= r.end)
        {
            continue;
        }
        let at = model::location(file, text, u.range.start);
        match (&variant, u.renamable) {
            (Some(v), true) => {
                splices.push(Splice::replace(u.range.clone(), v.package_attr()));
                notes.push(format!(
                    "{at}: `{}` (defined by a removed overlay) became `{}`",
                    u.name,
                    v.package_attr()
                ));
            }
            (Some(_), false) => stuck.push(Stuck {
                at,
                why: format!(
                    "`{}` is inherited here; name the variant's package instead",
                    u.name
                ),
            }),
            (None, _) => stuck.push(Stuck {
                at,
                why: format!(
                    "`{}` is used where {}",
                    u.name,
                    match hosts {
                        Some(h) if !h.is_empty() => format!(
                            "the hosts do not share one variant ({})",
                            h.iter()
                                .map(|h| match config.hosts.get(h) {
                                    Some(v) => format!("{h}: {v}"),
                                    None => format!("{h}: none"),
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => "no host with a variant imports the file".to_string(),
                    }
                ),
            }),
        }
    }
    splices
}

/// The one variant every host of the file has, when there is at least one host.
fn shared_variant(config: &Config, hosts: Option<&[String]>) -> Option<Build> {
    let mut vs = hosts?.iter().map(|h| config.build(h));
    let first = vs.next()??;
    vs.all(|v| v.as_ref() == Some(&first)).then_some(first)
}

struct Use {
    name: String,
    /// The name's own token: what the rewrite replaces.
    range: Range<usize>,
    /// `inherit (pkgs) name;` cannot simply be renamed.
    renamable: bool,
}

/// `pkgs.<name>` (any package set, with further attributes after it), a
/// bare `<name>` under `with pkgs;` when the file binds no such name
/// itself, and `inherit (pkgs) <name>;`.
fn uses(root: &ast::Root, names: &BTreeSet<String>) -> Vec<Use> {
    let bound: BTreeSet<String> = root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|apv| syntax::attrpath_names(&apv.attrpath()?))
        .map(|n| n[0].clone())
        .collect();
    let mut out = Vec::new();
    for node in root.syntax().descendants() {
        match node.kind() {
            SyntaxKind::NODE_SELECT => {
                let Some(select) = ast::Select::cast(node.clone()) else {
                    continue;
                };
                let base = select.expr().and_then(|e| syntax::select_path(&e));
                let is_set = base.is_some_and(|b| b.len() == 1 && refs::is_package_set(&b[0]));
                let Some(first) = select.attrpath().and_then(|p| p.attrs().next()) else {
                    continue;
                };
                let Some(name) = syntax::attr_name(&first) else {
                    continue;
                };
                if is_set && names.contains(&name) {
                    out.push(Use {
                        name,
                        range: start(first.syntax())..end(first.syntax()),
                        renamable: true,
                    });
                }
            }
            SyntaxKind::NODE_IDENT => {
                let name = node.text().to_string();
                if names.contains(&name) && !bound.contains(&name) && is_expression(&node) {
                    out.push(Use {
                        name,
                        range: start(&node)..end(&node),
                        renamable: true,
                    });
                }
            }
            SyntaxKind::NODE_INHERIT => {
                let Some(inherit) = ast::Inherit::cast(node.clone()) else {
                    continue;
                };
                if inherit.from().is_none() {
                    continue;
                }
                for attr in inherit.attrs() {
                    if let Some(name) = syntax::attr_name(&attr).filter(|n| names.contains(n)) {
                        out.push(Use {
                            name,
                            range: start(attr.syntax())..end(attr.syntax()),
                            renamable: false,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// An identifier used as a value, not an attribute name or a parameter.
fn is_expression(node: &SyntaxNode) -> bool {
    !node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            SyntaxKind::NODE_ATTRPATH
                | SyntaxKind::NODE_INHERIT
                | SyntaxKind::NODE_PAT_ENTRY
                | SyntaxKind::NODE_IDENT_PARAM
                | SyntaxKind::NODE_PAT_BIND
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;

    fn config() -> Config {
        let mut config = Config::default();
        config.hosts.insert("studio".into(), Variant::Vulkan);
        config.hosts.insert("box".into(), Variant::Cuda);
        config
    }

    fn run(src: &str, hosts: &[&str]) -> (String, Vec<String>) {
        let file = Path::new("m.nix");
        let root = syntax::parse(file, src).unwrap();
        let names = dangling(
            &config(),
            &["llama-cpp-latest".to_string(), "llama-cpp-cuda".into()].into(),
        );
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let (mut notes, mut stuck) = (Vec::new(), Vec::new());
        let splices = rewrite_uses(
            &config(),
            file,
            src,
            &root,
            &names,
            &[],
            Some(&hosts),
            &mut notes,
            &mut stuck,
        );
        let out = crate::edit::apply(file, src, splices).unwrap();
        (
            out,
            stuck
                .iter()
                .map(|s| format!("{}: {}", s.at, s.why))
                .collect(),
        )
    }

    #[test]
    fn uses_become_the_variant_of_the_one_host_that_sees_them() {
        let src = "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp-latest (with pkgs; llama-cpp-latest) pkgs.llama-cpp-cuda ];\n}\n";
        let (out, stuck) = run(src, &["studio"]);
        assert!(stuck.is_empty(), "{stuck:?}");
        // llama-cpp-cuda is a name the new overlay defines: left alone.
        assert_eq!(
            out,
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp-vulkan (with pkgs; llama-cpp-vulkan) pkgs.llama-cpp-cuda ];\n}\n"
        );
    }

    #[test]
    fn a_use_seen_by_hosts_of_two_variants_is_refused_with_its_location() {
        let src = "{ pkgs, ... }: {\n  environment.systemPackages = [\n    pkgs.llama-cpp-latest\n  ];\n}\n";
        let (out, stuck) = run(src, &["studio", "box"]);
        assert_eq!(out, src);
        assert_eq!(
            stuck,
            vec![
                "m.nix:3:10: `llama-cpp-latest` is used where the hosts do not share one variant (studio: vulkan, box: cuda)"
            ]
        );
    }

    #[test]
    fn an_inherited_name_is_refused() {
        let src = "{ pkgs, ... }: {\n  inherit (pkgs) llama-cpp-latest;\n}\n";
        let (_, stuck) = run(src, &["studio"]);
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert!(stuck[0].starts_with("m.nix:2:18:"), "{stuck:?}");
    }
}
