{
  description = "Move a NixOS flake from nixpkgs' llama-cpp to the upstream llama.cpp flake, one committed step at a time";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      cargo = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package;

      flake-migrate = pkgs: pkgs.rustPlatform.buildRustPackage {
        pname = cargo.name;
        inherit (cargo) version;
        src = lib.cleanSource ./.;
        cargoLock.lockFile = ./Cargo.lock;
        # libgit2 and zlib are built from the crates' bundled sources.
        nativeBuildInputs = [ pkgs.pkg-config pkgs.installShellFiles ];
        # The integration tests drive git and nix on fixture repositories,
        # which a build sandbox cannot do; CI runs them with cargo.
        cargoTestFlags = [ "--lib" ];
        nativeCheckInputs = [ pkgs.git ];
        postInstall = lib.optionalString (pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform) ''
          installShellCompletion --cmd flake-migrate \
            --bash <($out/bin/flake-migrate completions bash) \
            --zsh <($out/bin/flake-migrate completions zsh) \
            --fish <($out/bin/flake-migrate completions fish)
          $out/bin/flake-migrate man > flake-migrate.1
          installManPage flake-migrate.1
        '';
        meta = {
          inherit (cargo) description;
          license = lib.licenses.mit;
          mainProgram = "flake-migrate";
        };
      };
    in
    {
      packages = forAllSystems (pkgs: {
        default = flake-migrate pkgs;
        flake-migrate = flake-migrate pkgs;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      });

      overlays.default = final: _prev: { flake-migrate = flake-migrate final; };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt pkgs.nix pkgs.git ];
        };
      });

      # For a user's own flake: `checks.<system>.llama-guard =
      # flake-migrate.lib.check { inherit pkgs; src = ./.; };` builds only
      # when the guard finds no violation in `src`.
      lib.check =
        { pkgs
        , src
        , name ? "flake-migrate-check"
        , package ? self.packages.${pkgs.stdenv.hostPlatform.system}.default
        }:
        pkgs.runCommand name
          {
            inherit src;
            nativeBuildInputs = [ package pkgs.git ];
          }
          (builtins.readFile ./nix/check.sh);
    };
}
