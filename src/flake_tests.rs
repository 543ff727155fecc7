use super::*;

#[test]
fn upstream_urls_ignore_the_case_of_the_github_owner() {
    let url = "github:ggml-org/llama.cpp";
    for yes in [
        url,
        "github:GGML-org/llama.cpp",
        "github:ggml-org/llama.cpp/b6000",
        "github:ggml-org/llama.cpp?ref=x",
    ] {
        assert!(is_upstream(yes, url), "{yes}");
    }
    for no in [
        "github:ggml-org/llama.cpp-fork",
        "github:me/llama.cpp",
        "github:ggml",
    ] {
        assert!(!is_upstream(no, url), "{no}");
    }
}

fn flake(text: &str) -> Flake {
    parse(text).unwrap().unwrap()
}

#[test]
fn nested_and_dotted_inputs_flatten_alike() {
    let nested = flake(
        r#"{ inputs = { nixpkgs.url = "a"; hm = { url = "b"; inputs.nixpkgs.follows = "nixpkgs"; }; }; outputs = _: {}; }"#,
    );
    let dotted = flake(
        r#"{ inputs.nixpkgs.url = "a"; inputs.hm.url = "b"; inputs.hm.inputs.nixpkgs.follows = "nixpkgs"; outputs = _: {}; }"#,
    );
    for f in [nested, dotted] {
        let paths: Vec<String> = f.input_entries().iter().map(|e| e.path.join(".")).collect();
        assert_eq!(
            paths,
            vec!["nixpkgs.url", "hm.url", "hm.inputs.nixpkgs.follows"]
        );
        assert_eq!(f.input_names(), vec!["nixpkgs", "hm"]);
    }
}

#[test]
fn upstream_under_another_name_or_pinned_is_not_a_fork() {
    let f = flake(
        r#"{ inputs = {
            llama-cpp-flake = { url = "github:ggml-org/llama.cpp/b6500"; };
            pinned.url = "github:ggml-org/llama.cpp?rev=0123";
            src = { url = "github:ggml-org/llama.cpp"; flake = false; };
            fork.url = "github:someone/llama.cpp";
          }; outputs = _: {}; }"#,
    );
    let url = "github:ggml-org/llama.cpp";
    assert_eq!(
        f.upstream_input("llama-cpp", url).as_deref(),
        Some("llama-cpp-flake")
    );
    assert_eq!(f.upstream_input("fork", url).as_deref(), Some("fork"));
    assert_eq!(
        f.llama_cpp_forks("llama-cpp-flake", url),
        vec!["src", "fork"]
    );
    assert!(is_upstream("github:GGML-org/llama.cpp", url));
    assert!(!is_upstream("github:ggml-org/llama.cpp-fork", url));
}

#[test]
fn a_generator_marker_on_the_first_line_names_the_tool() {
    assert_eq!(
        generator("# DO-NOT-EDIT. This file was auto-generated using github:vic/flake-file\n{ }")
            .as_deref(),
        Some("github:vic/flake-file")
    );
    assert_eq!(generator("# my flake\n{ }"), None);
    assert_eq!(generator("{ }\n# DO-NOT-EDIT"), None);
}

#[test]
fn inputs_binding_comes_from_the_at_pattern_or_the_parameter() {
    assert_eq!(
        flake("{ outputs = { self, ... }@inputs: {}; }").inputs_binding(),
        Some("inputs".into())
    );
    assert_eq!(
        flake("{ outputs = attrs: {}; }").inputs_binding(),
        Some("attrs".into())
    );
    assert_eq!(flake("{ outputs = { self }: {}; }").inputs_binding(), None);
}
