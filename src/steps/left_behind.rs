//! References the planned edits leave behind: a file where evaluation saw
//! a configured host install nixpkgs' llama-cpp that, after every planned
//! edit, still refers to nixpkgs' llama-cpp. `up`'s proof would find the
//! host still on nixpkgs' build too, but only after evaluating the planned
//! tree; this says it before, with the reference's line and column.
//!
//! (It once also guessed from the text whether the edits reached a file
//! they delete or rewrite without naming the variant; the proof now checks
//! what the host really gets, so those guesses went.)

use crate::config::Config;
use crate::error::Result;
use crate::eval::discover::{Discovery, HostFacts, Origin};
use crate::files::Files;
use crate::refs;
use crate::syntax;

/// One reference the planned edits leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub host: String,
    pub reason: String,
}

/// The references left in `files` (the tree with every planned edit laid
/// over it). Definitions nix cannot attribute to a repository file are
/// left to the static reading, which sees inline modules of flake.nix.
pub fn left_behind(files: &dyn Files, config: &Config, discovery: &Discovery) -> Result<Vec<Left>> {
    let mut out = Vec::new();
    for host in config.hosts.keys() {
        let Some(HostFacts::Known(info)) = discovery.hosts.get(host) else {
            continue;
        };
        for def in info.packages.iter().chain(&info.service) {
            let (Origin::Nixpkgs, Some(file)) = (def.origin, &def.file) else {
                continue;
            };
            let Some(text) = files.read(file)? else {
                continue;
            };
            let root = syntax::parse(file, &text)?;
            // A service left to its default package may get it from each
            // host's own module (0004 moves it there): the proof tells.
            if let Some(left) = refs::find(&root)
                .iter()
                .find(|r| r.kind != refs::RefKind::ServiceWithoutPackage)
            {
                let (line, col) = syntax::line_col(&text, left.range.start);
                out.push(Left {
                    host: host.clone(),
                    reason: format!(
                        "{}:{line}:{col}: evaluation shows {host} installs nixpkgs' {} through {} here, and the planned edits leave this reference to nixpkgs' llama-cpp",
                        file.display(),
                        def.name,
                        def.option
                    ),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.host, &a.reason).cmp(&(&b.host, &b.reason)));
    out.dedup();
    Ok(out)
}
