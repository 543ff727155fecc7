//! Finding references to nixpkgs' `llama-cpp` in one file: the matcher that
//! step 0004 rewrites with and the guard blocks with. Look-alikes are not
//! references: option paths (`systemd.services.llama-cpp`), other package
//! sets (`pkgs.myns.llama-cpp`), inputs, strings and comments.

use std::ops::Range;

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::syntax::{self, end, start};

pub const PACKAGE: &str = "llama-cpp";

/// Names under which modules and overlays see nixpkgs.
const PACKAGE_SETS: &[&str] = &["pkgs", "prev", "final", "super"];

/// Whether a name is a nixpkgs instance: `pkgs`, an overlay's `prev`, or a
/// second instance passed to modules (`unstable`, `pkgs-unstable`,
/// `pkgsUnstable`, `unstablePkgs`, `stable`).
pub fn is_package_set(name: &str) -> bool {
    PACKAGE_SETS.contains(&name)
        || matches!(name, "stable" | "unstable" | "master")
        || name.to_ascii_lowercase().contains("pkgs")
}

/// Where `llama-cpp` stands in a select path when it is a reference:
/// `pkgs.llama-cpp` (1), or `pkgs.unstable.llama-cpp` (2, an overlay's
/// second instance).
fn package_position(path: &[String]) -> Option<usize> {
    if path.len() >= 2 && is_package_set(&path[0]) && path[1] == PACKAGE {
        return Some(1);
    }
    let second_instance = path.len() >= 3
        && path[0] == "pkgs"
        && matches!(path[1].as_str(), "stable" | "unstable" | "master")
        && path[2] == PACKAGE;
    second_instance.then_some(2)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind {
    /// `llama-cpp` under `with pkgs;`.
    Bare,
    /// `pkgs.llama-cpp`.
    Select,
    /// `inherit (pkgs) llama-cpp;` (the range is the inherit).
    Inherit,
    /// `(pkgs.llama-cpp.override { … })`, possibly with `.overrideAttrs`
    /// (`attrs`); `args` are the override arguments as written, `name = value`.
    Override { args: Vec<String>, attrs: bool },
    /// `services.llama-cpp.enable = true` with no `package` in the file:
    /// the module's default is nixpkgs' build. The range is the `enable` entry.
    ServiceWithoutPackage,
    /// `"${pkgs.llama-cpp}/bin/…"`.
    Interpolation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaRef {
    pub kind: RefKind,
    /// Byte range of the whole reference (the expression to replace).
    pub range: Range<usize>,
    /// The package-set expression the reference goes through (`pkgs`),
    /// `None` for a bare name under `with pkgs;` (under `with unstable;`,
    /// that instance).
    pub base: Option<String>,
}

impl LlamaRef {
    /// Inside an overlay (`prev.llama-cpp`): an old override, which step
    /// 0005 removes, not a host's reference for 0004 to rewrite.
    pub fn in_overlay(&self) -> bool {
        matches!(self.base.as_deref(), Some("prev" | "super" | "final"))
    }
}

/// All references to nixpkgs' llama-cpp in a parsed file, in source order.
pub fn find(root: &ast::Root) -> Vec<LlamaRef> {
    let mut refs = Vec::new();
    for node in root.syntax().descendants() {
        match node.kind() {
            SyntaxKind::NODE_SELECT => {
                let Some(select) = ast::Select::cast(node.clone()) else {
                    continue;
                };
                if is_inner_select(&node) {
                    continue;
                }
                let Some(path) = syntax::select_path(&ast::Expr::Select(select.clone())) else {
                    continue;
                };
                if let Some(at) = package_position(&path) {
                    let base = Some(path[..at].join("."));
                    if path.len() == at + 1 {
                        refs.push(classify(&node, base));
                    } else if is_override_attr(&path[at + 1]) {
                        refs.push(override_chain(&node, base));
                    }
                }
            }
            SyntaxKind::NODE_IDENT => {
                if node.text() != PACKAGE || !is_expression_ident(&node) {
                    continue;
                }
                if let Some(set) = with_package_set(&node) {
                    // Under `with pkgs;` the bare name stays bare; under
                    // another instance the rewrite must name `pkgs`.
                    let base = (set != "pkgs").then_some(set);
                    let parent = node.parent();
                    let is_override = parent
                        .as_ref()
                        .and_then(|p| ast::Select::cast(p.clone()))
                        .and_then(|s| s.attrpath())
                        .and_then(|p| syntax::attrpath_names(&p))
                        .is_some_and(|names| is_override_attr(&names[0]));
                    if is_override {
                        refs.push(override_chain(parent.as_ref().unwrap(), base));
                    } else {
                        let mut r = classify(&node, None);
                        r.base = base;
                        refs.push(r);
                    }
                }
            }
            SyntaxKind::NODE_INHERIT => {
                let Some(inherit) = ast::Inherit::cast(node.clone()) else {
                    continue;
                };
                let from_pkgs = inherit
                    .from()
                    .and_then(|f| f.expr())
                    .and_then(|e| syntax::select_path(&e))
                    .is_some_and(|p| p.len() == 1 && is_package_set(&p[0]));
                let names_it = inherit
                    .attrs()
                    .any(|a| syntax::attr_name(&a).as_deref() == Some(PACKAGE));
                if from_pkgs && names_it {
                    refs.push(LlamaRef {
                        kind: RefKind::Inherit,
                        range: start(&node)..end(&node),
                        base: inherit
                            .from()
                            .and_then(|f| f.expr())
                            .map(|e| e.syntax().to_string()),
                    });
                }
            }
            _ => {}
        }
    }
    refs.extend(services_without_package(root));
    refs.sort_by_key(|r| r.range.start);
    refs
}

fn is_override_attr(name: &str) -> bool {
    matches!(name, "override" | "overrideAttrs" | "overrideDerivation")
}

/// `pkgs.llama-cpp` inside a string interpolation is reported as such.
fn classify(node: &SyntaxNode, base: Option<String>) -> LlamaRef {
    let interpolated = node
        .ancestors()
        .take_while(|n| n.kind() != SyntaxKind::NODE_STRING)
        .any(|n| n.kind() == SyntaxKind::NODE_INTERPOL);
    LlamaRef {
        kind: if interpolated {
            RefKind::Interpolation
        } else if base.is_some() {
            RefKind::Select
        } else {
            RefKind::Bare
        },
        range: start(node)..end(node),
        base,
    }
}

/// A Select that is the `expr` of another Select cannot occur in rnix
/// (chains are flattened), but one used as an Apply's function is the start
/// of an override chain handled by its own match.
fn is_inner_select(node: &SyntaxNode) -> bool {
    node.parent().is_some_and(|p| {
        p.kind() == SyntaxKind::NODE_SELECT && p.first_child().as_ref() == Some(node)
    })
}

/// Climbs from `pkgs.llama-cpp.override` through applications,
/// parentheses and `.overrideAttrs` to the whole expression.
fn override_chain(start_node: &SyntaxNode, base: Option<String>) -> LlamaRef {
    let mut node = start_node.clone();
    let mut args = Vec::new();
    let mut attrs = false;
    loop {
        if let Some(select) = ast::Select::cast(node.clone())
            && let Some(names) = select.attrpath().and_then(|p| syntax::attrpath_names(&p))
        {
            attrs |= names
                .iter()
                .any(|n| n == "overrideAttrs" || n == "overrideDerivation");
        }
        let Some(parent) = node.parent() else { break };
        match parent.kind() {
            SyntaxKind::NODE_APPLY if parent.first_child().as_ref() == Some(&node) => {
                if let Some(arg) = ast::Apply::cast(parent.clone()).and_then(|a| a.argument())
                    && let ast::Expr::AttrSet(set) = syntax::unparen(arg)
                    && !attrs
                {
                    for (names, apv) in syntax::named_entries(&set) {
                        let value = apv
                            .value()
                            .map(|v| v.syntax().to_string())
                            .unwrap_or_default();
                        args.push(format!("{} = {value}", names.join(".")));
                    }
                }
                node = parent;
            }
            SyntaxKind::NODE_PAREN => {
                let grand = parent.parent();
                let continues = grand.as_ref().is_some_and(|g| {
                    ast::Select::cast(g.clone())
                        .and_then(|s| s.attrpath())
                        .and_then(|p| syntax::attrpath_names(&p))
                        .is_some_and(|n| is_override_attr(&n[0]))
                });
                if continues {
                    node = grand.unwrap();
                } else {
                    // The parentheses only wrapped the chain: replace them too.
                    node = parent;
                    break;
                }
            }
            _ => break,
        }
    }
    LlamaRef {
        kind: RefKind::Override { args, attrs },
        range: start(&node)..end(&node),
        base,
    }
}

/// An identifier used as a value, not an attribute name or a parameter.
fn is_expression_ident(node: &SyntaxNode) -> bool {
    !node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            SyntaxKind::NODE_ATTRPATH
                | SyntaxKind::NODE_PAT_ENTRY
                | SyntaxKind::NODE_PAT_BIND
                | SyntaxKind::NODE_IDENT_PARAM
                | SyntaxKind::NODE_INHERIT
        )
    })
}

/// The package set of the innermost `with pkgs;` (or `with unstable;`)
/// whose body holds the name, when no `let` or function parameter binds it
/// (lexical bindings win over `with` in Nix, however far out they are).
fn with_package_set(node: &SyntaxNode) -> Option<String> {
    let mut child = node.clone();
    let mut namespace = None;
    for ancestor in node.ancestors().skip(1) {
        if binds_name(&ancestor, PACKAGE) {
            return None;
        }
        if let Some(with) = ast::With::cast(ancestor.clone())
            && namespace.is_none()
            && with.body().is_some_and(|b| b.syntax() == &child)
        {
            namespace = with
                .namespace()
                .and_then(|n| syntax::select_path(&n))
                .filter(|p| p.len() == 1 && is_package_set(&p[0]))
                .map(|p| p[0].clone());
        }
        child = ancestor;
    }
    namespace
}

fn binds_name(node: &SyntaxNode, name: &str) -> bool {
    if let Some(let_in) = ast::LetIn::cast(node.clone()) {
        return syntax::named_entries(&let_in)
            .iter()
            .any(|(n, _)| n.len() == 1 && n[0] == name)
            || let_in.inherits().any(|i| {
                i.attrs()
                    .any(|a| syntax::attr_name(&a).as_deref() == Some(name))
            });
    }
    if let Some(lambda) = ast::Lambda::cast(node.clone()) {
        return match lambda.param() {
            Some(ast::Param::IdentParam(p)) => p.syntax().text() == name,
            Some(ast::Param::Pattern(p)) => p
                .pat_entries()
                .any(|e| e.ident().is_some_and(|i| i.syntax().text() == name)),
            None => false,
        };
    }
    false
}

/// The attribute path of an entry, including the entries of the sets it is
/// nested in (through `lib.mkIf`, `lib.mkMerge [ … ]` and parentheses), with
/// a leading `config.` dropped.
pub fn full_path(apv: &ast::AttrpathValue) -> Option<Vec<String>> {
    let mut path = syntax::attrpath_names(&apv.attrpath()?)?;
    let mut node = apv.syntax().parent()?; // the set holding it
    loop {
        let parent = node.parent()?;
        match parent.kind() {
            SyntaxKind::NODE_ATTRPATH_VALUE => {
                let outer = ast::AttrpathValue::cast(parent.clone())?;
                let mut prefix = syntax::attrpath_names(&outer.attrpath()?)?;
                prefix.extend(path);
                path = prefix;
                node = parent.parent()?;
            }
            // Through `lib.mkIf c { … }` and `lib.mkMerge [ … ]`, but not
            // through a list-valued option such as `modules = [ { … } ]`,
            // whose items are modules of their own.
            SyntaxKind::NODE_APPLY | SyntaxKind::NODE_PAREN => node = parent,
            SyntaxKind::NODE_LIST
                if parent
                    .parent()
                    .is_some_and(|g| g.kind() == SyntaxKind::NODE_APPLY) =>
            {
                node = parent
            }
            _ => break,
        }
    }
    if path.first().is_some_and(|p| p == "config") {
        path.remove(0);
    }
    Some(path)
}

/// `services.llama-cpp.enable = true` where the file sets no
/// `services.llama-cpp.package`.
fn services_without_package(root: &ast::Root) -> Vec<LlamaRef> {
    let mut enables = Vec::new();
    let mut has_package = false;
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let Some(path) = full_path(&apv) else {
            continue;
        };
        if path.len() < 2 || path[0] != "services" || path[1] != PACKAGE {
            continue;
        }
        match &path[2..] {
            [leaf] if leaf == "enable" => {
                let disabled = apv
                    .value()
                    .is_some_and(|v| syntax::unparen(v).syntax().text() == "false");
                if !disabled {
                    enables.push(apv);
                }
            }
            [leaf] if leaf == "package" => has_package = true,
            _ => {}
        }
    }
    if has_package {
        return Vec::new();
    }
    enables
        .into_iter()
        .map(|apv| LlamaRef {
            kind: RefKind::ServiceWithoutPackage,
            range: start(apv.syntax())..end(apv.syntax()),
            base: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(RefKind, String)> {
        let root = rnix::Root::parse(src).tree();
        find(&root)
            .into_iter()
            .map(|r| (r.kind, src[r.range].to_string()))
            .collect()
    }

    #[test]
    fn finds_every_form() {
        let src = r#"{ pkgs, ... }: let
  z = { inherit (pkgs) llama-cpp; };
  llama = (pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: { });
in {
  environment.systemPackages = with pkgs; [ llama-cpp (llama-cpp.override { vulkanSupport = true; }) pkgs.llama-cpp ];
  systemd.services.x.script = "${pkgs.llama-cpp}/bin/llama-server";
  services.llama-cpp.enable = true;
}"#;
        let found = kinds(src);
        assert_eq!(found.len(), 7, "{found:#?}");
        assert_eq!(
            found[0],
            (RefKind::Inherit, "inherit (pkgs) llama-cpp;".into())
        );
        // A `let`-inherited name shadows `with`: the inherit is the reference.
        let shadowed = "let inherit (pkgs) llama-cpp; in with pkgs; [ llama-cpp ]";
        assert_eq!(kinds(shadowed).len(), 1);
        assert_eq!(
            found[1],
            (
                RefKind::Override {
                    args: vec!["cudaSupport = true".into()],
                    attrs: true
                },
                "(pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: { })".into()
            )
        );
        assert_eq!(found[2], (RefKind::Bare, "llama-cpp".into()));
        assert_eq!(
            found[3],
            (
                RefKind::Override {
                    args: vec!["vulkanSupport = true".into()],
                    attrs: false
                },
                "(llama-cpp.override { vulkanSupport = true; })".into()
            )
        );
        assert_eq!(found[4], (RefKind::Select, "pkgs.llama-cpp".into()));
        assert_eq!(found[5], (RefKind::Interpolation, "pkgs.llama-cpp".into()));
        assert_eq!(found[6].0, RefKind::ServiceWithoutPackage);
    }

    #[test]
    fn second_nixpkgs_instances_are_references_too() {
        let src = "{ pkgs, unstable, pkgs-unstable, ... }: { a = [ unstable.llama-cpp pkgs-unstable.llama-cpp pkgs.unstable.llama-cpp ]; b = with unstable; [ llama-cpp ]; }";
        let found: Vec<(Option<String>, String)> = find(&rnix::Root::parse(src).tree())
            .into_iter()
            .map(|r| (r.base, src[r.range].to_string()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some("unstable".into()), "unstable.llama-cpp".into()),
                (
                    Some("pkgs-unstable".into()),
                    "pkgs-unstable.llama-cpp".into()
                ),
                (
                    Some("pkgs.unstable".into()),
                    "pkgs.unstable.llama-cpp".into()
                ),
                (Some("unstable".into()), "llama-cpp".into()),
            ]
        );
    }

    #[test]
    fn look_alikes_are_not_references() {
        let src = r#"{ pkgs, config, inputs, self, ... }: {
  systemd.services.llama-cpp.serviceConfig.Nice = 5;
  environment.systemPackages = [ pkgs.myns.llama-cpp self.packages.x86_64-linux.llama-cpp pkgs.llama-cpp-cuda inputs.llama-cpp.packages.x86_64-linux.default ];
  environment.etc."llama-cpp".text = "llama-cpp"; # pkgs.llama-cpp in a comment
  x = config.services.llama-cpp.enable;
  services.llama-cpp = { enable = true; package = pkgs.llama-cpp-vulkan; };
  y = let llama-cpp = 1; in with pkgs; [ llama-cpp ];
}"#;
        assert_eq!(kinds(src), vec![]);
    }

    #[test]
    fn nested_service_enable_without_package_is_found() {
        let src = "{ lib, ... }: { config = lib.mkIf true { services = { llama-cpp = { enable = true; model = \"/m\"; }; }; }; }";
        let found = kinds(src);
        assert_eq!(
            found,
            vec![(RefKind::ServiceWithoutPackage, "enable = true;".into())]
        );
    }
}
