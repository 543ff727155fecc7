//! The command line: parses arguments, runs the library, maps errors to
//! exit codes. Everything else lives in the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use flake_migrate::commands::init::InitOptions;
use flake_migrate::commands::{self, check, hook};
use flake_migrate::engine::RunOptions;
use flake_migrate::error::{Error, Result, exit};
use flake_migrate::output::{self, ColorChoice, Settings, Verbosity};

#[derive(Parser)]
#[command(
    name = "flake-migrate",
    version,
    about = "Move a NixOS flake from nixpkgs' llama-cpp to the upstream llama.cpp flake, one committed step at a time",
    after_help = "Exit codes: 0 success, 1 error, 2 usage, 3 a step needs manual action, 4 guard violations, 5 nix needed but missing."
)]
struct Cli {
    /// Run as if started in DIR; repeated, each is taken relative to the
    /// previous one (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "DIR", action = ArgAction::Append)]
    dirs: Vec<PathBuf>,

    /// When to colour the output; `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    color: ColorChoice,

    /// Print only errors and what was asked for (JSON, completions, the man page); no spinner.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Also print each external command (nix, git hooks, nh) as it runs, and its time.
    #[arg(short, long, global = true)]
    verbose: bool,

    /// Read the flake statically only: do not evaluate it with nix to find
    /// hosts and the files their definitions come from.
    #[arg(long, global = true)]
    no_eval: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect hosts and write flake-migrate.toml with each host's variant.
    Init {
        /// A host and its variant (cpu, cuda, vulkan, rocm), e.g. carbon=cuda.
        #[arg(long = "host", value_name = "NAME=VARIANT")]
        hosts: Vec<String>,
        /// Write the config even without --host.
        #[arg(long)]
        yes: bool,
        /// Print the hosts found and the suggested variants as JSON; writes nothing.
        #[arg(long, conflicts_with_all = ["yes", "hosts"])]
        json: bool,
        /// Extra arguments for nix's evaluation, after `--`.
        #[arg(last = true)]
        nix_args: Vec<String>,
    },
    /// Show checklist progress.
    Status {
        /// Print the hosts, their variants and each step's state as JSON.
        #[arg(long)]
        json: bool,
        /// Extra arguments for nix's evaluation, after `--`.
        #[arg(last = true)]
        nix_args: Vec<String>,
    },
    /// Apply pending steps, one commit each.
    Up {
        /// Stop after this step (3, 0003 or 0003-import-overlay).
        #[arg(long, value_name = "ID")]
        to: Option<String>,
        /// Print each step's diff and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: print the planned steps, their files and diffs as JSON.
        #[arg(long, requires = "dry_run")]
        json: bool,
        /// Do not run `nix flake lock` in step 0001.
        #[arg(long)]
        no_lock: bool,
        /// Extra arguments for nix, after `--` (e.g. --override-input NAME PATH).
        #[arg(last = true)]
        nix_args: Vec<String>,
    },
    /// Checklist item 6: `nix flake check` and each host's packages, recorded
    ///
    /// Runs `nix flake check`, evaluates each host, and records the verified
    /// tree. Arguments after `--` go to nix (e.g. --override-input NAME PATH).
    Verify {
        /// Print the check, each host's verdict and what was recorded as JSON.
        #[arg(long)]
        json: bool,
        /// Extra arguments for nix, after `--` (e.g. --override-input NAME PATH).
        #[arg(last = true)]
        nix_args: Vec<String>,
    },
    /// Checklist item 7: switch this machine to host H, and record it
    ///
    /// Runs `nh os switch` (or `nixos-rebuild switch --flake .#H`).
    /// Arguments after `--` go to nh / nixos-rebuild.
    Switch {
        /// The host of flake-migrate.toml to switch this machine to.
        #[arg(long, value_name = "H")]
        host: String,
        /// Switch even though this machine's hostname is not H.
        #[arg(long)]
        force: bool,
        /// Extra arguments for nh or nixos-rebuild, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Checklist item 7: record that host H was switched elsewhere
    ///
    /// On NixOS, the commit this machine runs (its configurationRevision)
    /// is recorded when it is in history.
    Confirm {
        /// The host of flake-migrate.toml that was switched.
        #[arg(long, value_name = "H")]
        host: String,
    },
    /// The example fleet as a git repository, migrated
    ///
    /// Written into DIR (a new temporary directory by default).
    Demo {
        /// A new or empty directory for the example repository (default: a new temporary one).
        dir: Option<PathBuf>,
    },
    /// Undo the newest applied step (or down to --to, or --all).
    Down {
        /// Keep this step and undo every newer one.
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        to: Option<String>,
        /// Undo every applied step.
        #[arg(long)]
        all: bool,
        /// Print what would be undone and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the guard rules of the applied steps over the working tree (CI, editors).
    Check {
        /// Print violations as a JSON array (allowed ones included, marked).
        #[arg(long)]
        json: bool,
        /// List the rules and the step that turns each on.
        #[arg(long, conflicts_with_all = ["explain", "json"])]
        list_rules: bool,
        /// Explain a rule: why it exists and how to fix a violation.
        #[arg(long, value_name = "RULE")]
        explain: Option<String>,
        /// Check only these files or directories.
        paths: Vec<PathBuf>,
    },
    /// The pre-commit hook that runs the guard on staged files.
    Hook {
        #[command(subcommand)]
        action: HookAction,
    },
    /// Print a shell completion script
    ///
    /// For example `flake-migrate completions bash > ~/.local/share/bash-completion/completions/flake-migrate`.
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// Print the manual page (roff), e.g. `flake-migrate man | man -l -`.
    Man,
}

#[derive(Subcommand)]
enum HookAction {
    /// Install it where git looks for hooks (core.hooksPath, worktrees); an
    /// existing hook is kept and runs first.
    Install,
    /// Remove it and restore the hook that was there before.
    Uninstall,
    /// Check the staged index (what git's hook calls).
    Run,
}

impl Cli {
    /// The command line as the installed hook writes it, `hook run` and
    /// nothing else, read without clap: building clap's description of
    /// every command is a tenth of what the hook costs on a small commit,
    /// and it runs on every commit (BENCHMARKS.md). Anything else, or any
    /// flag, goes through clap.
    fn hook_run(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<Cli> {
        let exact = args.next()? == "hook" && args.next()? == "run" && args.next().is_none();
        exact.then(|| Cli {
            dirs: Vec::new(),
            color: ColorChoice::Auto,
            quiet: false,
            verbose: false,
            no_eval: false,
            command: Command::Hook {
                action: HookAction::Run,
            },
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::hook_run(std::env::args_os().skip(1)).unwrap_or_else(Cli::parse);
    output::configure(Settings {
        color: cli.color,
        verbosity: match (cli.quiet, cli.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        },
    });
    let mut stdout = std::io::stdout().lock();
    match run(cli, &mut stdout) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            let _ = stdout.flush();
            output::report::error(&err);
            ExitCode::from(err.exit_code() as u8)
        }
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<i32> {
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "flake-migrate", out);
            return Ok(exit::OK);
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(out)
                .map_err(|e| Error::io("stdout", e))?;
            return Ok(exit::OK);
        }
        _ => {}
    }
    let start = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let dir = commands::change_dir(&start, &cli.dirs)?;
    let dir = dir.as_path();
    let no_eval = cli.no_eval;
    // `--quiet` drops the report but keeps what the user asked to read.
    let mut sink = std::io::sink();
    let wants_output = match &cli.command {
        Command::Init { json, .. }
        | Command::Status { json, .. }
        | Command::Up { json, .. }
        | Command::Verify { json, .. } => *json,
        Command::Check {
            json,
            list_rules,
            explain,
            ..
        } => *json || *list_rules || explain.is_some(),
        _ => false,
    };
    let out: &mut dyn Write = if cli.quiet && !wants_output {
        &mut sink
    } else {
        out
    };
    match cli.command {
        Command::Completions { .. } | Command::Man => unreachable!("handled above"),
        Command::Init {
            hosts,
            yes,
            json,
            nix_args,
        } => {
            let opts = InitOptions {
                hosts,
                yes,
                nix_args,
                no_eval,
            };
            if json {
                commands::init::json(dir, &opts, out)
            } else {
                commands::init::command(dir, &opts, out)
            }
        }
        Command::Status { json, nix_args } => {
            let eval = commands::status::EvalOptions { nix_args, no_eval };
            commands::status::run(dir, json, &eval, out)
        }
        Command::Up {
            to,
            dry_run,
            json,
            no_lock,
            nix_args,
        } => {
            let opts = RunOptions {
                to,
                dry_run,
                no_lock,
                nix_args,
                no_eval,
                ..RunOptions::default()
            };
            if json {
                commands::up::json(dir, &opts, out)
            } else {
                commands::up::run(dir, &opts, out)
            }
        }
        Command::Verify { json, nix_args } => {
            if json {
                commands::verify::json(dir, &nix_args, out)
            } else {
                commands::verify::run(dir, &nix_args, out)
            }
        }
        Command::Switch { host, force, args } => {
            commands::switch::switch(dir, &host, force, &args, out)
        }
        Command::Confirm { host } => commands::switch::confirm(dir, &host, out),
        Command::Demo { dir } => commands::demo::run(dir, out).map(|()| exit::OK),
        Command::Down { to, all, dry_run } => {
            let opts = RunOptions {
                to,
                all,
                dry_run,
                ..RunOptions::default()
            };
            commands::down::run(dir, &opts, out)
        }
        Command::Check {
            json,
            list_rules,
            explain,
            paths,
        } => {
            let request = if list_rules {
                check::Request::ListRules
            } else if let Some(id) = explain {
                check::Request::Explain(id)
            } else {
                check::Request::Check { json, paths }
            };
            check::run(dir, request, out)
        }
        Command::Hook { action } => {
            let action = match action {
                HookAction::Install => hook::Action::Install,
                HookAction::Uninstall => hook::Action::Uninstall,
                HookAction::Run => hook::Action::Run,
            };
            hook::run(dir, action, out)
        }
    }
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
