//! `overlay-file` (after 0002): the overlay still exists, reads the upstream
//! input, and defines `llama-cpp-<variant>` for every variant the hosts use.

use rnix::ast;
use rowan::ast::AstNode;

use crate::error::Result;
use crate::guard::{Finding, Rule, Scope};
use crate::syntax;

pub const RULE: Rule = Rule {
    id: "overlay-file",
    summary: "the llama.cpp overlay must exist and map the upstream flake's packages",
    help: "restore the overlay as step 0002 wrote it, or undo the migration with `flake-migrate down`",
    explanation: "\
Step 0002 wrote one small overlay (default `nixos/overlays/llama-cpp.nix`, the
`overlay` key of flake-migrate.toml) that names the upstream flake's builds
`llama-cpp-cpu`, `llama-cpp-cuda`, `llama-cpp-vulkan`, `llama-cpp-rocm`, for
exactly the variants your hosts use. Hosts import it (0003) and install those
names (0004).

This rule fails when the file is deleted, when it no longer reads the upstream
input, when a variant a host uses is missing from it, when a variant is
built from nixpkgs' `llama-cpp` again (`prev.llama-cpp.override …`), or when
`llama-cpp-<variant>` is anything but upstream's output for that variant
(`cpu` is upstream's `default`): `llama-cpp-cuda = upstream.vulkan;` fails.
`mpi-cuda` is upstream's `cuda` with `useMpi = true`, not its `mpi-cuda`
output (which upstream builds from the CPU package).
A CUDA build with chosen capabilities (`llama-cpp-cuda-sm89`) is the
overlay's `cuda` helper applied: upstream's `overlays.default` over nixpkgs
imported with `config.cudaCapabilities`.",
    check,
};

/// Names under which an overlay or module sees nixpkgs.
const PKGS_NAMES: [&str; 5] = ["prev", "final", "pkgs", "super", "self"];

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let path = scope.config.overlay.as_path();
    if !scope.covers(path) {
        return Ok(Vec::new());
    }
    let Some(src) = scope.source(path)? else {
        let mut finding = Finding::missing(
            path,
            format!("the llama.cpp overlay {} is missing", path.display()),
        )
        .help(format!(
            "restore it: `git restore --source=HEAD --staged --worktree {}` (or undo the migration with `flake-migrate down`)",
            path.display()
        ));
        if let Some(to) = scope
            .staged()
            .and_then(|c| c.renames.iter().find(|(from, _)| from == path))
            .map(|(_, to)| to)
        {
            finding = finding.help(format!(
                "it was renamed to {}: move it back, or set `overlay = \"{}\"` in flake-migrate.toml",
                to.display(),
                to.display()
            ));
        }
        return Ok(vec![finding]);
    };
    let input = scope.config.input.as_str();
    let mut out = Vec::new();
    let selects: Vec<(Vec<String>, std::ops::Range<usize>)> = src
        .root()
        .syntax()
        .descendants()
        .filter_map(ast::Select::cast)
        .filter_map(|s| Some((static_prefix(&s)?, syntax::range(s.syntax().text_range()))))
        .collect();
    let head = head_range(src.root(), &src.text);
    if !selects
        .iter()
        .any(|(names, _)| names.iter().any(|n| n == input))
    {
        out.push(
            Finding::at(
                path,
                head.clone(),
                format!("the overlay no longer reads the upstream input `{input}`"),
            )
            .help(format!(
                "map the variants from `inputs.{input}.packages.${{prev.stdenv.hostPlatform.system}}`, as step 0002 wrote it"
            )),
        );
    }
    let defined: Vec<(String, ast::AttrpathValue)> = src
        .root()
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|apv| {
            let names = syntax::attrpath_names(&apv.attrpath()?)?;
            Some((names.last()?.clone(), apv))
        })
        .collect();
    // Names bound to the upstream input's packages (`upstream = inputs.llama-cpp.packages.${…};`).
    let upstream_names: Vec<String> = src
        .root()
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|apv| {
            let names = syntax::attrpath_names(&apv.attrpath()?)?;
            let reads = reads_packages(&flat_path(&apv.value()?)?, input);
            (names.len() == 1 && reads).then(|| names[0].clone())
        })
        .collect();
    let cuda_helpers = overlay_helpers(src.root(), input);
    for (host_variant, hosts) in variants_with_hosts(scope) {
        let name = host_variant.package_attr();
        match defined.iter().find(|(n, _)| *n == name) {
            None => out.push(
                Finding::at(
                    path,
                    head.clone(),
                    format!("the overlay does not define `{name}`"),
                )
                .label(format!(
                    "{} use{} it",
                    hosts.join(", "),
                    if hosts.len() == 1 { "s" } else { "" }
                ))
                .help(format!(
                    "add `{name} = {};` to the overlay",
                    host_variant.expression()
                )),
            ),
            Some((_, apv)) => {
                let Some(value) = apv.value() else { continue };
                let value_range = syntax::range(value.syntax().text_range());
                if let Some((_, range)) = selects.iter().find(|(names, range)| {
                    range.start >= value_range.start
                        && range.end <= value_range.end
                        && names
                            .windows(2)
                            .any(|w| PKGS_NAMES.contains(&w[0].as_str()) && w[1] == "llama-cpp")
                }) {
                    out.push(
                        Finding::at(
                            path,
                            range.clone(),
                            format!("`{name}` is built from nixpkgs' llama-cpp again"),
                        )
                        .label("nixpkgs' llama-cpp")
                        .help(format!(
                            "build it from the upstream flake: `{name} = {};`",
                            host_variant.expression()
                        )),
                    );
                    continue;
                }
                let wanted = host_variant.upstream_package();
                let mapped = if host_variant.options.cuda_capabilities.is_some()
                    && built_by_helper(&value, &cuda_helpers)
                {
                    Some(wanted.to_string())
                } else {
                    upstream_output(&value, &upstream_names, input)
                };
                let args = host_variant.base.package_args();
                let missing: Vec<String> = args
                    .iter()
                    .filter(|(k, v)| !sets_arg(&value, k, v))
                    .map(|(k, v)| format!("`{k} = {v};`"))
                    .collect();
                if mapped.as_deref() == Some(wanted) && missing.is_empty() {
                    continue;
                }
                let with: String = args
                    .iter()
                    .map(|(k, v)| format!(" with {k} = {v}"))
                    .collect();
                let (message, label) = match mapped {
                    Some(other) if other == wanted => (
                        format!(
                            "`{name}` is upstream's `{wanted}` without {}",
                            missing.join(", ")
                        ),
                        format!("not upstream's {host_variant} build"),
                    ),
                    Some(other) => (
                        format!("`{name}` maps to upstream's `{other}`, not its `{wanted}`{with}"),
                        format!("upstream's {other} build"),
                    ),
                    None => (
                        format!("`{name}` is not upstream's `{wanted}` build{with}"),
                        "not an output of the upstream input".to_string(),
                    ),
                };
                out.push(
                    Finding::at(path, value_range, message)
                        .label(label)
                        .help(format!(
                            "map it to upstream's build for {host_variant}: `{name} = {};`",
                            host_variant.expression()
                        )),
                );
            }
        }
    }
    Ok(out)
}

/// Whether a value passes the package argument `key = value;`
/// (`upstream.cuda.override { useMpi = true; }`), wherever options put it.
fn sets_arg(expr: &ast::Expr, key: &str, value: &str) -> bool {
    expr.syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .any(|apv| {
            apv.attrpath()
                .and_then(|p| syntax::attrpath_names(&p))
                .is_some_and(|names| names == [key])
                && apv
                    .value()
                    .is_some_and(|v| v.syntax().text().to_string().trim() == value)
        })
}

/// A select chain's names, `None` for each dynamic part:
/// `inputs.llama-cpp.packages.${system}.cuda`.
fn flat_path(expr: &ast::Expr) -> Option<Vec<Option<String>>> {
    let ast::Expr::Select(select) = syntax::unparen(expr.clone()) else {
        return syntax::select_path(expr).map(|p| p.into_iter().map(Some).collect());
    };
    // `upstream.cuda or (absent "cuda")` (0002 for a fleet with a Mac) is
    // `upstream.cuda` where it exists and fails elsewhere: any other default
    // is something else.
    if let Some(default) = select.default_expr()
        && !only_fails(&default)
    {
        return None;
    }
    let mut names: Vec<Option<String>> = syntax::select_path(&select.expr()?)?
        .into_iter()
        .map(Some)
        .collect();
    names.extend(select.attrpath()?.attrs().map(|a| syntax::attr_name(&a)));
    Some(names)
}

/// `throw "…"` or `absent "…"` (0002's helper that throws).
fn only_fails(expr: &ast::Expr) -> bool {
    let ast::Expr::Apply(apply) = syntax::unparen(expr.clone()) else {
        return false;
    };
    apply
        .lambda()
        .and_then(|f| syntax::select_path(&syntax::unparen(f)))
        .is_some_and(|p| p == ["throw"] || p == ["absent"])
}

/// `…inputs.<input>.packages…`, or `<input>.packages…`.
fn reads_packages(path: &[Option<String>], input: &str) -> bool {
    path.windows(2)
        .any(|w| w[0].as_deref() == Some(input) && w[1].as_deref() == Some("packages"))
}

/// The upstream output a value is, as written: `upstream.cuda` (with
/// `upstream` bound to the input's packages) or
/// `inputs.llama-cpp.packages.${system}.cuda` give `cuda`; anything else
/// (an override, another input) gives `None`.
fn upstream_output(value: &ast::Expr, upstream_names: &[String], input: &str) -> Option<String> {
    let path = package_path(value)?;
    let (last, base) = path.split_last()?;
    let via_name = base.len() == 1 && base[0].as_ref().is_some_and(|n| upstream_names.contains(n));
    (via_name || reads_packages(base, input)).then(|| last.clone())?
}

/// The select chain of the package a value builds on, through what the
/// overlay's options write around it: `native (upstream.cuda.override { … })`
/// and `upstream.cuda.overrideAttrs f` give `upstream.cuda`.
fn package_path(value: &ast::Expr) -> Option<Vec<Option<String>>> {
    let expr = syntax::unparen(value.clone());
    let ast::Expr::Apply(apply) = &expr else {
        return flat_path(&expr);
    };
    match syntax::unparen(apply.lambda()?) {
        // A helper of the overlay's own `let` (`native`).
        ast::Expr::Ident(_) => package_path(&apply.argument()?),
        lambda @ ast::Expr::Select(_) => {
            let mut path = flat_path(&lambda)?;
            let last = path.pop()??;
            (last == "override" || last == "overrideAttrs").then_some(path)
        }
        _ => None,
    }
}

/// Helpers of the overlay's own `let` that build from the upstream input's
/// `overlays` (the `cuda` helper for chosen CUDA capabilities).
fn overlay_helpers(root: &ast::Root, input: &str) -> Vec<String> {
    root.syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .filter_map(|apv| {
            let names = syntax::attrpath_names(&apv.attrpath()?)?;
            let ast::Expr::Lambda(lambda) = apv.value()? else {
                return None;
            };
            let reads_overlays = lambda
                .syntax()
                .descendants()
                .filter_map(ast::Select::cast)
                .filter_map(|s| static_prefix(&s))
                .any(|p| p.windows(2).any(|w| w[0] == input && w[1] == "overlays"));
            (names.len() == 1 && reads_overlays).then(|| names[0].clone())
        })
        .collect()
}

/// Whether a value is one of `helpers` applied, through what the overlay's
/// options write around it: `native ((cuda [ "8.9" ]).override { … })`.
fn built_by_helper(value: &ast::Expr, helpers: &[String]) -> bool {
    let ast::Expr::Apply(apply) = syntax::unparen(value.clone()) else {
        return false;
    };
    let Some(lambda) = apply.lambda().map(syntax::unparen) else {
        return false;
    };
    match lambda {
        ast::Expr::Ident(ident) => {
            let name = ident.syntax().text().to_string();
            helpers.contains(&name)
                || apply
                    .argument()
                    .is_some_and(|a| built_by_helper(&a, helpers))
        }
        ast::Expr::Select(select) => {
            let last = select
                .attrpath()
                .and_then(|p| p.attrs().last())
                .and_then(|a| syntax::attr_name(&a));
            matches!(last.as_deref(), Some("override" | "overrideAttrs"))
                && select.expr().is_some_and(|e| built_by_helper(&e, helpers))
        }
        _ => false,
    }
}

/// The names of a select chain up to its first dynamic part:
/// `inputs.llama-cpp.packages.${system}` gives `inputs`, `llama-cpp`, `packages`.
fn static_prefix(select: &ast::Select) -> Option<Vec<String>> {
    let mut names = syntax::select_path(&select.expr()?)?;
    for attr in select.attrpath()?.attrs() {
        match syntax::attr_name(&attr) {
            Some(n) => names.push(n),
            None => break,
        }
    }
    Some(names)
}

/// Each build in use (variant and options) with the hosts that use it.
fn variants_with_hosts(scope: &Scope) -> Vec<(crate::config::Build, Vec<String>)> {
    scope
        .config
        .builds()
        .into_iter()
        .map(|b| {
            let hosts = scope.config.hosts_of(&b);
            (b, hosts)
        })
        .collect()
}

/// The first line of the file's expression (past leading comments): where a
/// finding about the whole file points.
fn head_range(root: &ast::Root, text: &str) -> std::ops::Range<usize> {
    let start = root.expr().map_or(0, |e| syntax::start(e.syntax()));
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    start..end
}

#[cfg(test)]
mod tests;
