# flake-migrate: where each host of a flake gets llama.cpp from, as the
# module system knows it (definitionsWithLocations). Called from a wrapper
# flake whose only input is the user's repository (see wrapper.rs).
#
# It forces as little as it can: attribute names and `name`s of packages,
# `outPath` only of llama-like ones. Per-host work is wrapped in tryEval, which
# catches throw/assert only; discover.rs falls back to one process per host
# when a host fails otherwise.
# `only`: the hosts to evaluate (null: all); `catch`: whether a host's throw
# is caught (reported as an error) or left to fail the process, so that nix
# prints its message.
{ flake, only, catch }:
let
  inherit (builtins)
    attrNames concatLists concatMap elem filter head isAttrs isFunction isList isPath isString
    length listToAttrs map match substring stringLength tail toString trace tryEval;

  try = default: v: let r = tryEval v; in if r.success then r.value else default;
  strict = v: builtins.deepSeq v v;
  uniq = xs: attrNames (listToAttrs (map (x: { name = x; value = null; }) xs));

  nameOf = p: if isAttrs p && isString (p.name or null) then p.name else null;
  llamaName = n: n != null && match ".*[Ll][Ll][Aa][Mm][Aa].*" n != null;
  outOf = p: builtins.unsafeDiscardStringContext (toString p.outPath);
  drvOf = p: builtins.unsafeDiscardStringContext p.drvPath;
  # The derivations a string is made from (`"${pkgs.llama-cpp}/bin/…"`,
  # `lib.getExe pkgs.llama-cpp`), with their names.
  drvsIn = s: map (drv: { inherit drv; name = builtins.replaceStrings [ ".drv" ] [ "" ] (substring 44 (stringLength drv) drv); })
    (if isString s then attrNames (builtins.getContext s) else [ ]);
  # A definition's file as nixpkgs reports it, made a file: a directory
  # module is reported as the directory (its default.nix is meant), a module
  # given as an option's value as "<file>, via option <name>" (it is written
  # in <file>).
  fileString = f:
    let
      s = builtins.unsafeDiscardStringContext (toString f);
      written = head (builtins.split ", via option " s);
    in
    if substring 0 1 written == "/" && builtins.pathExists (written + "/default.nix")
    then written + "/default.nix" else written;

  # Raw definition values as the module system merges them, and the
  # systemd services a repository file defines (units.nix).
  units = import ./units.nix;
  inherit (units) discharge plain at;
  # A module value whose content cannot be read without the module system
  # (a path, a function, imports): the files it may come from.
  opaqueFiles = file: v:
    if isPath v || isString v then [ (fileString v) ]
    else if isFunction v then [ file ]
    else if plain v && v ? imports then
      concatMap (i: if isPath i || isString i then [ (fileString i) ] else [ file ]) v.imports
      ++ (if removeAttrs v [ "imports" "_file" ] != { } then [ file ] else [ ])
    else [ ];

  # Only the files are forced here: values stay lazy.
  defsOf = option: try [ ] (let ds = map (d: { file = fileString d.file; inherit (d) value; }) (option.definitionsWithLocations or [ ]);
    in builtins.deepSeq (map (d: d.file) ds) ds);
  # The per-user values of an attrsOf-submodule definition.
  userValues = d: concatMap (v: if plain v then map (u: v.${u}) (attrNames v) else [ ]) (discharge d.value);
  filesOf = defs: map (d: d.file) defs;

  # NixOS, nix-darwin and standalone home-manager machines (machines.nix).
  hosts = import ./machines.nix flake;
  names = attrNames hosts;
  selected = if only == null then names else filter (n: elem n only) names;

  # llama-like packages of the flake's inputs, by system and name: an input
  # is upstream when its packages.<system> holds any. Names are cheap; a
  # package's store path evaluates its whole closure, so it is forced (once
  # per package) only for a host's package of the same name.
  upstreamByName = system: builtins.groupBy (u: u.name) (concatMap (i:
    let ps = try { } ((flake.inputs.${i}.packages or { }).${system} or { }); in
    concatMap (a:
      let p = ps.${a}; n = try null (nameOf p); in
      if llamaName n then [ { name = n; out = try null (outOf p); drv = try null (drvOf p); } ] else [ ]) (try [ ] (attrNames ps)))
    (attrNames (flake.inputs or { })));
  # Memoized for the usual systems (a function call is not).
  upstreamBySystem = listToAttrs (map (s: { name = s; value = upstreamByName s; })
    [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ]);

  rootPath = builtins.unsafeDiscardStringContext (toString (flake.sourceInfo.outPath or flake.outPath));

  host = name:
    let
      nixos = hosts.${name}.value;
      cfg = nixos.config;
      opts = nixos.options;
      # nixpkgs' evalModules returns `_module` beside `config`, not in it.
      moduleArgs = nixos._module.args or { };
      pkgs = nixos.pkgs or moduleArgs.pkgs;
      system = pkgs.stdenv.hostPlatform.system;
      upstream = upstreamBySystem.${system} or (upstreamByName system);
      # By name and version: an override of nixpkgs' llama-cpp keeps both.
      nixpkgsLlama = try null (let p = pkgs.llama-cpp; in strict {
        pname = p.pname or null;
        version = p.version or null;
      });

      origin = p:
        let
          same = upstream.${try "" (nameOf p)} or [ ];
          out = try null (outOf p);
          pname = try null (p.pname or null);
          version = try null (p.version or null);
        in
        if same != [ ] && out != null && builtins.any (u: u.out == out) same then "upstream"
        else if nixpkgsLlama != null && pname != null
          && pname == nixpkgsLlama.pname && version == nixpkgsLlama.version then "nixpkgs"
        else "other";
      # The GPU backend a llama.cpp build's cmake flags turn on (nixpkgs'
      # `cmakeBool "GGML_CUDA" cudaSupport`, an overrideAttrs' "-DGGML_CUDA=ON"):
      # what the host's build really is, whatever its override arguments read.
      backendOf = p:
        let
          on = flag: builtins.any (f: match "-D${flag}(:BOOL)?=(ON|On|on|TRUE|True|true|1)" f != null)
            (try [ ] (map toString (p.cmakeFlags or [ ])));
        in
        if on "GGML_CUDA" then "cuda" else if on "GGML_HIP" then "rocm"
        else if on "GGML_VULKAN" then "vulkan" else if on "GGML_METAL" then "metal" else null;
      describe = option: file: p: { inherit option file; name = nameOf p; origin = origin p; backend = try null (backendOf p); };
      # A package that fails to evaluate fails the host, as it fails its build.
      llamaIn = list: filter (p: llamaName (nameOf p)) (if isList list then list else [ ]);

      # Definitions of a list option, one per llama-like element.
      listDefs = option: defs: concatMap (d: map (describe option d.file) (llamaIn d.value)) defs;

      # users.users.<u>.packages and home-manager.users.<u>.home.packages:
      # the raw per-file values are read where they are plain; what only the
      # submodule knows (function or file modules) is attributed to the one
      # file it can come from, or to none.
      perUser = prefix: sub: defs: evaluated: concatMap (u:
        let
          option = "${prefix}.${u}.${builtins.concatStringsSep "." sub}";
          found = concatMap (d: concatMap (l: map (describe option d.file) (llamaIn l)) (try [ ] (at ([ u ] ++ sub) d.value))) defs;
          seen = map (x: x.name) found;
          candidates = uniq (concatMap (d: concatMap (opaqueFiles d.file) (try [ ] (at [ u ] d.value))) defs);
          file = if length candidates == 1 then head candidates else null;
          rest = filter (p: !(elem (nameOf p) seen)) (llamaIn (try [ ] (at' sub evaluated.${u})));
        in
        found ++ map (describe option file) rest) (try [ ] (attrNames evaluated));
      at' = path: v: if path == [ ] then v else at' (tail path) v.${head path};

      sysDefs = defsOf (opts.environment.systemPackages or { });
      # A standalone home-manager configuration's own home.packages.
      homeDefs = defsOf (opts.home.packages or { });
      userDefs = defsOf (opts.users.users or { });
      hmDefs = defsOf (opts.home-manager.users or { });
      svcOpts = opts.services.llama-cpp or { };
      enableDefs = defsOf (svcOpts.enable or { });
      packageDefs = defsOf (svcOpts.package or { });
      overlayDefs = defsOf (opts.nixpkgs.overlays or { });
      hostNameDefs = defsOf (opts.networking.hostName or { });
      argDefs = defsOf (opts._module.args or { });

      # home-manager's programs.<p>.package of an enabled program (each
      # program is a module of its own there, its package an option).
      programs = concatMap (p:
        let o = opts.programs.${p}; in
        if try false ((o.package._type or null) == "option" && (cfg.programs.${p}.enable or false)) then
          concatMap (d: if llamaName (try null (nameOf d.value)) then [ (describe "programs.${p}.package" d.file d.value) ] else [ ])
            (defsOf o.package)
        else [ ]) (if hosts.${name}.kind == "home" then try [ ] (attrNames (opts.programs or { })) else [ ]);

      # A package whose text names a llama.cpp build (a wrapper script,
      # `writeShellScriptBin "llm" "${pkgs.llama-cpp}/bin/llama-cli …"`):
      # the text's context names the build it runs.
      wrappedDefs = option: defs: concatMap (d: concatMap (p:
          map (x: { inherit option; inherit (d) file; inherit (x) name; origin = drvOrigin x; })
            (filter (x: llamaCpp x.name) (drvsIn (try null (p.text or null)))))
        (filter (p: isAttrs p && !(llamaName (try null (nameOf p)))) (if isList d.value then d.value else [ ]))) defs;

      packages =
        listDefs "environment.systemPackages" sysDefs
        ++ listDefs "home.packages" homeDefs
        ++ wrappedDefs "environment.systemPackages" sysDefs
        ++ wrappedDefs "home.packages" homeDefs
        ++ programs
        ++ perUser "users.users" [ "packages" ] userDefs (cfg.users.users or { })
        ++ perUser "home-manager.users" [ "home" "packages" ] hmDefs (cfg.home-manager.users or { });

      # Only an enabled service installs anything; its package may be the
      # option's default (defined in nixpkgs' module, so in no repo file).
      # nix-darwin's launchd jobs run a program by its store path
      # (`lib.getExe pkgs.llama-cpp`): the strings' context names the package.
      nixpkgsLlamaDrv = try null (drvOf pkgs.llama-cpp);
      drvOrigin = x:
        if builtins.any (u: u.drv == x.drv) (upstream.${x.name} or [ ]) then "upstream"
        else if x.drv == nixpkgsLlamaDrv then "nixpkgs" else "other";
      launchd = concatMap (path:
        let option = builtins.concatStringsSep "." path; in
        concatMap (d: concatMap (job: concatMap (s: map (x: { option = "${option}.${job}.serviceConfig.ProgramArguments"; inherit (d) file; inherit (x) name; origin = drvOrigin x; })
            (filter (x: llamaName x.name) (drvsIn s)))
          (concatLists (try [ ] (at [ job "serviceConfig" "ProgramArguments" ] d.value)) ++ try [ ] (at [ job "serviceConfig" "Program" ] d.value)))
          (concatMap (v: if plain v then attrNames v else [ ]) (discharge d.value)))
        (defsOf (try { } (at' path opts))))
        (if hosts.${name}.kind == "darwin" then [ [ "launchd" "daemons" ] [ "launchd" "agents" ] [ "launchd" "user" "agents" ] ] else [ ]);

      # NixOS services the repository defines that run llama.cpp by its
      # store path or have it on their `path` (units.nix).
      # Named as llama.cpp's builds are (`ollama` runs no llama.cpp).
      llamaCpp = n: n != null && match "llama[-.]cpp.*" n != null;
      unitUses = concatMap (u:
          concatMap (s: map (x: { inherit (u) option; file = if u.file == null then null else fileString u.file; inherit (x) name; origin = drvOrigin x; })
            (filter (x: llamaCpp x.name) (drvsIn s))) u.strings
          ++ map (describe u.option (if u.file == null then null else fileString u.file)) (filter (p: llamaCpp (nameOf p)) (llamaIn u.packages)))
        (if hosts.${name}.kind != "darwin" then units.services { inherit opts; root = rootPath; users = try { } (cfg.home-manager.users or { }); } else [ ]);

      service =
        (if try false (cfg.services.llama-cpp.enable or false) then
          map (d: { option = "services.llama-cpp.enable"; inherit (d) file; name = "true"; origin = "other"; }) enableDefs
          ++ map (d: describe "services.llama-cpp.package" d.file d.value) packageDefs
        else [ ])
        ++ launchd
        ++ unitUses;

      # Each overlay applied to probe arguments: `final` is the host's pkgs,
      # `prev` the same with llama-cpp marked, so that what is built from
      # prev.llama-cpp (override, overrideAttrs, ...) keeps the mark.
      mark = p: p // {
        __flakeMigrateFromPrev = true;
        override = a: mark (p.override a);
        overrideAttrs = f: mark (p.overrideAttrs f);
        overrideDerivation = f: mark (p.overrideDerivation f);
      };
      prev = pkgs // { llama-cpp = mark pkgs.llama-cpp; };
      overlay = file: f:
        let attrs = try { } (f pkgs prev); fromPrev = n: try false (attrs.${n}.__flakeMigrateFromPrev or false); in
        { inherit file; names = try [ ] (attrNames attrs); fromPrevLlama = filter fromPrev (try [ ] (attrNames attrs)); };
      overlays = concatMap (d: map (overlay d.file) (if isList d.value then d.value else [ ])) overlayDefs;

      forced = filter (d: isAttrs d.value && (let p = d.value.pkgs or null; in isAttrs p && (p._type or null) == "override" && p.priority < 100)) argDefs;
      specialArgs = try { } (nixos._module.specialArgs or { });
    in
    trace "flake-migrate: evaluating ${name} (of ${toString (length selected)})" (strict {
      inherit system packages service overlays;
      inherit (hosts.${name}) kind attr;
      inputsInModules = specialArgs ? inputs || try false (moduleArgs ? inputs);
      hostNameFiles = filesOf hostNameDefs;
      overlaysIgnored =
        if specialArgs ? pkgs then "pkgs passed through specialArgs"
        else if forced != [ ] then "_module.args.pkgs forced"
        else null;
      # The service's package definitions only where it runs: reading them
      # weighs their values, and the default is nixpkgs' llama-cpp.
      moduleFiles = uniq (filesOf (sysDefs ++ homeDefs ++ userDefs ++ hmDefs ++ enableDefs ++ overlayDefs ++ hostNameDefs)
        ++ filter (f: f != null) (map (d: d.file) service)
        ++ concatMap (d: concatMap (opaqueFiles d.file) (try [ ] (userValues d))) (userDefs ++ hmDefs));
    });

  result = name:
    if catch then
      let r = tryEval (host name); in
      if r.success then { known = r.value; } else { error = "evaluation failed (throw or assert)"; }
    else { known = host name; };
in
{
  root = rootPath;
  inherit names;
  hosts = listToAttrs (map (n: { name = n; value = result n; }) selected);
}
