//! Shared helpers for integration tests: fixture repositories, the offline
//! stand-in flakes, and running real `nix` against them.
//!
//! Include with `mod support;` at the top of a test file.
//!
//! - Fixtures live in `tests/fixtures/repos/<shape>/` (a repository as its user
//!   keeps it, before migration) with `tests/fixtures/repos/<shape>.expect.toml`
//!   (which variant each host should get). [`fixture_repo`] copies one into a
//!   fresh temporary git repository and commits it, because a flake in a git
//!   repository only sees tracked files.
//! - Stand-ins are local flakes that replace `nixpkgs`, `home-manager`,
//!   `nixos-hardware`, `flake-parts`, `import-tree` and `llama.cpp` so that
//!   `nix flake lock`, `nix eval` and `nix flake check --no-build` work with no
//!   network. `tests/fixtures/standins/assemble.sh` lays them out once per test
//!   binary ([`standins_dir`]), built on nixpkgs' real `lib` and
//!   `eval-config.nix` and the real flake-parts and import-tree
//!   (`../shared/third_party`). [`standin_override_args`] says which stand-in
//!   replaces which input.
//! - Every test that runs `nix` starts with `require_nix!()`: without `nix`,
//!   or without the real sources the stand-ins are built on, it prints
//!   `skipping <test>: <why>` and returns, except with `CI=true`, where it
//!   fails the test.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

mod run;
// Each test binary includes this module; not every one runs the binary.
#[allow(unused_imports)]
pub use run::*;

/// Nix settings for every test run: flakes on, and fail fast instead of
/// retrying a network that is not there.
pub const NIX_CONFIG: &str = "experimental-features = nix-command flakes\n\
                              download-attempts = 1\n\
                              connect-timeout = 1\n\
                              eval-cache = false\n\
                              warn-dirty = false";

/// Skip (or, on CI, fail) the current test when `nix` is not installed.
/// The test's name is taken from the test thread's name.
#[macro_export]
macro_rules! require_nix {
    () => {
        if !$crate::support::require_nix(std::thread::current().name().unwrap_or("<unnamed test>"))
        {
            return;
        }
    };
}

/// Whether `nix` can be run (checked once per test binary).
pub fn nix_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("nix")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// True when `nix` is available and the stand-ins could be assembled.
/// Otherwise prints `skipping <test_name>: <why>` and returns false, or
/// panics when the environment says `CI=true` (CI must not skip silently).
pub fn require_nix(test_name: &str) -> bool {
    let why = if !nix_available() {
        "nix not installed".to_string()
    } else {
        match assembled_standins() {
            Ok(_) => return true,
            Err(why) => why.clone(),
        }
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test_name}: {why}, and CI=true forbids skipping");
    }
    eprintln!("skipping {test_name}: {why}");
    false
}

/// The stand-ins laid out by `assemble.sh` in a directory of this test
/// binary's own, once; or why they could not be.
fn assembled_standins() -> &'static Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dest =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("standins-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(fixtures_dir().join("standins/assemble.sh"))
            .arg(&dest)
            .output()
            .map_err(|e| format!("could not run assemble.sh: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(dest)
    })
}

/// `nix` with [`NIX_CONFIG`] in its environment.
pub fn nix_cmd() -> Command {
    let mut cmd = Command::new("nix");
    cmd.env("NIX_CONFIG", NIX_CONFIG);
    cmd
}

/// `nix-instantiate` with [`NIX_CONFIG`] in its environment.
pub fn nix_instantiate_cmd() -> Command {
    let mut cmd = Command::new("nix-instantiate");
    cmd.env("NIX_CONFIG", NIX_CONFIG);
    cmd
}

// ---------------------------------------------------------------------------
// Fixture locations

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn repos_dir() -> PathBuf {
    fixtures_dir().join("repos")
}

/// Where the assembled stand-ins are (see `assemble.sh`). Tests reach this
/// after `require_nix!()`, which has skipped them when assembling failed.
pub fn standins_dir() -> PathBuf {
    match assembled_standins() {
        Ok(dir) => dir.clone(),
        Err(why) => panic!("the stand-ins could not be assembled: {why}"),
    }
}

/// The source directory of a fixture shape (read-only; use [`fixture_repo`]
/// to get a copy to work on).
pub fn fixture_source(shape: &str) -> PathBuf {
    let dir = repos_dir().join(shape);
    assert!(dir.is_dir(), "no fixture repository {}", dir.display());
    dir
}

/// Every fixture shape: the directories under `tests/fixtures/repos`.
pub fn fixture_shapes() -> Vec<String> {
    let mut shapes: Vec<String> = fs::read_dir(repos_dir())
        .expect("read tests/fixtures/repos")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    shapes.sort();
    shapes
}

/// Every `.nix` file under `dir`, sorted.
pub fn nix_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut |p| {
        if p.extension().is_some_and(|e| e == "nix") {
            out.push(p.to_path_buf());
        }
    });
    out.sort();
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(&path, f);
        } else {
            f(&path);
        }
    }
}

// ---------------------------------------------------------------------------
// Expectations

/// What `tests/fixtures/repos/<shape>.expect.toml` says.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// Host name -> "cuda" | "vulkan" | "cpu" | "rocm" | "none".
    pub hosts: BTreeMap<String, String>,
    pub notes: String,
    /// The whole file, for shape-specific keys (see repos/README.md).
    pub raw: toml::Table,
}

impl Expectations {
    /// Hosts that use llama.cpp (variant other than "none").
    pub fn llama_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|(_, v)| v.as_str() != "none")
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// A list of strings under a top-level key (empty when absent).
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.raw
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn expectations(shape: &str) -> Expectations {
    let path = repos_dir().join(format!("{shape}.expect.toml"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let raw: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let hosts = raw
        .get("hosts")
        .and_then(|v| v.as_table())
        .unwrap_or_else(|| panic!("{}: no [hosts] table", path.display()))
        .iter()
        .map(|(k, v)| {
            let variant = v
                .as_str()
                .unwrap_or_else(|| panic!("{}: hosts.{k} is not a string", path.display()));
            (k.clone(), variant.to_string())
        })
        .collect();
    let notes = raw
        .get("notes")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Expectations { hosts, notes, raw }
}

// ---------------------------------------------------------------------------
// Temporary repositories

/// A fixture copied into a temporary directory and committed to a fresh git
/// repository (branch `main`, identity "Test User <test@example.invalid>").
/// Removed when dropped.
pub struct TempRepo {
    dir: tempfile::TempDir,
}

impl TempRepo {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self) -> git2::Repository {
        git2::Repository::open(self.path()).expect("open temp repo")
    }

    /// Stage everything (additions, changes, deletions) and commit on HEAD.
    pub fn commit_all(&self, message: &str) -> git2::Oid {
        commit_all(&self.git(), message)
    }

    pub fn read(&self, rel: &str) -> String {
        let path = self.path().join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Keep the directory after the test (for debugging); returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// A fresh git repository holding a copy of fixture `shape`, committed.
pub fn fixture_repo(shape: &str) -> TempRepo {
    repo_from_dir(&fixture_source(shape), shape)
}

/// A fresh git repository holding a copy of the directory `src`, committed
/// (`label` names the temporary directory and the commit).
pub fn repo_from_dir(src: &Path, label: &str) -> TempRepo {
    let shape = label;
    let dir = tempfile::Builder::new()
        .prefix(&format!("flake-migrate-{shape}-"))
        .tempdir()
        .expect("create temp dir");
    copy_dir(src, dir.path());

    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir.path(), &opts).expect("git init");
    {
        let mut config = repo.config().expect("repo config");
        config.set_str("user.name", "Test User").unwrap();
        config
            .set_str("user.email", "test@example.invalid")
            .unwrap();
        config.set_bool("commit.gpgsign", false).unwrap();
    }
    commit_all(&repo, &format!("Import fixture {shape}"));
    TempRepo { dir }
}

/// A fresh git repository holding `files` (path, contents), committed
/// (`label` as for [`repo_from_dir`]).
pub fn repo_of_files(files: &[(&str, &str)], label: &str) -> TempRepo {
    let src = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = src.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    repo_from_dir(src.path(), label)
}

/// [`fixture_repo`], locked against the stand-ins, with `flake.lock`
/// committed: a clean tree, as `flake-migrate` expects to find it.
pub fn locked_fixture_repo(shape: &str) -> TempRepo {
    let repo = fixture_repo(shape);
    flake_lock(repo.path()).unwrap_or_else(|e| panic!("{shape}: {e}"));
    repo.commit_all("Lock inputs");
    repo
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        if from.is_dir() {
            copy_dir(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
    }
}

fn commit_all(repo: &git2::Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("git add");
    index.update_all(["*"], None).expect("git add -u");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("write tree"))
        .unwrap();
    let sig = repo.signature().expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("commit")
}

// ---------------------------------------------------------------------------
// Flake inputs and stand-ins

/// One input as declared in a `flake.nix` (read by evaluating its `inputs`,
/// so nested and dotted styles both work).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FlakeInput {
    pub name: String,
    /// `url`, or `type:owner/repo` for attribute-style inputs; None for an
    /// input only named in the outputs' formals.
    pub url: Option<String>,
    pub flake: bool,
    /// `inputs.NAME.follows` (an alias of another input).
    pub follows: Option<String>,
    /// `inputs.NAME.inputs.N.follows` for each nested N the user set.
    pub nested_follows: BTreeMap<String, Option<String>>,
}

const INPUTS_EXPR: &str = r#"
{ flake }:
let
  f = import flake;
  describe = name: v: {
    inherit name;
    url = if v ? url then v.url
      else if v ? type then "${v.type}:${v.owner or ""}/${v.repo or ""}"
      else null;
    flake = v.flake or true;
    follows = v.follows or null;
    nested_follows = builtins.mapAttrs (_: w: w.follows or null) (v.inputs or { });
  };
  declared = builtins.mapAttrs describe (f.inputs or { });
  implicit = map (name: { inherit name; url = null; flake = true; follows = null; nested_follows = { }; })
    (builtins.filter (n: n != "self" && !(declared ? ${n}))
      (builtins.attrNames (builtins.functionArgs f.outputs)));
in builtins.attrValues declared ++ implicit
"#;

/// The inputs a flake declares (plus inputs only named in `outputs`'s
/// formals, which Nix would look up in the registry).
pub fn flake_inputs(flake_dir: &Path) -> Vec<FlakeInput> {
    let flake_nix = flake_dir.join("flake.nix");
    let out = nix_instantiate_cmd()
        .args(["--eval", "--strict", "--json", "--argstr", "flake"])
        .arg(&flake_nix)
        .args(["-E", INPUTS_EXPR])
        .output()
        .expect("run nix-instantiate");
    assert!(
        out.status.success(),
        "reading the inputs of {} failed:\n{}",
        flake_nix.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("inputs as JSON")
}

/// Which stand-in replaces an input. In order:
/// 1. `flake = false` inputs (source trees such as a pinned llama.cpp
///    checkout) get `standins/empty`: any directory will do.
/// 2. By the repository in the URL: `.../nixpkgs` -> `nixpkgs` (so
///    `nixpkgs-stable`, `nixpkgs-unstable`, ... are nixpkgs too),
///    `.../home-manager`, `.../nixos-hardware`, `.../flake-parts`, and
///    `.../llama.cpp` -> `llama-cpp` (upstream or any fork of it).
/// 3. By the input's name, when `standins/<name>` exists.
/// 4. Anything else: `standins/empty`.
pub fn standin_for(input: &FlakeInput) -> PathBuf {
    let standins = standins_dir();
    if !input.flake {
        return standins.join("empty");
    }
    if let Some(url) = &input.url {
        let segments: Vec<String> = url
            .split(['/', ':', '?', '#'])
            .map(|s| s.trim_end_matches(".git").to_ascii_lowercase())
            .collect();
        for (repo, standin) in [
            ("nixpkgs", "nixpkgs"),
            ("nixpkgs.lib", "nixpkgs"),
            ("home-manager", "home-manager"),
            ("nix-darwin", "nix-darwin"),
            ("nixos-hardware", "nixos-hardware"),
            ("flake-parts", "flake-parts"),
            ("import-tree", "import-tree"),
            ("llama.cpp", "llama-cpp"),
        ] {
            if segments.iter().any(|s| s == repo) && standins.join(standin).is_dir() {
                return standins.join(standin);
            }
        }
    }
    let by_name = standins.join(&input.name);
    if by_name.join("flake.nix").is_file() {
        return by_name;
    }
    standins.join("empty")
}

/// [`flake_inputs`] of a stand-in, read once per test binary.
fn standin_inputs(standin: &Path) -> Vec<FlakeInput> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Vec<FlakeInput>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(inputs) = cache.lock().unwrap().get(standin) {
        return inputs.clone();
    }
    let inputs = flake_inputs(standin);
    cache
        .lock()
        .unwrap()
        .insert(standin.to_path_buf(), inputs.clone());
    inputs
}

fn path_ref(dir: &Path) -> String {
    format!("path:{}", dir.display())
}

/// `--override-input NAME path:/abs/standin` for every input of the flake in
/// `repo_dir` (see [`standin_for`] for the mapping). Inputs that merely
/// follow another input are left alone. When a stand-in has inputs of its own
/// (llama-cpp and home-manager take `nixpkgs`) and the repository does not
/// make them follow one of its inputs, `--override-input NAME/N ...` points
/// them at a stand-in too, so locking never reaches for the network.
pub fn standin_override_args(repo_dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for input in flake_inputs(repo_dir) {
        if input.follows.is_some() {
            continue;
        }
        let standin = standin_for(&input);
        args.extend([
            "--override-input".to_string(),
            input.name.clone(),
            path_ref(&standin),
        ]);
        if !input.flake {
            continue;
        }
        for nested in standin_inputs(&standin) {
            if input
                .nested_follows
                .get(&nested.name)
                .is_some_and(|f| f.is_some())
            {
                continue;
            }
            args.extend([
                "--override-input".to_string(),
                format!("{}/{}", input.name, nested.name),
                path_ref(&standin_for(&nested)),
            ]);
        }
    }
    args
}

/// [`standin_override_args`] plus `--override-input llama-cpp
/// path:/abs/standins/llama-cpp` when the flake does not declare `llama-cpp`
/// yet: arguments to hand to `flake-migrate` before migration 0001, valid
/// after it too (Nix only warns about an override that matches no input).
/// The upstream input that 0001 adds follows `nixpkgs`, so it needs no nested
/// override.
pub fn migration_override_args(repo_dir: &Path) -> Vec<String> {
    let mut args = standin_override_args(repo_dir);
    if !args.chunks(3).any(|c| c[1] == "llama-cpp") {
        args.extend([
            "--override-input".to_string(),
            "llama-cpp".to_string(),
            path_ref(&standins_dir().join("llama-cpp")),
        ]);
    }
    args
}

// ---------------------------------------------------------------------------
// Running nix on a repository

/// Run `nix <args> <stand-in overrides>` in `repo`. Returns the raw output.
pub fn nix_in(repo: &Path, args: &[&str]) -> Output {
    nix_cmd()
        .current_dir(repo)
        .args(args)
        .args(standin_override_args(repo))
        .output()
        .expect("run nix")
}

fn ok_or_stderr(what: &str, out: Output) -> Result<Output, String> {
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `nix flake lock` with stand-ins (writes `flake.lock`; Nix stages it).
pub fn flake_lock(repo: &Path) -> Result<(), String> {
    ok_or_stderr("nix flake lock", nix_in(repo, &["flake", "lock"])).map(|_| ())
}

/// `nix flake check --no-build` with stand-ins.
pub fn flake_check(repo: &Path) -> Result<(), String> {
    ok_or_stderr(
        "nix flake check --no-build",
        nix_in(repo, &["flake", "check", "--no-build"]),
    )
    .map(|_| ())
}

/// `nix eval --json <repo>#<attr> [--apply <apply>]` with stand-ins.
pub fn try_eval(repo: &Path, attr: &str, apply: Option<&str>) -> Result<serde_json::Value, String> {
    let installable = format!("{}#{attr}", repo.display());
    let mut args = vec!["eval", "--json", installable.as_str()];
    if let Some(apply) = apply {
        args.extend(["--apply", apply]);
    }
    let out = ok_or_stderr(&format!("nix eval {attr}"), nix_in(repo, &args))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("nix eval {attr}: bad JSON: {e}"))
}

/// The outputs that hold machines, with the prefix a machine's name takes
/// in flake-migrate.toml when another output has the same name (NixOS
/// hosts keep theirs).
pub const MACHINE_OUTPUTS: [(&str, &str); 3] = [
    ("nixosConfigurations", ""),
    ("darwinConfigurations", "darwin/"),
    ("homeConfigurations", "home/"),
];

/// The names of an output's entries (none when the flake has no such output).
fn output_names(repo: &Path, output: &str) -> Vec<String> {
    match try_eval(repo, output, Some("builtins.attrNames")) {
        Ok(v) => serde_json::from_value(v).expect("list of host names"),
        Err(e) if e.contains("does not provide attribute") => Vec::new(),
        Err(e) => panic!("{e}"),
    }
}

/// Every machine of the flake as flake-migrate.toml names it, with the
/// attribute path of its evaluation (`homeConfigurations."ada@laptop"`).
pub fn machines(repo: &Path) -> BTreeMap<String, String> {
    let all: Vec<(usize, String)> = MACHINE_OUTPUTS
        .iter()
        .enumerate()
        .flat_map(|(i, (output, _))| output_names(repo, output).into_iter().map(move |n| (i, n)))
        .collect();
    all.iter()
        .map(|(i, name)| {
            let (output, prefix) = MACHINE_OUTPUTS[*i];
            let shared = all.iter().filter(|(_, n)| n == name).count() > 1;
            let key = if shared && *i > 0 {
                format!("{prefix}{name}")
            } else {
                name.clone()
            };
            (
                key,
                format!("{output}.{}", serde_json::to_string(name).unwrap()),
            )
        })
        .collect()
}

/// Evaluate `apply_expr` (a function of the host's `config`) on the
/// machine's `config` (`nixosConfigurations.<host>`, or a darwin or
/// home-manager configuration's). Panics with Nix's error on failure.
pub fn eval_host(repo: &Path, host: &str, apply_expr: &str) -> serde_json::Value {
    let attr = machines(repo)
        .remove(host)
        .unwrap_or_else(|| panic!("no machine {host} in the flake"));
    try_eval(repo, &format!("{attr}.config"), Some(apply_expr)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every machine's name: `nixosConfigurations`, `darwinConfigurations` and
/// `homeConfigurations` (see [`machines`]).
pub fn host_names(repo: &Path) -> Vec<String> {
    machines(repo).into_keys().collect()
}

/// A llama package a host installs, with what shows its backend.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LlamaPackage {
    /// Derivation name, e.g. `llama-cpp-6000` or `llama-cpp-cuda-0.0.0`.
    pub name: String,
    /// `cmakeFlags` (empty when the package has none).
    pub cmake_flags: Vec<String>,
    /// Names of `buildInputs`.
    pub build_inputs: Vec<String>,
}

const LLAMA_PACKAGES_EXPR: &str = r#"
cfg:
let
  svc = cfg.services.llama-cpp or { };
  installed =
    (cfg.environment.systemPackages or [ ])
    ++ (if svc.enable or false then [ svc.package ] else [ ])
    ++ builtins.concatLists (map (u: u.packages or [ ]) (builtins.attrValues (cfg.users.users or { })))
    ++ builtins.concatLists (map (u: u.home.packages or [ ]) (builtins.attrValues (cfg.home-manager.users or { })))
    ++ (cfg.home.packages or [ ]);
  nameOf = p: if builtins.isAttrs p then p.name or "<unnamed>" else toString p;
  describe = p: {
    name = nameOf p;
    cmake_flags = if builtins.isAttrs p then p.cmakeFlags or [ ] else [ ];
    build_inputs = if builtins.isAttrs p then map nameOf (p.buildInputs or [ ]) else [ ];
  };
in
map describe (builtins.filter (p: builtins.match ".*llama.*" (nameOf p) != null) installed)
"#;

/// Every package whose name contains "llama" that `host` installs: from
/// `environment.systemPackages`, `services.llama-cpp.package` (when the
/// service is enabled, including its nixpkgs default), `users.users.*.packages`
/// every home-manager user's `home.packages` and, for a standalone
/// home-manager configuration, its own. Sorted, without duplicates.
pub fn host_llama_derivations(repo: &Path, host: &str) -> Vec<LlamaPackage> {
    let v = eval_host(repo, host, LLAMA_PACKAGES_EXPR);
    let mut pkgs: Vec<LlamaPackage> = serde_json::from_value(v).expect("llama packages");
    pkgs.sort_by(|a, b| a.name.cmp(&b.name).then(a.cmake_flags.cmp(&b.cmake_flags)));
    pkgs.dedup();
    pkgs
}

/// Names of [`host_llama_derivations`], sorted, without duplicates.
pub fn host_llama_packages(repo: &Path, host: &str) -> Vec<String> {
    let mut names: Vec<String> = host_llama_derivations(repo, host)
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.dedup();
    names
}

/// Whether `nix-instantiate --parse` accepts the file.
pub fn nix_parses(path: &Path) -> bool {
    nix_instantiate_cmd()
        .arg("--parse")
        .arg(path)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Comparing trees

/// Every file under `dir` except `.git`, with its bytes.
pub fn tree_bytes(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[track_caller]
pub fn assert_same_tree(
    actual: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
    expected: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
) {
    let differ: Vec<String> = actual
        .keys()
        .chain(expected.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|p| actual.get(*p) != expected.get(*p))
        .map(|p| p.display().to_string())
        .collect();
    assert!(differ.is_empty(), "trees differ: {differ:#?}");
}
