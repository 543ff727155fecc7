#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's discovery table: on fleets of N hosts (default
# 20, 200 and 1,000, from gen-fleet.sh) evaluated against the stand-in
# nixpkgs built on nixpkgs' real lib and eval-config.nix
# (tests/fixtures/standins/assemble.sh, from ../shared/third_party), times
#   - the floor: one bare `nix eval --json` of every host's
#     environment.systemPackages names;
#   - discovery: `flake-migrate init` (evaluates; writes nothing without
#     --yes), its cache under .git/flake-migrate/ removed before each run;
#   - `flake-migrate status` with that cache warm (it must not run nix).
# Needs hyperfine (Debian: `apt-get install hyperfine`) and nix >= 2.8.
#
# usage: benches/discovery.sh [WORKDIR [SIZES...]]   (default /tmp/fm-discovery 20 200 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-discovery}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20 200 1000)
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export NIX_CONFIG=$'experimental-features = nix-command flakes\ndownload-attempts = 1\nconnect-timeout = 1\neval-cache = false'
# FM: a flake-migrate binary to time instead of building this checkout.
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"
tests/fixtures/standins/assemble.sh "$work/standins"
nixpkgs=path:$work/standins/nixpkgs

for n in "${sizes[@]}"; do
    dir=$work/fleet$n
    benches/gen-fleet.sh "$dir" "$n"
    floor="nix eval --json --override-input nixpkgs $nixpkgs git+file://$dir#nixosConfigurations --apply 'builtins.mapAttrs (_: h: map (p: p.name) h.config.environment.systemPackages)'"
    # The floor and discovery must see the same hosts.
    hosts=$(eval "$floor" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    [ "$hosts" = "$n" ] || { echo "the floor evaluated $hosts hosts, not $n" >&2; exit 1; }
    "$fm" -C "$dir" init -- --override-input nixpkgs "$nixpkgs" >"$work/init$n.txt" 2>&1
    grep -q '(evaluated)' "$work/init$n.txt" || { cat "$work/init$n.txt" >&2; exit 1; }
    hyperfine --runs "${RUNS:-5}" --warmup 1 \
        --export-json "$work/discovery$n.json" --export-markdown "$work/discovery$n.md" \
        -n floor --prepare true "$floor" \
        -n init --prepare "rm -rf $dir/.git/flake-migrate" \
        "$fm -C $dir init -- --override-input nixpkgs $nixpkgs" \
        -n 'status (warm cache)' --prepare "$fm -C $dir init -- --override-input nixpkgs $nixpkgs" \
        "$fm -C $dir status -- --override-input nixpkgs $nixpkgs"
done

echo
echo "| hosts | floor: \`nix eval\` of systemPackages names | discovery (\`init\`) | discovery / floor | \`status\`, warm cache |"
echo "|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    python3 - "$work/discovery$n.json" "$n" <<'PY'
import json, sys
floor, init, status = (r for r in json.load(open(sys.argv[1]))["results"])
fmt = lambda r: f"{r['mean'] * 1000:.0f} ± {r['stddev'] * 1000:.0f} ms" if r["mean"] < 1 else f"{r['mean']:.2f} ± {r['stddev']:.2f} s"
print(f"| {sys.argv[2]} | {fmt(floor)} | {fmt(init)} | {init['mean'] / floor['mean']:.1f}× | {fmt(status)} |")
PY
done
