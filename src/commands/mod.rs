//! One file per subcommand: each opens what it needs, calls the library,
//! and returns the exit code. `main.rs` only parses and dispatches.

pub mod check;
pub mod demo;
pub mod down;
pub mod hook;
pub mod init;
pub mod status;
pub mod switch;
pub mod up;
pub mod verify;
