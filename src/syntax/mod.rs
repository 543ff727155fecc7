//! Reading Nix source: parsing with positions, attribute names, and the
//! whitespace style of a file. Pure functions over text; no I/O.

use std::path::Path;

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxNode, TextRange};
use rowan::ast::AstNode;

use crate::error::{Error, Located, Result};

pub mod problem;

/// Parses `text`, failing with the first syntax error, described for a
/// person and located.
pub fn parse(path: &Path, text: &str) -> Result<ast::Root> {
    let parsed = rnix::Root::parse(text);
    if let Some(located) = first_error(path, text, &parsed) {
        return Err(Error::Parse(Box::new(located)));
    }
    Ok(parsed.tree())
}

/// The first syntax error of a parse, if any: what the guard reports as
/// its own finding, and what [`parse`] fails with.
pub fn first_error(path: &Path, text: &str, parsed: &rnix::Parse<ast::Root>) -> Option<Located> {
    let err = parsed.errors().first()?;
    let problem = problem::describe(err, &parsed.syntax(), text);
    Some(Located::new(
        path,
        text,
        problem.range,
        problem.message,
        problem.label,
    ))
}

/// `s` as a Nix double-quoted string that evaluates to exactly `s`: every
/// value a user gives (a URL, a target list) is written through this, so
/// none can end the string or interpolate (`"`, `${`, `\`, newlines).
pub fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` can be written bare as a Nix identifier: an attribute name
/// and a function argument (`{ self, llama-cpp, ... }:`), which cannot be
/// quoted.
pub fn is_identifier(s: &str) -> bool {
    const KEYWORDS: [&str; 10] = [
        "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
    ];
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
        && !KEYWORDS.contains(&s)
}

/// Whether a relative path can be written as a Nix path literal
/// (`./nixos/overlays/llama-cpp.nix`): letters, digits and `._-+` in
/// each component.
pub fn is_path_literal_safe(path: &Path) -> bool {
    path.components().all(|c| match c {
        std::path::Component::Normal(n) => n.to_str().is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        }),
        _ => false,
    })
}

/// The nodes of `root`'s tree that start within `range` (every node when
/// `None`). Only the smallest node covering the range is walked, and its
/// ancestors: asking this once per host defined in a large flake.nix would
/// otherwise walk the whole file for each.
pub fn nodes_starting_in(
    root: &SyntaxNode,
    range: Option<std::ops::Range<usize>>,
) -> Box<dyn Iterator<Item = SyntaxNode>> {
    let Some(range) = range else {
        return Box::new(root.descendants());
    };
    let wanted = match (u32::try_from(range.start), u32::try_from(range.end)) {
        (Ok(from), Ok(to)) if from <= to => TextRange::new(from.into(), to.into()),
        _ => return Box::new(std::iter::empty()),
    };
    let inside = move |n: &SyntaxNode| range.contains(&start(n));
    if !root.text_range().contains_range(wanted) {
        // Not a range of this tree's text: look everywhere, as for any.
        return Box::new(root.descendants().filter(inside));
    }
    let covering = match root.covering_element(wanted) {
        rowan::NodeOrToken::Node(n) => n,
        rowan::NodeOrToken::Token(t) => t.parent().unwrap_or_else(|| root.clone()),
    };
    Box::new(
        covering
            .ancestors()
            .skip(1)
            .chain(covering.descendants())
            .filter(inside),
    )
}

pub use crate::located::line_col;

/// The byte offset of a 1-based line and column (in characters), the
/// inverse of [`line_col`]; past the end is the end.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

pub fn start(node: &SyntaxNode) -> usize {
    usize::from(node.text_range().start())
}

pub fn end(node: &SyntaxNode) -> usize {
    usize::from(node.text_range().end())
}

pub fn range(r: TextRange) -> std::ops::Range<usize> {
    usize::from(r.start())..usize::from(r.end())
}

/// The whitespace at the start of the line that contains `offset`.
pub fn line_indent(text: &str, offset: usize) -> &str {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let rest = &text[line_start..];
    let width = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..width]
}

/// The end of the line holding `offset` when only whitespace or a comment
/// follows `offset` on it; else `offset`. Inserting there keeps a trailing
/// comment attached to the entry it describes.
pub fn end_of_line_after(text: &str, offset: usize) -> usize {
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let tail = text[offset..line_end].trim();
    if tail.is_empty() || tail.starts_with('#') {
        line_end
    } else {
        offset
    }
}

/// One level of indentation as the file writes it: a tab, or the smallest
/// positive step between nested lines (two spaces when nothing says).
pub fn indent_unit(text: &str) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            return "\t".into();
        }
        widths.push(line.len() - line.trim_start_matches(' ').len());
    }
    let step = widths
        .windows(2)
        .filter_map(|w| w[1].checked_sub(w[0]).filter(|d| *d > 0))
        .min()
        .unwrap_or(2);
    " ".repeat(step.clamp(1, 8))
}

/// The static name of an attribute (`foo` or `"foo"`), `None` when dynamic.
pub fn attr_name(attr: &ast::Attr) -> Option<String> {
    match attr {
        ast::Attr::Ident(ident) => Some(ident.syntax().text().to_string()),
        ast::Attr::Str(s) => string_literal(s),
        ast::Attr::Dynamic(_) => None,
    }
}

/// The value of a string without interpolations.
pub fn string_literal(s: &ast::Str) -> Option<String> {
    let mut out = String::new();
    for part in s.normalized_parts() {
        match part {
            ast::InterpolPart::Literal(text) => out.push_str(&text),
            ast::InterpolPart::Interpolation(_) => return None,
        }
    }
    Some(out)
}

/// The names of an attribute path, `None` when any part is dynamic.
pub fn attrpath_names(path: &ast::Attrpath) -> Option<Vec<String>> {
    path.attrs().map(|a| attr_name(&a)).collect()
}

/// `rec { … }`. Looks at the first token only: rnix's `rec_token()` scans
/// every child of a set, which is slow on a set of hundreds of hosts.
pub fn is_rec(set: &ast::AttrSet) -> bool {
    set.syntax()
        .first_token()
        .is_some_and(|t| t.kind() == rnix::SyntaxKind::TOKEN_REC)
}

/// Strips any parentheses around an expression.
pub fn unparen(mut expr: ast::Expr) -> ast::Expr {
    while let ast::Expr::Paren(p) = &expr {
        match p.expr() {
            Some(inner) => expr = inner,
            None => break,
        }
    }
    expr
}

/// The names of a `Select` chain or identifier: `pkgs.llama-cpp` gives
/// `["pkgs", "llama-cpp"]`. `None` for anything else or dynamic parts.
pub fn select_path(expr: &ast::Expr) -> Option<Vec<String>> {
    match expr {
        ast::Expr::Ident(i) => Some(vec![i.syntax().text().to_string()]),
        ast::Expr::Select(s) if s.default_expr().is_none() => {
            let mut names = select_path(&s.expr()?)?;
            names.extend(attrpath_names(&s.attrpath()?)?);
            Some(names)
        }
        _ => None,
    }
}

/// The attrpath-value entries of a set (or `let`) with their names.
pub fn named_entries(set: &impl HasEntry) -> Vec<(Vec<String>, ast::AttrpathValue)> {
    set.attrpath_values()
        .filter_map(|apv| Some((attrpath_names(&apv.attrpath()?)?, apv)))
        .collect()
}

/// The entries of a set (`a = …;` and `inherit …;`) as syntax nodes.
pub fn entry_nodes(set: &ast::AttrSet) -> impl Iterator<Item = SyntaxNode> + use<> {
    set.entries().map(|e| e.syntax().clone())
}

/// Follows `let … in`, parentheses and `with …;` down to the body expression.
pub fn body(expr: ast::Expr) -> ast::Expr {
    match unparen(expr) {
        ast::Expr::LetIn(l) => l.body().map(body).unwrap_or(ast::Expr::LetIn(l)),
        ast::Expr::With(w) => match w.body() {
            Some(b) => body(b),
            None => ast::Expr::With(w),
        },
        other => other,
    }
}

/// The argument set of `import X { … }` (`import nixpkgs { system; … }`):
/// how a package set is made by hand.
pub fn import_args(expr: &ast::Expr) -> Option<ast::AttrSet> {
    let ast::Expr::Apply(outer) = unparen(expr.clone()) else {
        return None;
    };
    let ast::Expr::Apply(inner) = unparen(outer.lambda()?) else {
        return None;
    };
    if select_path(&unparen(inner.lambda()?))? != ["import"] {
        return None;
    }
    match unparen(outer.argument()?) {
        ast::Expr::AttrSet(set) => Some(set),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_of_inverts_line_col() {
        let text = "ab\nçd\n";
        for offset in [0, 1, 3, 5, 6, 7] {
            let (line, column) = line_col(text, offset);
            assert_eq!(offset_of(text, line, column), offset);
        }
    }

    #[test]
    fn nodes_starting_in_a_range_are_those_a_whole_walk_finds() {
        let text = "{ a = x.y { b = p.q; }; c = (f g).h; d = [ 1 2 ]; }";
        let root = parse(Path::new("t.nix"), text).unwrap();
        let root = root.syntax();
        let everything = |r: &std::ops::Range<usize>| -> Vec<(usize, usize, rnix::SyntaxKind)> {
            root.descendants()
                .filter(|n| r.contains(&start(n)))
                .map(|n| (start(&n), end(&n), n.kind()))
                .collect()
        };
        for from in 0..text.len() {
            for to in from..=text.len() {
                let mut found: Vec<(usize, usize, rnix::SyntaxKind)> =
                    nodes_starting_in(root, Some(from..to))
                        .map(|n| (start(&n), end(&n), n.kind()))
                        .collect();
                let mut want = everything(&(from..to));
                found.sort();
                found.dedup();
                want.sort();
                assert_eq!(found, want, "{from}..{to}");
            }
        }
        assert_eq!(
            nodes_starting_in(root, None).count(),
            root.descendants().count()
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }

    #[test]
    fn indent_unit_follows_the_file() {
        assert_eq!(indent_unit("{\n\ta = 1;\n}"), "\t");
        assert_eq!(
            indent_unit("{\n    a = {\n        b = 1;\n    };\n}"),
            "    "
        );
        assert_eq!(indent_unit("{\n  a = 1;\n}"), "  ");
    }

    #[test]
    fn parse_error_has_position() {
        let err = parse(Path::new("f.nix"), "{\n  a = ;\n}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.nix:2:"), "{err}");
    }

    #[test]
    fn select_path_reads_dotted_names() {
        let root = rnix::Root::parse("pkgs.\"llama-cpp\"").tree();
        assert_eq!(
            select_path(&root.expr().unwrap()),
            Some(vec!["pkgs".to_string(), "llama-cpp".to_string()])
        );
    }
}
