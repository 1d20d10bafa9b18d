//! Remark42's backup: one JSON object per line (gzipped or not). Comment lines carry
//! `locator.url`, `pid` (the parent, or empty), `user.name`, `text` (HTML; `orig` is the
//! Markdown as typed, when present), `time`, `delete` and `votes`; other lines (the
//! header with users and posts) are passed over.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::input::{Line, Lines};
use super::{
    json_line_error, micros_from_date, Body, Item, Source, SourceComment, SourceThread, Status,
};

#[derive(Deserialize)]
struct Record {
    id: Option<String>,
    #[serde(default)]
    pid: String,
    text: Option<String>,
    orig: Option<String>,
    user: Option<User>,
    locator: Option<Locator>,
    time: Option<String>,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    votes: BTreeMap<String, bool>,
    score: Option<i64>,
    title: Option<String>,
    edit: Option<Edit>,
}

#[derive(Deserialize)]
struct User {
    name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    block: bool,
}

#[derive(Deserialize)]
struct Locator {
    url: Option<String>,
}

#[derive(Deserialize)]
struct Edit {
    time: Option<String>,
}

pub fn read(mut lines: Lines) -> Source {
    let mut seen: HashSet<String> = HashSet::new();
    let mut queued: Option<Item> = None;
    Box::new(std::iter::from_fn(move || loop {
        if let Some(item) = queued.take() {
            return Some(Ok(item));
        }
        let (n, line, ended) = match lines.next()? {
            Ok(Line::Text(n, l, ended)) => (n, l, ended),
            Ok(Line::Bad(n, why)) => return Some(Ok(Item::skip(format!("line {n}"), why))),
            Err(e) => return Some(Err(anyhow::Error::from(e).context("cannot read the backup"))),
        };
        if line.trim().is_empty() {
            continue;
        }
        let rec = match serde_json::from_str::<Record>(&line) {
            Ok(rec) => rec,
            Err(e) => {
                return Some(Ok(json_line_error(
                    n,
                    ended,
                    "remark42 line that is not JSON",
                    &e,
                )))
            }
        };
        let Some(url) = rec.locator.as_ref().and_then(|l| l.url.clone()) else {
            // The header line (users, posts) and anything else without a locator.
            continue;
        };
        let item = comment(&url, rec.title.clone(), rec, n);
        if seen.insert(url.clone()) {
            queued = Some(item.1);
            return Some(Ok(item.0));
        }
        return Some(Ok(item.1));
    }))
}

fn comment(url: &str, title: Option<String>, r: Record, n: u64) -> (Item, Item) {
    let thread = Item::Thread(SourceThread {
        key: url.to_owned(),
        url: Some(url.to_owned()),
        title,
        ..SourceThread::default()
    });
    let Some(id) = r.id.filter(|i| !i.is_empty()) else {
        return (
            thread,
            Item::skip(format!("line {n}"), "remark42 comment without an id"),
        );
    };
    let Some(created_at) = r.time.as_deref().and_then(micros_from_date) else {
        return (
            thread,
            Item::skip(
                format!("remark42:{id}"),
                "remark42 comment without a readable time",
            ),
        );
    };
    let mut reactions = BTreeMap::new();
    let ups = r.votes.values().filter(|v| **v).count() as i64;
    let downs = r.votes.values().filter(|v| !**v).count() as i64;
    let ups = if r.votes.is_empty() {
        r.score.unwrap_or(0).max(0)
    } else {
        ups
    };
    for (kind, n) in [("👍", ups), ("👎", downs)] {
        if n > 0 {
            reactions.insert(kind.to_owned(), n);
        }
    }
    let body = match (r.orig.filter(|o| !o.trim().is_empty()), r.text) {
        (Some(md), _) => Body::Markdown(md),
        (None, Some(html)) => Body::Html(html),
        (None, None) => Body::Markdown(String::new()),
    };
    let blocked = r.user.as_ref().is_some_and(|u| u.block);
    let comment = Item::Comment(SourceComment {
        thread: url.to_owned(),
        id: format!("remark42:{id}"),
        parent: Some(r.pid)
            .filter(|p| !p.is_empty())
            .map(|p| format!("remark42:{p}")),
        author: r.user.as_ref().and_then(|u| u.name.clone()),
        email: r.user.and_then(|u| u.email),
        website: None,
        created_at,
        edited_at: r
            .edit
            .and_then(|e| e.time)
            .as_deref()
            .and_then(micros_from_date),
        body,
        status: if r.delete {
            Status::Deleted
        } else if blocked {
            Status::Spam
        } else {
            Status::Approved
        },
        reactions,
    });
    (thread, comment)
}
