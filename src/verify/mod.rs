//! Checklist items 6 and 7 beyond planning: evaluating what each host
//! installs (`hosts`), and the spinner shown while nix runs (`spinner`).
//! The steps themselves live in `steps::verify` and `steps::switch`.

pub mod hosts;
pub mod spinner;
