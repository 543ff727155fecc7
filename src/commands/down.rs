//! `flake-migrate down [--to ID | --all] [--dry-run]`.

use std::io::Write;
use std::path::Path;

use crate::engine::{self, RunOptions, Session};
use crate::error::{Result, exit};

pub fn run(dir: &Path, opts: &RunOptions, out: &mut dyn Write) -> Result<i32> {
    let session = Session::open_for_change(dir, out)?;
    engine::down(&session, opts, out)?;
    Ok(exit::OK)
}
