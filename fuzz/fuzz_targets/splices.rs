//! Arbitrary Nix text and splices at its token boundaries (where the
//! steps place theirs): applying them never panics, and either refuses or
//! gives text that parses with every byte outside the splices kept.

#![no_main]

use std::path::Path;

use flake_migrate::edit::{self, Splice};
use flake_migrate::syntax;
use libfuzzer_sys::fuzz_target;
use rowan::ast::AstNode;

const TEXTS: [&str; 4] = ["", "\n  a = 1;", " # c\n", "x"];

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (picks, text) = rest.split_at(rest.len().min(2 * (n as usize % 4)));
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(root) = syntax::parse(Path::new("x.nix"), text) else {
        return;
    };
    let bounds: Vec<usize> = root
        .syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .map(|t| usize::from(t.text_range().end()))
        .collect();
    if bounds.is_empty() {
        return;
    }
    let splices: Vec<Splice> = picks
        .chunks(2)
        .map(|p| {
            let at = bounds[p[0] as usize % bounds.len()];
            let body = TEXTS[*p.get(1).unwrap_or(&0) as usize % TEXTS.len()];
            Splice::insert(at, body)
        })
        .collect();
    if let Ok(out) = edit::apply(Path::new("x.nix"), text, splices) {
        assert!(syntax::parse(Path::new("x.nix"), &out).is_ok());
        // Insertions only: every byte of the text is still there, in order.
        assert!(
            is_subsequence(text.as_bytes(), out.as_bytes()),
            "a byte outside the splices changed"
        );
    }
});

/// Whether `small`'s bytes appear in `big` in order.
fn is_subsequence(small: &[u8], big: &[u8]) -> bool {
    let mut it = big.iter();
    small.iter().all(|b| it.any(|c| c == b))
}
