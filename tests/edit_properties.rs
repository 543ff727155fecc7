//! The Nix edits, proven over generated inputs rather than sampled
//! (issue 13): repositories built from pieces (attribute sets, lists,
//! comments, `let`, `with`, two- and four-space and tab indentation, LF and
//! CRLF). For each, every edit step either refuses or writes files that
//! parse, keeps every byte outside its splices (the generated lines no step
//! has business with, marked `keep-N`), and, applied, is not planned again;
//! the splice and formal helpers the steps build on obey the same rules;
//! and `up` then `down --all` on a generated repository gives back its
//! bytes.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use flake_migrate::catalogue::{self, Operation};
use flake_migrate::config::Config;
use flake_migrate::edit::{self, Splice};
use flake_migrate::files::{Files, WorkTree};
use flake_migrate::record::{Applied, State};
use flake_migrate::steps::{self, Context, Plan};
use flake_migrate::syntax;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

// ---------------------------------------------------------------------------
// Generated repositories

#[derive(Debug, Clone)]
struct Style {
    indent: &'static str,
    crlf: bool,
    /// `inputs.nixpkgs.url = …;` rather than an `inputs = { … };` set.
    dotted_inputs: bool,
    /// `outputs = … : let system = …; in { … }`.
    let_outputs: bool,
    /// `{ pkgs, ... }:` on one line, or one formal a line.
    inline_formals: bool,
}

#[derive(Debug, Clone)]
struct HostSpec {
    /// `None`: the host does not use llama.cpp.
    variant: Option<&'static str>,
    /// `with pkgs; [ llama-cpp … ]` rather than `[ pkgs.llama-cpp … ]`.
    with_pkgs: bool,
    /// The package list one entry a line.
    multiline_list: bool,
    /// Extra attributes and comments the steps must leave alone.
    keep: usize,
}

#[derive(Debug, Clone)]
struct Repo {
    style: Style,
    hosts: Vec<HostSpec>,
}

const HOST_NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

fn style() -> impl Strategy<Value = Style> {
    (
        prop::sample::select(vec!["  ", "    ", "\t"]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(indent, crlf, dotted_inputs, let_outputs, inline_formals)| Style {
                indent,
                crlf,
                dotted_inputs,
                let_outputs,
                inline_formals,
            },
        )
}

fn host() -> impl Strategy<Value = HostSpec> {
    (
        prop::option::weighted(
            0.8,
            prop::sample::select(vec!["cpu", "cuda", "vulkan", "rocm"]),
        ),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(variant, with_pkgs, multiline_list, keep)| HostSpec {
            variant,
            with_pkgs,
            multiline_list,
            keep,
        })
}

fn repo() -> impl Strategy<Value = Repo> {
    (style(), prop::collection::vec(host(), 1..=HOST_NAMES.len()))
        .prop_map(|(style, hosts)| Repo { style, hosts })
}

/// Lines joined at `depth` levels of the style's indentation.
struct Writer<'s> {
    style: &'s Style,
    out: String,
    keep: usize,
}

impl Writer<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        if !text.is_empty() {
            self.out.push_str(&self.style.indent.repeat(depth));
            self.out.push_str(text);
        }
        self.out
            .push_str(if self.style.crlf { "\r\n" } else { "\n" });
    }

    /// A line no step has business with: a comment or an unrelated
    /// attribute, unique by its number.
    fn keep(&mut self, depth: usize, attribute: bool) {
        self.keep += 1;
        let n = self.keep;
        if attribute {
            self.line(
                depth,
                &format!("environment.variables.KEEP_{n} = \"keep-{n}\";"),
            );
        } else {
            self.line(depth, &format!("# keep-{n}: left as written"));
        }
    }
}

impl Repo {
    fn names(&self) -> impl Iterator<Item = (&'static str, &HostSpec)> {
        HOST_NAMES.iter().copied().zip(&self.hosts)
    }

    fn files(&self) -> BTreeMap<PathBuf, String> {
        let mut files = BTreeMap::new();
        let mut w = Writer {
            style: &self.style,
            out: String::new(),
            keep: 0,
        };
        self.flake(&mut w);
        files.insert(PathBuf::from("flake.nix"), std::mem::take(&mut w.out));
        for (name, host) in self.names() {
            host_module(&mut w, name, host);
            files.insert(
                PathBuf::from(format!("hosts/{name}.nix")),
                std::mem::take(&mut w.out),
            );
        }
        files.insert(PathBuf::from("flake-migrate.toml"), self.config());
        files
    }

    fn flake(&self, w: &mut Writer) {
        w.line(0, "{");
        w.line(1, "description = \"generated\";");
        w.keep(1, false);
        if self.style.dotted_inputs {
            w.line(
                1,
                "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";",
            );
        } else {
            w.line(1, "inputs = {");
            w.line(2, "nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";");
            w.keep(2, false);
            w.line(1, "};");
        }
        w.line(0, "");
        let (system, depth) = if self.style.let_outputs {
            w.line(1, "outputs = { self, nixpkgs, ... }@inputs:");
            w.line(2, "let");
            w.line(3, "system = \"x86_64-linux\";");
            w.line(2, "in");
            w.line(2, "{");
            ("inherit system;", 3)
        } else {
            w.line(1, "outputs = { self, nixpkgs, ... }@inputs: {");
            ("system = \"x86_64-linux\";", 2)
        };
        w.line(depth, "nixosConfigurations = {");
        for (name, _) in self.names() {
            w.keep(depth + 1, false);
            w.line(depth + 1, &format!("{name} = nixpkgs.lib.nixosSystem {{"));
            w.line(depth + 2, system);
            w.line(depth + 2, "specialArgs = { inherit inputs; };");
            w.line(depth + 2, &format!("modules = [ ./hosts/{name}.nix ];"));
            w.line(depth + 1, "};");
        }
        w.line(depth, "};");
        w.line(depth - 1, "};");
        w.line(0, "}");
    }

    fn config(&self) -> String {
        let mut out = String::from(
            "input = \"llama-cpp\"\nurl = \"github:ggml-org/llama.cpp\"\noverlay = \"overlays/llama-cpp.nix\"\n\n[hosts]\n",
        );
        for (name, host) in self.names() {
            if let Some(v) = host.variant {
                out.push_str(&format!("{name} = \"{v}\"\n"));
            }
        }
        out
    }
}

fn host_module(w: &mut Writer, name: &str, host: &HostSpec) {
    w.keep(0, false);
    if w.style.inline_formals {
        w.line(0, "{ config, pkgs, ... }:");
    } else {
        w.line(0, "{");
        w.line(1, "config,");
        w.line(1, "pkgs,");
        w.line(1, "...");
        w.line(0, "}:");
    }
    w.line(0, "{");
    w.line(1, &format!("networking.hostName = \"{name}\";"));
    for _ in 0..host.keep {
        w.keep(1, true);
    }
    let prefix = if host.with_pkgs { "" } else { "pkgs." };
    let mut packages = vec![format!("{prefix}git"), format!("{prefix}htop")];
    if host.variant.is_some() {
        packages.insert(1, format!("{prefix}llama-cpp"));
    }
    let open = if host.with_pkgs {
        "environment.systemPackages = with pkgs; ["
    } else {
        "environment.systemPackages = ["
    };
    if host.multiline_list {
        w.line(1, open);
        for p in &packages {
            w.line(2, p);
        }
        w.keep(2, false);
        w.line(1, "];");
    } else {
        w.line(1, &format!("{open} {} ];", packages.join(" ")));
    }
    w.keep(1, false);
    w.line(0, "}");
}

// ---------------------------------------------------------------------------
// The properties

/// The `keep-N` lines of `text`, with their indentation and line ending.
fn kept_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n')
        .filter(|l| l.contains("keep-"))
        .collect()
}

fn edit_steps() -> Vec<catalogue::Migration> {
    catalogue::bundled()
        .into_iter()
        .filter(|m| !matches!(m.operation, Operation::Verify { .. } | Operation::Switch))
        .collect()
}

/// What planning every edit step over `repo` came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Migrated,
    Refused,
}

fn plan_every_step(repo: &Repo) -> Result<Outcome, TestCaseError> {
    let files = repo.files();
    let mut config = Config::parse(
        Path::new("flake-migrate.toml"),
        &files[Path::new("flake-migrate.toml")],
    )
    .map_err(|e| TestCaseError::fail(format!("config: {e}")))?;
    let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
    for (path, text) in &files {
        prop_assert!(
            path.extension().is_none_or(|e| e != "nix") || syntax::parse(path, text).is_ok(),
            "the generator wrote a file that does not parse: {}\n{text}",
            path.display()
        );
        tree.stage(path, Some(text.clone()));
    }
    let mut state = State::default();
    for m in edit_steps() {
        let plan = plan_step(&m.operation, &tree, &config, &state)?;
        let changes = match plan {
            Plan::Blocked { .. } => return Ok(Outcome::Refused),
            Plan::Satisfied => None,
            Plan::Changes(changes) => Some(changes),
            Plan::Verify => unreachable!("{} is an edit step", m.id),
        };
        for (path, after) in changes.iter().flat_map(|c| &c.files) {
            let before = tree.read(path).unwrap();
            // 0001 may rewrite flake-migrate.toml's `input` line too.
            let Some(after) = after
                .as_ref()
                .filter(|_| path.extension().is_some_and(|e| e == "nix"))
            else {
                continue;
            };
            prop_assert!(
                syntax::parse(path, after).is_ok(),
                "{}: {} does not parse:\n{after}",
                m.id,
                path.display()
            );
            if let Some(before) = &before {
                prop_assert_eq!(
                    kept_lines(after),
                    kept_lines(before),
                    "{}: {} lost or changed bytes outside its splices:\n{}",
                    m.id,
                    path.display(),
                    after
                );
                if repo.style.crlf {
                    prop_assert!(
                        !after.replace("\r\n", "").contains('\n'),
                        "{}: {} mixes line endings:\n{after:?}",
                        m.id,
                        path.display()
                    );
                }
            }
        }
        for (path, after) in changes.iter().flat_map(|c| &c.files) {
            tree.stage(path, after.clone());
            // As the engine reloads it after 0001 reused an input.
            if let (Some("flake-migrate.toml"), Some(text)) = (path.to_str(), after) {
                config = Config::parse(path, text)
                    .map_err(|e| TestCaseError::fail(format!("config: {e}")))?;
            }
        }
        state.record(Applied {
            id: m.id.clone(),
            checksum: m.checksum.clone(),
            adopted: changes.is_none(),
            files: Vec::new(),
            not_carried: Vec::new(),
        });
        // Applied, it is done: planned again it changes nothing.
        let again = plan_step(&m.operation, &tree, &config, &state)?;
        prop_assert!(
            !matches!(again, Plan::Changes(_)),
            "{}: planned again after it was applied: {again:?}",
            m.id
        );
    }
    Ok(Outcome::Migrated)
}

fn plan_step(
    op: &Operation,
    tree: &WorkTree,
    config: &Config,
    state: &State,
) -> Result<Plan, TestCaseError> {
    let ctx = Context {
        files: tree,
        config,
        state,
        discovery: None,
    };
    steps::plan(op, &ctx).map_err(|e| TestCaseError::fail(format!("plan failed: {e}")))
}

/// Runs `check` over `cases` generated repositories and returns how many
/// came to each outcome, so a generator that only ever builds refused
/// repositories fails instead of proving nothing.
fn run_repos(
    cases: u32,
    check: impl Fn(&Repo) -> Result<Outcome, TestCaseError>,
) -> BTreeMap<String, usize> {
    let outcomes = std::cell::RefCell::new(BTreeMap::new());
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&repo(), |r| {
            let outcome = check(&r)?;
            *outcomes
                .borrow_mut()
                .entry(format!("{outcome:?}"))
                .or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    outcomes.into_inner()
}

#[test]
fn every_edit_step_refuses_or_parses_keeps_the_rest_and_is_idempotent() {
    let outcomes = run_repos(64, plan_every_step);
    assert!(
        outcomes.get("Migrated").copied().unwrap_or(0) >= 32,
        "most generated repositories migrate: {outcomes:?}"
    );
}

// ---------------------------------------------------------------------------
// The splice and formal helpers

/// A Nix set of `n` attributes in the given style, and the byte ranges of
/// their values.
fn set_with_values(n: usize, indent: &str, crlf: bool) -> (String, Vec<std::ops::Range<usize>>) {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("{{{nl}");
    let mut values = Vec::new();
    for i in 0..n {
        text.push_str(&format!("{indent}a{i} = "));
        let start = text.len();
        text.push_str(&i.to_string());
        values.push(start..text.len());
        text.push_str(&format!("; # keep-{i}{nl}"));
    }
    text.push_str(&format!("}}{nl}"));
    (text, values)
}

proptest! {
    #![proptest_config(RunnerConfig { cases: 256, failure_persistence: None, ..RunnerConfig::default() })]

    /// Replacing any subset of values keeps every other byte, and the
    /// result parses; a splice that breaks the syntax is refused.
    #[test]
    fn splices_keep_every_byte_outside_them(
        n in 1usize..8,
        indent in prop::sample::select(vec!["  ", "    ", "\t"]),
        crlf in any::<bool>(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), "[0-9]{1,3}|\"[a-z]*\"|\\[ \\]"), 0..6),
    ) {
        let (text, values) = set_with_values(n, indent, crlf);
        let mut chosen: BTreeMap<usize, String> = BTreeMap::new();
        for (index, value) in picks {
            chosen.insert(index.index(values.len()), value);
        }
        let splices: Vec<Splice> = chosen
            .iter()
            .map(|(i, v)| Splice::replace(values[*i].clone(), v.clone()))
            .collect();
        let out = edit::apply(Path::new("x.nix"), &text, splices).unwrap();
        let mut expected = String::new();
        let mut cursor = 0;
        for (i, v) in &chosen {
            expected.push_str(&text[cursor..values[*i].start]);
            expected.push_str(v);
            cursor = values[*i].end;
        }
        expected.push_str(&text[cursor..]);
        prop_assert_eq!(&out, &expected);
        prop_assert!(syntax::parse(Path::new("x.nix"), &out).is_ok());

        let broken = Splice::replace(values[0].clone(), "= =");
        prop_assert!(edit::apply(Path::new("x.nix"), &text, vec![broken]).is_err());
    }

    /// Inserting lines into a CRLF file gives CRLF lines, in any file.
    #[test]
    fn inserted_lines_take_the_files_line_ending(
        n in 1usize..6,
        indent in prop::sample::select(vec!["  ", "\t"]),
        crlf in any::<bool>(),
        at in any::<prop::sample::Index>(),
    ) {
        let (text, values) = set_with_values(n, indent, crlf);
        let root = syntax::parse(Path::new("x.nix"), &text).unwrap();
        let entry = syntax::entry_nodes(&attr_set(&root)).nth(at.index(values.len())).unwrap();
        let splice = edit::after_entry(&text, &entry, &["b = 1;".into(), "c = 2;".into()]);
        let out = edit::apply(Path::new("x.nix"), &text, vec![splice]).unwrap();
        prop_assert!(syntax::parse(Path::new("x.nix"), &out).is_ok());
        prop_assert_eq!(kept_lines(&out), kept_lines(&text));
        let bare_lf = out.replace("\r\n", "").contains('\n');
        prop_assert_eq!(bare_lf, !crlf, "{:?}", out);
    }

    /// A formal is added once, in the pattern's layout, and not again.
    #[test]
    fn a_formal_is_added_once_in_any_layout(
        names in prop::collection::btree_set("[a-z]{1,6}", 0..4),
        layout in 0usize..4,
        ellipsis in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        prop_assume!(!names.contains("inputs"));
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut formals: Vec<String> = names.iter().cloned().collect();
        if ellipsis {
            formals.push("...".into());
        }
        let pattern = match layout {
            0 => format!("{{ {} }}", formals.join(", ")),
            1 => format!("{{{nl}{}}}", formals.iter().map(|f| format!("  {f},{nl}")).collect::<String>()),
            2 if !formals.is_empty() => format!("{{ {}{nl}}}", formals.join(&format!("{nl}, "))),
            _ => format!("{{{}}}", formals.join(",")),
        };
        let text = format!("# keep-0{nl}{pattern}: {{ }}{nl}");
        let root = match syntax::parse(Path::new("m.nix"), &text) {
            Ok(root) => root,
            // Not every layout is Nix for every name list (`{ , }`).
            Err(_) => return Ok(()),
        };
        let pat = pattern_of(&root);
        let Some(splice) = edit::add_formal(&text, &pat, "inputs") else {
            return Err(TestCaseError::fail("no formal added"));
        };
        let out = edit::apply(Path::new("m.nix"), &text, vec![splice]).unwrap();
        let root = syntax::parse(Path::new("m.nix"), &out).unwrap();
        let pat = pattern_of(&root);
        let added: Vec<String> = pat.pat_entries().filter_map(|e| e.ident()).map(|i| i.to_string()).collect();
        prop_assert_eq!(added.iter().filter(|n| *n == "inputs").count(), 1, "{}", out);
        for name in &names {
            prop_assert!(added.contains(name), "{} lost: {}", name, out);
        }
        prop_assert_eq!(pat.ellipsis_token().is_some(), ellipsis);
        prop_assert!(edit::add_formal(&out, &pat, "inputs").is_none(), "added twice");
        prop_assert_eq!(kept_lines(&out), kept_lines(&text));
    }
}

fn attr_set(root: &rnix::ast::Root) -> rnix::ast::AttrSet {
    use rowan::ast::AstNode;
    root.syntax()
        .descendants()
        .find_map(rnix::ast::AttrSet::cast)
        .unwrap()
}

fn pattern_of(root: &rnix::ast::Root) -> rnix::ast::Pattern {
    use rowan::ast::AstNode;
    root.syntax()
        .descendants()
        .find_map(rnix::ast::Pattern::cast)
        .unwrap()
}

// ---------------------------------------------------------------------------
// `up` then `down --all`, end to end

const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");

fn fm(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .arg("--no-eval")
        .args(args)
        .env("NO_COLOR", "1")
        .env("NIX_CONFIG", support::NIX_CONFIG)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run flake-migrate")
}

fn up_then_down_restores_the_bytes(repo: &Repo) -> Result<Outcome, TestCaseError> {
    let src = tempfile::tempdir().unwrap();
    for (path, text) in repo.files() {
        let full = src.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let repo = support::repo_from_dir(src.path(), "generated");
    let dir = repo.path();
    let before = support::tree_bytes(dir);

    let up = fm(dir, &["up", "--no-lock", "--to", "5"]);
    let outcome = match up.status.code() {
        Some(0) => Outcome::Migrated,
        Some(3) => Outcome::Refused,
        _ => return Err(TestCaseError::fail(format!("up failed: {up:?}"))),
    };
    if outcome == Outcome::Migrated {
        prop_assert_ne!(
            support::tree_bytes(dir),
            before.clone(),
            "up changed nothing"
        );
        let down = fm(dir, &["down", "--all"]);
        prop_assert!(down.status.success(), "down --all failed: {:?}", down);
    }
    prop_assert_eq!(support::tree_bytes(dir), before);
    Ok(outcome)
}

#[test]
fn up_then_down_all_gives_back_a_generated_repositorys_bytes() {
    let outcomes = run_repos(16, up_then_down_restores_the_bytes);
    assert!(
        outcomes.get("Migrated").copied().unwrap_or(0) >= 8,
        "most generated repositories migrate: {outcomes:?}"
    );
}
