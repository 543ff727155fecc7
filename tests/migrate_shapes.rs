//! Steps 0001–0005 on every fixture shape (issue 3), with the real binary:
//! `init` with the hosts of `<shape>.expect.toml`, `up --to 5 --no-lock`,
//! then what the edits look like (snapshots of the whole diff), that every
//! edited file parses, idempotence, untouched hosts and look-alikes, and
//! `down --all` back to the original bytes. With `nix`, the migrated
//! repository is locked against the stand-ins and every host evaluated: each
//! configured host gets exactly its upstream variant and no nixpkgs
//! llama-cpp, hosts without a variant get what they got before.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");
/// The derivation name of nixpkgs' llama-cpp in the stand-in nixpkgs.
const NIXPKGS_LLAMA: &str = "llama-cpp-6000";

// ---------------------------------------------------------------------------
// Running things

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `flake-migrate -C dir args…`, isolated from the user's git config.
fn fm(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("NIX_CONFIG", NIX_CONFIG)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run flake-migrate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn trailer(dir: &Path, rev: &str, key: &str) -> Option<String> {
    let body = git(dir, &["log", "-1", "--format=%B", rev]);
    body.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(|v| v.trim().to_string())
}

#[track_caller]
fn assert_same_tree(
    what: &str,
    actual: &BTreeMap<PathBuf, Vec<u8>>,
    expected: &BTreeMap<PathBuf, Vec<u8>>,
) {
    let differ: Vec<String> = actual
        .keys()
        .chain(expected.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|p| actual.get(*p) != expected.get(*p))
        .map(|p| {
            let state = match (actual.get(p), expected.get(p)) {
                (Some(_), None) => "extra",
                (None, Some(_)) => "missing",
                _ => "different bytes",
            };
            format!("{} ({state})", p.display())
        })
        .collect();
    assert!(differ.is_empty(), "{what}: trees differ: {differ:#?}");
}

// ---------------------------------------------------------------------------
// One migrated repository per test

/// A fixture shape after `init` and `up --to 5 --no-lock`.
struct Migrated {
    expect: Expectations,
    repo: TempRepo,
    /// The commit that imported the fixture.
    first: String,
    up: Run,
    /// The step that refused (exit 3), if any.
    refused: Option<String>,
}

impl Migrated {
    fn dir(&self) -> &Path {
        self.repo.path()
    }

    /// Whether steps 0001–0005 all landed.
    fn complete(&self) -> bool {
        self.refused.is_none()
    }
}

/// Steps a shape is allowed to refuse, with what the refusal must say.
fn allowed_refusal(expect: &Expectations) -> Option<&'static str> {
    expect
        .strings("refuses")
        .iter()
        .any(|s| s == "0004")
        .then_some("0004")
}

fn migrate(shape: &str) -> Migrated {
    let expect = expectations(shape);
    let repo = fixture_repo(shape);
    let dir = repo.path();
    let first = head(dir);

    let mut init: Vec<String> = vec!["init".into()];
    for host in expect.llama_hosts() {
        init.push("--host".into());
        init.push(format!("{host}={}", host_spec(&expect, host)));
    }
    // Evaluation says where (against the stand-ins), the syntax tree how.
    let nix_args = migration_override_args(dir);
    init.push("--".into());
    init.extend(nix_args.iter().cloned());
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let run = fm(dir, &init);
    assert_eq!(run.code, 0, "{shape}: init failed: {run:#?}");

    let mut up_args = vec!["up", "--no-lock", "--to", "5", "--"];
    up_args.extend(nix_args.iter().map(String::as_str));
    let up = fm(dir, &up_args);
    let refused = match up.code {
        0 => None,
        3 => {
            let allowed = allowed_refusal(&expect)
                .unwrap_or_else(|| panic!("{shape}: up refused a step: {up:#?}"));
            assert!(
                up.stderr.contains(&format!("step {allowed}")),
                "{shape}: only {allowed} may refuse: {up:#?}"
            );
            Some(allowed.to_string())
        }
        _ => panic!("{shape}: up failed: {up:#?}"),
    };
    if refused.is_some() {
        // The whole run is planned before anything is written: a refusal
        // commits no step at all.
        let log = git(dir, &["log", "--format=%B", &format!("{first}..HEAD")]);
        assert!(
            !log.contains("Migration:"),
            "{shape}: a refusal commits no step:\n{log}"
        );
        assert_eq!(porcelain(dir), "", "{shape}: a refusal writes nothing");
    } else {
        assert!(
            expect.strings("refuses").is_empty(),
            "{shape}: expected a refusal of {:?}: {up:#?}",
            expect.strings("refuses")
        );
        assert_eq!(
            trailer(dir, "HEAD", "Migration").as_deref(),
            Some("0005-remove-old-override"),
            "{shape}"
        );
        // Evaluated before it was written (issue 20): every commit of the
        // run says over how many hosts.
        for c in git(dir, &["rev-list", &format!("{first}..HEAD")]).lines() {
            if trailer(dir, c, "Migration").is_none() {
                continue;
            }
            let proven = trailer(dir, c, "Proven");
            assert!(
                proven
                    .as_deref()
                    .and_then(|p| p.strip_suffix(" hosts"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n >= 1),
                "{shape}: {c} is not proven ({proven:?}): {up:#?}"
            );
        }
    }
    assert_eq!(porcelain(dir), "", "{shape}: up leaves a clean tree");
    Migrated {
        expect,
        repo,
        first,
        up,
        refused,
    }
}

/// `git diff` of the tree from the fixture to HEAD, without the record.
fn migration_diff(m: &Migrated) -> String {
    git(
        m.dir(),
        &[
            "-c",
            "core.quotepath=false",
            "diff",
            "--no-color",
            "--no-ext-diff",
            &format!("{}..HEAD", m.first),
            "--",
            ".",
            ":!.flake-migrate",
        ],
    )
}

/// Files the migration added or modified.
fn edited_files(m: &Migrated) -> Vec<PathBuf> {
    git(
        m.dir(),
        &[
            "diff",
            "--name-only",
            "--diff-filter=AM",
            &format!("{}..HEAD", m.first),
            "--",
            ".",
            ":!.flake-migrate",
        ],
    )
    .lines()
    .map(PathBuf::from)
    .collect()
}

/// A host's `--host` value: its variant and, from `[options]`, the
/// options as the overlay attribute's suffix (`vulkan-native`).
fn host_spec(expect: &Expectations, host: &str) -> String {
    let variant = &expect.hosts[host];
    match expect.raw.get("options").and_then(|o| o.get(host)) {
        Some(options) => format!("{variant}-{}", options.as_str().unwrap()),
        None => variant.clone(),
    }
}

/// The upstream stand-in's derivation name for a variant.
fn upstream_name(variant: &str) -> &'static str {
    match variant {
        "cpu" => "llama-cpp-blas-0.0.0",
        "cuda" => "llama-cpp-cuda-0.0.0",
        "vulkan" => "llama-cpp-vulkan-0.0.0",
        "rocm" => "llama-cpp-rocm-0.0.0",
        // Upstream's `default` on aarch64-darwin: the Metal build.
        "metal" => "llama-cpp-metalkit-0.0.0",
        other => panic!("no upstream variant {other}"),
    }
}

/// `[before]` of a host.
fn before(expect: &Expectations, host: &str) -> Vec<String> {
    expect.raw["before"][host]
        .as_array()
        .unwrap_or_else(|| panic!("no before.{host}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// What a host should install after migration: what it had, with every
/// llama.cpp build (nixpkgs', a fork's, a rebuild from a pinned source)
/// replaced by its upstream variant. Other packages whose name merely
/// contains "llama" stay.
fn after(expect: &Expectations, host: &str) -> Vec<String> {
    let variant = expect.hosts[host].as_str();
    let mut names: Vec<String> = before(expect, host)
        .into_iter()
        .filter(|n| !n.starts_with("llama-cpp-"))
        .collect();
    names.push(upstream_name(variant).to_string());
    names.sort();
    names.dedup();
    names
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The text of every `.nix` file of a tree, concatenated.
fn all_nix(tree: &BTreeMap<PathBuf, Vec<u8>>) -> String {
    tree.iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "nix"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files named after a host: `machines/<host>.nix`, `hosts/<host>/…`, ….
fn host_files(tree: &BTreeMap<PathBuf, Vec<u8>>, host: &str) -> Vec<PathBuf> {
    tree.keys()
        .filter(|p| {
            p.file_stem().is_some_and(|s| s == host)
                || p.parent()
                    .is_some_and(|d| d.components().any(|c| c.as_os_str() == host))
        })
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// The edits, without nix

fn edits_are_right_and_undone(shape: &str) {
    let m = migrate(shape);
    let dir = m.dir();
    let original = tree_bytes(&fixture_source(shape));
    let migrated = tree_bytes(dir);

    // The whole change, as a reviewer sees it.
    insta::assert_snapshot!(format!("{shape}_up_diff"), migration_diff(&m));

    // Every edited Nix file parses, with rnix and with Nix itself.
    for file in edited_files(&m) {
        if file.extension().is_none_or(|e| e != "nix") {
            continue;
        }
        let text = fs::read_to_string(dir.join(&file)).unwrap();
        if let Err(e) = flake_migrate::syntax::parse(&file, &text) {
            panic!("{shape}: {} does not parse with rnix: {e}", file.display());
        }
        if nix_available() {
            assert!(
                nix_parses(&dir.join(&file)),
                "{shape}: nix-instantiate --parse rejects {}",
                file.display()
            );
        }
    }

    // Inserted lines follow the file's indentation.
    if m.expect.raw.get("indent").and_then(|v| v.as_str()) == Some("tabs") {
        let diff = migration_diff(&m);
        for file_diff in diff.split("diff --git ").skip(1) {
            if file_diff.contains("\nnew file mode") {
                continue;
            }
            for line in file_diff.lines() {
                if let Some(added) = line.strip_prefix('+')
                    && !line.starts_with("+++")
                {
                    assert!(
                        !added.starts_with(' '),
                        "{shape}: inserted line indented with spaces: {added:?}"
                    );
                }
            }
        }
    }

    // Hosts without a variant: their own files are byte-identical.
    for (host, variant) in &m.expect.hosts {
        if variant != "none" {
            continue;
        }
        for file in host_files(&original, host) {
            assert_eq!(
                migrated.get(&file),
                original.get(&file),
                "{shape}: {} of host {host} (no llama.cpp) changed",
                file.display()
            );
        }
    }

    // Look-alikes stay.
    let (before_nix, after_nix) = (all_nix(&original), all_nix(&migrated));
    for lookalike in m.expect.strings("untouched") {
        assert_eq!(
            count(&after_nix, &lookalike),
            count(&before_nix, &lookalike),
            "{shape}: look-alike {lookalike:?} was edited"
        );
        assert!(count(&before_nix, &lookalike) > 0, "{shape}: {lookalike:?}");
    }

    if m.complete() {
        // The old override files are gone, with every reference to them.
        for old in m.expect.strings("old_override_files") {
            assert!(!dir.join(&old).exists(), "{shape}: {old} not deleted");
            let name = Path::new(&old).file_name().unwrap().to_str().unwrap();
            assert_eq!(
                count(&after_nix, name),
                0,
                "{shape}: {name} is still referenced"
            );
        }
        // Pinned forks are gone from the inputs and their uses.
        for fork in m.expect.strings("forks") {
            assert_eq!(
                count(&after_nix, &fork),
                0,
                "{shape}: fork input {fork} still named"
            );
        }
        // Override arguments no variant covers are reported, in the output
        // and in the commit that rewrote the hosts.
        let step4 = git(
            dir,
            &["log", "--format=%B", "--grep=^Migration: 0004", "HEAD"],
        );
        for item in m.expect.strings("uncovered_override_args") {
            let (host, arg) = item.split_once(':').unwrap();
            assert!(
                m.up.stdout.contains(arg),
                "{shape}: {arg} of {host} not reported: {:#?}",
                m.up
            );
            assert!(
                step4.contains(arg),
                "{shape}: {arg} of {host} not in the commit message:\n{step4}"
            );
        }
        // Old overrideAttrs items the host's options express are carried,
        // said in the output and the commit, and never listed as dropped.
        for item in m.expect.strings("carried_override_attrs") {
            let (host, attr) = item.split_once(':').unwrap();
            let carried = |text: &str| {
                text.lines()
                    .any(|l| l.contains("carried into") && l.contains(attr))
            };
            assert!(
                carried(&m.up.stdout),
                "{shape}: {attr} of {host} not carried: {:#?}",
                m.up
            );
            assert!(
                carried(&step4),
                "{shape}: {attr} of {host} not in the commit:\n{step4}"
            );
            assert!(
                !m.up
                    .stdout
                    .lines()
                    .any(|l| l.contains("not carried") && l.contains(attr)),
                "{shape}: {attr} of {host} listed as not carried: {:#?}",
                m.up
            );
        }
        // Home-manager users that do not see the system overlays.
        for host in m.expect.strings("hm_without_global_pkgs") {
            let out = format!("{}{}", m.up.stdout, m.up.stderr);
            assert!(
                out.lines()
                    .any(|l| l.contains(&host) && l.contains("useGlobalPkgs")),
                "{shape}: no useGlobalPkgs warning for {host}: {:#?}",
                m.up
            );
        }
        // Every configured host's variant is named somewhere, and nixpkgs'
        // plain llama-cpp attribute only where the shape keeps a look-alike.
        for host in m.expect.llama_hosts() {
            let attr = format!("llama-cpp-{}", host_spec(&m.expect, host));
            assert!(after_nix.contains(&attr), "{shape}: nothing names {attr}");
        }
    }

    // Idempotence: the same run again makes no commit and edits nothing.
    let head_before = head(dir);
    let nix_args = migration_override_args(dir);
    let mut again_args = vec!["up", "--no-lock", "--to", "5", "--"];
    again_args.extend(nix_args.iter().map(String::as_str));
    let again = fm(dir, &again_args);
    assert_eq!(again.code, m.up.code, "{shape}: second up: {again:#?}");
    assert_eq!(head(dir), head_before, "{shape}: second up committed");
    assert_same_tree(shape, &tree_bytes(dir), &migrated);

    // down --all: the original bytes of every file.
    let down = fm(dir, &["down", "--all"]);
    assert_eq!(down.code, 0, "{shape}: down --all: {down:#?}");
    assert_eq!(porcelain(dir), "", "{shape}: down leaves a clean tree");
    let mut restored = tree_bytes(dir);
    restored.remove(Path::new("flake-migrate.toml"));
    assert_same_tree(&format!("{shape} after down --all"), &restored, &original);
}

// ---------------------------------------------------------------------------
// The result, with nix

/// `nix flake lock` with the stand-ins, as `migration_override_args` says.
fn lock(dir: &Path) {
    let out = nix_cmd()
        .current_dir(dir)
        .args(["flake", "lock"])
        .args(migration_override_args(dir))
        .output()
        .expect("run nix flake lock");
    assert!(
        out.status.success(),
        "nix flake lock failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hosts_get_their_upstream_variant(shape: &str) {
    let m = migrate(shape);
    let dir = m.dir();
    lock(dir);

    let mut failures = Vec::new();
    let wrapped = m.expect.strings("wrapped");
    for (host, variant) in &m.expect.hosts {
        let got = host_llama_packages(dir, host);
        if wrapped.contains(host) {
            // Its llama.cpp is another package's dependency: that package's
            // text names the build it was given.
            let texts = eval_host(
                dir,
                host,
                "c: map (p: p.text or \"\") c.environment.systemPackages",
            )
            .to_string();
            let wanted = upstream_name(variant);
            if m.complete() && !texts.contains(wanted) {
                failures.push(format!("{host}: no package built with {wanted}: {texts}"));
            }
            continue;
        }
        let want = if variant == "none" || !m.complete() {
            // Untouched, or migrated only up to a refusal that left every
            // reference as it was.
            before(&m.expect, host)
        } else {
            after(&m.expect, host)
        };
        if got != want {
            failures.push(format!("{host} ({variant}): got {got:?}, want {want:?}"));
        }
        if variant != "none" && m.complete() {
            let drvs = host_llama_derivations(dir, host);
            if drvs.iter().any(|d| d.name == NIXPKGS_LLAMA) {
                failures.push(format!("{host}: still installs nixpkgs' llama-cpp"));
            }
            // Options reach the evaluated package: cmake takes the last
            // definition of a flag.
            let spec = host_spec(&m.expect, host);
            for (option, flag) in [("native", "GGML_NATIVE"), ("rpc", "GGML_RPC")] {
                let wanted = spec.split('-').skip(1).any(|w| w == option);
                for d in &drvs {
                    let last = d.cmake_flags.iter().rev().find(|f| f.contains(flag));
                    let on = last.is_some_and(|f| f.ends_with("=TRUE") || f.ends_with("=ON"));
                    if on != wanted {
                        failures.push(format!("{host}: {flag} is {last:?} in {}", d.name));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{shape}: hosts after migration:\n  {}\n(up said: {:#?})",
        failures.join("\n  "),
        m.up
    );

    if let Err(e) = flake_check(dir) {
        panic!("{shape}: after migration: {e}");
    }

    if m.complete() {
        // Forks are gone from the lock too.
        let lock = m.repo.read("flake.lock");
        for fork in m.expect.strings("forks") {
            assert!(
                !lock.contains(&format!("\"{fork}\"")),
                "{shape}: {fork} still locked"
            );
        }
    }
}

// ---------------------------------------------------------------------------

macro_rules! shape_tests {
    ($($shape:literal => $edits:ident, $(#[$meta:meta])* $hosts:ident, $static:ident;)*) => {
        $(
            #[test]
            fn $edits() {
                edits_are_right_and_undone($shape);
            }

            #[test]
            fn $static() {
                require_nix!();
                without_evaluation_the_same_or_refused($shape);
            }

            #[test]
            $(#[$meta])*
            fn $hosts() {
                require_nix!();
                hosts_get_their_upstream_variant($shape);
            }
        )*

        /// Every fixture shape has its tests here.
        #[test]
        fn every_fixture_shape_is_migrated_by_a_test() {
            let tested: BTreeSet<&str> = [$($shape),*].into_iter().collect();
            let shapes = fixture_shapes();
            let on_disk: BTreeSet<&str> = shapes.iter().map(String::as_str).collect();
            assert_eq!(tested, on_disk);
        }
    };
}

shape_tests! {
    "seed" =>
        seed_up_edits_as_snapshotted_and_down_all_restores,
        seed_migrated_hosts_get_their_upstream_variant,
        seed_without_evaluation_is_the_same_or_refused_before_writing;
    "override-fleet" =>
        override_fleet_up_edits_as_snapshotted_and_down_all_restores,
        override_fleet_migrated_hosts_get_their_upstream_variant,
        override_fleet_without_evaluation_is_the_same_or_refused_before_writing;
    "dotted-mkhost" =>
        dotted_mkhost_up_edits_as_snapshotted_and_down_all_restores,
        dotted_mkhost_migrated_hosts_get_their_upstream_variant,
        dotted_mkhost_without_evaluation_is_the_same_or_refused_before_writing;
    "home-manager-users" =>
        home_manager_users_up_edits_as_snapshotted_and_down_all_restores,
        home_manager_users_migrated_hosts_get_their_upstream_variant,
        home_manager_users_without_evaluation_is_the_same_or_refused_before_writing;
    "services" =>
        services_up_edits_as_snapshotted_and_down_all_restores,
        services_migrated_hosts_get_their_upstream_variant,
        services_without_evaluation_is_the_same_or_refused_before_writing;
    "let-alias" =>
        let_alias_up_edits_as_snapshotted_and_down_all_restores,
        let_alias_migrated_hosts_get_their_upstream_variant,
        let_alias_without_evaluation_is_the_same_or_refused_before_writing;
    "shared-conflict" =>
        shared_conflict_up_edits_as_snapshotted_and_down_all_restores,
        shared_conflict_migrated_hosts_get_their_upstream_variant,
        shared_conflict_without_evaluation_is_the_same_or_refused_before_writing;
    "fork-pin" =>
        fork_pin_up_edits_as_snapshotted_and_down_all_restores,
        fork_pin_migrated_hosts_get_their_upstream_variant,
        fork_pin_without_evaluation_is_the_same_or_refused_before_writing;
    "tabs" =>
        tabs_up_edits_as_snapshotted_and_down_all_restores,
        tabs_migrated_hosts_get_their_upstream_variant,
        tabs_without_evaluation_is_the_same_or_refused_before_writing;
    "let-root" =>
        let_root_up_edits_as_snapshotted_and_down_all_restores,
        let_root_migrated_hosts_get_their_upstream_variant,
        let_root_without_evaluation_is_the_same_or_refused_before_writing;
    "flake-parts" =>
        flake_parts_up_edits_as_snapshotted_and_down_all_restores,
        flake_parts_migrated_hosts_get_their_upstream_variant,
        flake_parts_without_evaluation_is_the_same_or_refused_before_writing;
    "eval-only" =>
        eval_only_up_edits_as_snapshotted_and_down_all_restores,
        eval_only_migrated_hosts_get_their_upstream_variant,
        eval_only_without_evaluation_is_the_same_or_refused_before_writing;
    "overlay-names" =>
        overlay_names_up_edits_as_snapshotted_and_down_all_restores,
        overlay_names_migrated_hosts_get_their_upstream_variant,
        overlay_names_without_evaluation_is_the_same_or_refused_before_writing;
    "upstream-input" =>
        upstream_input_up_edits_as_snapshotted_and_down_all_restores,
        upstream_input_migrated_hosts_get_their_upstream_variant,
        upstream_input_without_evaluation_is_the_same_or_refused_before_writing;
    "native-fleet" =>
        native_fleet_up_edits_as_snapshotted_and_down_all_restores,
        native_fleet_migrated_hosts_get_their_upstream_variant,
        native_fleet_without_evaluation_is_the_same_or_refused_before_writing;
    "shared-reach" =>
        shared_reach_up_edits_as_snapshotted_and_down_all_restores,
        shared_reach_migrated_hosts_get_their_upstream_variant,
        shared_reach_without_evaluation_is_the_same_or_refused_before_writing;
    "call-package" =>
        call_package_up_edits_as_snapshotted_and_down_all_restores,
        call_package_migrated_hosts_get_their_upstream_variant,
        call_package_without_evaluation_is_the_same_or_refused_before_writing;
    "mixed-fleet" =>
        mixed_fleet_up_edits_as_snapshotted_and_down_all_restores,
        mixed_fleet_migrated_hosts_get_their_upstream_variant,
        mixed_fleet_without_evaluation_is_the_same_or_refused_before_writing;
}

/// The static reading (`--no-eval`) of a shape either migrates it exactly
/// as evaluation does, or refuses before writing anything: `init` without a
/// config, or `up` without a commit.
fn without_evaluation_the_same_or_refused(shape: &str) {
    let expect = expectations(shape);
    let evaluated = migrate(shape);
    let repo = fixture_repo(shape);
    let dir = repo.path();
    let first = head(dir);
    let mut init: Vec<String> = vec!["--no-eval".into(), "init".into()];
    for host in expect.llama_hosts() {
        init.push("--host".into());
        init.push(format!("{host}={}", host_spec(&expect, host)));
    }
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let run = fm(dir, &init);
    if run.code != 0 {
        assert_eq!(head(dir), first, "{shape}: a refused init commits nothing");
        assert_eq!(porcelain(dir), "", "{shape}: a refused init writes nothing");
        assert!(
            expect.raw.get("needs_eval").is_some(),
            "{shape}: the static reading refused a shape it should read: {run:#?}"
        );
        return;
    }
    let configured = head(dir);
    let up = fm(dir, &["--no-eval", "up", "--no-lock", "--to", "5"]);
    match up.code {
        0 => {
            let statically = tree_bytes(dir);
            let by_evaluation = tree_bytes(evaluated.dir());
            assert_same_tree(shape, &statically, &by_evaluation);
        }
        3 => {
            assert_eq!(
                head(dir),
                configured,
                "{shape}: a refused up commits nothing"
            );
            assert_eq!(porcelain(dir), "", "{shape}: a refused up writes nothing");
        }
        _ => panic!("{shape}: up --no-eval failed: {up:#?}"),
    }
}

// ---------------------------------------------------------------------------
// Refusals

/// The shared-conflict shape with `ai.nix` changed by `edit`, configured and
/// `up --to 5` run on it (evaluated): what up said, and the repository.
fn shared_conflict_edited(edit: impl FnOnce(&str) -> String) -> (Run, TempRepo) {
    let repo = fixture_repo("shared-conflict");
    let dir = repo.path();
    let ai = repo.read("common/ai.nix");
    repo.write("common/ai.nix", &edit(&ai));
    repo.commit_all("ai.nix changed");
    let nix_args = migration_override_args(dir);
    let mut init = vec!["init", "--host", "gpu1=cuda", "--host", "igpu=vulkan", "--"];
    init.extend(nix_args.iter().map(String::as_str));
    assert_eq!(fm(dir, &init).code, 0);
    let mut up = vec!["up", "--no-lock", "--to", "5", "--"];
    up.extend(nix_args.iter().map(String::as_str));
    (fm(dir, &up), repo)
}

/// A reference under a condition cannot move into the hosts' modules
/// without its condition: 0004 refuses, naming the location, each host and
/// a way out, and writes nothing.
#[test]
fn shared_conflict_under_a_condition_refuses_0004_naming_the_location_each_host_and_a_way_out() {
    require_nix!();
    let (up, repo) = shared_conflict_edited(|ai| {
        ai.replace("{ pkgs, ... }:", "{ lib, pkgs, ... }:").replace(
            "    pkgs.llama-cpp\n",
            "  ] ++ lib.optionals (pkgs.stdenv.hostPlatform.isx86_64) [\n    pkgs.llama-cpp\n",
        )
    });
    let dir = repo.path();
    assert_eq!(up.code, 3, "{up:#?}");
    assert!(up.stderr.contains("0004"), "{up:#?}");
    let err = &up.stderr;
    // common/ai.nix:LINE:COL
    let at = err
        .find("common/ai.nix:")
        .unwrap_or_else(|| panic!("no location: {err}"));
    let mut parts = err[at + "common/ai.nix:".len()..].splitn(3, ':');
    let line = parts.next().unwrap();
    let col = parts.next().unwrap_or_default();
    assert!(
        !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()),
        "line in {err}"
    );
    assert!(
        !col.is_empty() && col.chars().all(|c| c.is_ascii_digit()),
        "column in {err}"
    );
    // The location points at the reference.
    let ai = repo.read("common/ai.nix");
    let text = ai.lines().nth(line.parse::<usize>().unwrap() - 1).unwrap();
    let col: usize = col.parse().unwrap();
    assert!(
        text[col - 1..].starts_with("pkgs.llama-cpp") || text[col - 1..].starts_with("llama-cpp"),
        "{line}:{col} is not the reference: {text:?}"
    );
    for (host, variant) in [("gpu1", "cuda"), ("igpu", "vulkan")] {
        assert!(
            err.lines().any(|l| l.contains(host) && l.contains(variant)),
            "{host} ({variant}) not named: {err}"
        );
    }
    assert!(
        err.contains("under a condition"),
        "says why it cannot move: {err}"
    );
    assert!(
        !err.contains("plain ("),
        "plain does not import common/: {err}"
    );
    assert!(err.contains("help:"), "a way out: {err}");
    assert!(err.contains("flake-migrate up"), "says how to go on: {err}");
    assert_eq!(porcelain(dir), "", "nothing written");
}

/// Two references in the shared module's one option become one entry per
/// host's module.
#[test]
fn shared_conflict_with_two_references_moves_one_entry_per_host() {
    require_nix!();
    let (up, repo) = shared_conflict_edited(|ai| {
        ai.replace(
            "    pkgs.whisper-cpp\n",
            "    pkgs.whisper-cpp\n    pkgs.llama-cpp # again\n",
        )
    });
    assert_eq!(up.code, 0, "{up:#?}");
    let ai = repo.read("common/ai.nix");
    assert!(!ai.contains("llama-cpp"), "{ai}");
    assert!(ai.contains("pkgs.whisper-cpp"), "{ai}");
    let gpu1 = repo.read("hosts/gpu1.nix");
    assert_eq!(gpu1.matches("llama-cpp-cuda").count(), 1, "{gpu1}");
    assert!(nix_parses(&repo.path().join("hosts/gpu1.nix")));
}
