//! The record of what was applied, `.flake-migrate/state.toml`, committed in
//! the same commit as the change it describes, so every checkout shows a
//! consistent state. It does not name the commit that applied a step (a
//! commit cannot contain its own id); that is found by the `Migration:`
//! trailer in history.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Variant;
use crate::error::{Error, Result};

pub const STATE_FILE: &str = ".flake-migrate/state.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct State {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<Applied>,
    /// The last successful verification (step 0006).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Successful switches (step 0007).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switch: Vec<Switch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Applied {
    pub id: String,
    pub checksum: String,
    /// Recorded without edits because the repository already satisfied it.
    #[serde(default)]
    pub adopted: bool,
    /// Blob ids of each file before and after, for the inverse edit when the
    /// step's commit is no longer in history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileChange>,
    /// What the step's edits did not carry over from the old overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_carried: Vec<NotCarried>,
}

impl Applied {
    /// The record of migration `m` done without edits of its own: adopted
    /// (the repository already satisfied it), verified, or switched.
    pub fn without_edits(m: &crate::catalogue::Migration, adopted: bool) -> Applied {
        Applied {
            id: m.id.clone(),
            checksum: m.checksum.clone(),
            adopted,
            files: Vec::new(),
            not_carried: Vec::new(),
        }
    }
}

/// Something an old override did that the migration does not carry over
/// (a cmake flag no option expresses, a revision the input could not
/// take). `status` shows it until the user edits the entries of the hosts
/// it concerns in flake-migrate.toml: that edit is the acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NotCarried {
    /// `GGML_SCHED_MAX_COPIES=1`, as the notes name it.
    pub what: String,
    /// `file:line:col` of the old override it was in.
    pub at: String,
    /// The configured hosts whose old build had it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The checksum of those hosts' entries when it was recorded
    /// (`config::Document::entries_checksum`).
    #[serde(default)]
    pub entries: String,
}

impl NotCarried {
    pub fn new(what: impl Into<String>, at: impl Into<String>, hosts: Vec<String>) -> Self {
        NotCarried {
            what: what.into(),
            at: at.into(),
            hosts,
            entries: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChange {
    pub path: PathBuf,
    /// Empty when the file did not exist.
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Verification {
    /// Tree id of the verified content, without `.flake-migrate/`.
    pub tree: String,
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Switch {
    pub host: String,
    pub variant: Variant,
    /// `switch` when flake-migrate ran it, `confirmed` when the user said so,
    /// `configuration-revision` when the running system reported it.
    pub how: String,
    /// The commit the switch was made from, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit: String,
}

impl State {
    pub fn parse(text: &str) -> Result<State> {
        toml::from_str(text).map_err(|e| Error::Config {
            path: PathBuf::from(STATE_FILE),
            message: e.to_string(),
        })
    }

    pub fn load(root: &Path) -> Result<State> {
        let path = root.join(STATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => State::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    pub fn to_toml(&self) -> String {
        format!(
            "# Written by flake-migrate; do not edit. `flake-migrate status` reads it.\n{}",
            toml::to_string(self).expect("state serializes")
        )
    }

    pub fn get(&self, id: &str) -> Option<&Applied> {
        self.applied.iter().find(|a| a.id == id)
    }

    pub fn is_applied(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn record(&mut self, applied: Applied) {
        self.applied.retain(|a| a.id != applied.id);
        self.applied.push(applied);
        self.applied.sort_by(|a, b| a.id.cmp(&b.id));
    }

    pub fn forget(&mut self, id: &str) {
        self.applied.retain(|a| a.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let mut state = State::default();
        state.record(Applied {
            id: "0002-overlay-file".into(),
            checksum: "abc".into(),
            adopted: false,
            files: vec![FileChange {
                path: "nixos/overlays/llama-cpp.nix".into(),
                before: String::new(),
                after: "123".into(),
            }],
            not_carried: vec![NotCarried {
                what: "GGML_SCHED_MAX_COPIES=1".into(),
                at: "hosts/neon.nix:12:5".into(),
                hosts: vec!["neon".into()],
                entries: "abc".into(),
            }],
        });
        state.record(Applied {
            id: "0001-flake-input".into(),
            checksum: "def".into(),
            adopted: true,
            files: vec![],
            not_carried: vec![],
        });
        let parsed = State::parse(&state.to_toml()).unwrap();
        assert_eq!(parsed, state);
        assert_eq!(parsed.applied[0].id, "0001-flake-input");
    }
}
