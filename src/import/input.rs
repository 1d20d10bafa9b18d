//! Reading an import file within its caps ([`ImportCaps`]): the bytes after gunzipping,
//! the bytes of one record, the bytes of one line. A file from elsewhere may be built to
//! fill memory or disk (a gzip that inflates a thousandfold, a line without end); every
//! cap stops it with an error that names the key raising it.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::ImportCaps;

/// Bytes read since the last record ended, shared between the reader (which counts) and
/// the parser (which says where records end).
#[derive(Clone, Debug)]
pub struct Window {
    used: Arc<AtomicU64>,
    max: u64,
}

impl Window {
    pub fn new(max: u64) -> Window {
        Window {
            used: Arc::default(),
            max,
        }
    }

    /// A record ended: the next one starts counting from nothing.
    pub fn reset(&self) {
        self.used.store(0, Ordering::Relaxed);
    }
}

/// Reads no more than the caps allow; past one, fails with an error that says which.
pub struct Capped<R> {
    inner: R,
    read: u64,
    max: u64,
    window: Window,
}

impl<R> Capped<R> {
    pub fn new(inner: R, caps: &ImportCaps, window: Window) -> Capped<R> {
        Capped {
            inner,
            read: 0,
            max: caps.max_input_bytes,
            window,
        }
    }
}

pub fn too_big(what: &str, cap: u64, key: &str) -> String {
    format!("{what} is larger than the cap of {cap} bytes (import.{key} in the config raises it)")
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.window.used.load(Ordering::Relaxed);
        // One byte past a cap is how it is found out: it must not be reached silently.
        let room = (self.max - self.read.min(self.max))
            .min(self.window.max - used.min(self.window.max))
            .saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        self.window.used.fetch_add(n as u64, Ordering::Relaxed);
        if self.read > self.max {
            return Err(io::Error::other(too_big(
                "the file (unpacked)",
                self.max,
                "max_input_bytes",
            )));
        }
        if used + n as u64 > self.window.max {
            return Err(io::Error::other(too_big(
                "one record",
                self.window.max,
                "max_record_bytes",
            )));
        }
        Ok(n)
    }
}

/// One line of a JSON Lines file.
pub enum Line {
    /// Its number (from 1), its text, and whether a newline ended it (the last line of a
    /// file cut short has none).
    Text(u64, String, bool),
    /// A line that is not valid UTF-8, or longer than the cap: passed over whole.
    Bad(u64, String),
}

/// The lines of `input`, each at most `max` bytes: a longer one is read to its end without
/// being kept, and reported.
pub struct Lines {
    input: Box<dyn BufRead + Send>,
    max: u64,
    n: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Lines {
    pub fn new(input: Box<dyn BufRead + Send>, caps: &ImportCaps) -> Lines {
        Lines {
            input,
            max: caps.max_line_bytes,
            n: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    fn read_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        let mut over = false;
        let mut ended = false;
        let mut any = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, found) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !over {
                if (self.buf.len() + take) as u64 > self.max.saturating_add(1) {
                    over = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.input.consume(take);
            if found {
                ended = true;
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.n += 1;
        if over {
            return Ok(Some(Line::Bad(
                self.n,
                too_big("the line", self.max, "max_line_bytes"),
            )));
        }
        if ended {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        Ok(Some(match std::str::from_utf8(&self.buf) {
            Ok(s) => Line::Text(self.n, s.to_owned(), ended),
            Err(e) => Line::Bad(self.n, format!("the line is not valid UTF-8 ({e})")),
        }))
    }
}

impl Iterator for Lines {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.read_line();
        fused(&mut self.done, next)
    }
}

/// An iterator's next item from a reader that says `Ok(None)` at the end: after the end
/// or an error, `done` is set and nothing more is read.
pub fn fused<T, E>(done: &mut bool, next: Result<Option<T>, E>) -> Option<Result<T, E>> {
    let item = next.transpose();
    *done = !matches!(item, Some(Ok(_)));
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(line: u64, input: u64) -> ImportCaps {
        ImportCaps {
            max_line_bytes: line,
            max_input_bytes: input,
            ..ImportCaps::default()
        }
    }

    fn lines(text: &[u8], line: u64) -> Vec<String> {
        let input: Box<dyn BufRead + Send> = Box::new(io::BufReader::with_capacity(
            4,
            io::Cursor::new(text.to_vec()),
        ));
        Lines::new(input, &caps(line, u64::MAX))
            .map(|l| match l.unwrap() {
                Line::Text(n, s, ended) => format!("{n}:{s}:{ended}"),
                Line::Bad(n, why) => format!("{n}!{}", &why[..8]),
            })
            .collect()
    }

    #[test]
    fn lines_are_bounded_and_checked() {
        assert_eq!(
            lines(b"ab\ncd\r\n\nef", 10),
            ["1:ab:true", "2:cd:true", "3::true", "4:ef:false"]
        );
        assert_eq!(
            lines(b"short\na line that is too long\nok\xff\nend\n", 8),
            ["1:short:true", "2!the line", "3!the line", "4:end:true"]
        );
        assert_eq!(lines(b"\xe2\x80\n", 8), ["1!the line"]);
        assert!(lines(b"", 8).is_empty());
    }

    #[test]
    fn the_input_cap_stops_reading_just_past_it() {
        let window = Window::new(u64::MAX);
        let mut r = Capped::new(io::repeat(0), &caps(8, 1000), window);
        let mut sink = Vec::new();
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("import.max_input_bytes"), "{e}");
        assert!(sink.len() <= 1001);

        let window = Window::new(100);
        let mut r = Capped::new(io::repeat(0).take(250), &caps(8, 1000), window.clone());
        let mut buf = [0u8; 60];
        r.read_exact(&mut buf).unwrap();
        window.reset();
        r.read_exact(&mut buf).unwrap();
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("import.max_record_bytes"), "{e}");
    }
}
