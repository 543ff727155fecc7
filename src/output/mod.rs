//! What the commands print: lines, colour choice, and the spinner shown
//! while nix runs.

pub mod spinner;
