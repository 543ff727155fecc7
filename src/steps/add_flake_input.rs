//! 0001: add the upstream flake input, following nixpkgs, in the file's own
//! style, and make `outputs` able to receive it.

use std::path::Path;

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::{Changeset, Context, Plan};
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::flake::{self, FLAKE_FILE, Flake};
pub(crate) use crate::flake::{follow_target, is_upstream};
use crate::syntax::{self, end, start};

pub fn plan(ctx: &Context, follows: &str) -> Result<Plan> {
    let path = Path::new(FLAKE_FILE);
    let Some(text) = ctx.files.read(path)? else {
        return Ok(Plan::blocked(
            "there is no flake.nix at the repository root",
            "run flake-migrate in the repository that holds your flake.nix (or pass -C DIR)",
        ));
    };
    let flake = match flake::parse(&text)? {
        Ok(f) => f,
        Err(why) => {
            return Ok(Plan::blocked(
                why,
                "add the input by hand (see the README), then run `flake-migrate up` to adopt it",
            ));
        }
    };
    let input = ctx.config.input.as_str();
    let url = ctx.config.url.as_str();
    let mut splices = Vec::new();
    let mut notes = Vec::new();

    let entries = flake.input_entries();
    let own: Vec<_> = entries.iter().filter(|e| e.input() == input).collect();
    let Some(target) = follow_target(&flake, &text, follows) else {
        return Ok(Plan::blocked(
            format!("flake.nix has no nixpkgs input for `{input}` to follow"),
            format!("declare `inputs.{follows}.url` explicitly, then run `flake-migrate up` again"),
        ));
    };
    let target = target.as_str();
    if own.is_empty() {
        splices.push(insert_input(&flake, &text, input, url, follows, target));
    } else {
        let url_entry = own.iter().find(|e| e.path[1..] == ["url"]);
        match url_entry.and_then(|e| e.string_value()) {
            Some(found) if is_upstream(&found, url) => {}
            Some(found) => {
                return Ok(Plan::blocked(
                    format!("input `{input}` already points at `{found}`, not at `{url}`"),
                    format!(
                        "point it at `{url}` by hand, or set `input = \"…\"` in flake-migrate.toml to another name"
                    ),
                ));
            }
            None => {
                return Ok(Plan::blocked(
                    format!("input `{input}` has no literal `url`"),
                    format!(
                        "set `inputs.{input}.url = \"{url}\";` by hand, then run `flake-migrate up`"
                    ),
                ));
            }
        }
        let follow_path = ["inputs", "nixpkgs", "follows"].map(String::from);
        let follow_path = [&follow_path[..1], &[follows.to_string()], &follow_path[2..]].concat();
        match own.iter().find(|e| e.path[1..] == follow_path[..]) {
            Some(e) if e.string_value().as_deref() == Some(target) => {}
            Some(e) => {
                return Ok(Plan::blocked(
                    format!(
                        "input `{input}` follows `{}`, not `{target}`",
                        e.string_value().unwrap_or_default()
                    ),
                    format!(
                        "set `inputs.{input}.inputs.{follows}.follows = \"{target}\";` by hand"
                    ),
                ));
            }
            None => {
                let url_entry = url_entry.expect("checked above");
                splices.push(add_follows(&text, &url_entry.entry, follows, target));
            }
        }
    }

    match outputs_formals(&flake, &text, input) {
        Formals::Fine => {}
        Formals::Edit(s) => splices.extend(s),
        Formals::Unknown => notes.push(format!(
            "`outputs` is not written as a function in flake.nix: make sure it receives the `{input}` input"
        )),
    }

    if splices.is_empty() {
        return Ok(Plan::Satisfied);
    }
    let new_text = edit::apply(path, &text, splices)?;
    let mut changes = Changeset {
        notes,
        lock_flake: true,
        ..Changeset::default()
    };
    changes.files.insert(path.to_path_buf(), Some(new_text));
    Ok(Plan::Changes(changes))
}

/// Inserts the new input after the last one, in the style already used.
fn insert_input(
    flake: &Flake,
    text: &str,
    input: &str,
    url: &str,
    follows: &str,
    target: &str,
) -> Splice {
    let unit = syntax::indent_unit(text);
    let follows_line = format!("inputs.{follows}.follows = \"{target}\";");
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
        let lines = if dotted {
            vec![
                format!("{input}.url = \"{url}\";"),
                format!("{input}.{follows_line}"),
            ]
        } else {
            vec![
                format!("{input} = {{"),
                format!("{unit}url = \"{url}\";"),
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
                    format!("{input} = {{ url = \"{url}\"; {follows_line} }};")
                };
                Splice::insert(end(last.syntax()), format!(" {inline}"))
            }
            Some(last) => edit::after_entry(text, last.syntax(), &lines),
        };
    }
    let dotted = flake.top_entries("inputs");
    let lines = vec![
        format!("inputs.{input}.url = \"{url}\";"),
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
fn add_follows(text: &str, url_entry: &ast::AttrpathValue, follows: &str, target: &str) -> Splice {
    let path = url_entry
        .attrpath()
        .map(|p| p.syntax().to_string())
        .unwrap_or_default();
    let prefix = path.strip_suffix("url").unwrap_or("");
    let line = format!("{prefix}inputs.{follows}.follows = \"{target}\";");
    let node = url_entry.syntax();
    if edit::same_line(
        text,
        start(node),
        syntax::end_of_line_after(text, end(node)),
    ) && text[..start(node)].trim_end().ends_with('{')
        && text[end(node)..].trim_start().starts_with('}')
    {
        // `llama-cpp = { url = "…"; };` written on one line stays on one line.
        return Splice::insert(end(node), format!(" {line}"));
    }
    edit::after_entry(text, node, &[line])
}

enum Formals {
    Fine,
    Edit(Vec<Splice>),
    Unknown,
}

/// `outputs` must accept the input (`...` or its name) and bind all inputs
/// (`@inputs`) so the overlay import can say `inherit inputs`.
fn outputs_formals(flake: &Flake, text: &str, input: &str) -> Formals {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::files::WorkTree;
    use crate::record::State;

    fn run(flake_text: &str) -> Plan {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flake.nix"), flake_text).unwrap();
        let files = WorkTree::new(dir.path(), vec!["flake.nix".into()]);
        let config = Config::default();
        let state = State::default();
        let ctx = Context {
            files: &files,
            config: &config,
            state: &state,
        };
        plan(&ctx, "nixpkgs").unwrap()
    }

    fn new_text(flake_text: &str) -> String {
        match run(flake_text) {
            Plan::Changes(c) => c.files[Path::new("flake.nix")].clone().unwrap(),
            other => panic!("expected changes, got {other:?}"),
        }
    }

    #[test]
    fn nested_sets_get_a_nested_set() {
        let out = new_text(
            "{\n  inputs = {\n    nixpkgs.url = \"github:NixOS/nixpkgs\"; # unstable\n    hm = {\n      url = \"x\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n",
        );
        assert_eq!(
            out,
            "{\n  inputs = {\n    nixpkgs.url = \"github:NixOS/nixpkgs\"; # unstable\n    hm = {\n      url = \"x\";\n    };\n    llama-cpp = {\n      url = \"github:ggml-org/llama.cpp\";\n      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n  };\n  outputs = { self, ... }@inputs: { };\n}\n"
        );
    }

    #[test]
    fn dotted_inputs_get_dotted_lines_and_formals_get_the_name_and_binding() {
        let out = new_text(
            "{\n\tinputs.nixpkgs.url = \"n\";\n\n\toutputs = { self, nixpkgs }: { };\n}\n",
        );
        assert_eq!(
            out,
            "{\n\tinputs.nixpkgs.url = \"n\";\n\tinputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n\tinputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n\n\toutputs = { self, nixpkgs, llama-cpp }@inputs: { };\n}\n"
        );
    }

    #[test]
    fn an_existing_input_only_gets_the_missing_follows() {
        let out = new_text(
            "{\n  inputs.nixpkgs.url = \"n\";\n  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n  outputs = inputs: { };\n}\n",
        );
        assert!(out.contains("  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n  inputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n"), "{out}");
        assert_eq!(out.matches("llama-cpp.url").count(), 1);
    }

    #[test]
    fn a_complete_input_is_satisfied() {
        let plan = run(
            "{ inputs.nixpkgs.url = \"n\"; inputs.llama-cpp = { url = \"github:ggml-org/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs\"; }; outputs = { self, ... }@inputs: { }; }",
        );
        assert!(matches!(plan, Plan::Satisfied), "{plan:?}");
    }

    #[test]
    fn a_fork_under_the_same_name_is_refused() {
        let plan = run(
            "{ inputs.nixpkgs.url = \"n\"; inputs.llama-cpp.url = \"github:someone/llama.cpp\"; outputs = inputs: { }; }",
        );
        match plan {
            Plan::Blocked { reason, .. } => assert!(reason.contains("github:someone/llama.cpp")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trailing_comma_formals_keep_their_layout() {
        let out = new_text(
            "{\n  inputs.nixpkgs.url = \"n\";\n  outputs =\n    {\n      self,\n      nixpkgs,\n    }@inputs:\n    { };\n}\n",
        );
        assert!(
            out.contains("      nixpkgs,\n      llama-cpp,\n    }@inputs:"),
            "{out}"
        );
    }
}
