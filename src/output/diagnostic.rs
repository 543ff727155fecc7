//! The one renderer for messages about a place in a file, rustc-style:
//! title, `--> path:line:col`, the source line with a caret under the
//! place, and a help line. The guard's findings and the errors that stop a
//! command (a syntax error, a config that is not TOML, a file that is not
//! UTF-8) both go through it, so they read alike. Rendering is
//! annotate-snippets', the crate rustc and cargo use for the same layout.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

/// What to show. `marked` is `None` for a finding about a whole file (a
/// deleted overlay): only its path is shown.
pub struct Diagnostic<'a> {
    /// A rule's id, shown as `error[id]`.
    pub code: Option<&'a str>,
    pub title: &'a str,
    pub path: &'a str,
    pub marked: Option<Marked<'a>>,
    pub help: Option<&'a str>,
}

/// The file's text and the bytes the caret marks.
pub struct Marked<'a> {
    pub text: &'a str,
    pub range: Range<usize>,
    pub label: Option<&'a str>,
}

fn renderer(color: bool) -> Renderer {
    if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
}

/// The diagnostic as an error, without a trailing newline.
pub fn render(d: &Diagnostic, color: bool) -> String {
    let mut title = Level::ERROR.primary_title(d.title);
    if let Some(code) = d.code {
        title = title.id(code);
    }
    let group: Group = match &d.marked {
        Some(m) => {
            let mut annotation = AnnotationKind::Primary.span(m.range.clone());
            if let Some(label) = m.label {
                annotation = annotation.label(label);
            }
            title.element(
                Snippet::source(m.text)
                    .path(d.path)
                    .fold(true)
                    .annotation(annotation),
            )
        }
        None => title.element(Origin::path(d.path)),
    };
    let group = match d.help {
        Some(help) => group.element(Level::HELP.message(help)),
        None => group,
    };
    renderer(color).render(&[group])
}

/// A one-line error with no place (`error: 2 guard violations in 2 files`).
pub fn render_line(title: &str, color: bool) -> String {
    let title = Level::ERROR.primary_title(title);
    renderer(color).render(&[Group::with_title(title)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_shown_with_its_line_a_caret_and_help() {
        let text = "{\n  a = ;\n}\n";
        let out = render(
            &Diagnostic {
                code: Some("syntax-error"),
                title: "unexpected `;`: expected an expression",
                path: "m.nix",
                marked: Some(Marked {
                    text,
                    range: 8..9,
                    label: Some("expected an expression here"),
                }),
                help: Some("fix it"),
            },
            false,
        );
        assert_eq!(
            out,
            "error[syntax-error]: unexpected `;`: expected an expression
 --> m.nix:2:7
  |
2 |   a = ;
  |       ^ expected an expression here
  |
  = help: fix it"
        );
    }
}
