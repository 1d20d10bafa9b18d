//! Cusdis's SQLite database (its Prisma schema: `projects`, `pages` (id, slug, url, title,
//! projectId) and `comments` (id, pageId, created_at, deletedAt, by_nickname, by_email,
//! content, approved, parentId, moderatorId)), opened as a file from elsewhere (see
//! [`super::sqlite_file`]). Prisma keeps dates as milliseconds since the epoch; the text
//! is what was typed. Every project (site) in the file is imported.

use std::path::Path;

use rusqlite::Connection;

use super::input::too_big;
use super::sqlite_file::{self, capped, integer, number, text};
use super::{
    micros_from_date, Body, ImportCaps, Item, Source, SourceComment, SourceThread, Status,
};

const PAGE_COLUMNS: &[&str] = &["id", "slug", "url", "title"];
const COMMENT_COLUMNS: &[&str] = &[
    "id",
    "pageId",
    "created_at",
    "deletedAt",
    "by_nickname",
    "by_email",
    "content",
    "approved",
    "parentId",
];

pub fn read(path: &Path, caps: &ImportCaps) -> anyhow::Result<Source> {
    let conn = sqlite_file::open_checked(
        path,
        "Cusdis",
        "a Cusdis database",
        &[("pages", PAGE_COLUMNS), ("comments", COMMENT_COLUMNS)],
    )?;
    let max_text = i64::try_from(caps.max_body_bytes).unwrap_or(i64::MAX);
    Ok(sqlite_file::paged(
        conn, pages, comments, max_text, "Cusdis",
    ))
}

fn pages(conn: &Connection, after: i64, max_text: i64) -> sqlite_file::Page {
    let columns = format!(
        "id, {}, {}, {}",
        capped("slug"),
        capped("url"),
        capped("title")
    );
    sqlite_file::page_of(conn, "pages", &columns, after, max_text, |r, rowid| {
        let Some(id) = text(r.get_ref(1)?) else {
            return Ok(Item::skip(
                format!("page row {rowid}"),
                "cusdis page without an id",
            ));
        };
        Ok(Item::Thread(SourceThread {
            key: format!("cusdis:page:{id}"),
            // The address the page was seen at; else the page id the embed was given.
            url: text(r.get_ref(3)?).or(text(r.get_ref(2)?)),
            title: text(r.get_ref(4)?),
            ..SourceThread::default()
        }))
    })
}

fn comments(conn: &Connection, after: i64, max_text: i64) -> sqlite_file::Page {
    let columns = format!(
        "id, pageId, created_at, deletedAt, {}, {}, {}, length(CAST(content AS BLOB)), \
         approved, parentId",
        capped("by_nickname"),
        capped("by_email"),
        capped("content"),
    );
    sqlite_file::page_of(conn, "comments", &columns, after, max_text, |r, rowid| {
        comment(r, rowid, max_text)
    })
}

fn comment(r: &rusqlite::Row<'_>, rowid: i64, max_text: i64) -> rusqlite::Result<Item> {
    let Some(id) = text(r.get_ref(1)?) else {
        return Ok(Item::skip(
            format!("comment row {rowid}"),
            "cusdis comment without an id",
        ));
    };
    let place = format!("cusdis:{id}");
    let Some(page) = text(r.get_ref(2)?) else {
        return Ok(Item::skip(place, "cusdis comment without a page"));
    };
    let Some(created_at) = when(r.get_ref(3)?) else {
        return Ok(Item::skip(
            place,
            "cusdis comment without a readable created_at",
        ));
    };
    if integer(r.get_ref(8)?).unwrap_or(0) > max_text {
        return Ok(Item::skip(
            place,
            too_big("the comment's text", max_text as u64, "max_body_bytes"),
        ));
    }
    let status = if r.get_ref(4)?.data_type() != rusqlite::types::Type::Null {
        Status::Deleted
    } else if integer(r.get_ref(9)?).unwrap_or(0) != 0 {
        Status::Approved
    } else {
        Status::Pending
    };
    Ok(Item::Comment(SourceComment {
        thread: format!("cusdis:page:{page}"),
        id: place,
        parent: text(r.get_ref(10)?).map(|p| format!("cusdis:{p}")),
        author: text(r.get_ref(5)?),
        email: text(r.get_ref(6)?),
        website: None,
        created_at,
        edited_at: None,
        body: Body::Markdown(text(r.get_ref(7)?).unwrap_or_default()),
        status,
        reactions: Default::default(),
    }))
}

/// Prisma's dates on SQLite: milliseconds since the epoch, or (older) text.
fn when(v: rusqlite::types::ValueRef<'_>) -> Option<i64> {
    match v {
        rusqlite::types::ValueRef::Text(_) => text(v).as_deref().and_then(micros_from_date),
        _ => number(v).and_then(|ms| super::micros_from_secs(ms / 1000.0)),
    }
}
