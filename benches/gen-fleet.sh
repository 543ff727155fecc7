#!/usr/bin/env bash
# Generates a flake repository with N hosts (a third use llama.cpp: cuda,
# vulkan, cpu in turn), each with its own module and a shared module, as a
# git repository with flake-migrate.toml committed.
#
# usage: gen-fleet.sh DIR N [MODULES]
#   MODULES: module files in all (default N + 1: each host's own and the
#   shared one); the others are small service modules, as even a share per
#   host as the count allows, each imported by its host's own module (a
#   host's closure does not grow with the fleet).
# NO_CONFIG=1: commit no flake-migrate.toml (for `init` to write it).
set -euo pipefail
dir=$1 n=$2 modules=${3:-$(($2 + 1))}
extra=$((modules - n - 1))
(( extra >= 0 )) || { echo "MODULES must be at least N + 1" >&2; exit 2; }
rm -rf "$dir" && mkdir -p "$dir/hosts" "$dir/modules"
cat > "$dir/modules/common.nix" <<'NIX'
{ pkgs, ... }:
{
  # shared by every host
  environment.systemPackages = with pkgs; [ git htop ];
}
NIX
{
  echo '{'
  echo '  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";'
  echo '  outputs = { self, nixpkgs, ... }@inputs: {'
  echo '    nixosConfigurations = {'
  for i in $(seq 1 "$n"); do
    cat <<NIX
      host$i = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = { inherit inputs; };
        modules = [
          ({ ... }: { nixpkgs.overlays = [ ]; })
          ./hosts/host$i.nix
          ./modules/common.nix
        ];
      };
NIX
  done
  echo '    };'
  echo '  };'
  echo '}'
} > "$dir/flake.nix"
variants=(cuda vulkan cpu)
if [ -z "${NO_CONFIG:-}" ]; then
  {
    echo '[hosts]'
    for i in $(seq 1 "$n"); do
      if (( i % 3 == 0 )); then echo "host$i = \"${variants[$(( (i / 3) % 3 ))]}\""; fi
    done
  } > "$dir/flake-migrate.toml"
fi
# Builtins only in the loop (printf, not cat): tens of thousands of files.
(( extra == 0 )) || (cd "$dir/hosts" && seq -f 'host%.0f' 1 $(( extra < n ? extra : n )) | xargs mkdir)
for i in $(seq 1 "$n"); do
  # The first `extra % n` hosts take one module more.
  count=$(( extra / n + (i <= extra % n ? 1 : 0) ))
  imports=""
  for (( j = 1; j <= count; j++ )); do
    imports+=" ./host$i/service$j.nix"
    s=host${i}service$j
    printf '%s\n' \
      '{ config, lib, pkgs, ... }:' \
      '{' \
      "  options.services.$s.enable = lib.mkEnableOption \"service $j of host$i\";" \
      "  config = lib.mkIf config.services.$s.enable {" \
      "    systemd.services.$s = {" \
      '      wantedBy = [ "multi-user.target" ];' \
      '      serviceConfig.ExecStart = "${pkgs.hello}/bin/hello";' \
      '    };' \
      '  };' \
      '}' > "$dir/hosts/host$i/service$j.nix"
  done
  (( count == 0 )) || imports="  imports = [$imports ];\n"
  if (( i % 3 == 0 )); then
    printf '{ pkgs, ... }:\n{\n%b  networking.hostName = "host%s";\n  environment.systemPackages = [ pkgs.llama-cpp pkgs.curl ];\n}\n' "$imports" "$i"
  else
    printf '{ pkgs, ... }:\n{\n%b  networking.hostName = "host%s";\n}\n' "$imports" "$i"
  fi > "$dir/hosts/host$i.nix"
done
git -C "$dir" init -q -b main
git -C "$dir" -c user.name=bench -c user.email=bench@example.invalid add -A
git -C "$dir" -c user.name=bench -c user.email=bench@example.invalid commit -qm fleet
git -C "$dir" config user.name bench
git -C "$dir" config user.email bench@example.invalid
