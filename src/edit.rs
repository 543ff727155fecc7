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
        out.push_str(&s.text);
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
