//! Where and how the new input and the `outputs` formals are written, in
//! the file's own layout: nested or dotted inputs, the neighbours'
//! indentation, `follows` placement, the comma style of the formals.

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use crate::edit::{self, Splice};
use crate::flake::Flake;
use crate::syntax::{self, end, start};

/// Inserts the new input after the last one, in the style already used.
pub(super) fn insert_input(
    flake: &Flake,
    text: &str,
    input: &str,
    url: &str,
    follows: &str,
    target: &str,
) -> Splice {
    // The url is the user's (flake-migrate.toml): quoted, never pasted.
    let url = syntax::nix_string(url);
    let follows_line = format!("inputs.{follows}.follows = {};", syntax::nix_string(target));
    if let Some(set) = flake.inputs_set() {
        let entries: Vec<ast::Entry> = set.entries().collect();
        // Dotted-in-nested (`nixpkgs.url = …;`) or sets (`nixpkgs = { … };`)?
        let dotted = entries
            .iter()
            .filter_map(|e| match e {
                ast::Entry::AttrpathValue(apv) => apv.attrpath(),
                _ => None,
            })
            .filter(|p| p.attrs().count() > 1)
            .count()
            * 2
            > entries.len();
        let open = set
            .l_curly_token()
            .map(|t| usize::from(t.text_range().end()));
        let close = set
            .r_curly_token()
            .map(|t| usize::from(t.text_range().start()));
        let (Some(open), Some(close)) = (open, close) else {
            unreachable!("a parsed attribute set has braces");
        };
        let unit = nested_unit(text, &set);
        let lines = if dotted {
            vec![
                format!("{input}.url = {url};"),
                format!("{input}.{follows_line}"),
            ]
        } else {
            vec![
                format!("{input} = {{"),
                format!("{unit}url = {url};"),
                format!("{unit}{follows_line}"),
                "};".into(),
            ]
        };
        return match entries.last() {
            None => {
                let outer = syntax::line_indent(text, open).to_string();
                let body: String = lines
                    .iter()
                    .map(|l| format!("\n{outer}{unit}{l}"))
                    .collect();
                Splice::replace(open..close, format!("{body}\n{outer}"))
            }
            Some(last) if edit::same_line(text, open, start(last.syntax())) => {
                let inline = if dotted {
                    lines.join(" ")
                } else {
                    format!("{input} = {{ url = {url}; {follows_line} }};")
                };
                Splice::insert(end(last.syntax()), format!(" {inline}"))
            }
            Some(last) => edit::after_entry(text, last.syntax(), &lines),
        };
    }
    let dotted = flake.top_entries("inputs");
    let lines = vec![
        format!("inputs.{input}.url = {url};"),
        format!("inputs.{input}.{follows_line}"),
    ];
    if let Some((_, last)) = dotted.last() {
        return edit::after_entry(text, last.syntax(), &lines);
    }
    // No inputs at all (nixpkgs from the registry): put them before `outputs`.
    let anchor = flake
        .top_entries("outputs")
        .first()
        .map(|(_, apv)| apv.syntax().clone())
        .or_else(|| flake.top.entries().next().map(|e| e.syntax().clone()));
    match anchor {
        Some(node) => {
            let indent = syntax::line_indent(text, start(&node)).to_string();
            let body: String = lines.iter().map(|l| format!("{l}\n{indent}")).collect();
            Splice::insert(start(&node), body)
        }
        None => {
            let at = flake
                .top
                .l_curly_token()
                .map_or(0, |t| usize::from(t.text_range().end()));
            Splice::insert(at, format!(" {} ", lines.join(" ")))
        }
    }
}

/// Adds `…inputs.nixpkgs.follows` as a sibling of the input's `url` entry,
/// with the same attribute-path prefix (`url` → `inputs.nixpkgs.follows`,
/// `llama-cpp.url` → `llama-cpp.inputs.nixpkgs.follows`).
pub(super) fn add_follows(
    text: &str,
    url_entry: &ast::AttrpathValue,
    follows: &str,
    target: &str,
) -> Splice {
    let path = url_entry
        .attrpath()
        .map(|p| p.syntax().to_string())
        .unwrap_or_default();
    let prefix = path.strip_suffix("url").unwrap_or("");
    let line = format!(
        "{prefix}inputs.{follows}.follows = {};",
        syntax::nix_string(target)
    );
    let node = url_entry.syntax();
    let line_start = text[..start(node)].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end(node)..]
        .find('\n')
        .map_or(text.len(), |i| end(node) + i);
    let tail = text[end(node)..line_end].trim();
    let alone = text[line_start..start(node)].trim().is_empty()
        && (tail.is_empty() || tail.starts_with('#'));
    if !alone {
        // `llama-cpp = { url = "…"; flake = true; };` on one line stays on
        // one line: the follows goes beside the url.
        return Splice::insert(end(node), format!(" {line}"));
    }
    edit::after_entry(text, node, &[line])
}

/// How much deeper than an input its own entries sit: as in a neighbour
/// written as a set over several lines, else as deep as the inputs sit
/// below `inputs = {`, else the file's unit.
fn nested_unit(text: &str, set: &ast::AttrSet) -> String {
    for (_, apv) in syntax::named_entries(set) {
        let Some(ast::Expr::AttrSet(inner)) = apv.value().map(syntax::unparen) else {
            continue;
        };
        let Some(first) = syntax::entry_nodes(&inner).next() else {
            continue;
        };
        let (outer, deeper) = (start(apv.syntax()), start(&first));
        if edit::same_line(text, outer, deeper) {
            continue;
        }
        if let Some(extra) =
            syntax::line_indent(text, deeper).strip_prefix(syntax::line_indent(text, outer))
            && !extra.is_empty()
        {
            return extra.to_string();
        }
    }
    let first = syntax::entry_nodes(set).next();
    let open = set
        .l_curly_token()
        .map(|t| usize::from(t.text_range().start()));
    if let (Some(first), Some(open)) = (first, open)
        && !edit::same_line(text, open, start(&first))
        && let Some(extra) =
            syntax::line_indent(text, start(&first)).strip_prefix(syntax::line_indent(text, open))
        && !extra.is_empty()
    {
        return extra.to_string();
    }
    syntax::indent_unit(text)
}

pub(super) enum Formals {
    Fine,
    Edit(Vec<Splice>),
    Unknown,
}

/// `outputs` must accept the input (`...` or its name) and bind all inputs
/// (`@inputs`) so the overlay import can say `inherit inputs`.
pub(super) fn outputs_formals(flake: &Flake, text: &str, input: &str) -> Formals {
    let Some(lambda) = flake.outputs_lambda() else {
        return Formals::Unknown;
    };
    let Some(ast::Param::Pattern(pattern)) = lambda.param() else {
        return Formals::Fine;
    };
    let mut splices = Vec::new();
    let entries: Vec<ast::PatEntry> = pattern.pat_entries().collect();
    let named = entries
        .iter()
        .any(|e| e.ident().is_some_and(|i| i.syntax().text() == input));
    if pattern.ellipsis_token().is_none() && !named {
        splices.extend(edit::add_formal(text, &pattern, input));
    }
    if pattern.pat_bind().is_none() {
        let close = pattern
            .syntax()
            .children_with_tokens()
            .filter_map(|e| e.into_token())
            .find(|t| t.kind() == rnix::SyntaxKind::TOKEN_R_BRACE)
            .map(|t| usize::from(t.text_range().end()))
            .unwrap_or_else(|| end(pattern.syntax()));
        splices.push(Splice::insert(close, "@inputs"));
    }
    if splices.is_empty() {
        Formals::Fine
    } else {
        Formals::Edit(splices)
    }
}
