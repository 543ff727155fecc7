#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: the pre-commit hook and `check`
# on generated repositories of 100 and 20,000 .nix files with 5 staged.
# Needs hyperfine (Debian: `apt-get install hyperfine`).
#
# usage: benches/run.sh [WORKDIR]   (default /tmp/fm-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fm-bench}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

cargo build --release --quiet
floor=$(cargo bench --bench staged_floor --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*staged_floor[^"]*\)".*/\1/p' | tail -1)
fm=$PWD/target/release/flake-migrate

for n in 100 20000; do
    repo=$work/n$n
    benches/gen-repo.sh "$n" "$repo" "$fm"
    echo "## $n .nix files, 5 staged"
    (
        cd "$repo"
        "$floor" parse .
        hyperfine -N --warmup 10 --min-runs 50 \
            --export-markdown "$work/hook-$n.md" \
            'git diff --cached --name-only' \
            "$floor diff ." \
            "$fm hook run"
    )
done

echo "## check over the 20,000-file tree"
(
    cd "$work/n20000"
    git stash -q # the staged edits are not part of the committed tree
    hyperfine -N --warmup 3 --min-runs 20 -i \
        --export-markdown "$work/check-20000.md" \
        "$fm check"
    if command -v statix >/dev/null; then
        hyperfine --warmup 3 --min-runs 10 -i 'statix check .'
    else
        echo "statix is not installed: no comparison"
    fi
    git stash pop -q
)
