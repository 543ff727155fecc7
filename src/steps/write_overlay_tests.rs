use super::*;

#[test]
fn overlay_for_all_variants_fits_in_ten_lines_and_parses() {
    let mut config = Config::default();
    for (i, v) in Variant::ALL.into_iter().take(4).enumerate() {
        config.hosts.insert(format!("h{i}"), v);
    }
    let text = overlay_text(&config, &config.input);
    assert!(text.lines().count() <= 10, "{text}");
    syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
    assert!(text.contains("llama-cpp-cpu = upstream.default;"));
    assert!(text.contains("prev.stdenv.hostPlatform.system"));
    assert!(!text.contains("prev.system"));
    assert_eq!(text.lines().filter(|l| l.starts_with('#')).count(), 1);
}

#[test]
fn with_a_mac_in_the_fleet_what_darwin_lacks_is_a_throw_not_a_missing_attribute() {
    let mut config = Config::default();
    config.hosts.insert("desktop".into(), Variant::Cuda);
    config.hosts.insert("mac".into(), Variant::Metal);
    config.hosts.insert("ada@laptop".into(), Variant::Cpu);
    let text = overlay_text(&config, &config.input);
    syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
    assert!(
        text.contains("llama-cpp-metal = upstream.default;"),
        "{text}"
    );
    assert!(text.contains("llama-cpp-cpu = upstream.default;"), "{text}");
    assert!(
        text.contains("llama-cpp-cuda = (upstream.cuda or (absent \"cuda\"));"),
        "{text}"
    );
    assert!(text.contains("absent = v: throw"), "{text}");
    assert!(text.lines().count() <= 10, "{text}");
}

#[test]
fn an_intel_mac_beside_a_cuda_host_reads_cuda_with_a_throw_too() {
    let mut config = Config::default();
    config.hosts.insert("desktop".into(), Variant::Cuda);
    config.hosts.insert("imac".into(), Variant::Cpu);
    let plain = overlay_text_for(&config, &config.input, Fleet::default());
    assert!(plain.contains("llama-cpp-cuda = upstream.cuda;"), "{plain}");
    let macs = Fleet {
        macs: true,
        ..Fleet::default()
    };
    let guarded = overlay_text_for(&config, &config.input, macs);
    assert!(
        guarded.contains("llama-cpp-cuda = (upstream.cuda or (absent \"cuda\"));"),
        "{guarded}"
    );
}

/// A Raspberry Pi beside a ROCm desktop: upstream builds no `rocm` for
/// aarch64-linux, so on the Pi that name is a throw saying so; the
/// packages aarch64-linux has stay plain.
#[test]
fn with_an_aarch64_linux_host_rocm_is_a_throw_there() {
    let mut config = Config::default();
    config.hosts.insert("desktop".into(), Variant::Rocm);
    config.hosts.insert("workstation".into(), Variant::Cuda);
    config.hosts.insert("pi".into(), Variant::Cpu);
    let pi = Fleet {
        linux_without_rocm: true,
        ..Fleet::default()
    };
    let text = overlay_text_for(&config, &config.input, pi);
    syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
    assert!(
        text.contains("llama-cpp-rocm = (upstream.rocm or (absent \"rocm\"));"),
        "{text}"
    );
    assert!(text.contains("llama-cpp-cuda = upstream.cuda;"), "{text}");
    assert!(text.contains("absent = v: throw"), "{text}");
    let plain = overlay_text_for(&config, &config.input, Fleet::default());
    assert!(plain.contains("llama-cpp-rocm = upstream.rocm;"), "{plain}");
    assert!(!plain.contains("absent"), "{plain}");
}

#[test]
fn overlay_has_exactly_the_configured_variants() {
    let mut config = Config::default();
    config.hosts.insert("carbon".into(), Variant::Cuda);
    config.hosts.insert("beryllium".into(), Variant::Vulkan);
    insta::assert_snapshot!(overlay_text(&config, &config.input));
}

#[test]
fn a_mixed_fleet_gets_one_line_per_combination_and_the_native_helper() {
    let mut config = Config::default();
    config.hosts.insert("carbon".into(), Variant::Vulkan);
    config.hosts.insert("neon".into(), Variant::Vulkan);
    config.hosts.insert("boron".into(), Variant::Cuda);
    config.hosts.insert("argon".into(), Variant::Cpu);
    let native = crate::config::Options {
        native: true,
        ..Default::default()
    };
    config.options.insert("carbon".into(), native.clone());
    config.options.insert(
        "argon".into(),
        crate::config::Options {
            rpc: true,
            ..native
        },
    );
    let text = overlay_text(&config, &config.input);
    syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
    assert_eq!(text.lines().count(), 6 + 4 + 1, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn cuda_capabilities_static_and_windows_get_their_lines_and_the_cuda_helper() {
    let mut config = Config::default();
    config.hosts.insert("boron".into(), Variant::Cuda);
    config.hosts.insert("neon".into(), Variant::Cuda);
    config.hosts.insert("radon".into(), Variant::MpiCuda);
    config.hosts.insert("argon".into(), Variant::Cpu);
    config.hosts.insert("krypton".into(), Variant::Windows);
    let sm86 = crate::config::Options {
        cuda_capabilities: Some(vec!["8.6".into()]),
        ..Default::default()
    };
    config.options.insert("boron".into(), sm86.clone());
    config.options.insert(
        "neon".into(),
        crate::config::Options {
            native: true,
            cuda_capabilities: Some(vec!["8.9".into()]),
            ..Default::default()
        },
    );
    config
        .options
        .insert("radon".into(), crate::config::Options { rpc: true, ..sm86 });
    config.options.insert(
        "argon".into(),
        crate::config::Options {
            static_link: true,
            ..Default::default()
        },
    );
    let text = overlay_text(&config, "llama");
    syntax::parse(std::path::Path::new("o.nix"), &text).unwrap();
    // Six lines of frame, two helpers, one per combination.
    assert_eq!(text.lines().count(), 6 + 2 + 5, "{text}");
    assert!(
        text.contains("overlays = [ inputs.llama.overlays.default ]"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_new_overlay_goes_into_the_overlays_directory_the_repository_has() {
    let at = |paths: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in paths {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let files = crate::files::WorkTree::new(
            dir.path(),
            paths.iter().map(|(p, _)| PathBuf::from(p)).collect(),
        );
        overlay_path(&files).unwrap()
    };
    assert_eq!(
        at(&[("flake.nix", "{ }"), ("nix/overlays/rust.nix", "_: _: { }")]),
        Path::new("nix/overlays/llama-cpp.nix")
    );
    assert_eq!(
        at(&[
            ("overlays/llama-cpp.nix", "_: _: { }"),
            ("a/b/overlays/x.nix", "_: _: { }")
        ]),
        Path::new("overlays/llama-cpp-upstream.nix"),
        "the shallowest, beside the user's own file of that name"
    );
    assert_eq!(
        at(&[(
            "overlays/default.nix",
            "map (n: import ./${n}) (builtins.attrNames (builtins.readDir ./.))"
        )]),
        Config::default().overlay
    );
    assert_eq!(at(&[("flake.nix", "{ }")]), Config::default().overlay);
}
