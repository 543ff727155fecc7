//! Which hosts could see a file, and what each host's configuration makes
//! of the names the file uses: the model only makes the guard's findings
//! precise (and spares a host whose configuration makes a name upstream's);
//! a file no host is known to import is judged without it.

use super::Scope;
use crate::error::Result;
use crate::model::Host;
use crate::refs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// It imports the overlay of step 0002: `llama-cpp-<variant>` is
    /// upstream's there.
    pub overlay: bool,
    /// It applies upstream's own `inputs.<input>.overlays.…`, which sets
    /// `llama-cpp` itself to upstream's build.
    pub upstream_overlay: bool,
    /// One of its modules sets `services.llama-cpp.package`.
    pub service_package: bool,
}

impl HostFacts {
    pub fn read(scope: &Scope, host: &Host) -> Result<HostFacts> {
        let input = scope.config.input.as_str();
        let mut facts = HostFacts {
            overlay: host.imports(&scope.config.overlay),
            upstream_overlay: false,
            service_package: false,
        };
        // A host built by a helper (`mkHost`) takes its modules from
        // anywhere in the defining file.
        let def_range = host.modules_list.is_some().then(|| host.range.clone());
        let parts = std::iter::once((&host.def_file, def_range))
            .chain(host.files.iter().map(|f| (f, None)));
        for (file, range) in parts {
            let Some(src) = scope.source(file)? else {
                continue;
            };
            if !facts.upstream_overlay && src.text.contains("overlays") {
                facts.upstream_overlay =
                    refs::applies_upstream_overlay(src.root(), input, range.clone());
            }
            if !facts.service_package && src.text.contains("package") {
                facts.service_package = refs::sets_service_package(src.root(), range);
            }
        }
        Ok(facts)
    }
}
