//! rnix's parse errors in the words nix and rustc use: what was found,
//! what could have come there, and where. rnix names tokens by their kind
//! (`TOKEN_SEMICOLON`) and reports positions as byte ranges; a person reads
//! "unexpected `;`: expected an expression or `]`".

use std::ops::Range;

use rnix::{ParseError, SyntaxKind, SyntaxKind::*, SyntaxNode, TextSize};

/// One syntax error: the bytes it is about, what is wrong, and the label
/// under the caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub range: Range<usize>,
    pub message: String,
    pub label: String,
}

/// The tokens rnix wants where an expression (a list element, a value)
/// must start.
const EXPRESSION_START: [SyntaxKind; 6] = [
    TOKEN_L_PAREN,
    TOKEN_REC,
    TOKEN_L_BRACE,
    TOKEN_L_BRACK,
    TOKEN_STRING_START,
    TOKEN_IDENT,
];

/// The first error of a parse, described; `root` is the (partial) tree,
/// which says what the error sits in (a list can also be closed).
pub fn describe(err: &ParseError, root: &SyntaxNode, text: &str) -> Problem {
    let end = text.len()..text.len();
    let range = |r: &rnix::TextRange| usize::from(r.start())..usize::from(r.end());
    let (range, message, label) = match err {
        ParseError::UnexpectedWanted(got, at, wanted) => {
            let at = range(at);
            let mut expected = expected(wanted);
            if let Some("]") = open_bracket(root, at.start) {
                let closer = "`]`".to_string();
                if !expected.contains(&closer) {
                    expected.push(closer);
                }
            }
            if *got == TOKEN_ERROR && wanted.contains(&TOKEN_STRING_END) {
                // The caret goes under the opening quote.
                let start = at.start - usize::from(text[..at.start].ends_with('"'));
                return Problem {
                    range: start..start + 1,
                    message: "a string is not closed: expected `\"`".to_string(),
                    label: "this string has no closing `\"`".to_string(),
                };
            }
            let found = found(&text[at.clone()]);
            let label = format!("expected {}", or_list(&expected));
            (
                at,
                format!("unexpected {found}: expected {}", or_list(&expected)),
                label,
            )
        }
        ParseError::UnexpectedEOFWanted(wanted) => {
            let expected = expected(wanted);
            let message = if wanted.contains(&TOKEN_STRING_END) {
                "unexpected end of file: a string is not closed".to_string()
            } else {
                format!("unexpected end of file: expected {}", or_list(&expected))
            };
            (end, message, "the file ends here".to_string())
        }
        ParseError::UnexpectedEOF => {
            let message = match open_bracket(root, text.len()) {
                Some(closer) => format!("unexpected end of file: expected `{closer}`"),
                None => "unexpected end of file".to_string(),
            };
            (end, message, "the file ends here".to_string())
        }
        ParseError::UnexpectedExtra(at) => {
            let at = range(at);
            let found = found(&text[at.clone()]);
            (
                at,
                format!("unexpected {found} after the end of the expression"),
                "nothing may follow the file's expression".to_string(),
            )
        }
        ParseError::Unexpected(at) => {
            let at = range(at);
            let found = found(&text[at.clone()]);
            (
                at,
                format!("unexpected {found}"),
                "not valid here".to_string(),
            )
        }
        ParseError::UnexpectedDoubleBind(at) => (
            range(at),
            "a function argument is bound twice (`args @ { … } @ more`)".to_string(),
            "second binding".to_string(),
        ),
        ParseError::DuplicatedArgs(at, name) => (
            range(at),
            format!("the function argument `{name}` is listed twice"),
            "listed again here".to_string(),
        ),
        ParseError::RecursionLimitExceeded => (
            0..0,
            "the expression is nested too deeply to read".to_string(),
            "in this file".to_string(),
        ),
        other => (0..0, other.to_string(), "here".to_string()),
    };
    Problem {
        range,
        message,
        label,
    }
}

/// What was found, quoted as written: "`;`", "`=`", "`foo`".
fn found(written: &str) -> String {
    let first_line = written.lines().next().unwrap_or("").trim();
    match first_line {
        "" => "end of line".to_string(),
        s if s.chars().count() > 30 => format!("`{}…`", s.chars().take(30).collect::<String>()),
        s => format!("`{s}`"),
    }
}

/// The wanted kinds in words, each once, the expression-start set as "an
/// expression".
fn expected(wanted: &[SyntaxKind]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest: Vec<SyntaxKind> = wanted.to_vec();
    if EXPRESSION_START.iter().all(|k| wanted.contains(k)) {
        out.push("an expression".to_string());
        rest.retain(|k| !EXPRESSION_START.contains(k));
    }
    for kind in rest {
        let word = name(kind);
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The closing bracket of the innermost list, set or parenthesis still open
/// at `offset`, in the partial tree; `None` when the innermost of them (or
/// a binding's value) is closed or there is none. In a list an element or
/// `]` may come next; in a set only after a binding's `;`.
fn open_bracket(root: &SyntaxNode, offset: usize) -> Option<&'static str> {
    let at = TextSize::try_from(offset.min(usize::from(root.text_range().end()))).ok()?;
    let mut token = root.token_at_offset(at).left_biased()?;
    while token.kind().is_trivia() || usize::from(token.text_range().start()) >= offset {
        token = token.prev_token()?;
    }
    // Closed before `offset`: the parser's recovery may have put a closer
    // that comes later into the node.
    let closed_by = |node: &SyntaxNode, kind: SyntaxKind| {
        node.last_token()
            .is_some_and(|t| t.kind() == kind && usize::from(t.text_range().start()) < offset)
    };
    token.parent_ancestors().find_map(|node| {
        let closer = match node.kind() {
            NODE_LIST => (TOKEN_R_BRACK, "]"),
            NODE_ATTR_SET => (TOKEN_R_BRACE, "}"),
            NODE_PAREN => (TOKEN_R_PAREN, ")"),
            NODE_ATTRPATH_VALUE if closed_by(&node, TOKEN_SEMICOLON) => return None,
            NODE_ATTRPATH_VALUE => return Some(None),
            _ => return None,
        };
        Some((!closed_by(&node, closer.0)).then_some(closer.1))
    })?
}

/// A token kind as nix's manual writes it.
fn name(kind: SyntaxKind) -> String {
    let quoted = match kind {
        TOKEN_ADD => "+",
        TOKEN_AND_AND => "&&",
        TOKEN_ASSIGN => "=",
        TOKEN_ASSERT => "assert",
        TOKEN_AT => "@",
        TOKEN_COLON => ":",
        TOKEN_COMMA => ",",
        TOKEN_CONCAT => "++",
        TOKEN_CUR_POS => "__curPos",
        TOKEN_DIV => "/",
        TOKEN_DOT => ".",
        TOKEN_ELLIPSIS => "...",
        TOKEN_ELSE => "else",
        TOKEN_EQUAL => "==",
        TOKEN_IF => "if",
        TOKEN_IMPLICATION => "->",
        TOKEN_IN => "in",
        TOKEN_INHERIT => "inherit",
        TOKEN_INTERPOL_END => "}",
        TOKEN_INTERPOL_START => "${",
        TOKEN_INVERT => "!",
        TOKEN_L_BRACE => "{",
        TOKEN_L_BRACK => "[",
        TOKEN_L_PAREN => "(",
        TOKEN_LESS => "<",
        TOKEN_LESS_OR_EQ => "<=",
        TOKEN_LET => "let",
        TOKEN_MORE => ">",
        TOKEN_MORE_OR_EQ => ">=",
        TOKEN_MUL => "*",
        TOKEN_NOT_EQUAL => "!=",
        TOKEN_OR => "or",
        TOKEN_OR_OR => "||",
        TOKEN_PIPE_LEFT => "<|",
        TOKEN_PIPE_RIGHT => "|>",
        TOKEN_QUESTION => "?",
        TOKEN_R_BRACE => "}",
        TOKEN_R_BRACK => "]",
        TOKEN_R_PAREN => ")",
        TOKEN_REC => "rec",
        TOKEN_SEMICOLON => ";",
        TOKEN_STRING_END | TOKEN_STRING_START => "\"",
        TOKEN_SUB => "-",
        TOKEN_THEN => "then",
        TOKEN_UPDATE => "//",
        TOKEN_WITH => "with",
        TOKEN_IDENT => return "a name".to_string(),
        TOKEN_INTEGER | TOKEN_FLOAT => return "a number".to_string(),
        TOKEN_STRING_CONTENT => return "string text".to_string(),
        TOKEN_PATH_ABS | TOKEN_PATH_HOME | TOKEN_PATH_REL | TOKEN_PATH_SEARCH => {
            return "a path".to_string();
        }
        TOKEN_URI => return "a URL".to_string(),
        other => return format!("{other:?}"),
    };
    format!("`{quoted}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Problem {
        let parsed = rnix::Root::parse(text);
        describe(&parsed.errors()[0], &parsed.syntax(), text)
    }

    #[test]
    fn a_semicolon_inside_a_list_wants_an_element_or_the_closing_bracket() {
        let p = first("{ environment.systemPackages = with pkgs; [ llama-cpp; ]; }");
        assert_eq!(p.message, "unexpected `;`: expected an expression or `]`");
        assert_eq!(p.range, 53..54);
    }

    #[test]
    fn a_missing_value_wants_an_expression() {
        let p = first("{ a = ; }");
        assert_eq!(p.message, "unexpected `;`: expected an expression");
        assert_eq!(p.label, "expected an expression");
    }

    #[test]
    fn a_missing_semicolon_names_it() {
        let p = first("{ a = 1 }");
        assert_eq!(p.message, "unexpected `}`: expected `;`");
    }

    #[test]
    fn the_end_of_file_inside_a_set_wants_its_closing_brace() {
        let p = first("{ a = 1;\n");
        assert_eq!(p.message, "unexpected end of file: expected `}`");
        assert_eq!(p.range, 9..9);
    }

    #[test]
    fn an_unterminated_string_says_so() {
        let p = first("{ x = \"abc; }");
        assert_eq!(p.message, "a string is not closed: expected `\"`");
        assert_eq!(p.range, 6..7);
    }

    #[test]
    fn text_after_the_expression_is_extra() {
        let p = first("{ a = 1; } }");
        assert_eq!(p.message, "unexpected `}` after the end of the expression");
    }
}
