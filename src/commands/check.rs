//! `flake-migrate check`: the guard's rules over the working tree, the rule
//! list, or one rule explained.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalogue;
use crate::error::{Result, exit};
use crate::guard::{self, check::CheckOptions};
use crate::output::{self, Stream};

pub enum Request {
    Check { json: bool, paths: Vec<PathBuf> },
    ListRules,
    Explain(String),
}

pub fn run(dir: &Path, request: Request, out: &mut dyn Write) -> Result<i32> {
    match request {
        Request::ListRules => {
            let _ = write!(out, "{}", guard::report::rule_list(&catalogue::bundled()));
        }
        Request::Explain(id) => {
            let _ = write!(
                out,
                "{}",
                guard::report::explain(guard::rules::lookup(&id)?)
            );
        }
        Request::Check { json, paths } => {
            let color = output::color(Stream::Stdout);
            let opts = CheckOptions { json, paths, color };
            return guard::check::command(dir, &opts, out);
        }
    }
    Ok(exit::OK)
}
