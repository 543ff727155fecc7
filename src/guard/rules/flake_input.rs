//! `flake-input` (after 0001): the upstream llama.cpp input is still
//! declared, points at upstream, and follows nixpkgs.

use std::path::Path;

use rowan::ast::AstNode;

use crate::catalogue::{self, Operation};
use crate::error::Result;
use crate::flake::{FLAKE_FILE, Flake, follow_target, is_upstream};
use crate::guard::{Finding, Rule, Scope};
use crate::syntax;

pub const RULE: Rule = Rule {
    id: "flake-input",
    summary: "the upstream llama.cpp flake input must stay, and follow nixpkgs",
    help: "declare it again in `inputs`: `llama-cpp = { url = \"github:ggml-org/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs\"; };`",
    explanation: "\
Step 0001 added the upstream flake `github:ggml-org/llama.cpp` as an input that
follows your nixpkgs, so upstream builds against the same nixpkgs as your hosts
(one nixpkgs in the closure, not two). The overlay (step 0002) reads its
packages, so without the input no host evaluates.

This rule fails when flake.nix no longer declares the input (name from
`input` in flake-migrate.toml), when its url points elsewhere (a fork: see
also `llama-cpp-fork-input`), or when `inputs.nixpkgs.follows` is gone or
names another input.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let path = Path::new(FLAKE_FILE);
    if !scope.covers(path) {
        return Ok(Vec::new());
    }
    let Some(src) = scope.source(path)? else {
        return Ok(vec![Finding::missing(path, "flake.nix is missing")]);
    };
    let Ok(flake) = Flake::read(src.root().clone()) else {
        return Ok(Vec::new());
    };
    let input = scope.config.input.as_str();
    let url = scope.config.url.as_str();
    let follows = followed_input();
    // The input step 0001 made it follow: `nixpkgs`, or the nixpkgs input
    // the hosts are built with when the flake has none of that name.
    let target = follow_target(&flake, &src.text, follows);
    let shown = target.as_deref().unwrap_or(follows);
    let entries = flake.input_entries();
    let own: Vec<_> = entries.iter().filter(|e| e.input() == input).collect();
    let Some(first) = own.first() else {
        let range = flake
            .top_entries("inputs")
            .first()
            .and_then(|(_, apv)| apv.attrpath())
            .map(|p| syntax::range(p.syntax().text_range()))
            .or_else(|| {
                flake
                    .top
                    .l_curly_token()
                    .map(|t| syntax::range(t.text_range()))
            })
            .unwrap_or(0..0);
        return Ok(vec![
            Finding::at(path, range, format!("flake input `{input}` is missing"))
                .label(format!("`{input}` is not among these inputs"))
                .help(format!(
                    "declare it again: `{input} = {{ url = \"{url}\"; inputs.{follows}.follows = \"{shown}\"; }};`"
                )),
        ]);
    };
    let mut out = Vec::new();
    let value_range = |e: &crate::flake::InputEntry| syntax::range(e.value.syntax().text_range());
    let url_entry = own.iter().find(|e| e.path[1..] == ["url"]);
    match url_entry {
        Some(e) => {
            if let Some(found) = e.string_value()
                && !is_upstream(&found, url)
            {
                out.push(
                    Finding::at(
                        path,
                        value_range(e),
                        format!("flake input `{input}` points at `{found}`, not at upstream"),
                    )
                    .label(format!("expected `{url}`"))
                    .help(format!(
                        "point it at `{url}` (a tag or revision after it is fine)"
                    )),
                );
            }
        }
        None => out.push(
            Finding::at(
                path,
                syntax::range(first.entry.syntax().text_range()),
                format!("flake input `{input}` has no `url`"),
            )
            .help(format!("set `inputs.{input}.url = \"{url}\";`")),
        ),
    }
    let Some(target) = target.as_deref() else {
        // No nixpkgs input to follow: 0001 refuses such a flake, and there is
        // no follows to expect.
        return Ok(out);
    };
    let follow_path = ["inputs", follows, "follows"];
    match own.iter().find(|e| e.path[1..] == follow_path) {
        Some(e) if e.string_value().as_deref() == Some(target) => {}
        Some(e) => out.push(
            Finding::at(
                path,
                value_range(e),
                format!("flake input `{input}` no longer follows `{target}`"),
            )
            .label(format!("expected \"{target}\""))
            .help(format!(
                "set `inputs.{input}.inputs.{follows}.follows = \"{target}\";` so upstream builds against your hosts' nixpkgs"
            )),
        ),
        None => {
            let anchor = url_entry.copied().unwrap_or(first);
            out.push(
                Finding::at(
                    path,
                    syntax::range(anchor.entry.syntax().text_range()),
                    format!("flake input `{input}` does not follow `{target}`"),
                )
                .label(format!("`inputs.{follows}.follows` is missing here"))
                .help(format!(
                    "add `inputs.{follows}.follows = \"{target}\";` to the `{input}` input"
                )),
            );
        }
    }
    Ok(out)
}

/// The input 0001 makes ours follow, from its definition.
fn followed_input() -> &'static str {
    static FOLLOWS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FOLLOWS.get_or_init(|| {
        catalogue::bundled()
            .into_iter()
            .find_map(|m| match m.operation {
                Operation::AddFlakeInput { follows } => Some(follows),
                _ => None,
            })
            .unwrap_or_else(|| "nixpkgs".into())
    })
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    #[test]
    fn triggers_when_the_input_is_gone_or_does_not_follow() {
        let missing = findings(
            &super::RULE,
            &[(
                "flake.nix",
                "{ inputs.nixpkgs.url = \"a\"; outputs = _: {}; }",
            )],
        );
        assert_eq!(
            missing,
            ["flake.nix:1:3: flake input `llama-cpp` is missing"]
        );

        let no_follow = findings(
            &super::RULE,
            &[(
                "flake.nix",
                "{\n  inputs.nixpkgs.url = \"a\";\n  inputs.llama-cpp.url = \"github:ggml-org/llama.cpp\";\n  outputs = _: {};\n}",
            )],
        );
        assert_eq!(
            no_follow,
            ["flake.nix:3:3: flake input `llama-cpp` does not follow `nixpkgs`"]
        );

        let fork = findings(
            &super::RULE,
            &[(
                "flake.nix",
                "{ inputs = { nixpkgs.url = \"a\"; llama-cpp = { url = \"github:me/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs-stable\"; }; }; }",
            )],
        );
        assert_eq!(fork.len(), 2, "{fork:?}");
        assert!(fork[0].contains("points at `github:me/llama.cpp`"));
        assert!(fork[1].contains("no longer follows `nixpkgs`"));
    }

    #[test]
    fn follows_the_nixpkgs_input_the_hosts_are_built_with() {
        let flake = |follows: &str| {
            format!(
                "{{\n  inputs.nixpkgs-unstable.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  inputs.llama-cpp = {{ url = \"github:GGML-org/llama.cpp\"; inputs.nixpkgs.follows = \"{follows}\"; }};\n  outputs = {{ nixpkgs-unstable, ... }}: {{ nixosConfigurations.a = nixpkgs-unstable.lib.nixosSystem {{ modules = [ ]; }}; }};\n}}"
            )
        };
        assert_eq!(
            findings(&super::RULE, &[("flake.nix", &flake("nixpkgs-unstable"))]),
            Vec::<String>::new()
        );
        assert_eq!(
            findings(&super::RULE, &[("flake.nix", &flake("nixpkgs"))]),
            ["flake.nix:3:84: flake input `llama-cpp` no longer follows `nixpkgs-unstable`"]
        );
    }

    #[test]
    fn accepts_nested_dotted_and_pinned_forms() {
        for text in [
            "{ inputs = { nixpkgs.url = \"a\"; llama-cpp = { url = \"github:ggml-org/llama.cpp\"; inputs.nixpkgs.follows = \"nixpkgs\"; }; }; }",
            "{ inputs.llama-cpp.url = \"github:ggml-org/llama.cpp/b6000\"; inputs.llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\"; }",
        ] {
            assert!(
                findings(&super::RULE, &[("flake.nix", text)]).is_empty(),
                "{text}"
            );
        }
    }
}
