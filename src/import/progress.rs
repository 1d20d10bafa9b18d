//! Progress on standard error: a bar on a terminal (indicatif), a plain line every few
//! seconds otherwise (logs, CI), so a long import never looks stuck.

use std::io::{IsTerminal, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;

/// How often a plain progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
    quiet: bool,
    /// Bytes read from the file so far.
    bytes: Arc<AtomicU64>,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// `quiet`: nothing at all (tests that read standard error).
    pub fn new(quiet: bool) -> Self {
        Progress {
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
            quiet,
            bytes: Arc::default(),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// Wraps the file so reading it counts its bytes.
    pub fn reader<R: Read + Send + 'static>(&self, inner: R) -> Counted<R> {
        Counted {
            inner,
            bytes: Arc::clone(&self.bytes),
        }
    }

    /// Starts a phase of `total` steps (bytes, comments), or of unknown length.
    pub fn phase(&self, what: &str, total: Option<u64>, unit: &str) {
        self.finish();
        if self.quiet {
            return;
        }
        if self.terminal {
            let bar = match total {
                Some(n) => ProgressBar::new(n).with_style(
                    ProgressStyle::with_template(&format!(
                        "{{msg:>10}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)"
                    ))
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner(),
            };
            bar.set_message(what.to_owned());
            *self.bar.lock() = Some(bar);
        } else {
            eprintln!("{what}…");
            *self.last_line.lock() = Instant::now();
        }
    }

    /// Moves the phase to `done` steps.
    pub fn set(&self, done: u64, unit: &str) {
        if self.quiet {
            return;
        }
        if let Some(bar) = &*self.bar.lock() {
            bar.set_position(done);
            return;
        }
        let mut last = self.last_line.lock();
        if last.elapsed() >= PLAIN_EVERY {
            *last = Instant::now();
            eprintln!("  {done} {unit}");
        }
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(bar) = self.bar.lock().take() {
            bar.finish_and_clear();
        }
    }
}

/// A reader that counts what passes through it.
pub struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
