//! 0001: add the upstream flake input, following nixpkgs, in the file's own
//! style, and make `outputs` able to receive it.

use std::path::Path;

use super::{Changeset, Context, Plan};
use crate::config::{CONFIG_FILE, Config, Document};
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::flake::{self, FLAKE_FILE};
pub(crate) use crate::flake::{follow_target, is_upstream};
use crate::pinned_src;
use crate::syntax::{end, start};
use rowan::ast::AstNode;

pub fn plan(ctx: &Context, follows: &str) -> Result<Plan> {
    let path = Path::new(FLAKE_FILE);
    let Some(text) = ctx.files.read(path)? else {
        return Ok(Plan::blocked(
            "there is no flake.nix at the repository root",
            "run flake-migrate in the repository that holds your flake.nix (or pass -C DIR)",
        ));
    };
    let flake = match flake::parse(&text)? {
        Ok(f) => f,
        Err(why) => {
            return Ok(Plan::blocked(
                why,
                "add the input by hand (see the README), then run `flake-migrate up` to adopt it",
            ));
        }
    };
    let url = ctx.config.url.as_str();
    // An input that already brings upstream under another name is reused.
    let input = flake
        .upstream_input(&ctx.config.input, url)
        .unwrap_or_else(|| ctx.config.input.clone());
    let input = input.as_str();
    if !crate::syntax::is_identifier(input) {
        // flake-migrate.toml's `input`, and the overlay's `inputs.NAME`,
        // need a bare name.
        return Ok(Plan::blocked(
            format!("the upstream input is named `{input}`, which Nix only takes quoted"),
            "rename it in flake.nix to a plain name (e.g. `llama-cpp`, also in `outputs`' arguments if listed), then run `flake-migrate up` again",
        ));
    }
    let mut splices = Vec::new();
    let mut notes = Vec::new();

    let revision = revision::read(ctx)?;
    let pinned = match &revision {
        Revision::Pinned { rev, .. } => pinned_src::pinned_url(url, rev),
        _ => None,
    };
    // What the existing input's own url says instead of the pin, if anything.
    let mut kept_own: Option<String> = None;

    let entries = flake.input_entries();
    let own: Vec<_> = entries.iter().filter(|e| e.input() == input).collect();
    let Some(target) = follow_target(&flake, &text, follows) else {
        return Ok(Plan::blocked(
            format!("flake.nix has no nixpkgs input for `{input}` to follow"),
            format!("declare `inputs.{follows}.url` explicitly, then run `flake-migrate up` again"),
        ));
    };
    let target = target.as_str();
    if own.is_empty() {
        let url = pinned.as_deref().unwrap_or(url);
        splices.push(insert_input(&flake, &text, input, url, follows, target));
    } else {
        let url_entry = own.iter().find(|e| e.path[1..] == ["url"]);
        match url_entry.and_then(|e| e.string_value()) {
            Some(found) if is_upstream(&found, url) => {
                if let Revision::Pinned { rev, .. } = &revision
                    && let Some(value) = url_entry.and_then(|e| e.entry.value())
                {
                    match (
                        pinned_src::url_revision(&found),
                        pinned_src::pinned_url(&found, rev),
                    ) {
                        (None, Some(pinned)) => {
                            let node = value.syntax();
                            splices.push(Splice::replace(
                                start(node)..end(node),
                                crate::syntax::nix_string(&pinned),
                            ));
                        }
                        (Some(own), _) if own == rev => {}
                        _ => kept_own = Some(found.clone()),
                    }
                }
            }
            Some(found) => {
                return Ok(Plan::blocked(
                    format!("input `{input}` already points at `{found}`, not at `{url}`"),
                    format!(
                        "point it at `{url}` by hand, or set `input = \"…\"` in flake-migrate.toml to another name"
                    ),
                ));
            }
            None => {
                return Ok(Plan::blocked(
                    format!("input `{input}` has no literal `url`"),
                    format!(
                        "set `inputs.{input}.url = {};` by hand, then run `flake-migrate up`",
                        crate::syntax::nix_string(url)
                    ),
                ));
            }
        }
        let follow_path = ["inputs", "nixpkgs", "follows"].map(String::from);
        let follow_path = [&follow_path[..1], &[follows.to_string()], &follow_path[2..]].concat();
        match own.iter().find(|e| e.path[1..] == follow_path[..]) {
            Some(e) if e.string_value().as_deref() == Some(target) => {}
            Some(e) => {
                return Ok(Plan::blocked(
                    format!(
                        "input `{input}` follows `{}`, not `{target}`",
                        e.string_value().unwrap_or_default()
                    ),
                    format!(
                        "set `inputs.{input}.inputs.{follows}.follows = \"{target}\";` by hand"
                    ),
                ));
            }
            None => {
                let url_entry = url_entry.expect("checked above");
                splices.push(add_follows(&text, &url_entry.entry, follows, target));
            }
        }
    }

    match (&kept_own, &revision) {
        (Some(own), Revision::Pinned { rev, pins }) => notes.push(format!(
            "input `{input}` keeps its own url `{own}`; the old overrides built {rev} ({}), which 0004 and 0005 list as not carried",
            revision::listed(pins)
        )),
        _ => notes.extend(revision_notes(&revision, input, url, pinned.as_deref())),
    }
    match outputs_formals(&flake, &text, input) {
        Formals::Fine => {}
        Formals::Edit(s) => splices.extend(s),
        Formals::Unknown => notes.push(format!(
            "`outputs` is not written as a function in flake.nix: make sure it receives the `{input}` input"
        )),
    }

    let mut changes = Changeset {
        lock_flake: !splices.is_empty(),
        ..Changeset::default()
    };
    if input != ctx.config.input {
        let config_path = Path::new(CONFIG_FILE);
        let before = ctx.files.read(config_path)?;
        changes.files.insert(
            config_path.to_path_buf(),
            Some(naming_input(ctx.config, before.as_deref(), input)?),
        );
        notes.push(format!(
            "input `{input}` already points at upstream: it is reused, and {CONFIG_FILE} now names it (`input = \"{input}\"`)"
        ));
    }
    if !splices.is_empty() {
        if let Some(tool) = flake::generator(&text) {
            return Ok(Plan::blocked(
                format!(
                    "flake.nix is generated by {tool}: an edit here is lost when it is generated again"
                ),
                format!(
                    "declare `{input} = {{ url = \"{url}\"; inputs.{follows}.follows = \"{target}\"; }};` where {tool} reads the flake's inputs, generate flake.nix again, then run `flake-migrate up`"
                ),
            ));
        }
        let new_text = edit::apply(path, &text, splices)?;
        changes.files.insert(path.to_path_buf(), Some(new_text));
    }
    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    changes.notes = notes;
    Ok(Plan::Changes(changes))
}

/// The config file naming `input` as the upstream input: its `input = …`
/// value rewritten (or added) in place, every other line, the user's
/// comments included, as written.
fn naming_input(config: &Config, text: Option<&str>, input: &str) -> Result<String> {
    let Some(text) = text else {
        let mut config = config.clone();
        config.input = input.to_string();
        return Ok(config.to_toml());
    };
    let mut doc = Document::parse(Path::new(CONFIG_FILE), text)?;
    doc.set_input(input);
    Ok(doc.to_string())
}

/// What the user should know about the revision the input takes.
fn revision_notes(
    revision: &Revision,
    input: &str,
    url: &str,
    pinned: Option<&str>,
) -> Vec<String> {
    match (revision, pinned) {
        (Revision::Unpinned, _) => Vec::new(),
        (Revision::Pinned { rev, pins }, Some(pinned)) => vec![format!(
            "input `{input}` is pinned to {rev} (`{pinned}`), the revision the old overrides built: {}",
            revision::listed(pins)
        )],
        (Revision::Pinned { pins, .. }, None) => vec![format!(
            "input `{input}` is not pinned to the old overrides' revision ({}): {CONFIG_FILE}'s url `{url}` is not a plain `github:OWNER/REPO`; 0004 and 0005 list that src as not carried",
            revision::listed(pins)
        )],
        (Revision::Disagree(pins), _) => vec![format!(
            "input `{input}` is not pinned: the old overrides' sources are not one upstream revision ({}), so it follows upstream's default branch and 0004 and 0005 list each src as not carried; pin it by hand (`url = \"{url}/REV\"`) if one revision suits every host",
            revision::listed(pins)
        )],
    }
}

mod layout;
mod revision;
#[cfg(test)]
mod tests;

use revision::Revision;

use layout::{Formals, add_follows, insert_input, outputs_formals};
