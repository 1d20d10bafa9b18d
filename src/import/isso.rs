//! Isso's SQLite database (0.12 to 0.13 schema: `threads(id, uri, title)`,
//! `comments(tid, id, parent, created, modified, mode, text, author, email, website,
//! likes, dislikes, …)`), read a page at a time.
//!
//! Its quirks: times are float Unix seconds; `mode` 1 is approved, 2 pending, 4 deleted
//! (kept while it has replies); `text` is the Markdown as typed; author, email and website
//! were HTML-escaped when saved; replies are flattened to one level.

use std::path::Path;

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::SqliteConnection;

use super::html::unescape;
use super::{micros_from_secs, Body, Item, Source, SourceComment, SourceThread, Status};

/// Comments read per query.
const PAGE: i64 = 2_000;

#[derive(QueryableByName)]
struct ThreadRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    uri: String,
    #[diesel(sql_type = Nullable<Text>)]
    title: Option<String>,
}

#[derive(QueryableByName)]
struct CommentRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    tid: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    parent: Option<i64>,
    #[diesel(sql_type = Double)]
    created: f64,
    #[diesel(sql_type = Nullable<Double>)]
    modified: Option<f64>,
    #[diesel(sql_type = BigInt)]
    mode: i64,
    #[diesel(sql_type = Nullable<Text>)]
    text: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    author: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    website: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    likes: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    dislikes: Option<i64>,
}

pub fn read(path: &Path) -> anyhow::Result<Source> {
    anyhow::ensure!(path.is_file(), "there is no file {}", path.display());
    // Read only: the import never changes the Isso database.
    let url = format!("file:{}?mode=ro", path.display());
    let mut conn = SqliteConnection::establish(&url)
        .with_context(|| format!("cannot open the Isso database {}", path.display()))?;
    let threads: Vec<ThreadRow> =
        diesel::sql_query("SELECT id, uri, title FROM threads ORDER BY id")
            .load(&mut conn)
            .context("this is not an Isso database (no readable threads table)")?;
    let mut items: Vec<anyhow::Result<Item>> = threads
        .into_iter()
        .map(|t| {
            Ok(Item::Thread(SourceThread {
                key: format!("isso:thread:{}", t.id),
                url: Some(t.uri),
                title: t.title.map(|t| unescape(&t)),
                ..SourceThread::default()
            }))
        })
        .collect();
    items.reverse();
    let mut after = 0i64;
    let mut page: Vec<CommentRow> = Vec::new();
    let mut failed = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if let Some(t) = items.pop() {
            return Some(t);
        }
        if failed {
            return None;
        }
        if page.is_empty() {
            match diesel::sql_query(
                "SELECT id, tid, parent, CAST(created AS REAL) AS created, \
                 CAST(modified AS REAL) AS modified, mode, text, author, email, website, \
                 likes, dislikes FROM comments WHERE id > ? ORDER BY id LIMIT ?",
            )
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(PAGE)
            .load::<CommentRow>(&mut conn)
            {
                Ok(rows) => page = rows,
                Err(e) => {
                    failed = true;
                    return Some(Err(
                        anyhow::Error::from(e).context("cannot read Isso's comments")
                    ));
                }
            }
            // Popped from the end: lowest id first.
            page.reverse();
        }
        let row = page.pop()?;
        after = row.id;
        Some(Ok(comment(row)))
    })))
}

fn comment(r: CommentRow) -> Item {
    let status = match r.mode {
        1 => Status::Approved,
        2 => Status::Pending,
        4 => Status::Deleted,
        _ => return Item::Skip("isso comment with an unknown mode".into()),
    };
    let Some(created_at) = micros_from_secs(r.created) else {
        return Item::Skip("isso comment without a readable date".into());
    };
    let field = |v: Option<String>| v.map(|s| unescape(&s)).filter(|s| !s.trim().is_empty());
    let mut reactions = std::collections::BTreeMap::new();
    for (kind, n) in [("👍", r.likes), ("👎", r.dislikes)] {
        if let Some(n) = n.filter(|n| *n > 0) {
            reactions.insert(kind.to_owned(), n);
        }
    }
    Item::Comment(SourceComment {
        thread: format!("isso:thread:{}", r.tid),
        id: format!("isso:{}", r.id),
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
