//! The conditions evidence sits under (`lib.mkIf c { … }`, also inside
//! `mkMerge`, `if c then … else …`, `lib.optionals c [ … ]`). A hint under a
//! condition may not apply to the host at all (a graphics block guarded by
//! `system != "aarch64-linux"` on a Raspberry Pi), so it is shown with its
//! condition and ranks below unconditional evidence; where the condition
//! only tests the host's system and evaluation says which system that is,
//! it is decided.

use rnix::ast::{self, BinOpKind, UnaryOpKind};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::Clue;
use super::nodes::static_names;

/// One condition a piece of evidence depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Condition {
    /// The condition's source text.
    pub source: String,
    /// The evidence is in the `else` branch: it holds when `source` is false.
    pub negated: bool,
    /// The evidence is in the value of an `if` as a whole, either branch.
    pub either: bool,
    /// `file:line` of the condition.
    pub at: String,
}

impl Condition {
    /// As printed with the evidence.
    pub fn describe(&self) -> String {
        let source = self.source.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.either {
            format!("a branch of `if {source}` ({})", self.at)
        } else if self.negated {
            format!("else of `{source}` ({})", self.at)
        } else {
            format!("`{source}` ({})", self.at)
        }
    }

    /// Whether the evidence applies to a host of `system`; `None` when the
    /// condition tests more than the system.
    pub fn holds_on(&self, system: &str) -> Option<bool> {
        if self.either {
            return None;
        }
        let root = rnix::Root::parse(&self.source).ok().ok()?;
        let value = match eval(&root.expr()?, system)? {
            Value::Bool(b) => b,
            Value::Str(_) => return None,
        };
        Some(value != self.negated)
    }
}

/// The conditions around `node`, innermost first; for a binding, also the
/// one its value is under (`hardware.nvidia = lib.mkIf c { … }`).
pub(super) fn around(node: &SyntaxNode, at: &dyn Fn(usize) -> String) -> Vec<Condition> {
    let condition = |cond: ast::Expr, negated: bool, either: bool| Condition {
        source: cond.syntax().to_string(),
        negated,
        either,
        at: at(crate::syntax::start(cond.syntax())),
    };
    let mut found = Vec::new();
    if let Some(value) = ast::AttrpathValue::cast(node.clone()).and_then(|apv| apv.value()) {
        match &value {
            ast::Expr::IfElse(ie) => {
                found.extend(ie.condition().map(|c| condition(c, false, true)))
            }
            ast::Expr::Apply(app) => {
                found.extend(conditional_call(app).map(|(c, _)| condition(c, false, false)))
            }
            _ => {}
        }
    }
    let mut child = node.clone();
    while let Some(parent) = child.parent() {
        let guard = match parent.kind() {
            SyntaxKind::NODE_IF_ELSE => ast::IfElse::cast(parent.clone()).and_then(|ie| {
                let cond = ie.condition()?;
                if ie.body().is_some_and(|b| b.syntax() == &child) {
                    Some((cond, false))
                } else if ie.else_body().is_some_and(|b| b.syntax() == &child) {
                    Some((cond, true))
                } else {
                    None
                }
            }),
            SyntaxKind::NODE_APPLY => ast::Apply::cast(parent.clone())
                .and_then(|app| conditional_call(&app))
                .filter(|(_, body)| body.syntax() == &child)
                .map(|(cond, _)| (cond, false)),
            _ => None,
        };
        if let Some((cond, negated)) = guard {
            found.push(condition(cond, negated, false));
        }
        child = parent;
    }
    found
}

/// `lib.mkIf cond body` (or `optional(s)`, `optionalAttrs`,
/// `optionalString`) as its condition and body.
fn conditional_call(app: &ast::Apply) -> Option<(ast::Expr, ast::Expr)> {
    let ast::Expr::Apply(inner) = app.lambda()? else {
        return None;
    };
    let names = static_names(inner.lambda()?.syntax());
    let conditional = names.last().is_some_and(|n| {
        matches!(
            n.as_str(),
            "mkIf" | "optional" | "optionals" | "optionalAttrs" | "optionalString"
        )
    });
    conditional.then_some((inner.argument()?, app.argument()?))
}

enum Value {
    Bool(bool),
    Str(String),
}

/// Ways a module names the host's system string.
const SYSTEM_NAMES: [&str; 7] = [
    "pkgs.stdenv.hostPlatform.system",
    "pkgs.stdenv.system",
    "pkgs.hostPlatform.system",
    "pkgs.system",
    "config.nixpkgs.hostPlatform.system",
    "config.nixpkgs.hostPlatform",
    "config.nixpkgs.system",
];

/// Where a module finds the host platform's `isAarch64`, `isLinux`, ….
const PLATFORMS: [&str; 5] = [
    "pkgs.stdenv.hostPlatform",
    "pkgs.stdenv",
    "pkgs.hostPlatform",
    "stdenv.hostPlatform",
    "config.nixpkgs.hostPlatform",
];

fn eval(expr: &ast::Expr, system: &str) -> Option<Value> {
    match expr {
        ast::Expr::Paren(p) => eval(&p.expr()?, system),
        ast::Expr::UnaryOp(u) if u.operator()? == UnaryOpKind::Invert => {
            Some(Value::Bool(!bool_of(&u.expr()?, system)?))
        }
        ast::Expr::BinOp(b) => {
            let op = b.operator()?;
            let (lhs, rhs) = (b.lhs()?, b.rhs()?);
            match op {
                BinOpKind::Equal | BinOpKind::NotEqual => {
                    let (Value::Str(l), Value::Str(r)) = (eval(&lhs, system)?, eval(&rhs, system)?)
                    else {
                        return None;
                    };
                    Some(Value::Bool((l == r) == (op == BinOpKind::Equal)))
                }
                // One side decided can settle the whole: `false && x`, `true || x`.
                BinOpKind::And | BinOpKind::Or => {
                    let settles = op == BinOpKind::Or;
                    let (l, r) = (bool_of(&lhs, system), bool_of(&rhs, system));
                    if l == Some(settles) || r == Some(settles) {
                        Some(Value::Bool(settles))
                    } else {
                        // Both known and neither settles: both are the other value.
                        l?;
                        r?;
                        Some(Value::Bool(!settles))
                    }
                }
                _ => None,
            }
        }
        ast::Expr::Str(s) => {
            let parts = s.normalized_parts();
            match parts.as_slice() {
                [] => Some(Value::Str(String::new())),
                [ast::InterpolPart::Literal(text)] => Some(Value::Str(text.clone())),
                _ => None,
            }
        }
        ast::Expr::Select(_) | ast::Expr::Ident(_) => {
            let dotted = static_names(expr.syntax()).join(".");
            if SYSTEM_NAMES.contains(&dotted.as_str()) {
                return Some(Value::Str(system.to_string()));
            }
            let (platform, test) = dotted.rsplit_once('.')?;
            PLATFORMS
                .contains(&platform)
                .then(|| platform_test(test, system))
                .flatten()
                .map(Value::Bool)
        }
        _ => None,
    }
}

fn bool_of(expr: &ast::Expr, system: &str) -> Option<bool> {
    match eval(expr, system)? {
        Value::Bool(b) => Some(b),
        Value::Str(_) => None,
    }
}

/// nixpkgs' platform predicates, for the systems a NixOS host can have.
fn platform_test(test: &str, system: &str) -> Option<bool> {
    let (cpu, kernel) = system.split_once('-')?;
    Some(match test {
        "isLinux" => kernel == "linux",
        "isDarwin" => kernel == "darwin",
        "isAarch64" => cpu == "aarch64",
        "isAarch" => cpu.starts_with("aarch") || cpu.starts_with("arm"),
        "isx86_64" => cpu == "x86_64",
        "isx86" => cpu == "x86_64" || cpu == "i686",
        "isRiscV" | "isRiscV64" => cpu.starts_with("riscv"),
        _ => return None,
    })
}

/// Each clue with whether a condition it sits under is undecided (it then
/// ranks below every unconditional clue), its evidence saying so; and the
/// evidence of clues whose condition is false for the host's `system`.
pub(super) fn weigh_conditions(
    clues: Vec<Clue>,
    system: Option<&str>,
) -> (Vec<(Clue, bool)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut not_counted = Vec::new();
    for mut clue in clues {
        let decided: Vec<Option<bool>> = clue
            .conditions
            .iter()
            .map(|c| system.and_then(|s| c.holds_on(s)))
            .collect();
        let describe = |clue: &Clue, which: &dyn Fn(Option<bool>) -> bool| {
            clue.conditions
                .iter()
                .zip(&decided)
                .filter(|(_, d)| which(**d))
                .map(|(c, _)| c.describe())
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let system = system.unwrap_or_default();
        if decided.contains(&Some(false)) {
            let false_ones = describe(&clue, &|d| d == Some(false));
            not_counted.push(format!(
                "{} only if {false_ones}, which is false on {system}",
                clue.evidence
            ));
            continue;
        }
        let holding = describe(&clue, &|d| d == Some(true));
        if !holding.is_empty() {
            clue.evidence
                .push_str(&format!(" (only if {holding}, which holds on {system})"));
        }
        let undecided = describe(&clue, &|d| d.is_none());
        if !undecided.is_empty() {
            clue.evidence.push_str(&format!(" (only if {undecided})"));
        }
        kept.push((clue, !undecided.is_empty()));
    }
    (kept, not_counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(source: &str, negated: bool) -> Condition {
        Condition {
            source: source.into(),
            negated,
            either: false,
            at: "m.nix:1".into(),
        }
    }

    #[test]
    fn conditions_on_the_system_are_decided() {
        let c = cond(
            r#"pkgs.stdenv.hostPlatform.system != "aarch64-linux""#,
            false,
        );
        assert_eq!(c.holds_on("aarch64-linux"), Some(false));
        assert_eq!(c.holds_on("x86_64-linux"), Some(true));
        let c = cond("pkgs.stdenv.isAarch64", true);
        assert_eq!(c.holds_on("aarch64-linux"), Some(false));
        let c = cond(
            r#"config.nixpkgs.hostPlatform == "x86_64-linux" && config.services.x.enable"#,
            false,
        );
        assert_eq!(c.holds_on("aarch64-linux"), Some(false));
        assert_eq!(c.holds_on("x86_64-linux"), None, "the rest is unknown");
        let c = cond("!(pkgs.stdenv.hostPlatform.isx86_64 || config.x)", false);
        assert_eq!(c.holds_on("x86_64-linux"), Some(false));
        assert_eq!(
            cond("config.gpu.enable", false).holds_on("x86_64-linux"),
            None
        );
    }

    #[test]
    fn every_kind_of_guard_is_found() {
        let text = r#"{ lib, pkgs, config, ... }: lib.mkMerge [
  (lib.mkIf (pkgs.system != "aarch64-linux") { hardware.graphics.enable = true; })
  { environment.systemPackages = lib.optionals config.gpu [ pkgs.vulkan-tools ]; }
  (if config.x then { } else { hardware.nvidia.open = true; })
]"#;
        let root = rnix::Root::parse(text).ok().unwrap();
        let at = |o: usize| format!("m.nix:{}", crate::syntax::line_col(text, o).0);
        let find = |needle: &str| {
            let offset = text.find(needle).unwrap();
            let node = root
                .syntax()
                .descendants()
                .find(|n| crate::syntax::start(n) == offset)
                .unwrap();
            around(&node, &at)
        };
        assert_eq!(
            find("hardware.graphics"),
            [cond(r#"(pkgs.system != "aarch64-linux")"#, false).with_at("m.nix:2")]
        );
        assert_eq!(
            find("pkgs.vulkan-tools"),
            [cond("config.gpu", false).with_at("m.nix:3")]
        );
        assert_eq!(
            find("hardware.nvidia"),
            [cond("config.x", true).with_at("m.nix:4")]
        );
        assert_eq!(
            find("environment"),
            [cond("config.gpu", false).with_at("m.nix:3")],
            "a binding whose value is conditional"
        );
        assert_eq!(find("lib.mkMerge"), []);
    }

    impl Condition {
        fn with_at(mut self, at: &str) -> Condition {
            self.at = at.into();
            self
        }
    }
}
