//! `llama-cpp-fork-input` (after 0005): no flake input pins another copy of
//! llama.cpp (a fork, or a `flake = false` source checkout).

use std::path::Path;

use rowan::ast::AstNode;

use crate::error::Result;
use crate::flake::{FLAKE_FILE, Flake};
use crate::guard::{Finding, Rule, Scope};
use crate::syntax;

pub const RULE: Rule = Rule {
    id: "llama-cpp-fork-input",
    summary: "no flake input may pin another llama.cpp source",
    help: "remove the input and its uses; hosts get llama.cpp from the upstream input through the overlay",
    explanation: "\
Step 0005 removed inputs that pinned other llama.cpp sources: forks
(`github:someone/llama.cpp/branch`) and source checkouts (`flake = false`)
that an `overrideAttrs` built nixpkgs' llama-cpp from. One llama.cpp, the
upstream input, is what the migration is for.

This rule fails for any input other than the upstream one (`input` in
flake-migrate.toml) whose url, or `repo` attribute, names a `llama.cpp`
repository. Repositories that merely start with the name, such as
`llama-cpp-python`, are fine.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let path = Path::new(FLAKE_FILE);
    if !scope.covers(path) {
        return Ok(Vec::new());
    }
    let Some(src) = scope.source(path)? else {
        return Ok(Vec::new());
    };
    let Ok(flake) = Flake::read(src.root().clone()) else {
        return Ok(Vec::new());
    };
    let ours = scope.config.input.as_str();
    let entries = flake.input_entries();
    let mut out = Vec::new();
    for e in &entries {
        if e.input() == ours || !e.names_llama_cpp() {
            continue;
        }
        let found = e.string_value().unwrap_or_default();
        out.push(
            Finding::at(
                path,
                syntax::range(e.value.syntax().text_range()),
                format!("flake input `{}` pins another llama.cpp", e.input()),
            )
            .label(format!("`{found}`"))
            .help(format!(
                "remove the `{}` input and its uses: hosts get llama.cpp from `inputs.{ours}` through the overlay",
                e.input()
            )),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    #[test]
    fn forks_and_source_pins_fail() {
        let flake = r#"{
  inputs = {
    llama-cpp = { url = "github:ggml-org/llama.cpp"; inputs.nixpkgs.follows = "nixpkgs"; };
    llama-cpp-src = { url = "github:ggerganov/llama.cpp"; flake = false; };
    llama-fork.url = "git+https://example.org/me/llama.cpp.git?ref=rocm";
    attrs = { type = "github"; owner = "me"; repo = "llama.cpp"; };
    py.url = "github:abetlen/llama-cpp-python";
  };
}"#;
        let found = findings(&super::RULE, &[("flake.nix", flake)]);
        assert_eq!(
            found,
            [
                "flake.nix:4:29: flake input `llama-cpp-src` pins another llama.cpp",
                "flake.nix:5:22: flake input `llama-fork` pins another llama.cpp",
                "flake.nix:6:53: flake input `attrs` pins another llama.cpp",
            ]
        );
    }
}
