# flake-migrate: reading raw module definitions, and what the systemd
# services a repository file defines run, for discover.nix and upstream.nix.
#
# `discharge`, `plain`, `at`: a definition's raw value as the module system
# would merge it (mkIf, mkMerge and priorities inside it resolved here;
# nixpkgs resolves only the outermost ones in definitionsWithLocations).
#
# `services { opts, root, users }`: a service started as
# `ExecStart = "${pkgs.llama-cpp}/bin/llama-server …"` runs llama.cpp
# without installing it: the string's context names the package. Only
# definitions written in the repository's files are read: nixpkgs' own
# modules define hundreds of services, and reading their values would weigh
# every one. NixOS writes a command as `serviceConfig.ExecStart`,
# home-manager (a standalone configuration's `systemd.user.services`) as
# `Service.ExecStart`. The user services of home-manager users inside a
# NixOS host are read from their evaluated configurations (`users`:
# `config.home-manager.users`), which do not say which file defines them
# (`file` null). `opts`: the machine's options; `root`: the repository's
# store path. One entry per place: { option, file, strings, packages },
# where `strings` are command strings and `packages` the service's `path`.
let
  inherit (builtins) attrNames concatMap concatStringsSep filter head isAttrs isList substring stringLength tail tryEval;

  try = default: v: let r = tryEval v; in if r.success then r.value else default;
  # The leaves of a raw definition value.
  discharge = v:
    let t = if isAttrs v then v._type or null else null; in
    if t == "merge" then concatMap discharge v.contents
    else if t == "if" then (if v.condition then discharge v.content else [ ])
    else if t == "override" || t == "order" then discharge v.content
    else [ v ];
  plain = v: isAttrs v && !(v ? _type) && !(v ? outPath);
  # The values at `path` inside a raw definition value.
  at = path: v:
    if path == [ ] then discharge v
    else concatMap (x: if plain x && x ? ${head path} then at (tail path) x.${head path} else [ ]) (discharge v);
  flat = concatMap (x: if isList x then x else [ x ]);

  services = { opts, root, users ? { } }:
    let
      prefix = "${root}/";
      fileOf = d: builtins.unsafeDiscardStringContext (toString d.file);
      inRepo = f: substring 0 (stringLength prefix) f == prefix;
      # `or`, not tryEval: a missing attribute is no throw tryEval catches.
      option = path: builtins.foldl' (o: n: if isAttrs o then o.${n} or { } else { }) opts path;
      definitions = path: filter (d: inRepo (fileOf d)) (try [ ] ((option path).definitionsWithLocations or [ ]));

      units = path: concatMap (d:
        concatMap (v: map (job: { inherit job; file = fileOf d; value = v.${job}; }) (attrNames v))
          (filter plain (try [ ] (discharge d.value))))
        (definitions path);

      places = path: concatMap (u:
        let name = "${concatStringsSep "." path}.${u.job}"; in [
          { option = "${name}.serviceConfig.ExecStart"; inherit (u) file; strings = try [ ] (flat (at [ "serviceConfig" "ExecStart" ] u.value)); packages = [ ]; }
          # home-manager writes a user service's command as systemd does.
          { option = "${name}.Service.ExecStart"; inherit (u) file; strings = try [ ] (flat (at [ "Service" "ExecStart" ] u.value)); packages = [ ]; }
          { option = "${name}.script"; inherit (u) file; strings = try [ ] (at [ "script" ] u.value); packages = [ ]; }
          { option = "${name}.path"; inherit (u) file; strings = [ ]; packages = try [ ] (flat (at [ "path" ] u.value)); }
        ]) (units path);

      userPlaces = concatMap (user:
        let jobs = try { } (users.${user}.systemd.user.services or { }); in
        map (job: {
          option = "home-manager.users.${user}.systemd.user.services.${job}.Service.ExecStart";
          file = null;
          strings = try [ ] (flat [ (jobs.${job}.Service.ExecStart or [ ]) ]);
          packages = [ ];
        }) (try [ ] (attrNames jobs)))
        (try [ ] (attrNames users));
    in
      filter (p: p.strings != [ ] || p.packages != [ ])
        (places [ "systemd" "services" ] ++ places [ "systemd" "user" "services" ] ++ userPlaces);
in
{
  inherit discharge plain at services;
}
