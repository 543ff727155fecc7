//! Edits are text splices computed from the syntax tree and applied in one
//! pass, so everything outside them (comments, blank lines, indentation) is
//! kept byte for byte. The result must parse again, or the edit is refused.

use std::path::Path;

use crate::error::{Error, Result};
use crate::syntax;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Splice {
    pub fn insert(at: usize, text: impl Into<String>) -> Self {
        Splice {
            start: at,
            end: at,
            text: text.into(),
        }
    }

    pub fn replace(range: std::ops::Range<usize>, text: impl Into<String>) -> Self {
        Splice {
            start: range.start,
            end: range.end,
            text: text.into(),
        }
    }

    pub fn delete(range: std::ops::Range<usize>) -> Self {
        Splice::replace(range, "")
    }
}

/// Applies splices to `text` and checks that the result parses.
/// Overlapping splices are a bug in the caller and are refused.
pub fn apply(path: &Path, text: &str, mut splices: Vec<Splice>) -> Result<String> {
    let crlf = uses_crlf(text);
    if crlf {
        // Steps place "end of line" before the `\n`: in a CRLF file an
        // insertion there would split the pair.
        for s in splices.iter_mut() {
            // Bytes, not `str` slicing: the byte before may be inside a
            // character.
            if s.start == s.end
                && s.start > 0
                && text.as_bytes()[s.start - 1..].starts_with(b"\r\n")
            {
                s.start -= 1;
                s.end -= 1;
            }
        }
    }
    splices.sort_by_key(|s| (s.start, s.end));
    splices.dedup();
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    for s in &splices {
        if s.start < cursor {
            return Err(Error::Failed(format!(
                "{}: internal error: overlapping edits at byte {}; nothing was written",
                path.display(),
                s.start
            )));
        }
        out.push_str(&text[cursor..s.start]);
        if crlf {
            out.push_str(&s.text.replace("\r\n", "\n").replace('\n', "\r\n"));
        } else {
            out.push_str(&s.text);
        }
        cursor = s.end;
    }
    out.push_str(&text[cursor..]);
    syntax::parse(path, &out).map_err(|e| {
        Error::Failed(format!(
            "the edit of {} would not parse ({e}); nothing was written. Please report this with the file",
            path.display()
        ))
    })?;
    Ok(out)
}

/// Whether most of the file's lines end in CRLF: text inserted into it
/// then does too, so an edit never leaves mixed line endings.
fn uses_crlf(text: &str) -> bool {
    let lines = text.matches('\n').count();
    let crlf = text.matches("\r\n").count();
    crlf > 0 && crlf * 2 >= lines
}

/// A unified diff of one file, for `--dry-run` and commit previews.
pub fn unified_diff(path: &Path, before: Option<&str>, after: Option<&str>) -> String {
    let old_name = if before.is_some() {
        format!("a/{}", path.display())
    } else {
        "/dev/null".into()
    };
    let new_name = if after.is_some() {
        format!("b/{}", path.display())
    } else {
        "/dev/null".into()
    };
    similar::TextDiff::from_lines(before.unwrap_or(""), after.unwrap_or(""))
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &new_name)
        .to_string()
}

/// Whether two offsets are on the same line.
pub fn same_line(text: &str, a: usize, b: usize) -> bool {
    !text[a.min(b)..a.max(b)].contains('\n')
}

/// New lines after `node`, at its indentation, after any trailing comment.
pub fn after_entry(text: &str, node: &rnix::SyntaxNode, lines: &[String]) -> Splice {
    after_entry_range(text, syntax::start(node)..syntax::end(node), lines)
}

/// [`after_entry`] for a byte range.
pub fn after_entry_range(text: &str, range: std::ops::Range<usize>, lines: &[String]) -> Splice {
    let indent = syntax::line_indent(text, range.start).to_string();
    let at = syntax::end_of_line_after(text, range.end);
    let body: String = lines.iter().map(|l| format!("\n{indent}{l}")).collect();
    Splice::insert(at, body)
}

/// Adds `name` to a function's formals, copying the layout: inline
/// `, name`, one per line with trailing commas, or leading-comma style.
/// `None` when it is already there.
pub fn add_formal(text: &str, pattern: &rnix::ast::Pattern, name: &str) -> Option<Splice> {
    use rowan::ast::AstNode;
    let entries: Vec<rnix::ast::PatEntry> = pattern.pat_entries().collect();
    if entries
        .iter()
        .any(|e| e.ident().is_some_and(|i| i.syntax().text() == name))
    {
        return None;
    }
    let Some(last) = entries.last() else {
        // `{ ... }:` gets `{ name, ... }:`.
        let open = pattern
            .syntax()
            .children_with_tokens()
            .find(|t| t.kind() == rnix::SyntaxKind::TOKEN_L_BRACE)?;
        let at = usize::from(open.text_range().end());
        let sep = if pattern.ellipsis_token().is_some() {
            ","
        } else {
            ""
        };
        return Some(Splice::insert(at, format!(" {name}{sep}")));
    };
    let last = last.syntax();
    let last_end = syntax::end(last);
    let after = &text[last_end..];
    // Leading commas (`{ pkgs\n, inputs\n, ... }`): a new line `, name`
    // before the next one.
    if let Some((gap, rest)) = after.split_once('\n')
        && gap.trim().is_empty()
    {
        let indent = &rest[..rest.len() - rest.trim_start_matches([' ', '\t']).len()];
        if rest[indent.len()..].starts_with(',') {
            return Some(Splice::insert(last_end, format!("\n{indent}, {name}")));
        }
    }
    let trailing_comma = after.trim_start().starts_with(',');
    let line_start = text[..syntax::start(last)].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..syntax::start(last)];
    let own_line = prefix.trim().is_empty() || prefix.trim() == ",";
    if !own_line {
        return Some(Splice::insert(last_end, format!(", {name}")));
    }
    if trailing_comma {
        let comma = last_end + after.find(',')? + 1;
        return Some(Splice::insert(comma, format!("\n{prefix}{name},")));
    }
    if prefix.trim() == "," {
        return Some(Splice::insert(last_end, format!("\n{prefix}{name}")));
    }
    Some(Splice::insert(last_end, format!(",\n{prefix}{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_apply_in_order_and_keep_the_rest() {
        let text = "{ a = 1; # one\n  b = 2; }";
        let out = apply(
            Path::new("x.nix"),
            text,
            vec![
                Splice::replace(6..7, "10"),
                Splice::insert(14, "\n  c = 3;"),
            ],
        )
        .unwrap();
        assert_eq!(out, "{ a = 10; # one\n  c = 3;\n  b = 2; }");
    }

    #[test]
    fn an_edit_that_breaks_syntax_is_refused() {
        let err = apply(Path::new("x.nix"), "{ a = 1; }", vec![Splice::delete(6..8)]).unwrap_err();
        assert!(err.to_string().contains("would not parse"), "{err}");
    }

    fn with_formal(src: &str, name: &str) -> String {
        use rowan::ast::AstNode;
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let pattern = root
            .syntax()
            .descendants()
            .find_map(rnix::ast::Pattern::cast)
            .unwrap();
        let splice = add_formal(src, &pattern, name).unwrap();
        apply(Path::new("m.nix"), src, vec![splice]).unwrap()
    }

    #[test]
    fn a_formal_follows_the_comma_style() {
        assert_eq!(
            with_formal("{ pkgs\n, lib\n, ...\n}: { }\n", "inputs"),
            "{ pkgs\n, lib\n, inputs\n, ...\n}: { }\n"
        );
        assert_eq!(
            with_formal("{ pkgs\n, ... }: { }\n", "inputs"),
            "{ pkgs\n, inputs\n, ... }: { }\n"
        );
        assert_eq!(
            with_formal("{\n  pkgs,\n  ...\n}: { }\n", "inputs"),
            "{\n  pkgs,\n  inputs,\n  ...\n}: { }\n"
        );
        assert_eq!(
            with_formal("{ pkgs, ... }: { }\n", "inputs"),
            "{ pkgs, inputs, ... }: { }\n"
        );
    }

    #[test]
    fn an_insertion_after_a_multibyte_character_in_a_crlf_file_is_placed_as_is() {
        // The CRLF check looks at the byte before the insertion, which may
        // be inside a character.
        let text = "[ \"é\" ]\r\n";
        let after_e = text.find('é').unwrap() + 'é'.len_utf8();
        let out = apply(Path::new("x.nix"), text, vec![Splice::insert(after_e, "x")]).unwrap();
        assert_eq!(out, "[ \"éx\" ]\r\n");
    }

    #[test]
    fn overlapping_splices_are_refused() {
        let err = apply(
            Path::new("x.nix"),
            "{ a = 1; }",
            vec![Splice::replace(2..5, "b"), Splice::replace(4..6, "c")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("overlapping"), "{err}");
    }
}
