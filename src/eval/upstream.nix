# flake-migrate: what each host of a flake installs of llama.cpp, compared
# with the upstream input's own packages. Called from a wrapper flake whose
# only input is the user's repository (see hosts.rs for why).
{ flake, input, hosts, attrs ? { } }:
let
  inherit (builtins) attrNames attrValues concatLists filter isAttrs listToAttrs map mapAttrs match substring stringLength tryEval;

  isDrv = p: isAttrs p && p ? outPath;
  nameOf = p: if isAttrs p then p.name or "<unnamed>" else toString p;
  # Store paths as plain strings (attribute names cannot carry context).
  outOf = p: builtins.unsafeDiscardStringContext (toString p.outPath);
  # Upstream's pnames are llama-cpp[-backends]; nixpkgs' is llama-cpp (also
  # when overridden). Look-alikes (myns-llama-cpp-wrapper) are not llama.cpp.
  pnameOf = p: p.pname or (builtins.parseDrvName (nameOf p)).name;
  looksLlama = p: match "llama-cpp(-.*)?" (pnameOf p) != null;
  # `windows` (a cross build: a nixpkgs for mingw-w64 to evaluate) only
  # when a host is given it. Upstream's own `mpi-cuda` output is its CPU
  # build with MPI: the variant is its `cuda` with `variantArgs`, as the
  # overlay builds it (Variant::package_args), named llama-cpp-cuda-mpi.
  variantAttrs = { cpu = "default"; cuda = "cuda"; vulkan = "vulkan"; rocm = "rocm"; mpi-cpu = "mpi-cpu"; mpi-cuda = "cuda"; metal = "default"; }
    // (if builtins.elem "windows" (attrValues hosts) then { windows = "windows"; } else { });
  variantArgs = { mpi-cuda = { useMpi = true; }; };
  variantPackage = upstream: v:
    let p = upstream.${variantAttrs.${v}} or null; in
    if variantArgs ? ${v} then (if isDrv p && p ? override then p.override variantArgs.${v} else null) else p;
  hasInput = (flake.inputs or { }) ? ${input};
  src = toString flake.outPath + "/";
  sourceRoot = builtins.unsafeDiscardStringContext (toString (flake.sourceInfo.outPath or flake.outPath));
  rel = f:
    let s = toString f; in
    if substring 0 (stringLength src) s == src then substring (stringLength src) (stringLength s) s else s;

  host = name:
    let
      nixos = machines.${name}.value;
      cfg = nixos.config;
      pkgs = nixos.pkgs or nixos._module.args.pkgs;
      system = pkgs.stdenv.hostPlatform.system;
      upstream = if hasInput then flake.inputs.${input}.packages.${system} or { } else { };
      # Only the variant packages in use or cheap (windows only when a host
      # has it). tryEval keeps a missing one (rocm off x86_64-linux) from
      # failing the whole evaluation.
      upstreamOut = mapAttrs (v: _:
        let r = tryEval (let p = variantPackage upstream v; in if isDrv p then outOf p else null);
        in if r.success then r.value else null) variantAttrs;
      # One package may be two variants (on aarch64-darwin `default` is both
      # cpu and metal): the host's own variant names it first.
      upstreamByOut = listToAttrs (filter (x: x.name != null)
        (map (v: { name = upstreamOut.${v}; value = v; })
          ((if variant != null && upstreamOut ? ${variant} then [ variant ] else [ ]) ++ attrNames upstreamOut)));
      # A host with options installs the overlay's `llama-cpp-<variant>-<options>`:
      # upstream's package overridden, so another store path with upstream's name.
      variant = hosts.${name} or null;
      ours = let
          attr = attrs.${name} or null;
          r = tryEval (let p = pkgs.${attr} or null; u = variantPackage upstream variant; in
            if attr != null && variant != null && isDrv p && isDrv u && nameOf p == nameOf u then outOf p else null);
        in if r.success then r.value else null;
      nixpkgsLlama = let r = tryEval (if isDrv (pkgs.llama-cpp or null) then { out = outOf pkgs.llama-cpp; name = pkgs.llama-cpp.name; } else null);
        in if r.success then r.value else null;

      sysDefs = let r = tryEval (let d = (nixos.options.environment.systemPackages.definitionsWithLocations or [ ]); in builtins.deepSeq (map (x: x.file) d) d);
        in if r.success then r.value else [ ];
      filesDefining = out: concatLists (map (d:
        let r = tryEval (builtins.any (q: isDrv q && outOf q == out) (if builtins.isList d.value then d.value else [ ]));
        in if r.success && r.value then [ (rel d.file) ] else [ ]) sysDefs);

      # Services the repository defines that run a build by its store path
      # (units.nix): the package the string names, when it is one compared
      # here (upstream's variants, the overlay's, nixpkgs').
      drvOf = p: builtins.unsafeDiscardStringContext p.drvPath;
      known = filter isDrv (map (p: let r = tryEval p; in if r.success then r.value else null)
        (map (v: variantPackage upstream v) (attrNames upstreamOut)
          ++ [ (pkgs.${attrs.${name} or ""} or null) (pkgs.llama-cpp or null) ]));
      byDrv = listToAttrs (concatLists (map (p: let r = tryEval (drvOf p); in
        if r.success then [ { name = r.value; value = p; } ] else [ ]) known));
      units = if machines.${name}.kind != "darwin"
        then (import ./units.nix).services { opts = nixos.options; root = sourceRoot; users = cfg.home-manager.users or { }; } else [ ];
      unitSources = concatLists (map (u:
        concatLists (map (s: concatLists (map (drv: if byDrv ? ${drv} then [ { from = u.option; pkg = byDrv.${drv}; } ] else [ ])
          (attrNames (builtins.getContext s)))) u.strings)
        ++ map (p: { from = u.option; pkg = p; }) u.packages) units);

      # A wrapper whose text names a build it runs (discover.nix says so too).
      wrapped = from: list: concatLists (map (p:
        let r = tryEval (if isAttrs p && !(looksLlama p) && builtins.isString (p.text or null)
          then attrNames (builtins.getContext p.text) else [ ]);
        in concatLists (map (drv: if byDrv ? ${drv} then [ { inherit from; pkg = byDrv.${drv}; } ] else [ ])
          (if r.success then r.value else [ ]))) list);

      svc = cfg.services.llama-cpp or { };
      users = cfg.users.users or { };
      hmUsers = cfg.home-manager.users or { };
      sources =
        map (p: { from = "environment.systemPackages"; pkg = p; }) (cfg.environment.systemPackages or [ ])
        ++ map (p: { from = "home.packages"; pkg = p; }) (cfg.home.packages or [ ])
        # home-manager's enabled programs.<p>.package.
        ++ concatLists (map (p: let prog = cfg.programs.${p}; in
            if isAttrs prog && (prog.enable or false) && (prog.package or null) != null
            then [ { from = "programs.${p}.package"; pkg = prog.package; } ] else [ ])
          (if machines.${name}.kind == "home" then attrNames (cfg.programs or { }) else [ ]))
        ++ (if svc.enable or false then [ { from = "services.llama-cpp.package"; pkg = svc.package; } ] else [ ])
        ++ concatLists (map (u: map (p: { from = "users.users.${u}.packages"; pkg = p; }) (users.${u}.packages or [ ])) (attrNames users))
        ++ concatLists (map (u: map (p: { from = "home-manager.users.${u}.home.packages"; pkg = p; }) (hmUsers.${u}.home.packages or [ ])) (attrNames hmUsers))
        ++ unitSources
        ++ wrapped "environment.systemPackages" (cfg.environment.systemPackages or [ ])
        ++ wrapped "home.packages" (cfg.home.packages or [ ]);
      relevant = s: isDrv s.pkg && (looksLlama s.pkg || upstreamByOut ? ${outOf s.pkg});
      describe = s:
        let p = s.pkg; out = outOf p; in {
          inherit (s) from;
          inherit out;
          name = nameOf p;
          upstream = upstreamByOut.${out} or (if ours != null && out == ours then variant else null);
          nixEnforceNoNative = if isAttrs p && p ? NIX_ENFORCE_NO_NATIVE then toString p.NIX_ENFORCE_NO_NATIVE else null;
          nixpkgs = nixpkgsLlama != null && out == nixpkgsLlama.out;
          files = if s.from == "environment.systemPackages" then filesDefining out else [ ];
          cmakeFlags = map toString (p.cmakeFlags or [ ]);
          buildInputs = map nameOf (filter isAttrs (p.buildInputs or [ ]));
        };
    in {
      inherit system;
      inherit variant;
      expected = let v = hosts.${name} or null; in
        if v == null then null else { attr = variantAttrs.${v}; out = upstreamOut.${v}; };
      nixpkgsName = if nixpkgsLlama == null then null else nixpkgsLlama.name;
      packages = map describe (filter relevant sources);
    };
  # NixOS, nix-darwin and standalone home-manager machines.
  machines = import ./machines.nix flake;
  names = attrNames machines;
in {
  inherit hasInput;
  missing = filter (h: !(builtins.elem h names)) (attrNames hosts);
  hosts = listToAttrs (map (h: { name = h; value = host h; }) names);
}
