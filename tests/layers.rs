//! Dependencies point one way (ARCHITECTURE.md): the command layer over the
//! engine, the engine over the steps, the steps over the readers; the guard
//! reads with the model, refs and files and never reaches the steps or the
//! engine. Checked over every `crate::…` path in `src/`, so a new sideways
//! import fails here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level module -> the top-level modules its files name.
fn graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let text = fs::read_to_string(&path).unwrap();
            let deps = graph.entry(module.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let name: String = text[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    deps.entry(name).or_insert_with(|| rel.to_path_buf());
                }
            }
        }
    }
    graph
}

#[test]
fn no_module_reaches_upward_or_sideways() {
    // module -> what it must not depend on.
    let forbidden: &[(&str, &[&str])] = &[
        ("engine", &["commands", "guard"]),
        ("steps", &["commands", "engine", "guard", "nix"]),
        ("guard", &["commands", "engine", "steps", "eval", "nix"]),
        ("eval", &["commands", "engine", "steps", "guard"]),
        (
            "model",
            &["commands", "engine", "steps", "guard", "nix", "suggest"],
        ),
        ("refs", &["commands", "engine", "steps", "guard", "model"]),
        ("files", &["commands", "engine", "steps", "guard", "model"]),
        ("syntax", &["commands", "engine", "steps", "guard", "model"]),
    ];
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, never) in forbidden {
        let deps = graph
            .get(*module)
            .unwrap_or_else(|| panic!("no module {module}"));
        for bad in *never {
            if let Some(file) = deps.get(*bad) {
                wrong.push(format!("src/{} uses crate::{bad}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The steps and the model read evaluation's results (the types of
/// `eval::discover`); running nix is the engine's and the commands' job.
#[test]
fn steps_and_the_model_never_run_an_evaluation() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    let mut stack = vec![src.join("steps"), src.join("model")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            for call in [
                "discover(",
                "discover_cached(",
                "eval::upstream",
                "eval::wrapper",
            ] {
                if text.contains(call) {
                    wrong.push(format!("{} has {call}", path.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for dep in graph.get(node).into_iter().flat_map(|d| d.keys()) {
            if let Some(cycle) = visit(dep, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}
