//! Finding host definitions: the entries of `nixosConfigurations`,
//! `darwinConfigurations` and `homeConfigurations` in flake.nix or a
//! flake-parts module, whatever shape builds the set. A set
//! whose names cannot be read without evaluating Nix is reported, never
//! taken as empty.

use std::path::{Path, PathBuf};

use rnix::SyntaxNode;
use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::env::{Env, string_text};
use super::name_lists::{names_of_list, read_dir_names};
use super::{Unresolved, located, needs_eval, root_text};
use crate::error::Result;
use crate::files::Files;
use crate::host_kind::HostKind;
use crate::nix_paths;
use crate::syntax::{self, start};

/// One host as its shape gives it: the expression that builds it and what
/// it is applied to (`genAttrs [ "a" ] mkHost` gives `mkHost` and `"a"`).
pub(super) struct Definition {
    pub name: String,
    /// The output it is an entry of.
    pub kind: HostKind,
    /// The file it is written in: flake.nix, a flake-parts module, or a
    /// file the flake imports its hosts from.
    pub file: PathBuf,
    pub expr: ast::Expr,
    /// Arguments the shape applies `expr` to, in order.
    pub args: Vec<Arg>,
    /// Names the shape binds around `expr` (`listToAttrs (map (n: …))`).
    pub env: Env,
    /// The part of the source that is this host's own definition.
    pub at: SyntaxNode,
}

pub(super) enum Arg {
    /// The host's name.
    Name(String),
    /// A value from the source (the set entry `mapAttrs` hands over).
    Value(ast::Expr),
}

/// Definitions of every entry of `nixosConfigurations`,
/// `darwinConfigurations` and `homeConfigurations` in a file.
pub(super) fn host_definitions(
    root: &ast::Root,
    file: &Path,
    files: &dyn Files,
    unresolved: &mut Vec<Unresolved>,
) -> Result<Vec<Definition>> {
    let mut collector = Collector {
        files,
        unresolved,
        out: Vec::new(),
        kind: HostKind::Nixos,
    };
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let (Some(attrpath), Some(value)) = (apv.attrpath(), apv.value()) else {
            continue;
        };
        let attrs: Vec<Option<String>> = attrpath.attrs().map(|a| syntax::attr_name(&a)).collect();
        let Some((pos, kind)) = attrs
            .iter()
            .enumerate()
            .find_map(|(i, n)| Some((i, HostKind::from_output(n.as_deref()?)?)))
        else {
            continue;
        };
        collector.kind = kind;
        match attrs.get(pos + 1) {
            Some(Some(name)) => collector.out.push(Definition {
                name: name.clone(),
                kind,
                file: file.to_path_buf(),
                expr: value.clone(),
                args: Vec::new(),
                env: Env::default(),
                at: value.syntax().clone(),
            }),
            Some(None) => collector.report(
                file,
                apv.syntax(),
                format!(
                    "a `{}` entry with a computed name: needs evaluation (run without --no-eval)",
                    kind.output()
                ),
            ),
            None => collector.collect(value, file, 0)?,
        }
    }
    Ok(collector.out)
}

struct Collector<'a> {
    files: &'a dyn Files,
    unresolved: &'a mut Vec<Unresolved>,
    out: Vec<Definition>,
    /// The output whose entries are being collected.
    kind: HostKind,
}

impl Collector<'_> {
    /// Something in the host set it cannot follow: hosts may hide there.
    fn report(&mut self, file: &Path, node: &SyntaxNode, what: String) {
        let mut u = located(file, &root_text(node), start(node), what);
        u.hides_hosts = true;
        self.unresolved.push(u);
    }

    fn define(
        &mut self,
        name: String,
        file: &Path,
        expr: ast::Expr,
        args: Vec<Arg>,
        at: &SyntaxNode,
    ) {
        self.out.push(Definition {
            name,
            kind: self.kind,
            file: file.to_path_buf(),
            expr,
            args,
            env: Env::default(),
            at: at.clone(),
        });
    }

    /// The hosts of a set-valued expression.
    fn collect(&mut self, expr: ast::Expr, file: &Path, depth: usize) -> Result<()> {
        let whole = syntax::unparen(expr.clone());
        if depth > 8 {
            self.report(
                file,
                whole.syntax(),
                "hosts nested too deeply to follow".into(),
            );
            return Ok(());
        }
        match syntax::body(expr) {
            ast::Expr::AttrSet(set) => {
                for (names, apv) in syntax::named_entries(&set) {
                    if let Some(v) = apv.value() {
                        self.define(names[0].clone(), file, v.clone(), Vec::new(), v.syntax());
                    }
                }
            }
            ast::Expr::BinOp(op) if op.operator() == Some(ast::BinOpKind::Update) => {
                for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                    self.collect(side, file, depth + 1)?;
                }
            }
            ast::Expr::Apply(apply) => self.collect_call(ast::Expr::Apply(apply), file, depth)?,
            other => match Env::around(other.syntax()).lookup(&other) {
                Some(v) => self.collect(v, file, depth + 1)?,
                None => self.report(
                    file,
                    other.syntax(),
                    format!(
                        "hosts `{}`: not a set of hosts that can be read without evaluation (run without --no-eval)",
                        other.syntax()
                    ),
                ),
            },
        }
        Ok(())
    }

    fn collect_call(&mut self, call: ast::Expr, file: &Path, depth: usize) -> Result<()> {
        let (func, args) = flatten_apply(&call);
        let env = Env::around(call.syntax());
        let last = syntax::select_path(&func).and_then(|p| p.last().cloned());
        match (last.as_deref(), &args[..]) {
            // `genAttrs [ "a" "b" ] mkHost`: each name applied to the function.
            (Some("genAttrs"), [names, f, ..]) => match names_of_list(names, &env) {
                Some(names) => {
                    for name in names {
                        let args = vec![Arg::Name(name.clone())];
                        self.define(name, file, f.clone(), args, f.syntax());
                    }
                }
                None => self.report(
                    file,
                    names.syntax(),
                    format!(
                        "host names `{}` of `genAttrs`: not a list of strings that can be read without evaluation (run without --no-eval)",
                        names.syntax()
                    ),
                ),
            },
            (Some("mapAttrs"), [f, set, ..]) => self.collect_map_attrs(f, set, file, &env),
            (Some("listToAttrs"), [list, ..]) => self.collect_list_to_attrs(list, file, &env),
            (Some("import"), [target, ..]) => self.collect_import(target, file, depth)?,
            _ => {
                let what = needs_eval::what(&call, &env).unwrap_or_else(|| {
                    format!(
                        "hosts built by `{}`: needs evaluation (run without --no-eval)",
                        func.syntax()
                    )
                });
                self.report(file, call.syntax(), what);
            }
        }
        Ok(())
    }

    /// `mapAttrs (name: _: mkHost name) (readDir ./hosts)`: each directory
    /// of ./hosts; `mapAttrs (name: cfg: …) { a = …; }`: each entry, its
    /// value handed to the function.
    fn collect_map_attrs(&mut self, f: &ast::Expr, set: &ast::Expr, file: &Path, env: &Env) {
        if let Some(names) = read_dir_names(set, file, self.files) {
            for name in names {
                self.define(
                    name.clone(),
                    file,
                    f.clone(),
                    vec![Arg::Name(name)],
                    f.syntax(),
                );
            }
            return;
        }
        let found = match syntax::unparen(set.clone()) {
            ast::Expr::AttrSet(s) => Some(s),
            other => match env.lookup(&other).map(syntax::unparen) {
                Some(ast::Expr::AttrSet(s)) => Some(s),
                _ => None,
            },
        };
        let Some(hosts) = found.filter(|s| s.inherits().next().is_none()) else {
            let what = needs_eval::what(set, env).unwrap_or_else(|| {
                format!(
                    "hosts from `mapAttrs` over `{}`: needs evaluation (run without --no-eval)",
                    set.syntax()
                )
            });
            self.report(file, set.syntax(), what);
            return;
        };
        for (names, apv) in syntax::named_entries(&hosts) {
            if let Some(v) = apv.value() {
                let args = vec![Arg::Name(names[0].clone()), Arg::Value(v.clone())];
                self.define(names[0].clone(), file, f.clone(), args, v.syntax());
            }
        }
    }

    /// `listToAttrs (map (n: { name = n; value = mkSystem n; }) [ "a" ])`.
    fn collect_list_to_attrs(&mut self, list: &ast::Expr, file: &Path, env: &Env) {
        let unknown = |this: &mut Self| {
            this.report(
                file,
                list.syntax(),
                format!(
                    "hosts from `listToAttrs` over `{}`: needs evaluation (run without --no-eval)",
                    list.syntax()
                ),
            )
        };
        let (map, map_args) = flatten_apply(list);
        let is_map =
            syntax::select_path(&map).is_some_and(|p| p.last().is_some_and(|l| l == "map"));
        let (true, [ast::Expr::Lambda(lambda), items]) = (
            is_map,
            &map_args
                .iter()
                .cloned()
                .map(syntax::unparen)
                .collect::<Vec<_>>()[..],
        ) else {
            return unknown(self);
        };
        let (Some(ast::Param::IdentParam(param)), Some(ast::Expr::AttrSet(pair))) =
            (lambda.param(), lambda.body().map(syntax::unparen))
        else {
            return unknown(self);
        };
        let param = param.syntax().text().to_string();
        let entry = |key: &str| {
            syntax::named_entries(&pair)
                .into_iter()
                .find(|(n, _)| n == &[key])
                .and_then(|(_, apv)| apv.value())
        };
        let (Some(name_expr), Some(value), Some(names)) =
            (entry("name"), entry("value"), names_of_list(items, env))
        else {
            return unknown(self);
        };
        for n in names {
            let mut bound = Env::default();
            bound.strings.insert(param.clone(), n.clone());
            let name = match syntax::unparen(name_expr.clone()) {
                ast::Expr::Ident(i) if i.syntax().text() == param.as_str() => Some(n),
                ast::Expr::Str(s) => string_text(&s, &bound),
                _ => None,
            };
            let Some(name) = name else {
                return unknown(self);
            };
            self.out.push(Definition {
                name,
                kind: self.kind,
                file: file.to_path_buf(),
                expr: value.clone(),
                args: Vec::new(),
                env: bound,
                at: value.syntax().clone(),
            });
        }
    }

    /// `import ./hosts inputs` or `import ./hosts { inherit inputs; }`: the
    /// imported file's hosts (a function of the inputs returning them).
    fn collect_import(&mut self, target: &ast::Expr, file: &Path, depth: usize) -> Result<()> {
        let path = match syntax::unparen(target.clone()) {
            ast::Expr::PathRel(p) => nix_paths::resolve(file, &p.syntax().to_string()),
            _ => None,
        };
        let Some(imported) = path.and_then(|p| nix_paths::module_file(self.files, &p)) else {
            self.report(
                file,
                target.syntax(),
                format!(
                    "hosts imported from `{}`: not a file of the repository",
                    target.syntax()
                ),
            );
            return Ok(());
        };
        let Some(text) = self.files.read(&imported)? else {
            return Ok(());
        };
        let root = syntax::parse(&imported, &text)?;
        let Some(mut expr) = root.expr() else {
            return Ok(());
        };
        while let ast::Expr::Lambda(l) = syntax::unparen(expr.clone()) {
            match l.body() {
                Some(b) => expr = b,
                None => break,
            }
        }
        self.collect(expr, &imported, depth + 1)
    }
}

/// `f a b` as `(f, [a, b])`.
pub(super) fn flatten_apply(expr: &ast::Expr) -> (ast::Expr, Vec<ast::Expr>) {
    let mut args = Vec::new();
    let mut e = syntax::unparen(expr.clone());
    while let ast::Expr::Apply(a) = &e {
        if let Some(arg) = a.argument() {
            args.push(arg);
        }
        match a.lambda() {
            Some(f) => e = syntax::unparen(f),
            None => break,
        }
    }
    args.reverse();
    (e, args)
}
