//! This machine: its host name, the NixOS commit it runs, programs on PATH.
//! Only the `switch` and `confirm` commands ask.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An executable called `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// This machine's host name (on a Mac, its LocalHostName, the name
/// darwin-rebuild picks the configuration by).
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| {
            if !cfg!(target_os = "macos") {
                return None;
            }
            let out = Command::new("scutil")
                .args(["--get", "LocalHostName"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The `configurationRevision` the running NixOS (or nix-darwin) system
/// reports, when it does: `/run/current-system/configuration-revision`,
/// else `nixos-version --json`, else nix-darwin's `darwin-version --json`.
pub fn running_revision() -> Option<String> {
    let from_file = std::fs::read_to_string("/run/current-system/configuration-revision")
        .ok()
        .map(|s| s.trim().to_string());
    let rev = from_file.filter(|s| !s.is_empty()).or_else(|| {
        ["nixos-version", "darwin-version"]
            .iter()
            .find_map(|program| {
                let out = Command::new(program).arg("--json").output().ok()?;
                if !out.status.success() {
                    return None;
                }
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
                v.get("configurationRevision")?.as_str().map(String::from)
            })
    })?;
    Some(rev)
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
