# flake-migrate: every machine of a flake, keyed as flake-migrate.toml names
# it (host_kind.rs): NixOS hosts, nix-darwin hosts and standalone
# home-manager configurations; a name two outputs share is written
# `darwin/NAME` or `home/NAME` (a NixOS host keeps its name).
flake:
let
  inherit (builtins) attrNames concatMap filter length listToAttrs;
  outputs = [
    { kind = "nixos"; output = "nixosConfigurations"; prefix = ""; }
    { kind = "darwin"; output = "darwinConfigurations"; prefix = "darwin/"; }
    { kind = "home"; output = "homeConfigurations"; prefix = "home/"; }
  ];
  all = concatMap (o: map (attr: o // { inherit attr; value = flake.${o.output}.${attr}; })
    (attrNames (flake.${o.output} or { }))) outputs;
  shared = attr: length (filter (m: m.attr == attr) all) > 1;
  key = m: if m.kind != "nixos" && shared m.attr then m.prefix + m.attr else m.attr;
in
listToAttrs (map (m: { name = key m; value = m; }) all)
