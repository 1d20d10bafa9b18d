//! Reads our own export (see [`super::export`]), line by line.

use super::export::{CommentLine, Header, Line, ThreadLine, FORMAT, VERSION};
use super::input::{self, Lines};
use super::{
    json_line_error, micros_from_date, Body, Item, Source, SourceComment, SourceThread, Status,
};

pub fn read(mut lines: Lines) -> Source {
    let mut header_seen = false;
    let mut thread: Option<String> = None;
    Box::new(std::iter::from_fn(move || loop {
        let (n, line, ended) = match lines.next()? {
            Ok(input::Line::Text(n, l, ended)) => (n, l, ended),
            Ok(input::Line::Bad(n, why)) if header_seen => {
                return Some(Ok(Item::skip(format!("line {n}"), why)))
            }
            Ok(input::Line::Bad(_, why)) => {
                return Some(Err(anyhow::anyhow!("cannot read the header line: {why}")))
            }
            Err(e) => return Some(Err(anyhow::Error::from(e).context("cannot read the export"))),
        };
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            return match serde_json::from_str::<Header>(&line) {
                Ok(h) if h.format == FORMAT && h.version == VERSION => continue,
                Ok(h) if h.format == FORMAT => Some(Err(anyhow::anyhow!(
                    "this is a version {} export; this Afterword reads version {VERSION}",
                    h.version
                ))),
                _ => Some(Err(anyhow::anyhow!(
                    "this is not an Afterword export (its first line is not the header)"
                ))),
            };
        }
        return Some(Ok(match serde_json::from_str::<Line>(&line) {
            Ok(Line::Thread(t)) => {
                thread = Some(t.slug.clone());
                Item::Thread(to_thread(t))
            }
            Ok(Line::Comment(c)) => match &thread {
                Some(slug) => to_comment(slug, c),
                None => Item::skip(c.id, "comment before any thread"),
            },
            Err(e) => json_line_error(n, ended, "line that is not an export record", &e),
        }));
    }))
}

fn to_thread(t: ThreadLine) -> SourceThread {
    SourceThread {
        key: t.slug.clone(),
        url: t.url,
        title: t.title,
        created_at: micros_from_date(&t.created_at),
        slug: Some(t.slug),
        locked: t.locked,
        reactions: t.reactions,
    }
}

fn to_comment(slug: &str, c: CommentLine) -> Item {
    let Some(status) = Status::parse(&c.status) else {
        return Item::skip(c.id, "comment with an unknown status");
    };
    let Some(created_at) = micros_from_date(&c.created_at) else {
        return Item::skip(c.id, "comment without a readable date");
    };
    Item::Comment(SourceComment {
        thread: slug.to_owned(),
        id: c.id,
        parent: c.parent,
        author: c.author,
        email: c.email,
        website: c.website,
        created_at,
        edited_at: c.edited_at.as_deref().and_then(micros_from_date),
        body: Body::Markdown(c.body),
        status,
        reactions: c.reactions,
    })
}
