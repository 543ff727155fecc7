//! `flake-migrate verify [-- NIX ARGS]` (checklist item 6).

use std::io::Write;
use std::path::Path;

use crate::engine::{self, Session};
use crate::error::{Result, exit};

pub fn run(dir: &Path, nix_args: &[String], out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    engine::verify(&session, nix_args, out)?;
    Ok(exit::OK)
}
