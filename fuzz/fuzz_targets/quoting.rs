//! Any string quoted for Nix is one string literal, without
//! interpolation, whose value is that string.

#![no_main]

use std::path::Path;

use flake_migrate::syntax;
use libfuzzer_sys::fuzz_target;
use rowan::ast::AstNode;

fuzz_target!(|s: &str| {
    if s.contains('\0') {
        return; // Nix strings hold no NUL
    }
    let quoted = syntax::nix_string(s);
    let root = syntax::parse(Path::new("q.nix"), &quoted).expect("a quoted string parses");
    let lit = root
        .syntax()
        .descendants()
        .find_map(rnix::ast::Str::cast)
        .expect("a string literal");
    assert_eq!(syntax::string_literal(&lit).as_deref(), Some(s));
});
