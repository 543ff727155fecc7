use super::*;

/// What `hook_run` builds is what clap reads from the same words.
#[test]
fn the_hooks_command_line_reads_as_clap_reads_it() {
    let words = |w: &[&str]| w.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
    let ours = Cli::hook_run(words(&["hook", "run"]).into_iter()).unwrap();
    let clap = Cli::try_parse_from(words(&["flake-migrate", "hook", "run"])).unwrap();
    for cli in [ours, clap] {
        assert!(cli.dirs.is_empty());
        assert_eq!(cli.color, ColorChoice::Auto);
        assert!(!cli.quiet && !cli.verbose && !cli.no_eval);
        assert!(matches!(
            cli.command,
            Command::Hook {
                action: HookAction::Run
            }
        ));
    }
    for other in [
        &["hook", "run", "-q"][..],
        &["-q", "hook", "run"],
        &["hook"],
    ] {
        assert!(
            Cli::hook_run(words(other).into_iter()).is_none(),
            "{other:?}"
        );
    }
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

/// `--help`, the man page and the completions all read these.
#[test]
fn every_flag_and_argument_has_help_text() {
    fn missing(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() {
                found.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                if sub.get_about().is_none() {
                    found.push(format!("{path} {}", sub.get_name()));
                }
                missing(sub, &format!("{path} {}", sub.get_name()), found);
            }
        }
    }
    let mut found = Vec::new();
    missing(&Cli::command(), "flake-migrate", &mut found);
    assert_eq!(found, Vec::<String>::new());
}
