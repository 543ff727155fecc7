//! `flake-migrate.toml` as the user wrote it, for the tool's own edits
//! (`init`'s hosts and options, 0001 naming a reused input): only the value
//! that changes is rewritten; comments, blank lines, the other keys and
//! their order stay as they are.

use std::path::Path;

use toml_edit::{Decor, DocumentMut, InlineTable, Item, Key, Table, TableLike, Value};

use super::Build;
use crate::error::{Error, Result};

pub struct Document(DocumentMut);

impl Document {
    pub fn parse(path: &Path, text: &str) -> Result<Document> {
        text.parse::<DocumentMut>()
            .map(Document)
            .map_err(|e| super::toml_error(path, text, e.message(), e.span()))
    }

    /// `input = "name"`: the value replaced in place, or a new key after
    /// the file's other top-level settings.
    pub fn set_input(&mut self, name: &str) {
        let root = self.0.as_table_mut();
        if root.contains_key("input") {
            set_keeping_decor(root, "input", Value::from(name));
            return;
        }
        // With no top-level setting yet, the comments heading the file sit
        // above its first table; they stay on top, above the new key.
        let mut above = String::new();
        if !root.iter().any(|(_, item)| item.is_value())
            && let Some(first) = root
                .iter_mut()
                .filter_map(|(_, item)| item.as_table_mut())
                .min_by_key(|t| t.position())
        {
            above = first
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            first.decor_mut().set_prefix("\n");
        }
        let key = Key::new("input").with_leaf_decor(Decor::new(above, " "));
        root.insert_formatted(&key, Item::Value(Value::from(name)));
    }

    /// `host = "vulkan"`, or `host = { variant = "vulkan", native = true }`
    /// when the build has options; an existing entry keeps its place and
    /// the comment on its line.
    pub fn set_build(&mut self, host: &str, build: &Build) {
        let hosts = self
            .0
            .as_table_mut()
            .entry("hosts")
            .or_insert_with(|| Item::Table(Table::new()));
        let value = entry_value(build);
        match hosts.as_table_like_mut() {
            Some(t) => set_keeping_decor(t, host, value),
            None => {
                // `hosts` is not a table: the config would not have parsed.
                let mut t = Table::new();
                t.insert(host, Item::Value(value));
                *hosts = Item::Table(t);
            }
        }
    }

    /// A host's entry as written: the comment lines directly above it, the
    /// key, its value and the comment on its line. `None`: no such host.
    pub fn host_entry(&self, host: &str) -> Option<String> {
        let hosts = self.0.get("hosts")?.as_table_like()?;
        let (key, item) = hosts.get_key_value(host)?;
        let above = key
            .leaf_decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("");
        let beside = key
            .leaf_decor()
            .suffix()
            .and_then(|s| s.as_str())
            .unwrap_or("");
        Some(format!("{above}{}{beside}={item}", key.display_repr()))
    }
}

impl Document {
    /// The file at the flake's root, `None` when there is none.
    pub fn load(root: &Path) -> Result<Option<Document>> {
        let path = root.join(super::CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Document::parse(&path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// A checksum of what the user wrote for `hosts` (each [`host_entry`],
    /// a missing host as nothing; for no hosts, the whole `[hosts]` table):
    /// it changes when the user edits any of those entries, comments on or
    /// above them included.
    ///
    /// [`host_entry`]: Document::host_entry
    pub fn entries_checksum(&self, hosts: &[String]) -> String {
        let text = if hosts.is_empty() {
            self.0
                .get("hosts")
                .map(|h| h.to_string())
                .unwrap_or_default()
        } else {
            hosts
                .iter()
                .map(|h| self.host_entry(h).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        };
        git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
            .map(|o| o.to_string())
            .unwrap_or_default()
    }
}

impl std::fmt::Display for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The value of a host's entry: the short form without options.
fn entry_value(build: &Build) -> Value {
    if build.options.is_empty() {
        return Value::from(build.base.name());
    }
    let mut table = InlineTable::new();
    table.insert("variant", Value::from(build.base.name()));
    if let Ok(toml::Value::Table(options)) = toml::Value::try_from(&build.options) {
        for (k, v) in options {
            // toml's rendering of a value is TOML, so toml_edit reads it back.
            if let Ok(v) = v.to_string().parse::<Value>() {
                table.insert(&k, v);
            }
        }
    }
    table.fmt();
    Value::InlineTable(table)
}

/// Sets `key`, keeping the whitespace and comment around an existing value.
fn set_keeping_decor(table: &mut dyn TableLike, key: &str, value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = value;
            *old.decor_mut() = decor;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

/// The comment a new config file starts with; a fleet with a Mac (`metal`)
/// is told of the Apple Silicon variant too.
pub(super) fn header(metal: bool) -> String {
    let metal = if metal {
        "\n# metal: Apple Silicon (upstream `default` on aarch64-darwin, the Metal build)."
    } else {
        ""
    };
    format!(
        "# flake-migrate: which upstream llama.cpp variant each host gets.\n\
         # Variants: cpu (upstream `default`, portable, GGML_NATIVE off), cuda, vulkan, rocm.{metal}\n\
         # Hosts not listed under [hosts] do not use llama.cpp and are left untouched.\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Variant};

    const WRITTEN: &str = "\
# Our fleet. Keep this file short.
overlay = \"nix/llama.nix\" # moved here in 2024
input = \"llama\"

[guard]
# legacy builds stay on nixpkgs
exclude = [\"legacy/**\"]

[hosts]
# the workstation
neon = \"cuda\"   # RTX 4090
argon = \"cpu\"
";

    #[test]
    fn edits_keep_comments_order_and_untouched_lines() {
        let path = Path::new("flake-migrate.toml");
        let mut doc = Document::parse(path, WRITTEN).unwrap();
        doc.set_input("llama-cpp");
        doc.set_build("neon", &Build::parse("cuda-native").unwrap());
        doc.set_build("carbon", &Build::from(Variant::Vulkan));
        let text = doc.to_string();
        assert_eq!(
            text,
            WRITTEN
                .replace("input = \"llama\"", "input = \"llama-cpp\"")
                .replace(
                    "neon = \"cuda\"   # RTX 4090",
                    "neon = { variant = \"cuda\", native = true }   # RTX 4090"
                )
                + "carbon = \"vulkan\"\n"
        );
        let config = Config::parse(path, &text).unwrap();
        assert_eq!(
            config.package_attr("neon").unwrap(),
            "llama-cpp-cuda-native"
        );
        assert_eq!(config.input, "llama-cpp");
    }

    #[test]
    fn a_host_entry_is_its_comments_key_and_value() {
        let doc = Document::parse(Path::new("x"), WRITTEN).unwrap();
        let neon = doc.host_entry("neon").unwrap();
        assert!(neon.contains("# the workstation"), "{neon}");
        assert!(neon.contains("neon = \"cuda\"   # RTX 4090"), "{neon}");
        assert!(!neon.contains("argon"), "{neon}");
        assert_eq!(doc.host_entry("argon").unwrap(), "argon = \"cpu\"");
        assert!(doc.host_entry("boron").is_none());
    }

    #[test]
    fn the_checksum_changes_with_the_hosts_entries_only() {
        let path = Path::new("x");
        let doc = Document::parse(path, WRITTEN).unwrap();
        let neon = doc.entries_checksum(&["neon".to_string()]);
        let other = WRITTEN.replace("argon = \"cpu\"", "argon = \"cuda\"");
        let same = Document::parse(path, &other).unwrap();
        assert_eq!(same.entries_checksum(&["neon".to_string()]), neon);
        assert_ne!(same.entries_checksum(&[]), doc.entries_checksum(&[]));
        let commented = WRITTEN.replace("# RTX 4090", "# RTX 4090; SCHED_MAX_COPIES not needed");
        let edited = Document::parse(path, &commented).unwrap();
        assert_ne!(edited.entries_checksum(&["neon".to_string()]), neon);
    }
}
