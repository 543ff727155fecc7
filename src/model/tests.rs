use std::path::Path;

use super::*;
use crate::files::WorkTree;

/// A fixture repository as a WorkTree, every file tracked.
pub(crate) fn fixture_tree(shape: &str) -> WorkTree {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repos")
        .join(shape);
    let mut tracked = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                tracked.push(path.strip_prefix(&root).unwrap().to_path_buf());
            }
        }
    }
    WorkTree::new(&root, tracked)
}

fn summary(shape: &str) -> String {
    let model = Model::read(&fixture_tree(shape)).unwrap();
    let mut out = String::new();
    for h in &model.hosts {
        out.push_str(&format!(
            "{} in {}: own list {}, own module {:?}, inputs {}, home-manager files {}, global pkgs {}\n  files: {:?}\n",
            h.name,
            h.def_file.display(),
            h.modules_list.is_some(),
            h.own_module,
            h.inputs_in_modules,
            !h.home_files.is_empty(),
            h.home_manager_global_pkgs,
            h.files
        ));
    }
    for u in &model.unresolved {
        out.push_str(&format!(
            "unresolved {}:{}:{} {}\n",
            u.file.display(),
            u.line,
            u.column,
            u.what
        ));
    }
    out
}

#[test]
fn models_of_the_fixture_shapes() {
    let mut all = String::new();
    for shape in [
        "seed",
        "override-fleet",
        "dotted-mkhost",
        "home-manager-users",
        "services",
        "let-alias",
        "shared-conflict",
        "fork-pin",
        "tabs",
        "let-root",
        "flake-parts",
    ] {
        all.push_str(&format!("## {shape}\n{}", summary(shape)));
    }
    insta::assert_snapshot!(all);
}
