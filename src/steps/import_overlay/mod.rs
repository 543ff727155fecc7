//! 0003: add the overlay to `nixpkgs.overlays` of each host that has a
//! variant, and of no other: in an inline overlay module of its own modules
//! list when there is one, else as a new inline module there, else in the
//! host's own module file.

mod home_pkgs;
mod import_expr;

pub use import_expr::relative_path;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rnix::SyntaxNode;
use rnix::ast;
use rowan::ast::AstNode;

use super::insertion::{
    add_entry, add_overlay, append_item, module_body, option_list, prepend_item,
};
use super::{Context, Plan};
use crate::config::Config;
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::eval::discover::HostFacts;
use crate::files::Files;
use crate::flake::{self, FLAKE_FILE};
use crate::model::Host;
use crate::syntax::{self, start};
use import_expr::{Braces, import_expr};

pub fn plan(ctx: &Context) -> Result<Plan> {
    let config = ctx.config;
    let model = ctx.model()?;
    if let Some(missing) = super::missing_host(config, &model) {
        return Ok(missing);
    }
    let mut splices: BTreeMap<PathBuf, Vec<Splice>> = BTreeMap::new();
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut parsed: HashMap<PathBuf, DefFile> = HashMap::new();
    let ignored = overlays_ignored(ctx, &model);
    for host in &model.hosts {
        if !config.hosts.contains_key(&host.name) || host.imports(&config.overlay) {
            continue;
        }
        // Its package set ignores nixpkgs.overlays: the overlay goes where
        // that set is made, once however many hosts share it.
        if let Some(why) = ignored.get(&host.name) {
            let Some(range) = &host.package_set else {
                return Ok(blocked_package_set(config, &host.name, why));
            };
            let def = parse_def_file(ctx.files, &mut parsed, &host.def_file)?;
            let Some(binding) = def.binding.clone() else {
                return Ok(blocked_package_set(config, &host.name, why));
            };
            let Some(splice) = package_set_splice(def, range, &host.def_file, config, &binding)
            else {
                return Ok(blocked_package_set(config, &host.name, why));
            };
            notes.push(format!(
                "host {}: overlay added where its package set is made ({}, {why})",
                host.name,
                host.def_file.display()
            ));
            texts
                .entry(host.def_file.clone())
                .or_insert_with(|| def.text.clone());
            let planned = splices.entry(host.def_file.clone()).or_default();
            if !planned.contains(&splice) {
                planned.push(splice);
            }
            continue;
        }
        let (file, splice) = match place(ctx.files, &mut parsed, host, config)? {
            Ok(found) => found,
            Err(blocked) => return Ok(blocked),
        };
        notes.push(format!(
            "host {}: overlay imported in {}",
            host.name,
            file.display()
        ));
        if !texts.contains_key(&file) {
            let text = ctx.files.read(&file)?.unwrap_or_default();
            texts.insert(file.clone(), text);
        }
        splices.entry(file).or_default().extend(splice);
    }
    if splices.is_empty() {
        return Ok(Plan::Satisfied);
    }
    let mut changes = super::Changeset {
        notes,
        ..Default::default()
    };
    for (file, s) in splices {
        let text = &texts[&file];
        changes
            .files
            .insert(file.clone(), Some(edit::apply(&file, text, s)?));
    }
    Ok(Plan::Changes(changes))
}

/// Configured hosts whose `nixpkgs.overlays` never reaches their `pkgs`
/// (evaluation tells: a package set passed through `specialArgs.pkgs`, or
/// `_module.args.pkgs` forced), with why: importing the overlay in a module
/// would change nothing there.
fn overlays_ignored(ctx: &Context, model: &crate::model::Model) -> HashMap<String, String> {
    let Some(discovery) = ctx.discovery else {
        return HashMap::new();
    };
    model
        .hosts
        .iter()
        .filter(|h| ctx.config.hosts.contains_key(&h.name))
        .filter_map(|h| match discovery.hosts.get(&h.name)? {
            HostFacts::Known(info) => info
                .overlays_take_effect
                .as_ref()
                .err()
                .map(|why| (h.name.clone(), why.clone())),
            HostFacts::Unknown { .. } => None,
        })
        .collect()
}

/// A host whose package set ignores `nixpkgs.overlays` and is made where
/// flake-migrate cannot add to it (`legacyPackages`, a module's forced
/// `_module.args.pkgs`, another file).
fn blocked_package_set(config: &Config, host: &str, why: &str) -> Plan {
    Plan::blocked(
        format!(
            "nixpkgs.overlays does not reach the package set of {host} ({why}): the overlay would have no effect there, and that package set is not an `import nixpkgs {{ … }}` in its definition's file"
        ),
        format!(
            "add `(import ./{} {{ inherit inputs; }})` to the overlays where that package set is made (`import nixpkgs {{ overlays = [ … ]; }}` or `pkgs.extend`), or pass the package set as nixosSystem's `pkgs` argument instead of through specialArgs; then run `flake-migrate up` again",
            config.overlay.display()
        ),
    )
}

/// The overlay in the `overlays` of the `import nixpkgs { … }` whose
/// arguments' set is at `range`: appended to its list, or a new entry.
fn package_set_splice(
    def: &DefFile,
    range: &std::ops::Range<usize>,
    file: &Path,
    config: &Config,
    binding: &str,
) -> Option<Splice> {
    let set = def
        .root
        .syntax()
        .descendants()
        .filter_map(ast::AttrSet::cast)
        .find(|s| start(s.syntax()) == range.start && syntax::end(s.syntax()) == range.end)?;
    let import = import_expr(file, config, binding, def.braces);
    add_overlay(&def.text, &set, &import)
}

/// A file that defines hosts, parsed once.
struct DefFile {
    text: String,
    root: ast::Root,
    /// How it names all inputs (`inputs`), when it does.
    binding: Option<String>,
    braces: Braces,
}

type Placement = std::result::Result<(PathBuf, Vec<Splice>), Plan>;

fn parse_def_file<'p>(
    files: &dyn Files,
    parsed: &'p mut HashMap<PathBuf, DefFile>,
    file: &Path,
) -> Result<&'p DefFile> {
    if !parsed.contains_key(file) {
        let text = files.read(file)?.unwrap_or_default();
        let root = syntax::parse(file, &text)?;
        let binding = inputs_binding(file, &text, &root);
        let braces = Braces::of(&text);
        parsed.insert(
            file.to_path_buf(),
            DefFile {
                text,
                root,
                binding,
                braces,
            },
        );
    }
    Ok(&parsed[file])
}

/// Where and how to import the overlay for one host. `parsed` keeps each
/// file that defines hosts parsed once, however many hosts it holds.
fn place(
    files: &dyn Files,
    parsed: &mut HashMap<PathBuf, DefFile>,
    host: &Host,
    config: &Config,
) -> Result<Placement> {
    if let Some(list_range) = &host.modules_list {
        let DefFile {
            text,
            root,
            binding,
            braces,
        } = parse_def_file(files, parsed, &host.def_file)?;
        let text = text.as_str();
        let binding = match binding.clone() {
            Some(b) => b,
            None => {
                return Ok(Err(Plan::blocked(
                    format!(
                        "{}: `inputs` is not in scope where host {} is defined",
                        host.def_file.display(),
                        host.name
                    ),
                    "bind it, e.g. `outputs = { self, nixpkgs, ... }@inputs:` (step 0001 does this in flake.nix), then run `flake-migrate up`",
                )));
            }
        };
        let range = rnix::TextRange::new(
            (list_range.start as u32).into(),
            (list_range.end as u32).into(),
        );
        let list = match root.syntax().covering_element(range) {
            rowan::NodeOrToken::Node(n) => n,
            rowan::NodeOrToken::Token(t) => t.parent().expect("tokens have parents"),
        }
        .ancestors()
        .find_map(ast::List::cast)
        .expect("the model found this list");
        let import = import_expr(&host.def_file, config, &binding, *braces);
        if let Some(splice) = home_pkgs::splice(text, root, host, &import) {
            return Ok(Ok((host.def_file.clone(), vec![splice])));
        }
        if let Some(overlays) = inline_overlay_list(&list) {
            return Ok(Ok((
                host.def_file.clone(),
                vec![append_item(text, &overlays, &import)],
            )));
        }
        let module = braces.apply(&format!(
            "({{ ... }}: {{ nixpkgs.overlays = [ {import} ]; }})"
        ));
        return Ok(Ok((
            host.def_file.clone(),
            vec![prepend_item(text, &list, &module)],
        )));
    }
    let Some(own) = &host.own_module else {
        return Ok(Err(Plan::blocked(
            format!(
                "host {} has no modules list of its own in {} and no module file of its own",
                host.name,
                host.def_file.display()
            ),
            format!(
                "add `nixpkgs.overlays = [ (import ./{} {{ inherit inputs; }}) ];` to a module only {} imports, then run `flake-migrate up`",
                config.overlay.display(),
                host.name
            ),
        )));
    };
    if !host.inputs_in_modules {
        return Ok(Err(Plan::blocked(
            format!(
                "host {} is built by a helper and its modules do not receive `inputs` (no `specialArgs = {{ inherit inputs; }}`)",
                host.name
            ),
            format!(
                "pass `specialArgs = {{ inherit inputs; }};` to its nixosSystem call, or import the overlay in {} by hand; then run `flake-migrate up`",
                own.display()
            ),
        )));
    }
    let text = files.read(own)?.unwrap_or_default();
    let root = syntax::parse(own, &text)?;
    let import = import_expr(own, config, "inputs", Braces::of(&text));
    let mut splices = Vec::new();
    match module_body(&root) {
        Some((lambda_pattern, set)) => {
            if let Some(list) = overlay_list(set.syntax()) {
                splices.push(append_item(&text, &list, &import));
            } else {
                let entry = format!("nixpkgs.overlays = [ {import} ];");
                splices.push(add_entry(&text, &set, &entry));
            }
            match lambda_pattern {
                Some(p) => splices.extend(edit::add_formal(&text, &p, "inputs")),
                None => splices.push(Splice::insert(start(set.syntax()), "{ inputs, ... }:\n")),
            }
        }
        None => {
            return Ok(Err(Plan::blocked(
                format!(
                    "{}: the module is not a plain `{{ … }}` or `{{ … }}: {{ … }}`",
                    own.display()
                ),
                format!(
                    "add `nixpkgs.overlays = [ {import} ];` to it by hand, then run `flake-migrate up`"
                ),
            )));
        }
    }
    Ok(Ok((own.clone(), splices)))
}

/// How the file that defines hosts names all inputs: `inherit inputs;` or
/// `inputs = attrs;`.
fn inputs_binding(file: &Path, text: &str, root: &ast::Root) -> Option<String> {
    if file == Path::new(FLAKE_FILE) {
        let flake = flake::parse(text).ok()?.ok()?;
        return flake.inputs_binding();
    }
    // A flake-parts module gets `inputs` as an argument.
    match root.expr().map(syntax::unparen) {
        Some(ast::Expr::Lambda(l)) => match l.param()? {
            ast::Param::Pattern(p) => (p.ellipsis_token().is_some()
                || p.pat_entries()
                    .any(|e| e.ident().is_some_and(|i| i.syntax().text() == "inputs")))
            .then(|| "inputs".to_string()),
            ast::Param::IdentParam(i) => {
                let name = i.syntax().text().to_string();
                let body = l.body()?;
                Some(if ident_is_inputs(&name, body.syntax()) {
                    name
                } else {
                    format!("{name}.inputs")
                })
            }
        },
        _ => None,
    }
}

/// Whether a file's `name: …` takes the flake's inputs themselves
/// (`import ./hosts inputs`, whose body reads `inputs.nixpkgs`), not a set
/// holding them (`args: … args.inputs.nixpkgs …`, flake-parts' module
/// arguments): its body reads `name.inputs`, or else the param is called
/// `inputs` or its body reads `name.nixpkgs` or `name.self`.
fn ident_is_inputs(name: &str, body: &SyntaxNode) -> bool {
    let first_attrs: Vec<String> = body
        .descendants()
        .filter_map(ast::Select::cast)
        .filter(|s| {
            s.expr()
                .is_some_and(|e| matches!(e, ast::Expr::Ident(i) if i.syntax().text() == name))
        })
        .filter_map(|s| s.attrpath()?.attrs().next())
        .map(|a| a.syntax().text().to_string())
        .collect();
    if first_attrs.iter().any(|a| a == "inputs") {
        return false;
    }
    name == "inputs" || first_attrs.iter().any(|a| a == "nixpkgs" || a == "self")
}

/// The `nixpkgs.overlays` list of an inline module in a modules list.
fn inline_overlay_list(modules: &ast::List) -> Option<ast::List> {
    modules.items().find_map(|item| {
        let node = syntax::unparen(item);
        if !matches!(node, ast::Expr::Lambda(_) | ast::Expr::AttrSet(_)) {
            return None;
        }
        overlay_list(node.syntax())
    })
}

/// The `nixpkgs.overlays = [ … ]` list set under `node`, however nested.
fn overlay_list(node: &SyntaxNode) -> Option<ast::List> {
    option_list(node, &["nixpkgs", "overlays"])
}

#[cfg(test)]
mod tests;
