#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's scaling table: `status`, `up --to 5 --dry-run`,
# `up --to 5`, `down --all` and `init --json` (finding the hosts and
# suggesting their variants, writing nothing) on generated fleets of N hosts
# (default 1,000 and 8,000), timed by hyperfine in one run per command so
# the sizes are paired under the same load, then the ratio of the means.
# Every command reads the flake statically (`--no-eval`): evaluating
# thousands of hosts with nix is another benchmark (discovery.sh).
# Needs hyperfine (Debian: `apt-get install hyperfine`).
#
# usage: benches/scale.sh [WORKDIR [SMALL LARGE [RUNS]]]
#   (default /tmp/fm-scale 1000 8000 5)
# COMMANDS: which of them to time (default all: status up-dry-run up
# down-all init).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-scale} small=${2:-1000} large=${3:-8000} runs=${4:-5}
commands=${COMMANDS:-status up-dry-run up down-all init}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
# FM: a flake-migrate binary to time instead of building this checkout.
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"

for n in "$small" "$large"; do
    dir=$work/fleet$n
    benches/gen-fleet.sh "$dir" "$n"
    git -C "$dir" tag base
    # `down --all` starts from the migrated fleet.
    if [[ " $commands " == *" down-all "* ]]; then
        "$fm" -C "$dir" --no-eval up --to 5 --no-lock >/dev/null
        git -C "$dir" tag migrated
        git -C "$dir" reset -q --hard base
    fi
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
for name in $commands; do
    case $name in
        status) bench status "$(at base)" "$fm -C $work/fleet{n} --no-eval status" ;;
        up-dry-run) bench up-dry-run "$(at base)" "$fm -C $work/fleet{n} --no-eval up --to 5 --dry-run" ;;
        up) bench up "$(at base)" "$fm -C $work/fleet{n} --no-eval up --to 5 --no-lock" ;;
        down-all) bench down-all "$(at migrated)" "$fm -C $work/fleet{n} --no-eval down --all" ;;
        init) bench init "$(at base)" "$fm -C $work/fleet{n} --no-eval init --json" ;;
        *) echo "unknown command: $name" >&2; exit 2 ;;
    esac
done

echo
# Wall time, and user + system time (what the process itself spent, which
# other load on the machine disturbs less).
echo "| command | $small hosts | $large hosts | ratio | CPU $small | CPU $large | CPU ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in $commands; do
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
