//! A spinner with the running command and the elapsed seconds, on stderr
//! when it is a terminal; nothing at all when it is not (logs, pipes, CI)
//! or with `--quiet`. Nix evaluations of a real fleet take minutes: silence
//! looks like a hang. `--verbose` also logs each command and its time.

use std::io::{BufRead, IsTerminal, Read};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Verbosity;

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Runs `cmd` to completion with its output captured, showing `label` and
/// the elapsed time meanwhile. Returns the output and how long it took.
pub fn run(cmd: &mut Command, label: &str) -> std::io::Result<(Output, Duration)> {
    let start = Instant::now();
    started(label);
    let spinner = Spinner::start(label, start);
    let result = cmd.output();
    drop(spinner);
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

/// Like [`run`], but reads the command's stderr as it arrives: `status`
/// turns a line into a new label (say, the host Nix is evaluating now).
pub fn run_watching(
    cmd: &mut Command,
    label: &str,
    status: impl Fn(&str) -> Option<String>,
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
    let spinner = Spinner::start(label, start);
    let mut stderr = Vec::new();
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = Vec::new();
    while lines.read_until(b'\n', &mut line)? > 0 {
        if let Some(new) = status(String::from_utf8_lossy(&line).trim_end()) {
            spinner.relabel(&new);
        }
        stderr.append(&mut line);
    }
    let status = child.wait()?;
    drop(spinner);
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

struct Spinner {
    label: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    fn start(label: &str, start: Instant) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let label = Arc::new(Mutex::new(label.to_string()));
        if !enabled() {
            return Spinner {
                label,
                stop,
                thread: None,
            };
        }
        let term = console::Term::stderr();
        let width = usize::from(term.size().1).max(20);
        let flag = Arc::clone(&stop);
        let shown = Arc::clone(&label);
        let thread = std::thread::spawn(move || {
            let mut frame = 0;
            while !flag.load(Ordering::Relaxed) {
                // Room for the frame, a space and " (1234s)".
                let label = shown.lock().map(|l| l.clone()).unwrap_or_default();
                let label = console::truncate_str(&label, width.saturating_sub(12), "…");
                let line = format!(
                    "{} {label} ({}s)",
                    FRAMES[frame % FRAMES.len()],
                    start.elapsed().as_secs()
                );
                let _ = term.clear_line();
                let _ = term.write_str(&line);
                let _ = term.flush();
                frame += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = term.clear_line();
        });
        Spinner {
            label,
            stop,
            thread: Some(thread),
        }
    }

    fn relabel(&self, label: &str) {
        if let Ok(mut l) = self.label.lock() {
            *l = label.to_string();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
    fn runs_without_a_terminal() {
        let (out, _) = run(Command::new("true").arg("x"), "true").unwrap();
        assert!(out.status.success());
    }
}
