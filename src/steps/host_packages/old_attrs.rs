//! What an old `.overrideAttrs` of nixpkgs' llama-cpp set, item by item
//! (each cmake flag, each other attribute), and which of those the host's
//! build carries: nothing it did is dropped without its name.

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use crate::config::Build;
use crate::pinned_src::{self, Revisions, Source};
use crate::syntax;

/// The items of the `overrideAttrs` calls in `expr`, split into what
/// `build` carries and what it does not; a `src` the upstream input builds
/// too (`revisions`) is carried, with the `version` it was made of.
pub(crate) fn split(
    expr: &str,
    build: &Build,
    revisions: &Revisions,
) -> (Vec<String>, Vec<String>) {
    let root = rnix::Root::parse(expr).tree();
    let mut carried = Vec::new();
    let mut dropped = Vec::new();
    for item in items(&root) {
        let by_pin = item.pin.as_ref().is_some_and(|p| revisions.carries(p));
        if by_pin || carries(build, &item) {
            carried.push(item.shown);
        } else {
            dropped.push(item.shown);
        }
    }
    (carried, dropped)
}

/// Every item of the `overrideAttrs` calls in `expr`, in source order.
pub(crate) fn all(expr: &str) -> Vec<String> {
    items(&rnix::Root::parse(expr).tree())
        .into_iter()
        .map(|i| i.shown)
        .collect()
}

struct Item {
    /// `GGML_NATIVE=ON` for a cmake flag, the attribute's name otherwise
    /// (`NIX_ENFORCE_NO_NATIVE=0` with its value when it is a literal).
    shown: String,
    /// The value as written.
    value: String,
    /// For `src` and `version`: what the set's `src` builds.
    pin: Option<Source>,
}

fn items(root: &ast::Root) -> Vec<Item> {
    let mut out = Vec::new();
    for apply in root.syntax().descendants().filter_map(ast::Apply::cast) {
        let is_override_attrs = matches!(
            apply.lambda().map(syntax::unparen),
            Some(ast::Expr::Select(s)) if s.attrpath().and_then(|p| p.attrs().last())
                .and_then(|a| syntax::attr_name(&a)).is_some_and(|n| n == "overrideAttrs")
        );
        let Some(mut body) = apply.argument().map(syntax::unparen) else {
            continue;
        };
        if !is_override_attrs {
            continue;
        }
        // `old: { … }`, or `final: prev: { … }`.
        while let ast::Expr::Lambda(l) = &body {
            let Some(next) = l.body() else { break };
            body = syntax::unparen(next);
        }
        let ast::Expr::AttrSet(set) = body else {
            continue;
        };
        let pin = pinned_src::of_set(&set).map(|(_, source)| source);
        for apv in set.attrpath_values() {
            let (Some(path), Some(value)) = (apv.attrpath(), apv.value()) else {
                continue;
            };
            let name = syntax::attrpath_names(&path).map_or("?".into(), |n| n.join("."));
            if name == "cmakeFlags" {
                out.extend(cmake_flags(&value));
                continue;
            }
            let written = value.syntax().to_string();
            let literal = written.trim().trim_matches('"');
            let pin = matches!(name.as_str(), "src" | "version")
                .then(|| pin.clone())
                .flatten();
            let shown = match &pin {
                Some(Source::Upstream(rev)) if name == "src" => format!("src={rev}"),
                _ if literal
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    format!("{name}={literal}")
                }
                _ => name,
            };
            out.push(Item {
                shown,
                value: written,
                pin,
            });
        }
    }
    out
}

/// `"-DGGML_NATIVE=ON"` and `(lib.cmakeBool "GGML_RPC" true)` alike.
fn cmake_flags(value: &ast::Expr) -> Vec<Item> {
    let mut out = Vec::new();
    for node in value.syntax().descendants() {
        if let Some(s) = ast::Str::cast(node.clone()) {
            let text = s.syntax().to_string();
            let Some(flag) = text
                .trim_matches('"')
                .strip_prefix("-D")
                .map(str::to_string)
            else {
                continue;
            };
            let (name, value) = flag.split_once('=').unwrap_or((&flag, ""));
            let name = name.split(':').next().unwrap_or(name);
            out.push(Item {
                shown: format!("{name}={value}"),
                value: value.to_string(),
                pin: None,
            });
        } else if let Some(outer) = ast::Apply::cast(node) {
            // `cmakeBool "NAME" value`: the outer application of two.
            let Some(ast::Expr::Apply(inner)) = outer.lambda() else {
                continue;
            };
            let helper = inner
                .lambda()
                .and_then(|f| syntax::select_path(&f))
                .and_then(|p| p.last().cloned());
            if !helper.is_some_and(|h| h.starts_with("cmake")) {
                continue;
            }
            let (Some(name), Some(v)) = (inner.argument(), outer.argument()) else {
                continue;
            };
            let value = v.syntax().to_string().trim_matches('"').to_string();
            out.push(Item {
                shown: format!("{}={value}", name.syntax().to_string().trim_matches('"')),
                value,
                pin: None,
            });
        }
    }
    out
}

fn on(value: &str) -> bool {
    matches!(
        value.trim().trim_matches('"').to_ascii_uppercase().as_str(),
        "ON" | "TRUE" | "1" | "YES"
    )
}

fn carries(build: &Build, item: &Item) -> bool {
    let o = &build.options;
    let name = item.shown.split('=').next().unwrap_or("");
    match name {
        "GGML_NATIVE" => o.native == on(&item.value),
        // Set off by what a native build does, so it only matters there.
        "NIX_ENFORCE_NO_NATIVE" => o.native && !on(&item.value),
        "GGML_RPC" => o.rpc == on(&item.value),
        "GGML_STATIC" => o.static_link == on(&item.value),
        "GGML_BLAS" => o.blas == Some(on(&item.value)),
        // `86;89` (or `86 89`), in any order, is what the capabilities give.
        "CMAKE_CUDA_ARCHITECTURES" => o.cuda_architectures().is_some_and(|wanted| {
            let set = |s: &str| {
                let mut v: Vec<String> = s
                    .split([';', ' ', ','])
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            };
            set(&wanted) == set(item.value.trim().trim_matches('"'))
        }),
        "env.NIX_CFLAGS_COMPILE" | "NIX_CFLAGS_COMPILE" => {
            o.native && item.value.trim().trim_matches('"').trim() == "-march=native"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;

    #[test]
    fn native_items_are_carried_and_the_rest_named() {
        let expr = r#"((pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (old: {
          cmakeFlags = old.cmakeFlags ++ [ "-DGGML_NATIVE=ON" "-DGGML_SCHED_MAX_COPIES=1" (lib.cmakeFeature "CMAKE_CUDA_ARCHITECTURES" "86") ];
          NIX_ENFORCE_NO_NATIVE = 0;
          src = fetchFromGitHub { owner = "ggml-org"; repo = "llama.cpp"; rev = "b6500"; hash = ""; };
        }))"#;
        let mut build = Build::from(Variant::Cuda);
        let none = Revisions::default();
        let (carried, dropped) = split(expr, &build, &none);
        assert!(carried.is_empty(), "{carried:?}");
        assert_eq!(
            dropped,
            [
                "GGML_NATIVE=ON",
                "GGML_SCHED_MAX_COPIES=1",
                "CMAKE_CUDA_ARCHITECTURES=86",
                "NIX_ENFORCE_NO_NATIVE=0",
                "src=b6500"
            ]
        );
        build.options.native = true;
        let (carried, dropped) = split(expr, &build, &none);
        assert_eq!(carried, ["GGML_NATIVE=ON", "NIX_ENFORCE_NO_NATIVE=0"]);
        assert_eq!(
            dropped,
            [
                "GGML_SCHED_MAX_COPIES=1",
                "CMAKE_CUDA_ARCHITECTURES=86",
                "src=b6500"
            ]
        );
        build.options.cuda_capabilities = Some(vec!["8.6".into()]);
        let (carried, dropped) = split(expr, &build, &none);
        assert_eq!(
            carried,
            [
                "GGML_NATIVE=ON",
                "CMAKE_CUDA_ARCHITECTURES=86",
                "NIX_ENFORCE_NO_NATIVE=0"
            ]
        );
        assert_eq!(dropped, ["GGML_SCHED_MAX_COPIES=1", "src=b6500"]);
        build.options.cuda_capabilities = Some(vec!["8.9".into()]);
        let (_, dropped) = split(expr, &build, &none);
        assert!(dropped.contains(&"CMAKE_CUDA_ARCHITECTURES=86".to_string()));
        let pinned = |rev: &str| Revisions {
            input: Some(rev.into()),
            ..Revisions::default()
        };
        let (carried, _) = split(expr, &build, &pinned("b6500"));
        assert!(carried.contains(&"src=b6500".to_string()), "{carried:?}");
        let (_, dropped) = split(expr, &build, &pinned("b6600"));
        assert!(dropped.contains(&"src=b6500".to_string()), "{dropped:?}");
    }
}
