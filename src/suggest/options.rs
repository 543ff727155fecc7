//! Signs that the old build had an option the overlay expresses (native,
//! rpc, static, CUDA architectures), with what was seen.

/// Signs in a file that the old build had an option the overlay
/// expresses: (offset, option's suffix, what was seen).
pub(super) fn option_clues(text: &str) -> Vec<(usize, String, String)> {
    const SIGNS: [(&str, &str); 10] = [
        ("-DGGML_NATIVE=ON", "native"),
        ("\"GGML_NATIVE\" true", "native"),
        ("-march=native", "native"),
        ("NIX_ENFORCE_NO_NATIVE", "native"),
        ("gcc.arch", "native"),
        ("rpcSupport = true", "rpc"),
        ("-DGGML_RPC=ON", "rpc"),
        ("enableStatic = true", "static"),
        // Upstream builds with BLAS by default: only switching it off shows.
        ("blasSupport = false", "noblas"),
        ("-DGGML_BLAS=OFF", "noblas"),
    ];
    let mut out: Vec<(usize, String, String)> = SIGNS
        .iter()
        .flat_map(|(sign, option)| {
            text.match_indices(sign)
                .map(move |(at, _)| (at, option.to_string(), format!("`{sign}`")))
        })
        .collect();
    out.extend(cuda_clues(text));
    out.sort();
    out
}

/// CUDA architectures the old build was given: `cudaCapabilities = [ "8.6" ]`
/// (nixpkgs' config or an override argument) or `CMAKE_CUDA_ARCHITECTURES`
/// (`=86`, or `"CMAKE_CUDA_ARCHITECTURES" "86;89"`), each as its `sm86`
/// suffix.
fn cuda_clues(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("cudaCapabilities") {
        let rest = &text[at + "cudaCapabilities".len()..];
        let Some(list) = rest
            .trim_start()
            .strip_prefix('=')
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.split_once(']'))
            .map(|(l, _)| l)
        else {
            continue;
        };
        let seen = format!("`cudaCapabilities = [{list}]`");
        for cap in list.split_whitespace().map(|c| c.trim_matches('"')) {
            if cap.contains('.') {
                out.push((at, format!("sm{}", cap.replace('.', "")), seen.clone()));
            }
        }
    }
    for (at, _) in text.match_indices("CMAKE_CUDA_ARCHITECTURES") {
        let rest = &text[at + "CMAKE_CUDA_ARCHITECTURES".len()..];
        let value = rest
            .trim_start_matches(|c: char| c == ':' || c.is_ascii_uppercase())
            .trim_start_matches(['=', '"', ' ']);
        let value: String = value
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ';')
            .collect();
        let archs: Vec<&str> = value
            .split(';')
            .filter(|a| a.len() >= 2 && a.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let seen = format!("`CMAKE_CUDA_ARCHITECTURES={value}`");
        for arch in archs {
            out.push((at, format!("sm{arch}"), seen.clone()));
        }
    }
    out
}
