//! Asking Nix about the configuration, through a wrapper flake (`wrapper`):
//! `discover` says where each host gets llama.cpp from (which files define
//! what), `upstream` evaluates what each host installs after the migration
//! (checklist item 6), `proof` evaluates a planned tree for `up` and
//! `outcome` judges it (with `verdict`, as `verify` does).

mod cache;
mod checks;
pub mod discover;
pub mod outcome;
mod probe;
pub mod proof;
pub mod upstream;
pub mod verdict;
pub mod wrapper;
