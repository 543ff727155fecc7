//! End to end on every fixture shape: `init` with the expected variants,
//! then `up` with the stand-ins. Where `up` gets as far as 0006, the
//! verification must pass, confirm each host's variant by store path, and
//! leave `up` waiting at 0007 for a switch per variant.

mod support;

use assert_cmd::Command;
use support::*;

/// Shapes that steps 0001–0005 migrate completely. The others stop earlier
/// on purpose (a manual step the tool teaches) or, for home-manager-users,
/// at the flake check: a host whose home-manager does not use the global
/// pkgs never sees the overlay, which verify reports with nix's error.
const MIGRATED: &[&str] = &[
    "dotted-mkhost",
    "eval-only",
    "fork-pin",
    "let-alias",
    "let-root",
    "override-fleet",
    "seed",
    "services",
    "tabs",
];

fn flake_migrate(args: &[String]) -> (i32, String, String) {
    let out = Command::cargo_bin("flake-migrate")
        .unwrap()
        .args(args)
        .env("NIX_CONFIG", NIX_CONFIG)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_migrated_fixture_verifies() {
    require_nix!();
    let mut failures = Vec::new();
    for shape in fixture_shapes() {
        let expect = expectations(&shape);
        let repo = locked_fixture_repo(&shape);
        let dir = repo.path().display().to_string();
        let mut init = vec!["-C".to_string(), dir.clone(), "init".into()];
        for (host, variant) in &expect.hosts {
            if variant != "none" {
                init.extend(["--host".to_string(), format!("{host}={variant}")]);
            }
        }
        init.push("--".into());
        init.extend(migration_override_args(repo.path()));
        let (code, _, err) = flake_migrate(&init);
        assert_eq!(code, 0, "{shape}: init failed: {err}");

        let mut up = vec!["-C".to_string(), dir.clone(), "up".into(), "--".into()];
        up.extend(migration_override_args(repo.path()));
        let (code, out, err) = flake_migrate(&up);
        let log = format!("{shape}: up exited {code}\n{out}\n{err}");
        if !MIGRATED.contains(&shape.as_str()) {
            eprintln!("not asserted: {log}");
            continue;
        }
        let mut problems = Vec::new();
        if code != 3 || !err.contains("0007-switch") {
            problems.push("expected `up` to stop at 0007 with exit code 3".to_string());
        }
        if !out.contains("0006-flake-check: `nix flake check` passes (committed") {
            problems.push("0006 was not verified and committed".to_string());
        }
        for (host, variant) in &expect.hosts {
            let line = if variant == "none" {
                format!("  {host}: no llama.cpp")
            } else {
                format!("  {host} ({variant}): llama-cpp-")
            };
            if !out.contains(&line) {
                problems.push(format!("no line `{line}`"));
            }
            if variant != "none" && !out.contains(&format!("is upstream's {variant} (packages.")) {
                problems.push(format!("{host} is not confirmed as upstream's {variant}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}\n{log}", problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs `flake-migrate` in `dir` with the stand-ins after `--`.
fn fm_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = vec!["-C".into(), dir.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.push("--".into());
    all.extend(migration_override_args(dir));
    flake_migrate(&all)
}

fn commit_all(dir: &std::path::Path, message: &str) {
    for args in [&["add", "-A"][..], &["commit", "-qm", message]] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
}

/// The native fleet migrated with each option in use (native, rpc, static,
/// CUDA architectures) and a host given upstream's Windows cross build:
/// `verify` confirms each option in the evaluated package, and names the
/// option an edited overlay no longer builds.
#[test]
fn verify_checks_each_option_of_the_native_fleet_and_names_a_dropped_one() {
    require_nix!();
    let repo = locked_fixture_repo("native-fleet");
    let dir = repo.path();
    let hosts = [
        ("argon", "cpu-native-rpc-static"),
        ("boron", "cuda-sm86"),
        ("carbon", "vulkan-native"),
        ("neon", "cuda-native"),
        ("xenon", "windows"),
    ];
    let mut init = vec!["init".to_string()];
    for (host, spec) in hosts {
        init.extend(["--host".to_string(), format!("{host}={spec}")]);
    }
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let (code, out, err) = fm_in(dir, &init);
    assert_eq!(code, 0, "init: {out}\n{err}");
    let (code, out, err) = fm_in(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(code, 0, "up: {out}\n{err}");
    // The guard: the cuda helper's `llamaPackages.llama-cpp` is upstream's.
    let (code, out, err) = flake_migrate(&["-C".into(), dir.display().to_string(), "check".into()]);
    assert_eq!(code, 0, "check: {out}\n{err}");
    // xenon had no llama.cpp to rewrite: it installs the Windows build by hand.
    let xenon = dir.join("hosts/xenon.nix");
    let text = std::fs::read_to_string(&xenon).unwrap();
    let text = text.replacen(
        "services.openssh.openFirewall = true;",
        "services.openssh.openFirewall = true;\n  environment.systemPackages = [ pkgs.llama-cpp-windows ];",
        1,
    );
    std::fs::write(&xenon, text).unwrap();
    commit_all(dir, "xenon serves the Windows build");

    let (code, out, err) = fm_in(dir, &["verify"]);
    assert_eq!(code, 0, "verify: {out}\n{err}");
    let line = |host: &str| {
        out.lines()
            .find(|l| l.contains(&format!("{host} (")))
            .unwrap_or_else(|| panic!("no line for {host}: {out}"))
            .to_string()
    };
    for (host, checks) in [
        (
            "argon",
            &[
                "GGML_NATIVE on",
                "GGML_RPC on",
                "GGML_STATIC on",
                "NIX_ENFORCE_NO_NATIVE off",
            ][..],
        ),
        (
            "boron",
            &["CUDA in cmakeFlags", "CMAKE_CUDA_ARCHITECTURES 86"],
        ),
        (
            "carbon",
            &["vulkan-loader in buildInputs", "GGML_NATIVE on"],
        ),
        ("neon", &["CUDA in cmakeFlags", "GGML_NATIVE on"]),
        (
            "xenon",
            &["is upstream's windows (packages.x86_64-linux.windows)"],
        ),
    ] {
        let l = line(host);
        for check in checks {
            assert!(l.contains(check), "{host}: no `{check}` in {l}\n{out}");
        }
    }

    // The overlay edited by hand: boron's architectures and argon's RPC gone.
    let overlay = dir.join("nixos/overlays/llama-cpp.nix");
    let text = std::fs::read_to_string(&overlay).unwrap();
    let edited = text
        .replacen("cuda [ \"8.6\" ]", "upstream.cuda", 1)
        .replacen(" useRpc = true;", "", 1);
    assert_ne!(edited, text);
    std::fs::write(&overlay, edited).unwrap();
    commit_all(dir, "overlay edited by hand");
    let (code, out, err) = fm_in(dir, &["verify"]);
    assert_ne!(
        code, 0,
        "verify passed an overlay without the options: {out}\n{err}"
    );
    let all = format!("{out}\n{err}");
    assert!(
        all.contains("`cuda-capabilities = [\"8.6\"]` in flake-migrate.toml but its cmakeFlags have CMAKE_CUDA_ARCHITECTURES `75;86;89`"),
        "{all}"
    );
    assert!(
        all.contains("is `rpc` in flake-migrate.toml but its cmakeFlags have GGML_RPC off"),
        "{all}"
    );
    assert!(!all.contains("GGML_NATIVE off"), "{all}");
}

/// The seed fleet with carbon on `mpi-cuda`: upstream's own `mpi-cuda`
/// output is its CPU build with MPI, so the overlay builds upstream's `cuda`
/// with `useMpi`, and `verify` finds CUDA and MPI in it. Mapped back by
/// hand to upstream's `mpi-cuda` output, `verify` fails.
#[test]
fn mpi_cuda_is_verified_as_cuda_with_mpi_and_upstreams_output_fails() {
    require_nix!();
    let repo = locked_fixture_repo("seed");
    let dir = repo.path();
    let (code, out, err) = fm_in(
        dir,
        &[
            "init",
            "--host",
            "carbon=mpi-cuda",
            "--host",
            "beryllium=vulkan",
        ],
    );
    assert_eq!(code, 0, "init: {out}\n{err}");
    let (code, out, err) = fm_in(dir, &["up"]);
    assert!(
        code == 3 && err.contains("0007-switch"),
        "up did not stop at 0007: {out}\n{err}"
    );
    let overlay = dir.join("nixos/overlays/llama-cpp.nix");
    let text = std::fs::read_to_string(&overlay).unwrap();
    assert!(
        text.contains("llama-cpp-mpi-cuda = upstream.cuda.override { useMpi = true; };"),
        "{text}"
    );
    assert!(
        out.contains("llama-cpp-cuda-mpi-0.0.0 is upstream's mpi-cuda (packages.x86_64-linux.cuda with useMpi = true), CUDA in cmakeFlags, openmpi in buildInputs"),
        "{out}\n{err}"
    );
    let (code, out, err) = fm_in(dir, &["verify"]);
    assert_eq!(code, 0, "verify: {out}\n{err}");

    // The guard refuses this edit (its unit tests); --no-verify gets past it.
    let edited = text.replacen(
        "upstream.cuda.override { useMpi = true; }",
        "upstream.mpi-cuda",
        1,
    );
    std::fs::write(&overlay, edited).unwrap();
    let ok = std::process::Command::new("git")
        .args([
            "commit",
            "-qam",
            "upstream's mpi-cuda by hand",
            "--no-verify",
        ])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (code, out, err) = fm_in(dir, &["verify"]);
    assert_ne!(
        code, 0,
        "verify passed upstream's mpi-cuda output: {out}\n{err}"
    );
    let all = format!("{out}\n{err}");
    assert!(
        all.contains("installs upstream's mpi-cpu build (llama-cpp-blas-mpi-0.0.0)"),
        "{all}"
    );
    assert!(
        all.contains("does not install upstream's mpi-cuda build (packages.x86_64-linux.cuda with useMpi = true)"),
        "{all}"
    );
}
