//! Asking Nix about the configuration, through a wrapper flake (`wrapper`):
//! `discover` says where each host gets llama.cpp from (which files define
//! what), `upstream` evaluates what each host installs after the migration
//! (checklist item 6).

mod cache;
mod checks;
pub mod discover;
mod probe;
pub mod upstream;
pub mod verdict;
pub mod wrapper;
