#!/usr/bin/env bash
# Generates a flake repository with N hosts (a third use llama.cpp: cuda,
# vulkan, cpu in turn), each with its own module and a shared module, as a
# git repository with flake-migrate.toml committed. Usage: gen-fleet.sh DIR N
set -euo pipefail
dir=$1 n=$2
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
{
  echo '[hosts]'
  for i in $(seq 1 "$n"); do
    if (( i % 3 == 0 )); then echo "host$i = \"${variants[$(( (i / 3) % 3 ))]}\""; fi
  done
} > "$dir/flake-migrate.toml"
for i in $(seq 1 "$n"); do
  if (( i % 3 == 0 )); then
    printf '{ pkgs, ... }:\n{\n  networking.hostName = "host%s";\n  environment.systemPackages = [ pkgs.llama-cpp pkgs.curl ];\n}\n' "$i"
  else
    printf '{ pkgs, ... }:\n{\n  networking.hostName = "host%s";\n}\n' "$i"
  fi > "$dir/hosts/host$i.nix"
done
git -C "$dir" init -q -b main
git -C "$dir" -c user.name=bench -c user.email=bench@example.invalid add -A
git -C "$dir" -c user.name=bench -c user.email=bench@example.invalid commit -qm fleet
git -C "$dir" config user.name bench
git -C "$dir" config user.email bench@example.invalid
