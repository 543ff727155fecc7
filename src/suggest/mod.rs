//! Suggesting each host's variant from what its configuration says, with
//! the evidence (file:line), for `init`. Suggestions are only shown or
//! written on request; the tool never guesses at apply time.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rowan::ast::AstNode;

use crate::config::{Build, Variant};
use crate::error::Result;
use crate::files::Files;
use crate::model::{Host, Model};
use crate::refs::{self, RefKind};
use crate::syntax;

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Everything one file says, in the order a host's scan meets it: its
/// references, then its syntax nodes (in document order), then its option
/// signs. Each list is sorted by offset, so the part inside one host's
/// definition is a slice.
struct FileClues {
    refs: Vec<Found>,
    nodes: Vec<Found>,
    /// (offset, option's suffix, `file:line: what`).
    options: Vec<(usize, String, String)>,
    /// The text, for what only a host's own definition says (its system).
    text: String,
}

/// What one reference or node says: the first description of a use, if
/// any, and its clues.
struct Found {
    offset: usize,
    uses: Option<String>,
    clues: Vec<Clue>,
    /// A callPackage of a file that builds something else with llama-cpp.
    built_into_package: bool,
}

impl FileClues {
    fn read(files: &dyn Files, file: &Path) -> Result<Option<FileClues>> {
        let Some(text) = files.read(file)? else {
            return Ok(None);
        };
        let root = syntax::parse(file, &text)?;
        let at =
            |offset: usize| format!("{}:{}", file.display(), syntax::line_col(&text, offset).0);
        let refs = refs::find_in(file, &root, &mut |target| {
            crate::old_override::package_file_taking_llama(files, target).is_some()
        })
        .into_iter()
        .map(|r| {
            let mut clues = Vec::new();
            let conditions = root
                .syntax()
                .covering_element(rowan::TextRange::new(
                    (r.range.start as u32).into(),
                    (r.range.end as u32).into(),
                ))
                .ancestors()
                .next()
                .map(|node| condition::around(&node, &at))
                .unwrap_or_default();
            if let RefKind::Override { args, .. } = &r.kind {
                for arg in args {
                    match support_flag(arg) {
                        Some((v, true)) => clues.push(Clue {
                            strength: Strength::OverrideArgument,
                            variant: v,
                            evidence: format!("{}: override argument `{arg}`", at(r.range.start)),
                            conditions: conditions.clone(),
                        }),
                        Some((_, false)) => clues.push(Clue {
                            strength: Strength::OverrideArgumentOff,
                            variant: Variant::Cpu,
                            evidence: format!(
                                "{}: override argument `{arg}` (the old build had no GPU backend)",
                                at(r.range.start)
                            ),
                            conditions: conditions.clone(),
                        }),
                        None => {}
                    }
                }
                // `.overrideAttrs` turning a backend on through cmake flags.
                if let Some((flag, v)) = cmake_backend(&text[r.range.clone()]) {
                    clues.push(Clue {
                        strength: Strength::OverrideArgument,
                        variant: v,
                        evidence: format!("{}: override sets {flag}", at(r.range.start)),
                        conditions: conditions.clone(),
                    });
                }
            }
            // A package file that customises llama-cpp says which build
            // the host had, as an override written here would.
            let mut built_into_package = false;
            if let RefKind::CallPackage { target } = &r.kind {
                let found = package_file_clues(files, target, &at(r.range.start), &conditions);
                built_into_package = found.is_none();
                clues.extend(found.unwrap_or_default());
            }
            // An overlay's `prev.llama-cpp` only redefines the package:
            // its arguments may say which build, not that a host uses it.
            Found {
                offset: r.range.start,
                uses: (!r.in_overlay()).then(|| {
                    format!(
                        "{}: {}",
                        at(r.range.start),
                        first_line(&text[r.range.clone()])
                    )
                }),
                clues,
                built_into_package,
            }
        })
        .collect();
        let nodes = root
            .syntax()
            .descendants()
            .filter_map(|node| {
                let mut found = Found {
                    offset: syntax::start(&node),
                    uses: None,
                    clues: Vec::new(),
                    built_into_package: false,
                };
                scan_node(&node, &at, &mut found.clues, &mut found.uses);
                if !found.clues.is_empty() {
                    let conditions = condition::around(&node, &at);
                    for clue in &mut found.clues {
                        clue.conditions = conditions.clone();
                    }
                }
                (found.uses.is_some() || !found.clues.is_empty()).then_some(found)
            })
            .collect();
        let options = option_clues(&text)
            .into_iter()
            .map(|(offset, option, what)| (offset, option, format!("{}: {what}", at(offset))))
            .collect();
        Ok(Some(FileClues {
            refs,
            nodes,
            options,
            text,
        }))
    }
}

/// The clues of the customisation in the package file `target` (its
/// override arguments and cmake flags), called at `called`; `None` for a
/// file that builds something else with llama-cpp.
fn package_file_clues(
    files: &dyn Files,
    target: &Path,
    called: &str,
    conditions: &[Condition],
) -> Option<Vec<Clue>> {
    let (file, text, root) = crate::old_override::package_file_taking_llama(files, target)?;
    let custom = refs::customisation(&root)?;
    let at = format!(
        "{}:{}",
        file.display(),
        syntax::line_col(&text, custom.range.start).0
    );
    let mut clues = Vec::new();
    if let RefKind::Override { args, .. } = &custom.kind {
        for arg in args {
            if let Some((variant, on)) = support_flag(arg) {
                clues.push(Clue {
                    strength: if on {
                        Strength::OverrideArgument
                    } else {
                        Strength::OverrideArgumentOff
                    },
                    variant: if on { variant } else { Variant::Cpu },
                    evidence: format!("{at}: override argument `{arg}` (called at {called})"),
                    conditions: conditions.to_vec(),
                });
            }
        }
    }
    if let Some((flag, variant)) = cmake_backend(&text[custom.range.clone()]) {
        clues.push(Clue {
            strength: Strength::OverrideArgument,
            variant,
            evidence: format!("{at}: override sets {flag} (called at {called})"),
            conditions: conditions.to_vec(),
        });
    }
    Some(clues)
}

/// The part of a list sorted by offset that lies `within` a range (all of
/// it without one).
fn inside<'a, T>(
    list: &'a [T],
    within: Option<&Range<usize>>,
    offset: impl Fn(&T) -> usize,
) -> &'a [T] {
    match within {
        None => list,
        Some(r) => {
            let from = list.partition_point(|x| offset(x) < r.start);
            let to = list.partition_point(|x| offset(x) < r.end);
            &list[from..to.max(from)]
        }
    }
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
            options: Vec::new(),
            built_into_package: false,
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
    })
}

/// Upstream builds `rocm` only for x86_64-linux, CUDA only for Linux, and
/// on Apple Silicon its `default` is the Metal build: a host's variant is
/// fitted to its system (`Variant::fitted_to`), and the evidence says why.
pub fn fit_system(s: &mut Suggestion, system: &str) {
    let Some(v) = s.variant else {
        return;
    };
    let fitted = v.fitted_to(system);
    if fitted == v {
        return;
    }
    s.variant = Some(fitted);
    s.evidence = if fitted == Variant::Metal && v == Variant::Cpu {
        format!(
            "{} (on {system} upstream's default is the Metal build: metal)",
            s.evidence
        )
    } else {
        format!(
            "{} (suggests {v}, which upstream does not build for {system}: {fitted} instead)",
            s.evidence
        )
    };
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

mod condition;
mod nodes;
mod options;
mod override_signs;
mod system;
#[cfg(test)]
mod tests;

use condition::{Condition, weigh_conditions};
use nodes::scan_node;
use options::option_clues;
use override_signs::{cmake_backend, support_flag};
pub use system::host_system;
use system::named_system;
