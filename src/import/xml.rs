//! Streamed XML for the Disqus and WordPress exports: the file is read event by event, and
//! only one record (a Disqus thread or post, a WordPress item with its comments) is held
//! as a small tree at a time.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::input::Window;

/// How deep a record's elements may nest (Disqus and WordPress need four or five): a
/// deeper record is passed over, so the tree (and dropping it) stays shallow.
const MAX_DEPTH: usize = 32;

/// An element of one record: local names only (`wp:comment` is `comment`).
#[derive(Debug, Default)]
pub struct Elem {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub kids: Vec<Elem>,
}

impl Elem {
    pub fn child(&self, name: &str) -> Option<&Elem> {
        self.kids.iter().find(|k| k.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Elem> + 'a {
        self.kids.iter().filter(move |k| k.name == name)
    }

    /// The trimmed text of a child, if it has any.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|k| k.text.trim())
            .filter(|t| !t.is_empty())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// One record: its place in the file (from 1), and its tree or why it cannot be read.
pub struct Record {
    pub n: u64,
    pub elem: Result<Elem, String>,
}

/// The records named `targets`, wherever they are, in file order.
pub struct Records {
    reader: Reader<Box<dyn BufRead + Send>>,
    buf: Vec<u8>,
    targets: &'static [&'static str],
    done: bool,
    n: u64,
    window: Window,
}

impl Records {
    pub fn new(
        input: Box<dyn BufRead + Send>,
        targets: &'static [&'static str],
        window: Window,
    ) -> Records {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().trim_text(false);
        Records {
            reader,
            buf: Vec::with_capacity(1 << 14),
            targets,
            done: false,
            n: 0,
            window,
        }
    }

    fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        let found = self.next_elem()?;
        // What is buffered of the next record is counted to it again: slack of one buffer.
        self.window.reset();
        Ok(found.map(|elem| {
            self.n += 1;
            Record { n: self.n, elem }
        }))
    }

    fn next_elem(&mut self) -> anyhow::Result<Option<Result<Elem, String>>> {
        loop {
            self.buf.clear();
            let pos = self.reader.buffer_position();
            let ev = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| anyhow::anyhow!("the XML is broken near byte {pos}: {e}"))?;
            match ev {
                Event::Start(e) => {
                    let name = local(&e);
                    if self.targets.contains(&name.as_str()) {
                        let start = elem_of(&e);
                        return read_tree(&mut self.reader, start).map(Some);
                    }
                }
                Event::Empty(e) => {
                    let name = local(&e);
                    if self.targets.contains(&name.as_str()) {
                        return Ok(Some(Ok(elem_of(&e))));
                    }
                }
                Event::Eof => return Ok(None),
                _ => {}
            }
        }
    }
}

impl Iterator for Records {
    type Item = anyhow::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        super::input::fused(&mut self.done, next)
    }
}

fn local(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

fn elem_of(e: &BytesStart<'_>) -> Elem {
    let attrs = e
        .attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (key, value)
        })
        .collect();
    Elem {
        name: local(e),
        attrs,
        ..Elem::default()
    }
}

/// Reads the rest of an element whose start was just read; a record nested deeper than
/// [`MAX_DEPTH`] is read to its end and refused.
fn read_tree(
    reader: &mut Reader<Box<dyn BufRead + Send>>,
    root: Elem,
) -> anyhow::Result<Result<Elem, String>> {
    let mut stack = vec![root];
    let mut buf = Vec::new();
    // Elements open below the deepest kept one.
    let mut deeper = 0usize;
    let mut too_deep = false;
    loop {
        buf.clear();
        let pos = reader.buffer_position();
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| anyhow::anyhow!("the XML is broken near byte {pos}: {e}"))?;
        match ev {
            Event::Start(_) if deeper > 0 || stack.len() >= MAX_DEPTH => {
                deeper += 1;
                too_deep = true;
            }
            Event::End(_) if deeper > 0 => deeper -= 1,
            _ if deeper > 0 => {}
            Event::Start(e) => stack.push(elem_of(&e)),
            Event::Empty(e) => {
                let el = elem_of(&e);
                if let Some(top) = stack.last_mut() {
                    top.kids.push(el);
                }
            }
            Event::End(_) => {
                let done = stack.pop().unwrap_or_default();
                match stack.last_mut() {
                    Some(top) => top.kids.push(done),
                    None if too_deep => {
                        return Ok(Err(format!(
                            "record nested deeper than {MAX_DEPTH} elements"
                        )))
                    }
                    None => return Ok(Ok(done)),
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map(|c| c.into_owned())
                    // An entity XML does not define (`&nbsp;` in a sloppy export): keep
                    // the text, the HTML reader knows it.
                    .unwrap_or_else(|_| String::from_utf8_lossy(&t.into_inner()).into_owned());
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::Eof => anyhow::bail!("the XML file ends inside a record"),
            _ => {}
        }
    }
}
