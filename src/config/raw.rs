//! The config as written: a host is `carbon = "vulkan"` or
//! `carbon = { variant = "vulkan", native = true }`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Config, GuardConfig, Options, Variant};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    #[serde(default = "super::default_input")]
    input: String,
    #[serde(default = "super::default_url")]
    url: String,
    #[serde(default = "super::default_overlay")]
    overlay: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    old_overrides: Vec<PathBuf>,
    #[serde(default)]
    hosts: BTreeMap<String, HostEntry>,
    #[serde(default, skip_serializing_if = "GuardConfig::is_empty")]
    guard: GuardConfig,
}

struct HostEntry {
    variant: Variant,
    options: Options,
}

impl From<RawConfig> for Config {
    fn from(raw: RawConfig) -> Self {
        let mut hosts = BTreeMap::new();
        let mut options = BTreeMap::new();
        for (name, entry) in raw.hosts {
            hosts.insert(name.clone(), entry.variant);
            if !entry.options.is_empty() {
                options.insert(name, entry.options);
            }
        }
        Config {
            input: raw.input,
            url: raw.url,
            overlay: raw.overlay,
            old_overrides: raw.old_overrides,
            hosts,
            options,
            guard: raw.guard,
        }
    }
}

impl From<Config> for RawConfig {
    fn from(c: Config) -> Self {
        let hosts = c
            .hosts
            .iter()
            .map(|(name, variant)| {
                let options = c.options.get(name).cloned().unwrap_or_default();
                let entry = HostEntry {
                    variant: *variant,
                    options,
                };
                (name.clone(), entry)
            })
            .collect();
        RawConfig {
            input: c.input,
            url: c.url,
            overlay: c.overlay,
            old_overrides: c.old_overrides,
            hosts,
            guard: c.guard,
        }
    }
}

impl Serialize for HostEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.options.is_empty() {
            return self.variant.serialize(s);
        }
        let mut table = match toml::Value::try_from(&self.options) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err(serde::ser::Error::custom("options serialize as a table")),
        };
        table.insert("variant".into(), self.variant.name().into());
        table.serialize(s)
    }
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let variant = |name: &str| {
            Variant::parse(name).ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown variant `{name}`, expected one of {}",
                    Variant::ALL.map(Variant::name).join(", ")
                ))
            })
        };
        match toml::Value::deserialize(d)? {
            toml::Value::String(name) => Ok(HostEntry {
                variant: variant(&name)?,
                options: Options::default(),
            }),
            toml::Value::Table(mut table) => {
                let base = match table.remove("variant") {
                    Some(toml::Value::String(name)) => variant(&name)?,
                    _ => {
                        return Err(D::Error::custom(
                            "a host written as a table needs `variant = \"<base>\"`",
                        ));
                    }
                };
                let options = toml::Value::Table(table)
                    .try_into::<Options>()
                    .map_err(|e| D::Error::custom(e.to_string().trim().to_string()))?;
                let build = super::Build { base, options };
                if let Some(why) = build.conflict() {
                    return Err(D::Error::custom(why));
                }
                Ok(HostEntry {
                    variant: build.base,
                    options: build.options,
                })
            }
            other => Err(D::Error::custom(format!(
                "a host is a variant name or a table, not {}",
                other.type_str()
            ))),
        }
    }
}
