//! A static model of the configuration: each host of `nixosConfigurations`,
//! where it is defined, its own module list, and the closure of module
//! files it imports (paths in `modules`, `imports`, home-manager users).
//! What cannot be resolved without evaluating Nix is reported with its
//! location, never guessed. `init`, the steps and the guard share it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rnix::SyntaxNode;
use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use crate::error::Result;
use crate::files::Files;
use crate::flake::FLAKE_FILE;
use crate::nix_paths;
use crate::refs;
use crate::syntax::{self, end, start};

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// The file that defines it (flake.nix, or a flake-parts module).
    pub def_file: PathBuf,
    /// Byte range of its definition in `def_file`.
    pub range: Range<usize>,
    /// Its own literal `modules = [ … ]` list in `def_file`, when it has one
    /// (not one shared through a helper such as `mkHost`).
    pub modules_list: Option<Range<usize>>,
    /// Its own module file (the first path module specific to this host).
    pub own_module: Option<PathBuf>,
    /// Module files of its `modules` list.
    pub direct_modules: Vec<PathBuf>,
    /// Module files it imports, transitively.
    pub files: Vec<PathBuf>,
    /// Whether `specialArgs` passes `inputs` to its modules.
    pub inputs_in_modules: bool,
    /// Whether its definition could be followed to its modules at all.
    pub followed: bool,
    /// Every relative path literal in its definition and its modules,
    /// resolved (to tell, for example, whether it imports the overlay).
    pub paths: BTreeSet<PathBuf>,
    /// Module files reached through home-manager users (their packages come
    /// from home-manager's pkgs, which has the system overlays only with
    /// `useGlobalPkgs`).
    pub home_files: BTreeSet<PathBuf>,
    /// `home-manager.useGlobalPkgs = true` in its modules.
    pub home_manager_global_pkgs: bool,
}

impl Host {
    /// Whether its definition or one of its modules names `file` by a path
    /// literal (as the overlay import of step 0003 does).
    pub fn imports(&self, file: &Path) -> bool {
        self.paths.contains(file)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Model {
    pub hosts: Vec<Host>,
    pub unresolved: Vec<Unresolved>,
    /// Files that define hosts (flake.nix and flake-parts modules).
    pub flake_files: Vec<PathBuf>,
}

impl Model {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// For each module file, the hosts that import it.
    pub fn file_hosts(&self) -> BTreeMap<PathBuf, Vec<String>> {
        let mut map: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for host in &self.hosts {
            for f in &host.files {
                map.entry(f.clone()).or_default().push(host.name.clone());
            }
        }
        map
    }

    /// The hosts whose definition contains `offset` of `file`.
    pub fn hosts_defined_at(&self, file: &Path, offset: usize) -> Vec<&Host> {
        self.hosts
            .iter()
            .filter(|h| h.def_file == file && h.range.contains(&offset))
            .collect()
    }

    /// A host's own module is the first module of its list that names it
    /// (`./hosts/${name}`) or that no other host imports directly.
    fn choose_own_modules(&mut self) {
        let mut users: HashMap<PathBuf, usize> = HashMap::new();
        for h in &self.hosts {
            for m in &h.direct_modules {
                *users.entry(m.clone()).or_default() += 1;
            }
        }
        for h in &mut self.hosts {
            if h.own_module.is_none() {
                h.own_module = h.direct_modules.iter().find(|m| users[*m] == 1).cloned();
            }
        }
    }

    pub fn read(files: &dyn Files) -> Result<Model> {
        let mut model = Model::default();
        let flake = Path::new(FLAKE_FILE);
        let Some(text) = files.read(flake)? else {
            return Ok(model);
        };
        // flake.nix, plus flake-parts modules it imports, may define hosts.
        let mut sources = vec![(flake.to_path_buf(), text)];
        let mut i = 0;
        while i < sources.len() {
            let (file, text) = sources[i].clone();
            i += 1;
            let root = syntax::parse(&file, &text)?;
            // flake-parts modules may define hosts, or import modules that
            // do, any number of levels deep.
            for (p, _) in import_paths(root.syntax(), &file, files, &mut model.unresolved) {
                if !sources.iter().any(|(f, _)| f == &p)
                    && let Some(t) = files.read(&p)?
                {
                    sources.push((p, t));
                }
            }
            let definitions = host_definitions(&root, &file, files);
            if file == flake || !definitions.is_empty() {
                model.flake_files.push(file.clone());
            }
            for (name, expr) in definitions {
                let host = resolve_host(files, &file, &text, name, expr, &mut model.unresolved)?;
                model.hosts.push(host);
            }
        }
        model.choose_own_modules();
        Ok(model)
    }
}

/// `(name, definition)` for each entry of `nixosConfigurations` in a file.
fn host_definitions(root: &ast::Root, file: &Path, files: &dyn Files) -> Vec<(String, ast::Expr)> {
    let mut out: Vec<(String, ast::Expr)> = Vec::new();
    for apv in root
        .syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
    {
        let Some(path) = apv.attrpath().and_then(|p| syntax::attrpath_names(&p)) else {
            continue;
        };
        let Some(pos) = path.iter().position(|n| n == "nixosConfigurations") else {
            continue;
        };
        let Some(value) = apv.value() else { continue };
        if let Some(name) = path.get(pos + 1) {
            out.push((name.clone(), value));
        } else {
            collect_hosts(value, file, files, &mut out);
        }
    }
    out
}

fn collect_hosts(
    expr: ast::Expr,
    file: &Path,
    files: &dyn Files,
    out: &mut Vec<(String, ast::Expr)>,
) {
    match syntax::body(expr) {
        ast::Expr::AttrSet(set) => {
            for (names, apv) in syntax::named_entries(&set) {
                if let Some(v) = apv.value() {
                    out.push((names[0].clone(), v));
                }
            }
        }
        ast::Expr::BinOp(op) => {
            for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                collect_hosts(side, file, files, out);
            }
        }
        // `genAttrs [ "a" "b" ] mkHost`: each name applied to the function;
        // `mapAttrs (name: _: mkHost name) (readDir ./hosts)`: each
        // directory of ./hosts.
        ast::Expr::Apply(apply) => {
            let (func, args) = flatten_apply(&ast::Expr::Apply(apply.clone()));
            let is_gen = syntax::select_path(&func)
                .is_some_and(|p| p.last().is_some_and(|l| l == "genAttrs"));
            if is_gen && let [ast::Expr::List(list), f, ..] = &args[..] {
                for item in list.items() {
                    if let ast::Expr::Str(s) = item
                        && let Some(name) = syntax::string_literal(&s)
                    {
                        out.push((name, f.clone()));
                    }
                }
            }
            let is_map = syntax::select_path(&func)
                .is_some_and(|p| p.last().is_some_and(|l| l == "mapAttrs"));
            if is_map && let [f, dir_expr, ..] = &args[..] {
                for name in read_dir_names(dir_expr, file, files) {
                    out.push((name, f.clone()));
                }
            }
        }
        _ => {}
    }
}

/// The subdirectories of `./dir` in `readDir ./dir`, from the tracked files.
fn read_dir_names(expr: &ast::Expr, file: &Path, files: &dyn Files) -> Vec<String> {
    let (func, args) = flatten_apply(expr);
    let is_read_dir =
        syntax::select_path(&func).is_some_and(|p| p.last().is_some_and(|l| l == "readDir"));
    let Some(ast::Expr::PathRel(p)) = args.first().map(|a| syntax::unparen(a.clone())) else {
        return Vec::new();
    };
    let Some(dir) = is_read_dir
        .then(|| nix_paths::resolve(file, &p.syntax().to_string()))
        .flatten()
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = files
        .nix_files()
        .iter()
        .filter_map(|f| f.strip_prefix(&dir).ok())
        .filter(|rest| rest.components().count() > 1)
        .filter_map(|rest| rest.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    names.dedup();
    names
}

/// `f a b` as `(f, [a, b])`.
fn flatten_apply(expr: &ast::Expr) -> (ast::Expr, Vec<ast::Expr>) {
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

/// Values known while following a host's definition: `let` bindings in
/// scope and the string arguments of a helper (`mkHost "alpha"`).
#[derive(Default, Clone)]
struct Env {
    bindings: HashMap<String, ast::Expr>,
    strings: HashMap<String, String>,
}

impl Env {
    fn around(node: &SyntaxNode) -> Env {
        let mut env = Env::default();
        for anc in node.ancestors() {
            if let Some(l) = ast::LetIn::cast(anc.clone()) {
                for (names, apv) in syntax::named_entries(&l) {
                    if names.len() == 1
                        && let Some(v) = apv.value()
                    {
                        env.bindings.entry(names[0].clone()).or_insert(v);
                    }
                }
            }
            if let Some(set) = ast::AttrSet::cast(anc.clone())
                && syntax::is_rec(&set)
            {
                for (names, apv) in syntax::named_entries(&set) {
                    if names.len() == 1
                        && let Some(v) = apv.value()
                    {
                        env.bindings.entry(names[0].clone()).or_insert(v);
                    }
                }
            }
        }
        env
    }

    fn lookup(&self, expr: &ast::Expr) -> Option<ast::Expr> {
        if let ast::Expr::Ident(i) = syntax::unparen(expr.clone()) {
            return self.bindings.get(&i.syntax().text().to_string()).cloned();
        }
        None
    }
}

/// The arguments of the `nixosSystem` call that builds a host, with the
/// environment they are read in.
struct SystemCall {
    args: ast::Expr,
    env: Env,
}

fn find_system_call(expr: ast::Expr, env: Env, depth: usize) -> Option<SystemCall> {
    if depth > 8 {
        return None;
    }
    let expr = syntax::unparen(expr);
    if let ast::Expr::LetIn(_) = expr {
        return find_system_call(syntax::body(expr), env, depth + 1);
    }
    let (func, args) = flatten_apply(&expr);
    if let Some(path) = syntax::select_path(&func) {
        if path.last().is_some_and(|l| l == "nixosSystem") {
            return args.last().map(|a| SystemCall {
                args: a.clone(),
                env: env.clone(),
            });
        }
        // A local helper: bind its parameters to the literal arguments.
        if path.len() == 1
            && let Some(ast::Expr::Lambda(lambda)) =
                env.bindings.get(&path[0]).cloned().map(syntax::unparen)
        {
            let mut inner = Env::around(lambda.syntax());
            inner.bindings.extend(env.bindings.clone());
            inner.strings.extend(env.strings.clone());
            let mut body = lambda.body();
            let mut lam = Some(lambda);
            for arg in &args {
                let Some(l) = lam.take() else { break };
                bind_param(&l, arg, &mut inner);
                body = l.body();
                if let Some(ast::Expr::Lambda(next)) = body.clone().map(syntax::unparen) {
                    lam = Some(next);
                }
            }
            return find_system_call(body?, inner, depth + 1);
        }
    }
    // `withSystem "x" ({ … }: nixosSystem { … })` and other wrappers:
    // the one nixosSystem call inside.
    let calls: Vec<ast::Apply> = expr
        .syntax()
        .descendants()
        .filter_map(ast::Apply::cast)
        .filter(|a| {
            a.lambda()
                .and_then(|f| syntax::select_path(&syntax::unparen(f)))
                .is_some_and(|p| p.last().is_some_and(|l| l == "nixosSystem"))
        })
        .collect();
    if let [call] = &calls[..] {
        return call.argument().map(|a| SystemCall { args: a, env });
    }
    // A helper from elsewhere (`lib.mkSystem { modules = [ … ]; }`): its
    // visible `modules` are the best static knowledge there is.
    if let Some(last) = args.last()
        && call_attr(last, "modules", &env, 0).is_some()
    {
        return Some(SystemCall {
            args: last.clone(),
            env,
        });
    }
    None
}

fn bind_param(lambda: &ast::Lambda, arg: &ast::Expr, env: &mut Env) {
    match lambda.param() {
        Some(ast::Param::IdentParam(p)) => {
            let name = p.syntax().text().to_string();
            match syntax::unparen(arg.clone()) {
                ast::Expr::Str(s) => {
                    if let Some(v) = syntax::string_literal(&s) {
                        env.strings.insert(name.clone(), v);
                    }
                }
                // `mkHost name` where `name` is already known.
                ast::Expr::Ident(i) => {
                    if let Some(v) = env.strings.get(&i.syntax().to_string()).cloned() {
                        env.strings.insert(name.clone(), v);
                    }
                }
                _ => {}
            }
            env.bindings.insert(name, arg.clone());
        }
        Some(ast::Param::Pattern(pat)) => {
            if let ast::Expr::AttrSet(set) = syntax::unparen(arg.clone()) {
                for (names, apv) in syntax::named_entries(&set) {
                    let is_param = pat.pat_entries().any(|e| {
                        e.ident()
                            .is_some_and(|i| i.syntax().text() == names[0].as_str())
                    });
                    if names.len() == 1
                        && is_param
                        && let Some(v) = apv.value()
                    {
                        if let ast::Expr::Str(s) = syntax::unparen(v.clone())
                            && let Some(text) = syntax::string_literal(&s)
                        {
                            env.strings.insert(names[0].clone(), text);
                        }
                        env.bindings.insert(names[0].clone(), v);
                    }
                }
            }
        }
        None => {}
    }
}

/// The value of attribute `name` in the call's argument set (through `//`
/// merges, the right side winning, and let-bound sets).
fn call_attr(expr: &ast::Expr, name: &str, env: &Env, depth: usize) -> Option<ast::Expr> {
    if depth > 8 {
        return None;
    }
    match syntax::unparen(expr.clone()) {
        ast::Expr::AttrSet(set) => {
            for (names, apv) in syntax::named_entries(&set) {
                if names == [name] {
                    return apv.value();
                }
            }
            for inherit in set.inherits() {
                if let Some(attr) = inherit
                    .attrs()
                    .find(|a| syntax::attr_name(a).as_deref() == Some(name))
                {
                    // `inherit x;` takes the binding in scope when we know
                    // it; the name itself otherwise (a function argument).
                    return env
                        .bindings
                        .get(name)
                        .cloned()
                        .filter(|_| inherit.from().is_none())
                        .or_else(|| ast::Expr::cast(attr.syntax().clone()));
                }
            }
            None
        }
        ast::Expr::BinOp(op) => op
            .rhs()
            .and_then(|r| call_attr(&r, name, env, depth + 1))
            .or_else(|| op.lhs().and_then(|l| call_attr(&l, name, env, depth + 1))),
        other => env
            .lookup(&other)
            .and_then(|v| call_attr(&v, name, env, depth + 1)),
    }
}

fn resolve_host(
    files: &dyn Files,
    def_file: &Path,
    text: &str,
    name: String,
    expr: ast::Expr,
    unresolved: &mut Vec<Unresolved>,
) -> Result<Host> {
    let range = start(expr.syntax())..end(expr.syntax());
    let mut host = Host {
        name: name.clone(),
        def_file: def_file.to_path_buf(),
        range: range.clone(),
        modules_list: None,
        own_module: None,
        direct_modules: Vec::new(),
        files: Vec::new(),
        inputs_in_modules: false,
        followed: true,
        paths: BTreeSet::new(),
        home_files: BTreeSet::new(),
        home_manager_global_pkgs: false,
    };
    let mut env = Env::around(expr.syntax());
    // `genAttrs [ … ] mkHost` hands us the function: apply it to the name.
    let call = match syntax::unparen(expr.clone()) {
        ast::Expr::Ident(i)
            if matches!(
                env.lookup(&ast::Expr::Ident(i.clone())),
                Some(ast::Expr::Lambda(_))
            ) =>
        {
            let Some(ast::Expr::Lambda(l)) = env.lookup(&ast::Expr::Ident(i)) else {
                unreachable!()
            };
            if let Some(ast::Param::IdentParam(p)) = l.param() {
                env.strings
                    .insert(p.syntax().text().to_string(), name.clone());
            }
            l.body().and_then(|b| find_system_call(b, env.clone(), 0))
        }
        // `mapAttrs (name: _: mkHost name) …` hands us a lambda.
        ast::Expr::Lambda(l) => {
            if let Some(ast::Param::IdentParam(p)) = l.param() {
                env.strings
                    .insert(p.syntax().text().to_string(), name.clone());
            }
            let mut body = l.body();
            while let Some(ast::Expr::Lambda(inner)) = body.clone().map(syntax::unparen) {
                body = inner.body();
            }
            body.and_then(|b| find_system_call(b, env.clone(), 0))
        }
        other => find_system_call(other, env.clone(), 0),
    };
    let Some(call) = call else {
        unresolved.push(located(
            def_file,
            text,
            range.start,
            format!(
                "host `{name}`: no `nixosSystem` call or `modules` list found in its definition"
            ),
        ));
        host.followed = false;
        return Ok(host);
    };
    host.inputs_in_modules = call_attr(&call.args, "specialArgs", &call.env, 0)
        .is_some_and(|sa| passes_inputs(&sa, &call.env));
    let mut module_files = Vec::new();
    let mut inline = Vec::new();
    if let Some(modules) = call_attr(&call.args, "modules", &call.env, 0) {
        let mut items = Vec::new();
        list_items(&modules, &call.env, &mut items, 0);
        // The host's own list: a literal list inside its definition, either
        // written there or handed to a helper (`mkHost "a" { extraModules =
        // [ … ]; }`) whose items end up in `modules`.
        host.modules_list = modules
            .syntax()
            .descendants()
            .filter_map(ast::List::cast)
            .chain(
                items
                    .iter()
                    .filter_map(|i| i.syntax().parent().and_then(ast::List::cast)),
            )
            .find(|l| range.contains(&start(l.syntax())))
            .map(|l| start(l.syntax())..end(l.syntax()));
        for item in items {
            match module_item(&item, &call.env, def_file) {
                ModuleItem::Path(p) => {
                    if let Some(p) = nix_paths::module_file(files, &p) {
                        if item_mentions_host(&item, &call.env) && host.own_module.is_none() {
                            host.own_module = Some(p.clone());
                        }
                        module_files.push(p);
                    }
                }
                ModuleItem::Inline(node) => inline.push(node),
                ModuleItem::External => {}
                ModuleItem::Unknown => unresolved.push(located(
                    def_file,
                    text,
                    start(item.syntax()),
                    format!(
                        "host `{name}`: module `{}` is computed at evaluation time",
                        item.syntax()
                    ),
                )),
            }
        }
    }
    host.paths.extend(path_literals(expr.syntax(), def_file));
    // Inline modules of a helper's list (`mkHost`) live outside `expr`.
    for node in &inline {
        host.paths.extend(path_literals(node, def_file));
    }
    let mut scan_nodes: Vec<(PathBuf, SyntaxNode)> = inline
        .iter()
        .map(|n| (def_file.to_path_buf(), n.clone()))
        .collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    host.direct_modules = module_files.clone();
    // Each queued file says whether it was reached through home-manager.
    let mut queue: VecDeque<(PathBuf, bool)> =
        module_files.into_iter().map(|f| (f, false)).collect();
    for (file, node) in &scan_nodes {
        queue.extend(import_paths(node, file, files, unresolved));
    }
    while let Some((file, home)) = queue.pop_front() {
        if home {
            host.home_files.insert(file.clone());
        }
        if !seen.insert(file.clone()) {
            continue;
        }
        let Some(src) = files.read(&file)? else {
            continue;
        };
        let root = syntax::parse(&file, &src)?;
        queue.extend(
            import_paths(root.syntax(), &file, files, unresolved)
                .into_iter()
                .map(|(p, h)| (p, h || home)),
        );
        host.paths.extend(path_literals(root.syntax(), &file));
        scan_nodes.push((file.clone(), root.syntax().clone()));
        host.files.push(file);
    }
    for (_, node) in &scan_nodes {
        for apv in node.descendants().filter_map(ast::AttrpathValue::cast) {
            let Some(path) = refs::full_path(&apv) else {
                continue;
            };
            if path == ["home-manager", "useGlobalPkgs"]
                && apv
                    .value()
                    .is_some_and(|v| syntax::unparen(v).syntax().text() == "true")
            {
                host.home_manager_global_pkgs = true;
            }
        }
    }
    Ok(host)
}

/// Resolved relative path literals under `node`.
fn path_literals(node: &SyntaxNode, file: &Path) -> Vec<PathBuf> {
    nix_paths::literals_in(node, file)
        .into_iter()
        .map(|l| l.target)
        .collect()
}

fn passes_inputs(special_args: &ast::Expr, env: &Env) -> bool {
    match syntax::unparen(special_args.clone()) {
        ast::Expr::AttrSet(set) => {
            syntax::named_entries(&set)
                .iter()
                .any(|(n, _)| n == &["inputs"])
                || set.inherits().any(|i| {
                    i.attrs()
                        .any(|a| syntax::attr_name(&a).as_deref() == Some("inputs"))
                })
        }
        ast::Expr::BinOp(op) => [op.lhs(), op.rhs()]
            .into_iter()
            .flatten()
            .any(|s| passes_inputs(&s, env)),
        other => env.lookup(&other).is_some_and(|v| passes_inputs(&v, env)),
    }
}

fn item_mentions_host(item: &ast::Expr, env: &Env) -> bool {
    !env.strings.is_empty()
        && item
            .syntax()
            .descendants()
            .filter_map(ast::Ident::cast)
            .any(|i| env.strings.contains_key(&i.syntax().text().to_string()))
}

fn list_items(expr: &ast::Expr, env: &Env, out: &mut Vec<ast::Expr>, depth: usize) {
    if depth > 8 {
        return;
    }
    match syntax::unparen(expr.clone()) {
        ast::Expr::List(list) => out.extend(list.items()),
        ast::Expr::BinOp(op) => {
            for side in [op.lhs(), op.rhs()].into_iter().flatten() {
                list_items(&side, env, out, depth + 1);
            }
        }
        other => match env.lookup(&other) {
            Some(v) => list_items(&v, env, out, depth + 1),
            None => out.push(other),
        },
    }
}

enum ModuleItem {
    Path(PathBuf),
    Inline(SyntaxNode),
    External,
    Unknown,
}

fn module_item(item: &ast::Expr, env: &Env, base_file: &Path) -> ModuleItem {
    // `modulesPath + "/…"` is nixpkgs' own module tree, not the repository.
    let from_nixpkgs = item
        .syntax()
        .descendants()
        .filter_map(ast::Ident::cast)
        .any(|i| i.syntax().text() == "modulesPath");
    if from_nixpkgs {
        return ModuleItem::External;
    }
    match syntax::unparen(item.clone()) {
        ast::Expr::PathRel(p) => match path_text(&p, env) {
            Some(text) => match nix_paths::resolve(base_file, &text) {
                Some(p) => ModuleItem::Path(p),
                None => ModuleItem::External,
            },
            None => ModuleItem::Unknown,
        },
        // `./hosts + "/${name}"`
        ast::Expr::BinOp(op) if op.operator() == Some(ast::BinOpKind::Add) => {
            let text = match (op.lhs().map(syntax::unparen), op.rhs().map(syntax::unparen)) {
                (Some(ast::Expr::PathRel(p)), Some(ast::Expr::Str(s))) => path_text(&p, env)
                    .zip(string_text(&s, env))
                    .map(|(a, b)| a + &b),
                _ => None,
            };
            match text.and_then(|t| nix_paths::resolve(base_file, &t)) {
                Some(p) => ModuleItem::Path(p),
                None => ModuleItem::Unknown,
            }
        }
        ast::Expr::AttrSet(s) => ModuleItem::Inline(s.syntax().clone()),
        ast::Expr::Lambda(l) => ModuleItem::Inline(l.syntax().clone()),
        ast::Expr::Select(_) => ModuleItem::External,
        ast::Expr::Apply(a) => {
            let (f, args) = flatten_apply(&ast::Expr::Apply(a.clone()));
            let is_import = syntax::select_path(&f).is_some_and(|p| p == ["import"]);
            match (is_import, args.first()) {
                (true, Some(arg)) => module_item(arg, env, base_file),
                _ => ModuleItem::Unknown,
            }
        }
        other => match env.lookup(&other) {
            Some(v) if v.syntax() != item.syntax() => module_item(&v, env, base_file),
            _ if matches!(other, ast::Expr::Ident(_)) => ModuleItem::External,
            _ => ModuleItem::Unknown,
        },
    }
}

/// A string's text, with `${name}` replaced by known strings.
fn string_text(s: &ast::Str, env: &Env) -> Option<String> {
    let mut out = String::new();
    for part in s.normalized_parts() {
        match part {
            ast::InterpolPart::Literal(text) => out.push_str(&text),
            ast::InterpolPart::Interpolation(i) => {
                let name = i.expr().and_then(|e| syntax::select_path(&e))?;
                out.push_str(env.strings.get(&name.join("."))?);
            }
        }
    }
    Some(out)
}

/// The text of a relative path, with `${name}` replaced by known strings.
fn path_text(p: &ast::PathRel, env: &Env) -> Option<String> {
    let mut out = String::new();
    for part in p.parts() {
        match part {
            ast::InterpolPart::Literal(lit) => out.push_str(lit.text()),
            ast::InterpolPart::Interpolation(i) => {
                let name = i.expr().and_then(|e| syntax::select_path(&e))?;
                out.push_str(env.strings.get(&name.join("."))?);
            }
        }
    }
    Some(out)
}

/// Module files a module (or flake-parts module) imports: `imports = [ … ]`
/// and home-manager users' and shared modules, each with whether it was
/// reached through home-manager.
fn import_paths(
    node: &SyntaxNode,
    file: &Path,
    files: &dyn Files,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<(PathBuf, bool)> {
    // The file's text, for positions in messages; made only when needed.
    let text = || {
        node.ancestors()
            .last()
            .map(|r| r.to_string())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for apv in node.descendants().filter_map(ast::AttrpathValue::cast) {
        let Some(path) = refs::full_path(&apv) else {
            continue;
        };
        let is_imports = path.last().is_some_and(|l| l == "imports");
        let is_hm = path.first().is_some_and(|p| p == "home-manager")
            && ((path.len() == 3 && path[1] == "users")
                || (path.len() == 2 && path[1] == "sharedModules"));
        if !(is_imports || is_hm) {
            continue;
        }
        let Some(value) = apv.value() else { continue };
        let in_home_manager = path.first().is_some_and(|p| p == "home-manager");
        let mut items = Vec::new();
        if is_hm && !matches!(syntax::unparen(value.clone()), ast::Expr::List(_)) {
            // `home-manager.users.NAME = import ./x.nix;` (a set is scanned
            // through its own `imports` entry).
            if matches!(syntax::unparen(value.clone()), ast::Expr::AttrSet(_)) {
                continue;
            }
            items.push(value);
        } else {
            list_items(&value, &Env::default(), &mut items, 0);
        }
        for item in items {
            match module_item(&item, &Env::default(), file) {
                ModuleItem::Path(p) => match nix_paths::module_file(files, &p) {
                    Some(p) => out.push((p, in_home_manager)),
                    None => unresolved.push(located(
                        file,
                        &text(),
                        start(item.syntax()),
                        format!("imported module {} does not exist", p.display()),
                    )),
                },
                ModuleItem::Inline(_) | ModuleItem::External => {}
                ModuleItem::Unknown => unresolved.push(located(
                    file,
                    &text(),
                    start(item.syntax()),
                    format!("import `{}` is computed at evaluation time", item.syntax()),
                )),
            }
        }
    }
    out
}

fn located(file: &Path, text: &str, offset: usize, what: String) -> Unresolved {
    let (line, column) = syntax::line_col(text, offset);
    Unresolved {
        file: file.to_path_buf(),
        line,
        column,
        what,
    }
}

/// Where a node sits, for messages: `file:line:col`.
pub fn location(file: &Path, text: &str, offset: usize) -> String {
    let (line, col) = syntax::line_col(text, offset);
    format!("{}:{line}:{col}", file.display())
}

#[cfg(test)]
pub(crate) mod tests {
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
}
