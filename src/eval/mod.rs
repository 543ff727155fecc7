//! Asking Nix about the configuration: `upstream` evaluates what each host
//! installs after the migration (checklist item 6).

pub mod upstream;
