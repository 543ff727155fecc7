#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's scaling table: `status`, `up --to 5 --dry-run`,
# `up --to 5` and `down --all` on generated fleets of N hosts (default 1,000
# and 8,000), timed by hyperfine in one run per command so the sizes are
# paired under the same load, then the ratio of the means.
# Every command reads the flake statically (`--no-eval`): evaluating
# thousands of hosts with nix is another benchmark (discovery.sh).
# Needs hyperfine (Debian: `apt-get install hyperfine`).
#
# usage: benches/scale.sh [WORKDIR [SMALL LARGE [RUNS]]]
#   (default /tmp/fm-scale 1000 8000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-scale} small=${2:-1000} large=${3:-8000} runs=${4:-5}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
# FM: a flake-migrate binary to time instead of building this checkout.
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"

for n in "$small" "$large"; do
    dir=$work/fleet$n
    benches/gen-fleet.sh "$dir" "$n"
    git -C "$dir" tag base
    "$fm" -C "$dir" --no-eval up --to 5 --no-lock >/dev/null
    git -C "$dir" tag migrated
    git -C "$dir" reset -q --hard base
done

# Puts fleet{n} back at a tag, working tree and index included.
at() { echo "git -C $work/fleet{n} reset -q --hard $1"; }

bench() {
    local name=$1 prepare=$2
    shift 2
    hyperfine -N --runs "$runs" --warmup 1 -L n "$small,$large" \
        --prepare "$prepare" \
        --export-json "$work/$name.json" --export-markdown "$work/$name.md" "$@"
}
bench status "$(at base)" "$fm -C $work/fleet{n} --no-eval status"
bench up-dry-run "$(at base)" "$fm -C $work/fleet{n} --no-eval up --to 5 --dry-run"
bench up "$(at base)" "$fm -C $work/fleet{n} --no-eval up --to 5 --no-lock"
bench down-all "$(at migrated)" "$fm -C $work/fleet{n} --no-eval down --all"

echo
# Wall time, and user + system time (what the process itself spent, which
# other load on the machine disturbs less).
echo "| command | $small hosts | $large hosts | ratio | CPU $small | CPU $large | CPU ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in status up-dry-run up down-all; do
    python3 - "$work/$name.json" "$name" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
small, large = (r["mean"] for r in results)
cpu_small, cpu_large = (r["user"] + r["system"] for r in results)
fmt = lambda s: f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
print(f"| `{sys.argv[2]}` | {fmt(small)} | {fmt(large)} | {large / small:.1f} "
      f"| {fmt(cpu_small)} | {fmt(cpu_large)} | {cpu_large / cpu_small:.1f} |")
PY
done
