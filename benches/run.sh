#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: the pre-commit hook and `check`
# on generated repositories of 100 and 20,000 .nix files with 5 staged (and
# then also a changed `imports` list).
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
        # The same, plus a staged change of an `imports` list: the hook then
        # also re-checks the files the added path reaches.
        sed -i 's|imports = \[./hardware/boron.nix\];|imports = [./hardware/boron.nix ../modules/g0/d0/m0.nix];|' machines/boron.nix
        git add machines/boron.nix
        hyperfine -N --warmup 10 --min-runs 50 \
            --export-markdown "$work/hook-$n-imports.md" \
            'git diff --cached --name-only' \
            "$fm hook run"
        git restore --staged --worktree machines/boron.nix
    )
done

echo "## 20,000 files, 5 staged, an index without cached trees"
(
    # An index rebuilt from `ls-files --stage` has no TREE extension: the
    # hook then compares every directory, as git diff --cached does.
    cd "$work/n20000"
    rm -f "$work/nocache.idx"
    git ls-files -s | GIT_INDEX_FILE="$work/nocache.idx" git update-index --index-info
    hyperfine -N --warmup 10 --min-runs 50 \
        --export-markdown "$work/hook-20000-nocache.md" \
        "env GIT_INDEX_FILE=$work/nocache.idx git diff --cached --name-only" \
        "env GIT_INDEX_FILE=$work/nocache.idx $fm hook run"
)

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
    git stash pop --index -q
)
