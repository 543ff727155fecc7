//! The bundled plan: one migration per checklist item, defined in
//! `migrations/llama-cpp/*.toml` and embedded in the binary. The engine knows
//! a fixed set of operation kinds; the files choose and parametrize them.

use serde::Deserialize;

use crate::error::{Error, Result};

const BUNDLED: &[(&str, &str)] = &[
    (
        "0001-flake-input.toml",
        include_str!("../migrations/llama-cpp/0001-flake-input.toml"),
    ),
    (
        "0002-overlay-file.toml",
        include_str!("../migrations/llama-cpp/0002-overlay-file.toml"),
    ),
    (
        "0003-import-overlay.toml",
        include_str!("../migrations/llama-cpp/0003-import-overlay.toml"),
    ),
    (
        "0004-host-packages.toml",
        include_str!("../migrations/llama-cpp/0004-host-packages.toml"),
    ),
    (
        "0005-remove-old-override.toml",
        include_str!("../migrations/llama-cpp/0005-remove-old-override.toml"),
    ),
    (
        "0006-flake-check.toml",
        include_str!("../migrations/llama-cpp/0006-flake-check.toml"),
    ),
    (
        "0007-switch.toml",
        include_str!("../migrations/llama-cpp/0007-switch.toml"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub id: String,
    pub title: String,
    /// The subject line of the commit that applies it.
    pub subject: String,
    pub description: String,
    pub operation: Operation,
    pub guard: Guard,
    /// Hash of the definition's text, recorded when applied.
    #[serde(skip)]
    pub checksum: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Operation {
    AddFlakeInput {
        follows: String,
    },
    WriteOverlay {
        #[serde(rename = "max-lines")]
        max_lines: usize,
    },
    ImportOverlay,
    RewriteHostPackages,
    RemoveOldOverride,
    Verify {
        command: Vec<String>,
    },
    Switch,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Rule ids this step turns on once applied.
    pub rules: Vec<String>,
}

impl Migration {
    /// The number part of the id, `1` for `0001-flake-input`.
    pub fn number(&self) -> u32 {
        self.id[..4].parse().expect("ids start with four digits")
    }

    /// Whether `query` names this migration: `3`, `0003` or `0003-import-overlay`.
    pub fn matches(&self, query: &str) -> bool {
        query == self.id || query.parse::<u32>().is_ok_and(|n| n == self.number())
    }
}

/// The bundled migrations, in order.
pub fn bundled() -> Vec<Migration> {
    BUNDLED
        .iter()
        .map(|(file, text)| {
            let mut m: Migration = toml::from_str(text)
                .unwrap_or_else(|e| panic!("bundled migration {file} is invalid: {e}"));
            m.checksum = checksum(text);
            m
        })
        .collect()
}

/// Each bundled step's guard rules, as its definition's `[guard] rules`
/// lists them (a test checks they agree). The pre-commit hook needs only
/// these: parsing the seven definitions (and hashing them for their
/// checksums) was a tenth of what it does on a small commit.
pub const GUARD_RULES: &[(&str, &[&str])] = &[
    ("0001-flake-input", &["flake-input"]),
    ("0002-overlay-file", &["overlay-file"]),
    ("0003-import-overlay", &["overlay-imported"]),
    ("0004-host-packages", &["nixpkgs-llama-cpp"]),
    (
        "0005-remove-old-override",
        &["old-override", "llama-cpp-fork-input", "llama-cpp-override"],
    ),
    ("0006-flake-check", &[]),
    ("0007-switch", &[]),
];

/// A short, stable content hash (git's blob hash of the definition).
pub fn checksum(text: &str) -> String {
    let oid = git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .expect("hashing in memory cannot fail");
    oid.to_string()[..12].to_string()
}

/// Finds a migration by `3`, `0003` or its full id.
pub fn find<'a>(migrations: &'a [Migration], query: &str) -> Result<&'a Migration> {
    migrations.iter().find(|m| m.matches(query)).ok_or_else(|| {
        Error::usage(
            format!("no migration `{query}`"),
            format!(
                "use one of: {}",
                migrations
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_plan_has_the_seven_checklist_items_in_order() {
        let plan = bundled();
        let numbers: Vec<u32> = plan.iter().map(Migration::number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6, 7]);
        assert!(plan.iter().all(|m| m.checksum.len() == 12));
    }

    #[test]
    fn the_guard_rules_table_is_what_the_definitions_say() {
        let from_definitions: Vec<(String, Vec<String>)> = bundled()
            .into_iter()
            .map(|m| (m.id, m.guard.rules))
            .collect();
        let table: Vec<(String, Vec<String>)> = GUARD_RULES
            .iter()
            .map(|(id, rules)| {
                (
                    id.to_string(),
                    rules.iter().map(|r| r.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(table, from_definitions);
    }

    #[test]
    fn ids_are_found_by_number_or_name() {
        let plan = bundled();
        assert_eq!(find(&plan, "3").unwrap().id, "0003-import-overlay");
        assert_eq!(find(&plan, "0003").unwrap().id, "0003-import-overlay");
        assert_eq!(
            find(&plan, "0003-import-overlay").unwrap().id,
            "0003-import-overlay"
        );
        assert!(find(&plan, "9").is_err());
    }
}
