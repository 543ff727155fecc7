#!/usr/bin/env bash
# The whole migration end to end on generated fleets (issue 13, "Scale"):
# for each size, gen-fleet.sh makes N hosts with FILES_PER_HOST module files
# per host (default 10: 500 hosts, 5,000 module files) and no
# flake-migrate.toml, then runs, each under `/usr/bin/time -v` (wall time,
# user + system time, peak memory):
#   init --yes        accept the suggestions, write and commit the config
#   up --to 5         the static migration, one commit per step (0006 would
#                     run `nix flake check`, which needs the network)
#   status, check     read-only, after `up`
#   down --all        back to the configured fleet
# Every command passes --no-eval (evaluating thousands of hosts with nix is
# discovery.sh's benchmark). Each result is checked, not only timed: init
# configures exactly the hosts that use llama-cpp, up makes five commits and
# leaves a clean tree, status shows 0001-0005 done, check passes, and after
# down --all the tree is byte for byte the configured one.
# Prints markdown tables for BENCHMARKS.md, with the load average at the
# start of each size (the machine may be shared).
#
# usage: benches/e2e.sh [WORKDIR [SIZES...]]   (default /tmp/fm-e2e 500 1000 2000 4000 8000)
# FM: a flake-migrate binary to time instead of building this checkout.
# FILES_PER_HOST: module files per host (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-e2e}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(500 1000 2000 4000 8000)
per_host=${FILES_PER_HOST:-10}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian: apt-get install time)" >&2; exit 2; }
if [ -z "${FM:-}" ]; then cargo build --release --quiet; fi
fm=${FM:-$PWD/target/release/flake-migrate}
mkdir -p "$work"
results=$work/results.tsv
: >"$results"

fail() {
    echo "e2e: $*" >&2
    exit 1
}

# run N NAME EXPECTED-EXIT ARGS...: one timed command in fleet N, its
# output in $work/N-NAME.out, its figures appended to results.tsv.
run() {
    local n=$1 name=$2 expect=$3
    shift 3
    local dir=$work/fleet$n out=$work/$n-$name.out times=$work/$n-$name.time code=0
    /usr/bin/time -v -o "$times" "$fm" -C "$dir" --no-eval "$@" >"$out" 2>&1 || code=$?
    [ "$code" = "$expect" ] || { tail -20 "$out" >&2; fail "$name at $n hosts exited $code, not $expect"; }
    python3 - "$times" "$n" "$name" >>"$results" <<'PY'
import sys
fields = {}
for line in open(sys.argv[1]):
    key, _, value = line.strip().rpartition(": ")
    fields[key] = value
wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall)))
cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
rss_mb = int(fields["Maximum resident set size (kbytes)"]) / 1024
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{seconds:.3f}\t{cpu:.3f}\t{rss_mb:.1f}")
PY
}

for n in "${sizes[@]}"; do
    dir=$work/fleet$n
    files=$((n * per_host))
    NO_CONFIG=1 benches/gen-fleet.sh "$dir" "$n" "$files"
    modules=$(git -C "$dir" ls-files '*.nix' | grep -vc '^flake.nix$')
    [ "$modules" = "$files" ] || fail "gen-fleet made $modules module files, not $files"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    printf '%s\tload\t%s\n' "$n" "$load" >>"$results"
    echo "== $n hosts, $files module files (load average $load)"

    run "$n" init 0 init --yes
    configured=$(grep -c '^host[0-9]* = ' "$dir/flake-migrate.toml")
    [ "$configured" = $((n / 3)) ] || fail "init configured $configured hosts, not $((n / 3))"
    git -C "$dir" tag configured
    [ -z "$(git -C "$dir" status --porcelain)" ] || fail "init left the tree dirty"

    run "$n" up 0 up --to 5 --no-lock
    commits=$(git -C "$dir" rev-list --count configured..HEAD)
    [ "$commits" = 5 ] || fail "up made $commits commits, not 5"
    [ -z "$(git -C "$dir" status --porcelain)" ] || fail "up left the tree dirty"
    git -C "$dir" grep -q 'pkgs.llama-cpp ' -- hosts && fail "up left pkgs.llama-cpp in hosts/"

    run "$n" status 0 status
    done_steps=$(grep -cE '^\[x\] 000[1-5] ' "$work/$n-status.out" || true)
    [ "$done_steps" = 5 ] || { cat "$work/$n-status.out" >&2; fail "status shows $done_steps of 0001-0005 done"; }

    run "$n" check 0 check

    run "$n" down-all 0 down --all
    [ "$(git -C "$dir" rev-parse 'HEAD^{tree}')" = "$(git -C "$dir" rev-parse 'configured^{tree}')" ] ||
        fail "down --all did not restore the configured tree"
    [ -z "$(git -C "$dir" status --porcelain --ignored)" ] || fail "down --all left files behind"
done

echo
python3 - "$results" "$per_host" <<'PY'
import sys
from collections import defaultdict
rows = defaultdict(dict)
load = {}
for line in open(sys.argv[1]):
    n, name, *rest = line.rstrip("\n").split("\t")
    if name == "load":
        load[int(n)] = rest[0]
    else:
        rows[int(n)][name] = tuple(map(float, rest))
commands = ["init", "up", "status", "check", "down-all"]
title = {"init": "`init --yes`", "up": "`up --to 5`", "status": "`status`",
         "check": "`check`", "down-all": "`down --all`"}
fmt = lambda s: f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
sizes = sorted(rows)
print(f"Wall time (CPU: user + system), {sys.argv[2]} module files per host, every command `--no-eval`:")
print()
print("| hosts | module files | load average | " + " | ".join(title[c] for c in commands) + " |")
print("|---:|---:|---|" + "---:|" * len(commands))
for n in sizes:
    cells = [f"{fmt(rows[n][c][0])} ({fmt(rows[n][c][1])})" for c in commands]
    print(f"| {n:,} | {n * int(sys.argv[2]):,} | {load[n]} | " + " | ".join(cells) + " |")
print()
print("Peak memory (maximum resident set size):")
print()
print("| hosts | " + " | ".join(title[c] for c in commands) + " |")
print("|---:|" + "---:|" * len(commands))
for n in sizes:
    print(f"| {n:,} | " + " | ".join(f"{rows[n][c][2]:.0f} MB" for c in commands) + " |")
if len(sizes) > 1:
    small, large = sizes[0], sizes[-1]
    print()
    print(f"Growth from {small:,} to {large:,} hosts ({large / small:g}× the fleet), CPU time / peak memory:")
    print()
    print("| command | CPU ratio | memory ratio |")
    print("|---|---:|---:|")
    for c in commands:
        a, b = rows[small][c], rows[large][c]
        print(f"| {title[c]} | {b[1] / max(a[1], 1e-3):.1f} | {b[2] / a[2]:.1f} |")
PY
