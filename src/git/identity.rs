//! Who commits: the author and committer, resolved as git resolves them.

use super::*;

/// The author, after checking that a committer can be named too (for
/// commands that must know before they write anything).
pub fn signature(repo: &Repository) -> Result<git2::Signature<'static>> {
    identities(repo).map(|(author, _)| author)
}

/// Author and committer as git resolves them: `GIT_AUTHOR_*` /
/// `GIT_COMMITTER_*`, then `author.*` / `committer.*`, then `user.*` in the
/// configuration (honouring `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM` and
/// `GIT_CONFIG_NOSYSTEM`, which libgit2 does not), then `EMAIL`.
pub fn identities(
    repo: &Repository,
) -> Result<(git2::Signature<'static>, git2::Signature<'static>)> {
    let config = config(repo)?;
    let who = |role: &str| -> Result<git2::Signature<'static>> {
        let env = |key: &str| {
            std::env::var(format!("GIT_{}_{key}", role.to_uppercase()))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let conf = |key: &str| {
            config
                .get_string(&format!("{role}.{key}"))
                .or_else(|_| config.get_string(&format!("user.{key}")))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let name = env("NAME").or_else(|| conf("name"));
        let email = env("EMAIL")
            .or_else(|| conf("email"))
            .or_else(|| std::env::var("EMAIL").ok().filter(|v| !v.is_empty()));
        match (name, email) {
            (Some(name), Some(email)) => {
                git2::Signature::now(&name, &email).map_err(|_| Error::NoIdentity)
            }
            _ => Err(Error::NoIdentity),
        }
    };
    Ok((who("author")?, who("committer")?))
}

/// The repository's configuration with the files git itself would read.
fn config(repo: &Repository) -> Result<git2::Config> {
    use git2::{Config, ConfigLevel};
    let var = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let mut config = Config::new()?;
    let mut add = |path: PathBuf, level: ConfigLevel| -> Result<()> {
        if path.is_file() {
            config.add_file(&path, level, false)?;
        }
        Ok(())
    };
    if var("GIT_CONFIG_NOSYSTEM").is_none() {
        match var("GIT_CONFIG_SYSTEM") {
            Some(path) => add(path.into(), ConfigLevel::System)?,
            None => {
                if let Ok(path) = Config::find_system() {
                    add(path, ConfigLevel::System)?;
                }
            }
        }
    }
    match var("GIT_CONFIG_GLOBAL") {
        Some(path) => add(path.into(), ConfigLevel::Global)?,
        None => {
            if let Ok(path) = Config::find_xdg() {
                add(path, ConfigLevel::XDG)?;
            }
            if let Ok(path) = Config::find_global() {
                add(path, ConfigLevel::Global)?;
            }
        }
    }
    add(repo.path().join("config"), ConfigLevel::Local)?;
    Ok(config)
}
