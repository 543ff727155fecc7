# The builder of `lib.check`: runs flake-migrate's guard over a copy of the
# user's source. `src` is a store path without `.git` (flakes copy only the
# tracked files), so the copy becomes a repository with every file staged:
# the guard reads the tracked files. Exit code 4 (violations) fails the build.
set -eu
cp -R "$src" source
chmod -R u+w source
cd source
git init --quiet
git add --all
flake-migrate --color never check
touch "$out"
