//! A place in a file that a message is about: path, line and column, the
//! file's text and the bytes to mark. Errors (`error::Error`) carry it to
//! `output::diagnostic`, which shows the line with a caret, and the guard
//! makes its `syntax-error` findings from it. Depends on nothing else in the
//! crate: `error` and `syntax`, which use each other's types, both use it.

use std::ops::Range;
use std::path::PathBuf;

/// A problem at a place in a file: shown as `path:line:column: message`
/// in one line, and with the file's line and a caret under the place where
/// there is room (`output::diagnostic`).
#[derive(Debug, Clone)]
pub struct Located {
    pub path: PathBuf,
    /// 1-based, the column in characters, as editors and nix count.
    pub line: usize,
    pub column: usize,
    /// What is wrong, in words ("unexpected `;`: expected an expression").
    pub message: String,
    /// Under the caret.
    pub label: String,
    /// The file's text (bytes that are not UTF-8 replaced), for the snippet.
    pub text: String,
    /// Byte range in `text` the caret marks.
    pub range: Range<usize>,
}

impl Located {
    pub fn new(
        path: impl Into<PathBuf>,
        text: impl Into<String>,
        range: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let text = text.into();
        let start = floor_char_boundary(&text, range.start.min(text.len()));
        let end = floor_char_boundary(&text, range.end.clamp(start, text.len()));
        let (line, column) = line_col(&text, start);
        Located {
            path: path.into(),
            line,
            column,
            message: message.into(),
            label: label.into(),
            text,
            range: start..end,
        }
    }
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}
