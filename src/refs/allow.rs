//! The inline exception: a comment `# flake-migrate: allow RULE` at the end
//! of the offending line, or alone on the line before it. Several rules may
//! be named, separated by spaces or commas; `/* … */` comments work too.
//! The guard honours it, and step 0004 leaves such a reference alone.

const MARKER: &str = "flake-migrate: allow";

/// Whether the line holding `offset`, or the one before, allows `rule`.
pub fn is_allowed(text: &str, offset: usize, rule: &str) -> bool {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let this_line = &text[line_start..line_end];
    let previous = match line_start.checked_sub(1) {
        Some(nl) => {
            let start = text[..nl].rfind('\n').map_or(0, |i| i + 1);
            &text[start..nl]
        }
        None => "",
    };
    // A trailing comment speaks for its own line only.
    let previous_is_comment = {
        let t = previous.trim_start();
        t.starts_with('#') || t.starts_with("/*")
    };
    allowed_rules(this_line).any(|r| r == rule)
        || (previous_is_comment && allowed_rules(previous).any(|r| r == rule))
}

/// The rule ids a line's allow comment names.
fn allowed_rules(line: &str) -> impl Iterator<Item = &str> {
    let rest = line.find(MARKER).and_then(|at| {
        let before = &line[..at];
        // Only inside a comment, not in a string that happens to say it.
        (before.contains('#') || before.contains("/*")).then(|| &line[at + MARKER.len()..])
    });
    let rest = rest.unwrap_or("");
    let rest = rest.split("*/").next().unwrap_or("");
    rest.split([' ', ',', '\t'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_on_the_same_line_or_the_line_before() {
        let text = "[\n  # flake-migrate: allow nixpkgs-llama-cpp\n  llama-cpp\n  foo # flake-migrate: allow old-override, nixpkgs-llama-cpp\n  bar\n]";
        let at = |needle: &str| text.find(needle).unwrap();
        assert!(is_allowed(text, at("llama-cpp\n"), "nixpkgs-llama-cpp"));
        assert!(!is_allowed(text, at("llama-cpp\n"), "old-override"));
        assert!(is_allowed(text, at("foo"), "nixpkgs-llama-cpp"));
        assert!(is_allowed(text, at("foo"), "old-override"));
        // A trailing comment does not cover the next line.
        assert!(!is_allowed(text, at("bar"), "old-override"));
        assert!(!is_allowed(text, at("]"), "old-override"));
    }

    #[test]
    fn a_string_is_not_a_comment() {
        let text = "x = \"flake-migrate: allow old-override\";";
        assert!(!is_allowed(text, 0, "old-override"));
        assert!(is_allowed(
            "/* flake-migrate: allow old-override */ x",
            40,
            "old-override"
        ));
    }
}
