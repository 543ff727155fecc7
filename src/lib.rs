//! flake-migrate: versioned, format-preserving migrations of a NixOS flake
//! repository from nixpkgs' `llama-cpp` to the upstream llama.cpp flake.
//!
//! Data flows one way: read (`syntax`, `flake`, `files`) → plan (`plan`,
//! `steps`) → edit (`edit`) → commit (`engine`, `git`). See ARCHITECTURE.md.

pub mod catalogue;
pub mod config;
pub mod demo;
pub mod edit;
pub mod engine;
pub mod error;
pub mod eval;
pub mod files;
pub mod flake;
pub mod git;
pub mod guard;
pub mod init;
pub mod model;
pub mod nix;
pub mod nix_paths;
pub mod old_override;
pub mod output;
pub mod record;
pub mod refs;
pub mod status;
pub mod steps;
pub mod suggest;
pub mod syntax;
