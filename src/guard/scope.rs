//! What a rule looks at. The files come through the [`Files`] trait, so the
//! same rule runs on the working tree, the staged index or HEAD; the
//! selection says which of them to examine: all (`check`), some paths
//! (`check PATH…`), or only what a commit changes (`hook run`).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::hosts::HostFacts;
use super::literals;
use super::source::Source;
use super::staged::Changes;
use crate::config::{Config, Excluded};
use crate::error::{Error, Located, Result};
use crate::files::Files;
use crate::model::{Host, Model};
use crate::record::State;
use crate::refs::{self, LlamaRef};

pub enum Selection {
    /// Every tracked file.
    All,
    /// Files at or under these repository-relative paths.
    Paths(Vec<PathBuf>),
    /// Only what the commit adds, modifies, deletes or renames.
    Staged(Changes),
}

pub struct Scope<'a> {
    pub files: &'a dyn Files,
    pub config: &'a Config,
    pub state: &'a State,
    /// Ids of the rules turned on, so a rule can leave a case to a more
    /// specific one.
    pub active: Vec<&'static str>,
    selection: Selection,
    /// The files as HEAD has them, when checking a commit.
    previous: Option<&'a dyn Files>,
    excluded: Excluded,
    parsed: Sources,
    previous_parsed: Sources,
    nix_files: OnceCell<Vec<PathBuf>>,
    model: OnceCell<Option<Rc<Model>>>,
    /// The syntax error that kept the model from being read.
    model_error: OnceCell<Located>,
    host_facts: RefCell<HashMap<String, HostFacts>>,
    path_changes: OnceCell<PathChanges>,
}

impl<'a> Scope<'a> {
    pub fn new(
        files: &'a dyn Files,
        config: &'a Config,
        state: &'a State,
        active: Vec<&'static str>,
        selection: Selection,
    ) -> Self {
        Scope {
            files,
            config,
            state,
            active,
            selection,
            previous: None,
            excluded: config.excluded(),
            parsed: RefCell::new(HashMap::new()),
            previous_parsed: RefCell::new(HashMap::new()),
            nix_files: OnceCell::new(),
            model: OnceCell::new(),
            model_error: OnceCell::new(),
            host_facts: RefCell::new(HashMap::new()),
            path_changes: OnceCell::new(),
        }
    }

    /// HEAD's files, so a rule can tell what a commit removes.
    pub fn with_previous(mut self, previous: &'a dyn Files) -> Self {
        self.previous = Some(previous);
        self
    }

    /// The file as HEAD has it (only when checking a commit).
    pub fn previous_source(&self, path: &Path) -> Result<Option<Rc<Source>>> {
        let Some(files) = self.previous else {
            return Ok(None);
        };
        cached(&self.previous_parsed, files, path)
    }

    /// The hosts and the module files each imports, read once on first use
    /// (it reads every host's modules: rules ask only when they must).
    /// `None` when a file it needs does not parse.
    pub fn model(&self) -> Result<Option<Rc<Model>>> {
        if let Some(m) = self.model.get() {
            return Ok(m.clone());
        }
        let model = match Model::read(&ThroughScope(self)) {
            Ok(m) => Some(Rc::new(m)),
            Err(Error::Parse(at)) => {
                let _ = self.model_error.set(*at);
                None
            }
            Err(e) => return Err(e),
        };
        Ok(self.model.get_or_init(|| model).clone())
    }

    /// What `host`'s configuration does to the names its files use, read
    /// once per host.
    pub fn host_facts(&self, host: &Host) -> Result<HostFacts> {
        if let Some(f) = self.host_facts.borrow().get(&host.name) {
            return Ok(*f);
        }
        let facts = HostFacts::read(self, host)?;
        self.host_facts
            .borrow_mut()
            .insert(host.name.clone(), facts);
        Ok(facts)
    }

    /// The references to nixpkgs' llama-cpp in a file, `callPackage` calls
    /// of package files that take it included.
    pub fn llama_refs(&self, src: &Source) -> Vec<LlamaRef> {
        if !refs::may_refer(&src.text) {
            return Vec::new();
        }
        if !src.text.contains("callPackage") {
            return src.llama_refs().to_vec();
        }
        refs::find_in(&src.path, src.root(), &mut |target| {
            crate::nix_paths::module_file(self.files, target)
                .and_then(|f| self.source(&f).ok().flatten())
                .is_some_and(|s| s.text.contains(refs::PACKAGE) && refs::takes_llama_cpp(s.root()))
        })
    }

    /// Whether the staged change can change which files a host's
    /// configuration holds: it touches flake.nix, or adds or drops a path
    /// literal in a `.nix` file. `(added, removed)`; both true outside a
    /// commit.
    pub fn paths_changed(&self) -> Result<(bool, bool)> {
        let known = self.path_changes()?;
        Ok((known.everything || !known.added.is_empty(), known.removed))
    }

    /// The files the staged change makes part of a configuration that may
    /// not have held them: those its added path literals reach, following
    /// the path literals of each file reached. `None` when that is not
    /// known (flake.nix changed, or outside a commit).
    pub fn reached_by_added_paths(&self) -> Result<Option<Vec<PathBuf>>> {
        let known = self.path_changes()?;
        if known.everything {
            return Ok(None);
        }
        let mut reached: BTreeSet<PathBuf> = BTreeSet::new();
        let mut queue: Vec<PathBuf> = known.added.iter().cloned().collect();
        while let Some(target) = queue.pop() {
            let Some(file) = crate::nix_paths::module_file(self.files, &target) else {
                continue;
            };
            if !reached.insert(file.clone()) {
                continue;
            }
            if let Some(src) = self.source(&file)? {
                queue.extend(literals::targets(&file, &src.text));
            }
        }
        Ok(Some(reached.into_iter().collect()))
    }

    fn path_changes(&self) -> Result<&PathChanges> {
        if let Some(known) = self.path_changes.get() {
            return Ok(known);
        }
        let found = self.find_path_changes()?;
        Ok(self.path_changes.get_or_init(|| found))
    }

    fn find_path_changes(&self) -> Result<PathChanges> {
        let everything = PathChanges {
            everything: true,
            added: BTreeSet::new(),
            removed: true,
        };
        let Some(changes) = self.staged() else {
            return Ok(everything);
        };
        if changes.touches(Path::new(crate::flake::FLAKE_FILE)) {
            return Ok(everything);
        }
        let mut found = PathChanges::default();
        for change in &changes.changes {
            if change.path.extension().is_none_or(|e| e != "nix") {
                continue;
            }
            let was = self
                .previous_source(&change.path)?
                .map(|s| literals::targets(&change.path, &s.text))
                .unwrap_or_default();
            // The syntax-error finding parses every staged file: its
            // tokens come from that tree.
            let now = self
                .source(&change.path)?
                .map(|s| {
                    literals::targets_in_tree(
                        &change.path,
                        &s.text,
                        rowan::ast::AstNode::syntax(s.root()),
                    )
                })
                .unwrap_or_default();
            found.added.extend(now.difference(&was).cloned());
            found.removed |= !was.is_subset(&now);
        }
        Ok(found)
    }

    pub fn is_active(&self, rule: &str) -> bool {
        self.active.contains(&rule)
    }

    /// Whether a rule about `path` (present or missing) should report on it.
    pub fn covers(&self, path: &Path) -> bool {
        match &self.selection {
            Selection::All => true,
            Selection::Paths(paths) => paths.iter().any(|p| path.starts_with(p)),
            Selection::Staged(changes) => changes.touches(path),
        }
    }

    /// The existing `.nix` files to examine, less those `[guard] exclude`
    /// lists. Worked out once: several rules walk them.
    pub fn nix_files(&self) -> &[PathBuf] {
        self.nix_files.get_or_init(|| {
            let mut files = self.selected_nix_files();
            files.retain(|f| !self.excluded.contains(f));
            // Rules read most of them: grow the cache once.
            self.parsed.borrow_mut().reserve(files.len());
            files
        })
    }

    pub fn is_excluded(&self, path: &Path) -> bool {
        self.excluded.contains(path)
    }

    fn selected_nix_files(&self) -> Vec<PathBuf> {
        match &self.selection {
            Selection::All => self.files.nix_files(),
            Selection::Paths(paths) => self
                .files
                .nix_files()
                .into_iter()
                .filter(|f| paths.iter().any(|p| f.starts_with(p)))
                .collect(),
            Selection::Staged(changes) => changes
                .written()
                .filter(|p| p.extension().is_some_and(|e| e == "nix"))
                .map(Path::to_path_buf)
                .collect(),
        }
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The staged changes, when checking a commit.
    pub fn staged(&self) -> Option<&Changes> {
        match &self.selection {
            Selection::Staged(c) => Some(c),
            _ => None,
        }
    }

    /// The file, read once; `None` when it does not exist.
    pub fn source(&self, path: &Path) -> Result<Option<Rc<Source>>> {
        cached(&self.parsed, self.files, path)
    }

    /// Reads `paths` into the cache in one go, so the files can read them
    /// together (see [`Files::read_all`]).
    pub fn read_ahead(&self, paths: &[PathBuf]) -> Result<()> {
        let unread: Vec<PathBuf> = {
            let cache = self.parsed.borrow();
            paths
                .iter()
                .filter(|p| !cache.contains_key(p.as_os_str()))
                .cloned()
                .collect()
        };
        let texts = self.files.read_all(&unread);
        let mut cache = self.parsed.borrow_mut();
        for (path, text) in unread.iter().zip(texts) {
            cache.insert(path.as_os_str().to_owned(), to_source(path, text)?);
        }
        Ok(())
    }

    /// Every file read so far that could not be read as Nix, and the file
    /// that kept the hosts' model from being read, by path.
    pub fn unreadable(&self) -> Vec<Located> {
        let mut found: Vec<Located> = self
            .parsed
            .borrow()
            .values()
            .flatten()
            .filter_map(|s| s.unreadable().cloned())
            .collect();
        if let Some(at) = self.model_error.get()
            && !found.iter().any(|f| f.path == at.path)
        {
            found.push(at.clone());
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found
    }
}

/// The scope's files, read through its cache, so the model and the rules
/// read each blob once.
struct ThroughScope<'s, 'a>(&'s Scope<'a>);

impl Files for ThroughScope<'_, '_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        Ok(self.0.source(path)?.map(|s| s.text.clone()))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.0.files.nix_files()
    }

    fn exists(&self, path: &Path) -> bool {
        match self.0.parsed.borrow().get(path.as_os_str()) {
            Some(known) => known.is_some(),
            None => self.0.files.exists(path),
        }
    }
}

/// Keyed by the path's bytes: `Path`'s own hash and equality go component
/// by component, which on `check` over 20,000 files cost a fifth of its
/// CPU time. The paths are git's (relative, `/`-separated, normalized), so
/// equal bytes are equal paths.
type Sources = RefCell<HashMap<OsString, Option<Rc<Source>>>>;

/// `path` from `files`, read once into `cache`.
fn cached(cache: &Sources, files: &dyn Files, path: &Path) -> Result<Option<Rc<Source>>> {
    if let Some(s) = cache.borrow().get(path.as_os_str()) {
        return Ok(s.clone());
    }
    let source = to_source(path, files.read(path))?;
    cache
        .borrow_mut()
        .insert(path.as_os_str().to_owned(), source.clone());
    Ok(source)
}

/// A file as read, as the rules see it.
fn to_source(path: &Path, read: Result<Option<String>>) -> Result<Option<Rc<Source>>> {
    match read {
        Ok(text) => Ok(text.map(|text| Rc::new(Source::new(path, text)))),
        // Reported by the syntax-error finding; the rules still see the
        // file (its other bytes), so it does not look deleted.
        Err(Error::NotUtf8(at)) => Ok(Some(Rc::new(Source::not_utf8(path, at)))),
        Err(e) => Err(e),
    }
}

/// What the staged change does to path literals.
#[derive(Debug, Default)]
struct PathChanges {
    /// flake.nix changed, or not checking a commit: anything may have.
    everything: bool,
    /// Targets of literals the commit adds.
    added: BTreeSet<PathBuf>,
    /// It drops a literal.
    removed: bool,
}
