//! One large JSON document (Commento's, Waline's, Artalk's exports), read as a stream: the
//! elements of the arrays an importer wants are handed over one at a time, each within the
//! cap on one record, and everything else is passed over unread. serde_json reads the
//! document on a thread of its own, feeding a channel the importer's [`Source`] drains.

use std::fmt;
use std::io::BufRead;
use std::sync::mpsc::{sync_channel, SyncSender};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::input::Window;

/// Where in the document the wanted arrays are: under these keys (`""` for a document that
/// is an array itself), in objects reached through the keys of `descend`.
#[derive(Clone, Copy)]
pub struct Arrays {
    pub wanted: &'static [&'static str],
    pub descend: &'static [&'static str],
}

/// What the reading thread sends: an element (the key of its array, its place there from
/// 1), or why the document cannot be read on.
pub enum Event {
    Element(&'static str, u64, Value),
    Broken(String),
}

/// Reads `input` on a thread of its own; the elements arrive on the returned channel.
pub fn read(
    input: Box<dyn BufRead + Send>,
    arrays: Arrays,
    window: Window,
) -> std::sync::mpsc::Receiver<Event> {
    let (tx, rx) = sync_channel(256);
    std::thread::spawn(move || {
        let mut de = serde_json::Deserializer::from_reader(input);
        let mut node = Node {
            arrays,
            name: "",
            tx: &tx,
            window: &window,
        };
        let result = (&mut node).deserialize(&mut de).and_then(|()| de.end());
        if let Err(e) = result {
            // Nobody listening (the import stopped): nothing to say.
            let _ = tx.send(Event::Broken(format!("the JSON is broken: {e}")));
        }
    });
    rx
}

/// Opens `path` (gzipped or not) within the caps, with the window of one record.
pub fn open(
    path: &std::path::Path,
    progress: &super::progress::Progress,
    caps: &super::ImportCaps,
) -> anyhow::Result<(Box<dyn BufRead + Send>, Window)> {
    let window = Window::new(caps.max_record_bytes);
    let input = super::open_maybe_gzip(path, progress, caps, window.clone())?;
    Ok((input, window))
}

/// Reads every element of the wanted arrays with `each`, to the end of the document; for
/// what an importer needs before its main pass (Commento's commenters come after the
/// comments).
pub fn collect(
    input: Box<dyn BufRead + Send>,
    arrays: Arrays,
    window: Window,
    mut each: impl FnMut(&'static str, Value),
) -> anyhow::Result<()> {
    for event in read(input, arrays, window) {
        match event {
            Event::Element(name, _, v) => each(name, v),
            Event::Broken(why) => anyhow::bail!(why),
        }
    }
    Ok(())
}

/// The importer's records from the elements of `events`: `record` makes each one a
/// comment (or a record that cannot be read) with the thread it names; a thread is sent
/// the first time it is named, before its comment.
pub fn source(
    events: std::sync::mpsc::Receiver<Event>,
    mut record: impl FnMut(&Value, u64) -> (Option<super::SourceThread>, super::Item) + Send + 'static,
) -> super::Source {
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut queued: Option<super::Item> = None;
    Box::new(std::iter::from_fn(move || {
        if let Some(item) = queued.take() {
            return Some(Ok(item));
        }
        match events.recv().ok()? {
            Event::Broken(why) => Some(Err(anyhow::anyhow!(why))),
            Event::Element(_, n, v) => match record(&v, n) {
                (Some(t), item) if seen.insert(t.key.clone()) => {
                    queued = Some(item);
                    Some(Ok(super::Item::Thread(t)))
                }
                (_, item) => Some(Ok(item)),
            },
        }
    }))
}

/// Visitor methods that take a scalar and do nothing with it.
macro_rules! pass_over_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

/// A value of the document: an object to look into, or a wanted array.
struct Node<'a> {
    arrays: Arrays,
    /// The key this value is under (`""` at the top).
    name: &'static str,
    tx: &'a SyncSender<Event>,
    window: &'a Window,
}

impl<'de> DeserializeSeed<'de> for &mut Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let wanted = self.arrays.wanted.iter().find(|w| **w == key);
            let descend = self.arrays.descend.iter().find(|w| **w == key);
            match (wanted, descend) {
                (Some(name), _) | (None, Some(name)) => {
                    let mut inner = Node {
                        arrays: self.arrays,
                        name,
                        tx: self.tx,
                        window: self.window,
                    };
                    map.next_value_seed(&mut inner)?;
                }
                (None, None) => map.next_value_seed(Skip(self.window))?,
            }
            self.window.reset();
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.arrays.wanted.contains(&self.name) {
            return Skip(self.window).visit_seq(seq);
        }
        let mut n = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            n += 1;
            self.window.reset();
            if self.tx.send(Event::Element(self.name, n, v)).is_err() {
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }

    // Anything else where an object or an array was hoped for is passed over.
    pass_over_scalars!();
}

/// A value passed over unread; an array or object of them one element at a time, each
/// within the cap on one record (Commento's first pass passes over all the comments).
struct Skip<'a>(&'a Window);

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            self.0.reset();
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            self.0.reset();
        }
        Ok(())
    }

    pass_over_scalars!();
}

/// A field as text, whatever JSON type the exporter gave it (Artalk writes numbers and
/// booleans as strings; some exporters write ids as numbers).
pub fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

/// A field as a number, whatever JSON type the exporter gave it.
pub fn number(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A field as a flag: `true`, `"true"`, `1`, `"1"`.
pub fn flag(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim(), "true" | "1"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

/// A date field: a string, milliseconds since the epoch, or LeanCloud's
/// `{"__type": "Date", "iso": "…"}`.
pub fn date(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::String(s) => super::micros_from_date(s),
        Value::Number(n) => n
            .as_f64()
            .and_then(|ms| super::micros_from_secs(ms / 1000.0)),
        Value::Object(o) => o
            .get("iso")
            .and_then(Value::as_str)
            .and_then(super::micros_from_date),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(doc: &str, arrays: Arrays) -> Vec<String> {
        let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(doc.to_owned()));
        read(input, arrays, Window::new(1000))
            .into_iter()
            .map(|e| match e {
                Event::Element(name, n, v) => format!("{name}{n}={v}"),
                Event::Broken(why) => format!("broken: {}", &why[..18]),
            })
            .collect()
    }

    #[test]
    fn wanted_arrays_are_streamed_the_rest_passed_over() {
        let arrays = Arrays {
            wanted: &["comments", ""],
            descend: &["data"],
        };
        assert_eq!(
            elements(
                r#"{"version":1,"x":[{"comments":[9]}],"data":{"comments":[1,{"a":2}]},"comments":"no"}"#,
                arrays
            ),
            ["comments1=1", "comments2={\"a\":2}"]
        );
        assert_eq!(elements("[1,2]", arrays), ["1=1", "2=2"]);
        assert_eq!(
            elements(r#"{"comments":[1,"#, arrays),
            ["comments1=1", "broken: the JSON is broken"]
        );
        assert_eq!(
            elements("[1] [2]", arrays),
            ["1=1", "broken: the JSON is broken"]
        );
        let deep = format!("{{\"comments\":[{}]}}", "[".repeat(100_000));
        assert_eq!(elements(&deep, arrays), ["broken: the JSON is broken"]);
    }

    #[test]
    fn arrays_passed_over_are_capped_per_element_not_whole() {
        let caps = crate::config::ImportCaps::default();
        let read_capped = |doc: String, wanted: &'static [&'static str]| -> Vec<String> {
            let window = Window::new(200);
            let capped = super::super::input::Capped::new(
                std::io::Cursor::new(doc.into_bytes()),
                &caps,
                window.clone(),
            );
            let input: Box<dyn BufRead + Send> =
                Box::new(std::io::BufReader::with_capacity(16, capped));
            let arrays = Arrays {
                wanted,
                descend: &["data"],
            };
            read(input, arrays, window)
                .into_iter()
                .map(|e| match e {
                    Event::Element(name, n, _) => format!("{name}{n}"),
                    Event::Broken(why) => why,
                })
                .collect()
        };
        let many = vec![r#"{"text":"some comment text"}"#; 100].join(",");
        let doc = format!(r#"{{"data":{{"comments":[{many}],"users":[{{"id":1}}]}}}}"#);
        assert!(doc.len() > 2_000);
        assert_eq!(read_capped(doc.clone(), &["users"]), ["users1"]);
        assert_eq!(read_capped(doc, &["comments"]).len(), 100);
        let big = format!(r#"{{"comments":[{{"text":"{}"}}]}}"#, "x".repeat(500));
        let out = read_capped(big, &["comments"]);
        assert!(out[0].contains("import.max_record_bytes"), "{out:?}");
    }
}
