//! The check that keeps the static edits honest against evaluation: every
//! place where evaluation saw a configured host install nixpkgs' llama-cpp
//! must, after the planned edits, name the host's upstream variant and no
//! nixpkgs llama-cpp. Otherwise the edits would leave the host on nixpkgs'
//! build (or drop its llama.cpp) while the steps report success: the run is
//! blocked instead, naming the place.

use crate::config::Config;
use crate::error::Result;
use crate::eval::discover::{Discovery, HostFacts, Origin};
use crate::files::Files;
use crate::refs;
use crate::syntax;

/// One place the planned edits do not migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub host: String,
    pub reason: String,
}

/// The gaps left in `files` (the tree with every planned edit laid over it).
/// Definitions nix cannot attribute to a repository file are left to the
/// static reading, which sees inline modules of flake.nix.
pub fn gaps(files: &dyn Files, config: &Config, discovery: &Discovery) -> Result<Vec<Gap>> {
    let mut out = Vec::new();
    for host in config.hosts.keys() {
        let Some(HostFacts::Known(info)) = discovery.hosts.get(host) else {
            continue;
        };
        let wanted = config.package_attr(host).unwrap_or_default();
        for def in info.packages.iter().chain(&info.service) {
            let (Origin::Nixpkgs, Some(file)) = (def.origin, &def.file) else {
                continue;
            };
            let Some(text) = files.read(file)? else {
                out.push(Gap {
                    host: host.clone(),
                    reason: format!(
                        "evaluation shows {host} installs nixpkgs' {} through {} ({}), but the planned edits delete that file",
                        def.name,
                        def.option,
                        file.display()
                    ),
                });
                continue;
            };
            let root = syntax::parse(file, &text)?;
            if let Some(left) = refs::find(&root).first() {
                let (line, col) = syntax::line_col(&text, left.range.start);
                out.push(Gap {
                    host: host.clone(),
                    reason: format!(
                        "{}:{line}:{col}: evaluation shows {host} installs nixpkgs' {} through {} here, and the planned edits leave this reference to nixpkgs' llama-cpp",
                        file.display(),
                        def.name,
                        def.option
                    ),
                });
            } else if !text.contains(&wanted) {
                out.push(Gap {
                    host: host.clone(),
                    reason: format!(
                        "{}: evaluation shows {host} installs nixpkgs' {} through {} from this file, but after the planned edits it does not name {wanted}: the package is built in a way flake-migrate cannot rewrite (callPackage of a local file, a binding from elsewhere)",
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
