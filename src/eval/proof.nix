# flake-migrate: the proof of a planned tree (see proof.rs). For each host,
# where things are (discover.nix) and, for the hosts whose result is judged
# as `verify` judges it, what they install against the upstream input
# (upstream.nix). One process for both, so each host's configuration is
# evaluated once.
#
# `only`: the hosts to evaluate; `judged`: those of them upstream.nix reads
# (it forces every installed package's outPath, which discover.nix avoids);
# `catch`: a host's throw is caught and reported, or left to fail the process
# so that nix prints its message.
{ flake, input, hosts, attrs, only, judged, catch }:
let
  inherit (builtins) attrNames deepSeq elem filter listToAttrs mapAttrs tryEval;

  where = import ./discover.nix { inherit flake only; catch = false; };
  what = import ./upstream.nix { inherit flake input hosts attrs; };

  both = n:
    let
      facts = where.hosts.${n}.known;
      eval = if elem n judged then what.hosts.${n} else null;
    in
    deepSeq [ facts eval ] { inherit facts eval; };
  results = mapAttrs (n: _:
    if catch then tryEval (both n) else { success = true; value = both n; }) where.hosts;
  ok = filter (n: results.${n}.success) (attrNames results);
in
{
  # Each host uncaught, for probe.rs's `nix flake check --keep-going`.
  hosts = mapAttrs (n: _: both n) where.hosts;
  discovery = {
    inherit (where) root names;
    hosts = mapAttrs (n: r:
      if r.success then { known = r.value.facts; }
      else { error = "evaluation failed (throw or assert)"; }) results;
  };
  evaluation = {
    inherit (what) hasInput missing;
    hosts = listToAttrs (map (n: { name = n; value = results.${n}.value.eval; })
      (filter (n: elem n judged) ok));
  };
}
