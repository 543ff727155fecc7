#!/usr/bin/env bash
# Generates a benchmark repository: the seed fixture (three hosts, the old
# override), migrated with flake-migrate up to step 0005, plus N generated
# NixOS modules in a tree of directories (50 per directory), committed and
# packed. Then stages harmless edits to 5 modules in different directories.
#
# usage: benches/gen-repo.sh N DIR [FLAKE_MIGRATE]
set -euo pipefail

n=${1:?number of .nix files}
dir=${2:?target directory}
fm=${3:-$(dirname "$0")/../target/release/flake-migrate}
fm=$(realpath "$fm")
src=$(realpath "$(dirname "$0")/../tests/fixtures/repos/seed")

rm -rf "$dir"
mkdir -p "$dir"
cp -r "$src/." "$dir/"
cd "$dir"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
git init -q -b main
git config user.name Bench
git config user.email bench@example.invalid
git config gc.auto 0

existing=$(find . -name '*.nix' -not -path './.git/*' | wc -l)
count=$((n - existing))
for ((i = 0; i < count; i++)); do
    d="modules/g$((i / 2500))/d$((i / 50))"
    [ -d "$d" ] || mkdir -p "$d"
    cat > "$d/m$i.nix" <<NIX
# Generated module $i: a service with a few options.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.generated$i;
in {
  options.services.generated$i = {
    enable = lib.mkEnableOption "generated service $i";
    port = lib.mkOption {
      type = lib.types.port;
      default = $((1024 + i % 60000));
      description = "Port of generated service $i.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.generated$i = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig.ExecStart = "\${pkgs.hello}/bin/hello --port \${toString cfg.port}";
    };
    environment.systemPackages = with pkgs; [ hello jq ];
  };
}
NIX
done
git add -A
git commit -q -m "Generated configuration with $n .nix files"
"$fm" init --no-eval --host carbon=cuda --host beryllium=vulkan > /dev/null
"$fm" up --no-eval --to 5 --no-lock > /dev/null
git gc -q

# Five staged edits in five directories (none breaks a rule).
for i in 0 $((count / 4)) $((count / 2)) $((3 * count / 4)) $((count - 1)); do
    f="modules/g$((i / 2500))/d$((i / 50))/m$i.nix"
    sed -i 's/jq ]/jq ripgrep ]/' "$f"
    git add "$f"
done
echo "$dir: $(git ls-files '*.nix' | wc -l) .nix files, $(git diff --cached --name-only | wc -l) staged"
