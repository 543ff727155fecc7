//! `flake-migrate hook install|uninstall|run`.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result, exit};
use crate::guard;
use crate::output::{self, Stream};

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Install,
    Uninstall,
    Run,
}

pub fn run(dir: &Path, action: Action, out: &mut dyn Write) -> Result<i32> {
    let repo = guard::hook::open(dir)?;
    match action {
        Action::Install => {
            let exe = std::env::current_exe().map_err(|e| Error::io("flake-migrate", e))?;
            guard::hook::install(&repo, &exe, out)?;
        }
        Action::Uninstall => guard::hook::uninstall(&repo, out)?,
        Action::Run => {
            let color = output::color(Stream::Stderr);
            let code = guard::hook::run(&repo, &mut std::io::stderr(), color);
            // The process ends next: closing the repository unmaps its
            // pack files one system call at a time, for nothing.
            std::mem::forget(repo);
            return code;
        }
    }
    Ok(exit::OK)
}
