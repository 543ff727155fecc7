//! flake-migrate: versioned, format-preserving migrations of a NixOS flake
//! repository from nixpkgs' `llama-cpp` to the upstream llama.cpp flake.
//!
//! Dependencies point one way: `commands` → `engine` → `steps` → the
//! readers (`model`, `refs`, `flake`, `syntax`, `files`); `guard` reads with
//! `model`, `refs` and `files` only. See ARCHITECTURE.md.

pub mod catalogue;
pub mod commands;
pub mod config;
pub mod edit;
pub mod engine;
pub mod error;
pub mod eval;
pub mod files;
pub mod flake;
pub mod git;
pub mod guard;
pub mod host_kind;
pub mod located;
pub mod machine;
pub mod model;
pub mod nix;
pub mod nix_paths;
pub mod old_override;
pub mod output;
pub mod pinned_src;
pub mod record;
pub mod refs;
pub mod steps;
pub mod suggest;
pub mod syntax;
