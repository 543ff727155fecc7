//! Suggesting each host's variant from what its configuration says, with
//! the evidence (file:line), for `init`. Suggestions are only shown or
//! written on request; the tool never guesses at apply time.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::config::{Build, Variant};
use crate::error::Result;
use crate::files::Files;
use crate::model::{Host, Model};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suggestion {
    pub host: String,
    /// `None`: the host does not use llama.cpp.
    pub variant: Option<Variant>,
    /// Why, as `file:line: what`.
    pub evidence: String,
    /// The options the evidence shows, as build suffixes (`native`, `rpc`):
    /// `init --yes` writes them with the variant.
    pub options: Vec<String>,
    /// Its use is a package built with llama-cpp (a `callPackage` of a
    /// file that takes it, e.g. a wrapper script), which evaluation does
    /// not list as llama.cpp.
    pub built_into_package: bool,
    /// Its use is set in an option evaluation does not read (a systemd
    /// service's command), named here.
    pub unread_option: Option<String>,
}

impl Suggestion {
    /// The build `init --yes` writes: the variant with its options.
    pub fn build(&self) -> Option<Build> {
        let spec: String = self.options.iter().map(|o| format!("-{o}")).collect();
        Build::parse(&format!("{}{spec}", self.variant?))
    }
}

/// Evidence in order of strength: the first kind found decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    OverrideArgument,
    /// `cudaSupport = false` in the host's own override: the old build had
    /// no GPU backend, whatever the hardware says.
    OverrideArgumentOff,
    OldVariantName,
    NixpkgsCudaSupport,
    Hardware,
    HardwareModule,
}

#[derive(Clone)]
struct Clue {
    strength: Strength,
    variant: Variant,
    evidence: String,
    /// What the evidence sits under, innermost first.
    conditions: Vec<Condition>,
}

/// The suggestions from the static reading alone.
pub fn suggest(files: &dyn Files, model: &Model) -> Result<Vec<Suggestion>> {
    suggest_with_systems(files, model, &HashMap::new())
}

/// The suggestions, with each host's system as evaluation gives it (host
/// name → `x86_64-linux`): conditions that test only the system are decided.
pub fn suggest_with_systems(
    files: &dyn Files,
    model: &Model,
    systems: &HashMap<String, String>,
) -> Result<Vec<Suggestion>> {
    // flake.nix and the shared modules are seen by many hosts: each file is
    // read and searched once, not once per host.
    let mut cache: HashMap<PathBuf, Option<FileClues>> = HashMap::new();
    model
        .hosts
        .iter()
        .map(|host| {
            let system = systems.get(&host.name).map(String::as_str);
            suggest_host(files, &mut cache, host, system)
        })
        .collect()
}

fn suggest_host(
    files: &dyn Files,
    cache: &mut HashMap<PathBuf, Option<FileClues>>,
    host: &Host,
    system: Option<&str>,
) -> Result<Suggestion> {
    if !host.followed {
        return Ok(Suggestion {
            host: host.name.clone(),
            variant: None,
            evidence: "not followed: its modules could not be found statically (see the note); choose with --host".into(),
            ..Default::default()
        });
    }
    let scanned: Vec<(&PathBuf, Option<&Range<usize>>)> =
        std::iter::once((&host.def_file, Some(&host.range)))
            .chain(host.files.iter().map(|f| (f, None)))
            .collect();
    for (file, _) in &scanned {
        if !cache.contains_key(*file) {
            let read = FileClues::read(files, file)?;
            cache.insert((*file).clone(), read);
        }
    }
    let mut clues: Vec<Clue> = Vec::new();
    let mut uses: Option<String> = None;
    let mut built_into_package = false;
    let mut unread_option: Option<String> = None;
    let mut options: Vec<(&str, String)> = Vec::new();
    for (file, within) in scanned {
        let Some(said) = &cache[file] else {
            continue;
        };
        let refs = inside(&said.refs, within, |f| f.offset);
        let nodes = inside(&said.nodes, within, |f| f.offset);
        for found in refs.iter().chain(nodes) {
            if let Some(u) = &found.uses {
                uses.get_or_insert_with(|| u.clone());
            }
            built_into_package |= found.built_into_package;
            if found.uses.is_some() && unread_option.is_none() {
                unread_option.clone_from(&found.unread_option);
            }
            clues.extend(found.clues.iter().cloned());
        }
        for (_, option, evidence) in inside(&said.options, within, |o| o.0) {
            if !options.iter().any(|(o, _)| o == option) {
                options.push((option, evidence.clone()));
            }
        }
    }
    let (mut clues, not_counted) = weigh_conditions(clues, system);
    clues.sort_by_key(|(c, undecided)| (*undecided, c.strength));
    let (variant, mut evidence) = match (&uses, clues.first()) {
        (None, _) => (None, "no reference to llama.cpp".to_string()),
        (Some(_), Some((c, _))) => (Some(c.variant), c.evidence.clone()),
        (Some(u), None) => (
            Some(Variant::Cpu),
            format!("{u} (no GPU found in the configuration)"),
        ),
    };
    if variant.is_some() && !not_counted.is_empty() {
        evidence.push_str(&format!("; not counted: {}", not_counted.join("; ")));
    }
    let mut suggestion = Suggestion {
        host: host.name.clone(),
        variant,
        evidence,
        options: Vec::new(),
        built_into_package,
        unread_option: unread_option.clone(),
    };
    let definition = cache[&host.def_file]
        .as_ref()
        .and_then(|c| c.text.get(host.range.clone()))
        .unwrap_or_default();
    let modules = host
        .files
        .iter()
        .filter_map(|f| cache.get(f)?.as_ref().map(|c| c.text.as_str()));
    if let Some(system) = system
        .map(str::to_string)
        .or_else(|| named_system(definition, modules))
    {
        fit_system(&mut suggestion, &system);
    }
    let Suggestion {
        variant,
        mut evidence,
        ..
    } = suggestion;
    // CUDA architectures only mean something to a CUDA build.
    if !matches!(variant, Some(Variant::Cuda | Variant::MpiCuda)) {
        options.retain(|(o, _)| !o.starts_with("sm"));
    }
    if let Some(v) = variant.filter(|_| !options.is_empty()) {
        let spec: String = options.iter().map(|(o, _)| format!("-{o}")).collect();
        // In the order the attribute's name has them.
        let spec = crate::config::Build::parse(&format!("{v}{spec}"))
            .map_or(format!("{v}{spec}"), |b| b.to_string());
        evidence.push_str(&format!(
            "; options ({}): --host {}={spec}",
            options
                .iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            host.name
        ));
    }
    Ok(Suggestion {
        host: host.name.clone(),
        variant,
        evidence,
        options: match variant {
            Some(_) => options.iter().map(|(o, _)| o.to_string()).collect(),
            None => Vec::new(),
        },
        built_into_package,
        unread_option,
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

mod clues;
mod condition;
mod nodes;
mod options;
mod override_signs;
pub use override_signs::support_flag;
mod system;
#[cfg(test)]
mod tests;

use clues::{FileClues, inside};
use condition::{Condition, weigh_conditions};
use nodes::scan_node;
use options::option_clues;
use override_signs::cmake_backend;
use system::named_system;
pub use system::{fit_system, host_system};
