//! A spinner with the running command and the elapsed time (indicatif),
//! on stderr when it is a terminal; nothing at all when it is not (logs,
//! pipes, CI) or with `--quiet`. Nix evaluations of a real fleet take
//! minutes: silence looks like a hang. Where the command says how far it
//! is (the discovery's host n of m), the spinner counts. `--verbose` also
//! logs each command and its time.

use std::io::{BufRead, IsTerminal, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Stream, Verbosity};

/// Runs `cmd` to completion with its output captured, showing `label` and
/// the elapsed time meanwhile. Returns the output and how long it took.
pub fn run(cmd: &mut Command, label: &str) -> std::io::Result<(Output, Duration)> {
    let start = Instant::now();
    started(label);
    let spinner = spinner(label);
    let result = cmd.output();
    spinner.finish_and_clear();
    result.map(|o| {
        finished(label, start);
        (o, start.elapsed())
    })
}

fn started(label: &str) {
    if super::verbosity() == Verbosity::Verbose {
        eprintln!("running: {label}");
    }
}

fn finished(label: &str, start: Instant) {
    if super::verbosity() == Verbosity::Verbose {
        eprintln!("finished in {:.1}s: {label}", start.elapsed().as_secs_f64());
    }
}

/// What a line of the command's stderr says about its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The new label (say, the host Nix is evaluating now).
    pub label: String,
    /// How far it is: (done, of).
    pub count: Option<(u64, u64)>,
}

/// Like [`run`], but reads the command's stderr as it arrives: `status`
/// turns a line into a new label, and how far the command is.
pub fn run_watching(
    cmd: &mut Command,
    label: &str,
    status: impl Fn(&str) -> Option<Status>,
) -> std::io::Result<(Output, Duration)> {
    let start = Instant::now();
    started(label);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let spinner = spinner(label);
    let mut stderr = Vec::new();
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = Vec::new();
    while lines.read_until(b'\n', &mut line)? > 0 {
        if let Some(new) = status(String::from_utf8_lossy(&line).trim_end()) {
            spinner.set_message(new.label);
            if let Some((done, of)) = new.count {
                spinner.set_length(of);
                spinner.set_position(done);
                spinner.set_style(style(true));
            }
        }
        stderr.append(&mut line);
    }
    let status = child.wait()?;
    spinner.finish_and_clear();
    let stdout = reader.join().expect("stdout reader")?;
    finished(label, start);
    Ok((
        Output {
            status,
            stdout,
            stderr,
        },
        start.elapsed(),
    ))
}

/// Whether a spinner would be shown.
pub fn enabled() -> bool {
    super::verbosity() == Verbosity::Normal
        && std::io::stderr().is_terminal()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// A spinner on stderr, or a hidden one that draws nothing.
fn spinner(label: &str) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    // indicatif styles through `console`, which has its own idea of
    // colour: ours (`--color`, NO_COLOR) decides.
    console::set_colors_enabled_stderr(super::color(Stream::Stderr));
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_style(style(false))
        .with_message(label.to_string());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

fn style(counting: bool) -> ProgressStyle {
    let template = if counting {
        "{spinner:.cyan} {wide_msg} [{pos}/{len}] ({elapsed})"
    } else {
        "{spinner:.cyan} {wide_msg} ({elapsed})"
    };
    ProgressStyle::with_template(template).expect("a valid template")
}

/// A command line as a person would type it (arguments with spaces quoted).
pub fn display(program: &str, args: &[String]) -> String {
    super::shell_command(std::iter::once(program).chain(args.iter().map(String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        assert_eq!(
            display("nix", &["flake".into(), "check".into(), "a b".into()]),
            "nix flake check 'a b'"
        );
    }

    #[test]
    fn watching_keeps_both_outputs() {
        let seen = std::cell::RefCell::new(Vec::new());
        let (out, _) = run_watching(
            Command::new("sh").args(["-c", "echo out; echo a >&2; echo b >&2"]),
            "sh",
            |l| {
                seen.borrow_mut().push(l.to_string());
                None
            },
        )
        .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"a\nb\n");
        assert_eq!(*seen.borrow(), ["a", "b"]);
    }

    #[test]
    fn the_spinner_is_hidden_unless_enabled() {
        let shown = spinner("x");
        let hidden = shown.is_hidden();
        shown.finish_and_clear();
        assert_eq!(hidden, !enabled());
    }

    #[test]
    fn runs_without_a_terminal() {
        let (out, _) = run(Command::new("true").arg("x"), "true").unwrap();
        assert!(out.status.success());
    }
}
