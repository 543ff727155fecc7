#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's shared-failure figure: on a fleet of N hosts
# (default 1,000, from gen-fleet.sh) whose common module every host imports
# stops evaluating (it reads an option nobody declared), `flake-migrate init`
# must say so once, naming the file, in at most twice the time of one batch
# evaluation of the healthy fleet (the floor: one bare `nix eval` of every
# host's environment.systemPackages names). Stand-ins as in discovery.sh.
# Needs hyperfine (Debian: `apt-get install hyperfine`) and nix >= 2.8.
#
# usage: benches/shared-failure.sh [WORKDIR [N]]   (default /tmp/fm-shared-failure 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-shared-failure}
n=${2:-1000}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export NIX_CONFIG=$'experimental-features = nix-command flakes\ndownload-attempts = 1\nconnect-timeout = 1\neval-cache = false'
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"
tests/fixtures/standins/assemble.sh "$work/standins"
nixpkgs=path:$work/standins/nixpkgs
dir=$work/fleet$n
NO_CONFIG=1 benches/gen-fleet.sh "$dir" "$n"
floor="nix eval --json --override-input nixpkgs $nixpkgs git+file://$dir#nixosConfigurations --apply 'builtins.mapAttrs (_: h: map (p: p.name) h.config.environment.systemPackages)'"
hyperfine --runs "${RUNS:-5}" --warmup 1 --export-json "$work/floor.json" -n floor "$floor"

# Break the module every host imports, as a typo would.
sed -i 's/with pkgs; \[ git htop \]/with pkgs; [ git htop ] ++ [ config.site.tools ]/; s/{ pkgs, ... }:/{ config, pkgs, ... }:/' "$dir/modules/common.nix"
git -C "$dir" commit -qam "common.nix reads an option nobody declared"
"$fm" -C "$dir" init -- --override-input nixpkgs "$nixpkgs" >"$work/init.txt" 2>&1
grep -q "$n hosts failed to evaluate, all the same way" "$work/init.txt" || { cat "$work/init.txt" >&2; exit 1; }
grep -q "modules/common.nix" "$work/init.txt" || { cat "$work/init.txt" >&2; exit 1; }
hyperfine --runs "${RUNS:-5}" --warmup 1 --export-json "$work/init.json" \
    -n 'init, every host failing' --prepare "rm -rf $dir/.git/flake-migrate" \
    "$fm -C $dir init -- --override-input nixpkgs $nixpkgs"
python3 - "$work/floor.json" "$work/init.json" "$n" <<'PY'
import json, sys
floor = json.load(open(sys.argv[1]))["results"][0]
init = json.load(open(sys.argv[2]))["results"][0]
print(f"| {sys.argv[3]} | {floor['mean']:.2f} ± {floor['stddev']:.2f} s | {init['mean']:.2f} ± {init['stddev']:.2f} s | {init['mean'] / floor['mean']:.2f}× |")
PY
grep "failed to evaluate" "$work/init.txt"
