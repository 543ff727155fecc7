//! 0007: a successful switch on at least one host per variant. The step is
//! satisfied when every variant in the config has a recorded switch on a
//! host that still has that variant. The switch itself, and recording it,
//! are the `switch` and `confirm` commands' (`commands::switch`).

use std::collections::BTreeMap;

use super::{Context, Plan};
use crate::config::{Config, Variant};
use crate::error::Result;
use crate::record::State;

/// Which variants have a recorded switch, and which hosts could give one to
/// the others.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Variant -> hosts with a recorded switch (and still that variant).
    pub covered: BTreeMap<Variant, Vec<String>>,
    /// Variant -> hosts of that variant, none switched yet.
    pub missing: BTreeMap<Variant, Vec<String>>,
}

impl Coverage {
    pub fn of(config: &Config, state: &State) -> Coverage {
        let mut c = Coverage::default();
        for variant in config.variants() {
            let hosts: Vec<String> = config
                .hosts
                .iter()
                .filter(|(_, v)| **v == variant)
                .map(|(h, _)| h.clone())
                .collect();
            let switched: Vec<String> = hosts
                .iter()
                .filter(|h| {
                    state
                        .switch
                        .iter()
                        .any(|s| &s.host == *h && s.variant == variant)
                })
                .cloned()
                .collect();
            if switched.is_empty() {
                c.missing.insert(variant, hosts);
            } else {
                c.covered.insert(variant, switched);
            }
        }
        c
    }

    pub fn complete(&self) -> bool {
        self.missing.is_empty() && !self.covered.is_empty()
    }

    /// "cuda covered by carbon; no recorded switch yet for vulkan (beryllium)".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .covered
            .iter()
            .map(|(v, hosts)| format!("{v} covered by {}", hosts.join(", ")))
            .collect();
        if !self.missing.is_empty() {
            let missing: Vec<String> = self
                .missing
                .iter()
                .map(|(v, hosts)| format!("{v} ({})", hosts.join(", ")))
                .collect();
            parts.push(format!("no recorded switch yet for {}", missing.join(", ")));
        }
        parts.join("; ")
    }

    /// What to run: "on carbon and on beryllium or neon".
    pub fn help(&self) -> String {
        let places: Vec<String> = self
            .missing
            .values()
            .map(|hosts| format!("on {}", hosts.join(" or ")))
            .collect();
        let places = match places.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => places.join(""),
        };
        format!(
            "run `flake-migrate switch --host H` {places} (or `flake-migrate confirm --host H` for a switch already done there)"
        )
    }
}

pub fn plan(ctx: &Context) -> Result<Plan> {
    let coverage = Coverage::of(ctx.config, ctx.state);
    if ctx.config.hosts.is_empty() {
        return Ok(Plan::blocked(
            "no host has a variant in flake-migrate.toml",
            "add hosts under [hosts], or run `flake-migrate init`",
        ));
    }
    if coverage.complete() {
        return Ok(Plan::Satisfied);
    }
    Ok(Plan::blocked(coverage.describe(), coverage.help()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Switch;

    fn config() -> Config {
        let mut c = Config::default();
        c.hosts.insert("carbon".into(), Variant::Cuda);
        c.hosts.insert("beryllium".into(), Variant::Vulkan);
        c.hosts.insert("neon".into(), Variant::Vulkan);
        c
    }

    fn switched(host: &str, variant: Variant) -> Switch {
        Switch {
            host: host.into(),
            variant,
            how: "confirmed".into(),
            commit: String::new(),
        }
    }

    #[test]
    fn one_host_per_variant_is_enough() {
        let mut state = State::default();
        state.switch.push(switched("carbon", Variant::Cuda));
        let c = Coverage::of(&config(), &state);
        assert!(!c.complete());
        assert_eq!(
            c.missing[&Variant::Vulkan],
            vec!["beryllium".to_string(), "neon".to_string()]
        );
        assert_eq!(
            c.describe(),
            "cuda covered by carbon; no recorded switch yet for vulkan (beryllium, neon)"
        );
        assert_eq!(
            c.help(),
            "run `flake-migrate switch --host H` on beryllium or neon (or `flake-migrate confirm --host H` for a switch already done there)"
        );
        state.switch.clear();
        assert!(
            Coverage::of(&config(), &state)
                .help()
                .contains("on carbon and on beryllium or neon")
        );
        state.switch.push(switched("carbon", Variant::Cuda));
        state.switch.push(switched("neon", Variant::Vulkan));
        assert!(Coverage::of(&config(), &state).complete());
    }

    #[test]
    fn a_switch_counts_only_for_the_hosts_current_variant() {
        let mut state = State::default();
        state.switch.push(switched("carbon", Variant::Cpu));
        let c = Coverage::of(&config(), &state);
        assert!(c.missing.contains_key(&Variant::Cuda));
    }
}
