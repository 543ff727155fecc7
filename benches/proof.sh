#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's proof table (issue 20): on a fleet of N hosts
# (default 200, from gen-fleet.sh: a third use llama.cpp, configured) with
# the stand-ins of tests/fixtures/standins/ (assembled by assemble.sh),
# times
#   - discovery: `flake-migrate init` with its cache removed (one nix eval);
#   - the planned run without a proof: `up --dry-run --no-eval` (no nix);
#   - the planned run with its proof: `up --dry-run`, discovery cache warm,
#     so the one nix process is the proof's batch evaluation of the
#     planned tree.
# The proof's cost is the third minus the second; the issue's budget is
# twice the discovery. Needs hyperfine and nix >= 2.8.
#
# usage: benches/proof.sh [WORKDIR [SIZES...]]   (default /tmp/fm-proof 200)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-proof}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200)
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export NIX_CONFIG=$'experimental-features = nix-command flakes\ndownload-attempts = 1\nconnect-timeout = 1\neval-cache = false\nwarn-dirty = false'
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"
tests/fixtures/standins/assemble.sh "$work/standins"
args="--override-input nixpkgs path:$work/standins/nixpkgs --override-input llama-cpp path:$work/standins/llama-cpp"

for n in "${sizes[@]}"; do
    dir=$work/fleet$n
    benches/gen-fleet.sh "$dir" "$n"
    # The run must be proven, or the table measures a refusal.
    "$fm" -C "$dir" up --dry-run --no-lock --to 5 -- $args >"$work/dry$n.txt" 2>&1
    grep -q '^proven:' "$work/dry$n.txt" || { cat "$work/dry$n.txt" >&2; exit 1; }
    hyperfine --runs "${RUNS:-5}" --warmup 1 \
        --export-json "$work/proof$n.json" \
        -n discovery --prepare "rm -rf $dir/.git/flake-migrate" \
        "$fm -C $dir init -- $args" \
        -n 'up --dry-run --no-eval' --prepare true \
        "$fm -C $dir --no-eval up --dry-run --no-lock --to 5" \
        -n 'up --dry-run (proof)' --prepare "$fm -C $dir status -- $args" \
        "$fm -C $dir up --dry-run --no-lock --to 5 -- $args"
done

echo
echo "| hosts | discovery (\`init\`) | \`up --dry-run --no-eval\` | \`up --dry-run\` (warm discovery) | proof (difference) | proof / discovery |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    python3 - "$work/proof$n.json" "$n" <<'PY'
import json, sys
disc, plan, proof = (r for r in json.load(open(sys.argv[1]))["results"])
fmt = lambda m, s: f"{m * 1000:.0f} ± {s * 1000:.0f} ms" if m < 1 else f"{m:.2f} ± {s:.2f} s"
cost = proof["mean"] - plan["mean"]
print(f"| {sys.argv[2]} | {fmt(disc['mean'], disc['stddev'])} | {fmt(plan['mean'], plan['stddev'])} | {fmt(proof['mean'], proof['stddev'])} | {fmt(cost, 0)} | {cost / disc['mean']:.2f}× |")
PY
done
