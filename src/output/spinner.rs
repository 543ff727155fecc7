//! A spinner with the running command and the elapsed seconds, on stderr
//! when it is a terminal; nothing at all when it is not (logs, pipes, CI).
//! Nix evaluations of a real fleet take minutes: silence looks like a hang.

use std::io::IsTerminal;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Runs `cmd` to completion with its output captured, showing `label` and
/// the elapsed time meanwhile. Returns the output and how long it took.
pub fn run(cmd: &mut Command, label: &str) -> std::io::Result<(Output, Duration)> {
    let start = Instant::now();
    let spinner = Spinner::start(label, start);
    let result = cmd.output();
    drop(spinner);
    result.map(|o| (o, start.elapsed()))
}

/// Whether a spinner would be shown.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    fn start(label: &str, start: Instant) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled() {
            return Spinner { stop, thread: None };
        }
        let term = console::Term::stderr();
        let width = usize::from(term.size().1).max(20);
        // Room for the frame, a space and " (1234s)".
        let label = console::truncate_str(label, width.saturating_sub(12), "…").into_owned();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut frame = 0;
            while !flag.load(Ordering::Relaxed) {
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
            stop,
            thread: Some(thread),
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
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| {
            if a.is_empty() || a.contains([' ', '\'', '"', '$']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
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
    fn runs_without_a_terminal() {
        let (out, _) = run(Command::new("true").arg("x"), "true").unwrap();
        assert!(out.status.success());
    }
}
