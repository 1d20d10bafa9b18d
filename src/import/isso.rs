//! Isso's SQLite database (0.12 to 0.14 schema: `threads(id, uri, title)`,
//! `comments(tid, id, parent, created, modified, mode, remote_addr, text, author, email,
//! website, likes, dislikes, voters, notification)`), read a page at a time, opened as a
//! file from elsewhere (see [`super::sqlite_file`]).
//!
//! Its quirks: times are float Unix seconds; `mode` 1 is approved, 2 pending, 4 deleted
//! (kept while it has replies); `text` is the Markdown as typed; author, email and website
//! were HTML-escaped when saved; replies are flattened to one level.

use std::path::Path;

use rusqlite::{Connection, Row};

use super::html::unescape;
use super::input::too_big;
use super::sqlite_file::{self, capped, integer, number, text};
use super::{
    micros_from_secs, Body, ImportCaps, Item, Source, SourceComment, SourceThread, Status,
};

const THREAD_COLUMNS: &[&str] = &["id", "uri", "title"];
const COMMENT_COLUMNS: &[&str] = &[
    "tid", "id", "parent", "created", "modified", "mode", "text", "author", "email", "website",
    "likes", "dislikes",
];

/// A comment as read: every field as SQLite holds it, the text only when within the cap.
struct CommentRow {
    id: Option<i64>,
    tid: Option<i64>,
    parent: Option<i64>,
    created: Option<f64>,
    modified: Option<f64>,
    mode: Option<i64>,
    text: Option<String>,
    text_len: i64,
    author: Option<String>,
    email: Option<String>,
    website: Option<String>,
    likes: Option<i64>,
    dislikes: Option<i64>,
}

pub fn read(path: &Path, caps: &ImportCaps) -> anyhow::Result<Source> {
    let conn = sqlite_file::open_checked(
        path,
        "Isso",
        "an Isso database",
        &[("threads", THREAD_COLUMNS), ("comments", COMMENT_COLUMNS)],
    )?;
    let max_text = i64::try_from(caps.max_body_bytes).unwrap_or(i64::MAX);
    Ok(sqlite_file::paged(
        conn,
        threads_page,
        comments_page,
        max_text,
        "Isso",
    ))
}

/// A page of threads after the rowid `after`, and the last rowid read.
fn threads_page(conn: &Connection, after: i64, max_text: i64) -> sqlite_file::Page {
    let columns = format!("id, {}, {}", capped("uri"), capped("title"));
    sqlite_file::page_of(conn, "threads", &columns, after, max_text, |r, rowid| {
        let Some(id) = integer(r.get_ref(1)?) else {
            return Ok(Item::skip(
                format!("thread row {rowid}"),
                "isso thread without an id",
            ));
        };
        Ok(Item::Thread(SourceThread {
            key: format!("isso:thread:{id}"),
            url: text(r.get_ref(2)?),
            title: text(r.get_ref(3)?).map(|t| unescape(&t)),
            ..SourceThread::default()
        }))
    })
}

/// A page of comments after the rowid `after`, and the last rowid read.
fn comments_page(conn: &Connection, after: i64, max_text: i64) -> sqlite_file::Page {
    // A text over the cap is not even loaded: only its length.
    let columns = format!(
        "id, tid, parent, created, modified, mode, {}, length(CAST(text AS BLOB)), {}, {}, {}, \
         likes, dislikes",
        capped("text"),
        capped("author"),
        capped("email"),
        capped("website"),
    );
    sqlite_file::page_of(conn, "comments", &columns, after, max_text, |r, _| {
        Ok(comment(row(r)?, max_text))
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<CommentRow> {
    Ok(CommentRow {
        id: integer(r.get_ref(1)?),
        tid: integer(r.get_ref(2)?),
        parent: integer(r.get_ref(3)?),
        created: number(r.get_ref(4)?),
        modified: number(r.get_ref(5)?),
        mode: integer(r.get_ref(6)?),
        text: text(r.get_ref(7)?),
        text_len: integer(r.get_ref(8)?).unwrap_or(0),
        author: text(r.get_ref(9)?),
        email: text(r.get_ref(10)?),
        website: text(r.get_ref(11)?),
        likes: integer(r.get_ref(12)?),
        dislikes: integer(r.get_ref(13)?),
    })
}

fn comment(r: CommentRow, max_text: i64) -> Item {
    let (Some(id), Some(tid)) = (r.id, r.tid) else {
        return Item::skip(
            format!("isso:{}", r.id.map_or("?".to_owned(), |i| i.to_string())),
            "isso comment without an id or a thread",
        );
    };
    let place = format!("isso:{id}");
    let status = match r.mode {
        Some(1) => Status::Approved,
        Some(2) => Status::Pending,
        Some(4) => Status::Deleted,
        _ => return Item::skip(place, "isso comment with an unknown mode"),
    };
    let Some(created_at) = r.created.and_then(micros_from_secs) else {
        return Item::skip(place, "isso comment without a readable date");
    };
    if r.text_len > max_text {
        return Item::skip(
            place,
            too_big("the comment's text", max_text as u64, "max_body_bytes"),
        );
    }
    let field = |v: Option<String>| v.map(|s| unescape(&s)).filter(|s| !s.trim().is_empty());
    let mut reactions = std::collections::BTreeMap::new();
    for (kind, n) in [("👍", r.likes), ("👎", r.dislikes)] {
        if let Some(n) = n.filter(|n| *n > 0) {
            reactions.insert(kind.to_owned(), n);
        }
    }
    Item::Comment(SourceComment {
        thread: format!("isso:thread:{tid}"),
        id: place,
        parent: r.parent.map(|p| format!("isso:{p}")),
        author: field(r.author),
        email: field(r.email),
        website: field(r.website),
        created_at,
        edited_at: r.modified.and_then(micros_from_secs),
        body: Body::Markdown(r.text.unwrap_or_default()),
        status,
        reactions,
    })
}
