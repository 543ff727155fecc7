//! A static model of the configuration: each host of `nixosConfigurations`,
//! where it is defined, its own module list, and the closure of module
//! files it imports (paths in `modules`, `imports`, home-manager users).
//! What cannot be resolved without evaluating Nix is reported with its
//! location, never guessed. `init`, the steps and the guard share it.

mod closure;
mod env;
mod evaluated;
mod follow;
mod home_manager;
mod hosts;
mod items;
#[cfg(test)]
mod kind_tests;
mod memo;
mod name_lists;
mod needs_eval;
mod self_modules;
#[cfg(test)]
mod shape_tests;
#[cfg(test)]
pub(crate) mod tests;
mod trees;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rnix::ast;
use rowan::ast::AstNode;

pub use evaluated::{Differences, UnknownHost, by_reason};
use self_modules::SelfModules;
use trees::Trees;

use crate::error::Result;
use crate::files::Files;
use crate::flake::FLAKE_FILE;
use crate::host_kind::{self, HostKind};
use crate::syntax;

#[derive(Debug, Clone)]
pub struct Host {
    /// As flake-migrate.toml names it: the attribute of its output, or
    /// `darwin/NAME` / `home/NAME` when another output has NAME too.
    pub name: String,
    /// A NixOS host, a nix-darwin host or a standalone home-manager
    /// configuration.
    pub kind: HostKind,
    /// The file that defines it (flake.nix, or a flake-parts module).
    pub def_file: PathBuf,
    /// Byte range of its definition in `def_file`.
    pub range: Range<usize>,
    /// Its own literal `modules = [ … ]` list in `def_file`, when it has one
    /// (not one shared through a helper such as `mkHost`).
    pub modules_list: Option<Range<usize>>,
    /// Its own module file (the first path module specific to this host).
    pub own_module: Option<PathBuf>,
    /// Module files of its `modules` list.
    pub direct_modules: Vec<PathBuf>,
    /// Module files it imports, transitively.
    pub files: Vec<PathBuf>,
    /// Whether `specialArgs` passes `inputs` to its modules.
    pub inputs_in_modules: bool,
    /// Whether its definition could be followed to its modules at all.
    pub followed: bool,
    /// Every relative path literal in its definition and its modules,
    /// resolved (to tell, for example, whether it imports the overlay).
    pub paths: BTreeSet<PathBuf>,
    /// Module files reached through home-manager users (their packages come
    /// from home-manager's pkgs, which has the system overlays only with
    /// `useGlobalPkgs`).
    pub home_files: BTreeSet<PathBuf>,
    /// `home-manager.useGlobalPkgs = true` in its modules.
    pub home_manager_global_pkgs: bool,
    /// Byte range in `def_file` of the arguments' set of the `import
    /// nixpkgs { … }` that makes the package set it gets as
    /// `specialArgs.pkgs`, which `nixpkgs.overlays` does not reach.
    pub package_set: Option<Range<usize>>,
}

impl Host {
    /// Whether its definition or one of its modules names `file` by a path
    /// literal (as the overlay import of step 0003 does).
    pub fn imports(&self, file: &Path) -> bool {
        self.paths.contains(file)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub what: String,
    /// It hides hosts (not just a module of a known host): the static
    /// reading then cannot tell which hosts share a module.
    pub hides_hosts: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Model {
    pub hosts: Vec<Host>,
    pub unresolved: Vec<Unresolved>,
    /// Files that define hosts (flake.nix and flake-parts modules).
    pub flake_files: Vec<PathBuf>,
    /// Hosts that exist but failed to evaluate (only with evaluation).
    pub unknown_hosts: Vec<UnknownHost>,
    /// Each host's position in `hosts` by name, rebuilt wherever the model
    /// changes its hosts: the steps look up every configured host.
    index: HashMap<String, usize>,
    /// The positions of the hosts importing each module file, and of those
    /// defined in each file, rebuilt with `index`: the guard and step 0004
    /// ask for every reference found, so a search of every host's files
    /// would cost references × hosts × files.
    importers: HashMap<PathBuf, Vec<usize>>,
    defined_in: HashMap<PathBuf, Vec<usize>>,
}

impl Model {
    pub fn host(&self, name: &str) -> Option<&Host> {
        // `hosts` is public: after someone else's edit the index may be
        // stale, and the answer is then found the slow way, never wrong.
        match self.index.get(name).and_then(|&i| self.hosts.get(i)) {
            Some(h) if h.name == name => Some(h),
            _ => self.hosts.iter().find(|h| h.name == name),
        }
    }

    /// Builds `index` again after `hosts` changed; the first of two hosts
    /// with one name wins, as in a search from the start.
    fn index_hosts(&mut self) {
        self.index.clear();
        self.importers.clear();
        self.defined_in.clear();
        for (i, h) in self.hosts.iter().enumerate() {
            self.index.entry(h.name.clone()).or_insert(i);
            for f in &h.files {
                self.importers.entry(f.clone()).or_default().push(i);
            }
            self.defined_in
                .entry(h.def_file.clone())
                .or_default()
                .push(i);
        }
    }

    /// The hosts at `positions` of one of the maps beside `index`.
    fn at<'a>(&'a self, positions: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a Host> {
        positions
            .into_iter()
            .flatten()
            .filter_map(|&i| self.hosts.get(i))
    }

    /// For each module file, the hosts that import it.
    pub fn file_hosts(&self) -> BTreeMap<PathBuf, Vec<String>> {
        let mut map: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for host in &self.hosts {
            for f in &host.files {
                map.entry(f.clone()).or_default().push(host.name.clone());
            }
        }
        map
    }

    /// The hosts whose definition contains `offset` of `file`.
    pub fn hosts_defined_at(&self, file: &Path, offset: usize) -> Vec<&Host> {
        self.at(self.defined_in.get(file))
            .filter(|h| h.def_file == file && h.range.contains(&offset))
            .collect()
    }

    /// The hosts whose configuration includes `offset` of `file`: every host
    /// importing the file, or, in a file that defines hosts, the host whose
    /// definition holds the offset. Sorted by name.
    pub fn hosts_seeing(&self, file: &Path, offset: usize) -> Vec<&Host> {
        let mut hosts: Vec<&Host> = self
            .at(self.importers.get(file))
            .filter(|h| h.files.iter().any(|f| f == file))
            .collect();
        hosts.extend(self.hosts_defined_at(file, offset));
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        hosts.dedup_by(|a, b| a.name == b.name);
        hosts
    }

    /// A host's own module is the first module of its list that names it
    /// (`./hosts/${name}`) or that no other host imports directly.
    fn choose_own_modules(&mut self) {
        let mut users: HashMap<PathBuf, usize> = HashMap::new();
        for h in &self.hosts {
            for m in &h.direct_modules {
                *users.entry(m.clone()).or_default() += 1;
            }
        }
        for h in &mut self.hosts {
            if h.own_module.is_none() {
                h.own_module = h.direct_modules.iter().find(|m| users[*m] == 1).cloned();
            }
        }
    }

    /// The model of the hosts as `files` hold them (the last one read on
    /// this thread when nothing it read has changed: `memo`).
    pub fn read(files: &dyn Files) -> Result<Model> {
        memo::read(files, Model::read_files)
    }

    fn read_files(files: &dyn Files) -> Result<Model> {
        let mut model = Model::default();
        let flake = Path::new(FLAKE_FILE);
        let Some(text) = files.read(flake)? else {
            return Ok(model);
        };
        let sources = output_sources(flake, text, files)?;
        // `self.nixosModules.x` may name a module any of them defines.
        let mut self_modules = SelfModules::default();
        for (file, root) in &sources {
            self_modules.add(root, file);
        }
        let ctx = Ctx {
            files,
            self_modules: &self_modules,
            trees: &Trees::default(),
        };
        for (file, root) in &sources {
            closure::import_paths(root.syntax(), file, &ctx, &mut model.unresolved);
            for (node, what) in needs_eval::calls_in(root.syntax()) {
                let mut u = located(file, &root_text(&node), syntax::start(&node), what);
                u.hides_hosts = true;
                model.unresolved.push(u);
            }
            let definitions = hosts::host_definitions(root, file, files, &mut model.unresolved)?;
            if file == flake || definitions.iter().any(|d| &d.file == file) {
                model.flake_files.push(file.clone());
            }
            for def in definitions {
                if !model.flake_files.contains(&def.file) {
                    model.flake_files.push(def.file.clone());
                }
                let host = follow::resolve_host(def, &ctx, &mut model.unresolved)?;
                model.hosts.push(host);
            }
        }
        // A module shared by hosts, or a call found twice, is one entry.
        let mut seen = BTreeSet::new();
        model
            .unresolved
            .retain(|u| seen.insert((u.file.clone(), u.line, u.column, u.what.clone())));
        model.qualify_shared_names();
        model.add_link_targets(files);
        model.choose_own_modules();
        model.index_hosts();
        Ok(model)
    }

    /// A name two outputs share is written `darwin/NAME` or `home/NAME`,
    /// as evaluation keys them (`host_kind::config_names`).
    fn qualify_shared_names(&mut self) {
        let machines: Vec<(HostKind, String)> = self
            .hosts
            .iter()
            .map(|h| (h.kind, h.name.clone()))
            .collect();
        for (host, name) in self
            .hosts
            .iter_mut()
            .zip(host_kind::config_names(&machines))
        {
            host.name = name;
        }
    }

    /// A host that imports a symlink imports the file it names too: edits
    /// go there, and the guard asks which hosts see that file. (Evaluation
    /// reports a module at the path it was imported by.)
    fn add_link_targets(&mut self, files: &dyn Files) {
        for host in &mut self.hosts {
            let targets: Vec<PathBuf> = host
                .files
                .iter()
                .filter_map(|f| match files.link(f) {
                    crate::files::Link::Inside(target) => Some(target),
                    _ => None,
                })
                .filter(|t| !host.files.contains(t))
                .collect();
            if !targets.is_empty() {
                host.files.extend(targets);
                host.files.sort();
                host.files.dedup();
            }
        }
    }
}

/// What the model reads from files: the file set, the flake's own modules,
/// and the trees of the modules this reading met more than once.
struct Ctx<'a> {
    files: &'a dyn Files,
    self_modules: &'a SelfModules,
    trees: &'a Trees,
}

/// flake.nix and the flake-parts modules it imports, any number of levels
/// deep: the files that may define outputs, hosts among them.
fn output_sources(
    flake: &Path,
    text: String,
    files: &dyn Files,
) -> Result<Vec<(PathBuf, ast::Root)>> {
    let mut sources = vec![(flake.to_path_buf(), syntax::parse(flake, &text)?)];
    let no_modules = SelfModules::default();
    let ctx = Ctx {
        files,
        self_modules: &no_modules,
        trees: &Trees::default(),
    };
    let mut i = 0;
    while i < sources.len() {
        let (file, root) = sources[i].clone();
        i += 1;
        // What cannot be followed is reported when the sources are read.
        for (p, _) in closure::import_paths(root.syntax(), &file, &ctx, &mut Vec::new()) {
            if !sources.iter().any(|(f, _)| f == &p)
                && let Some(t) = files.read(&p)?
            {
                sources.push((p.clone(), syntax::parse(&p, &t)?));
            }
        }
    }
    Ok(sources)
}

/// The text of the file a node is in, for positions in messages.
fn root_text(node: &rnix::SyntaxNode) -> String {
    node.ancestors()
        .last()
        .map(|r| r.to_string())
        .unwrap_or_default()
}

fn located(file: &Path, text: &str, offset: usize, what: String) -> Unresolved {
    let (line, column) = syntax::line_col(text, offset);
    Unresolved {
        file: file.to_path_buf(),
        line,
        column,
        what,
        hides_hosts: false,
    }
}

/// Where a node sits, for messages: `file:line:col`.
pub fn location(file: &Path, text: &str, offset: usize) -> String {
    let (line, col) = syntax::line_col(text, offset);
    format!("{}:{line}:{col}", file.display())
}
