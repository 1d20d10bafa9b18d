//! Waline's export (its admin's *Export*): one JSON document, `{"type": "waline",
//! "version": 1, "tables": […], "data": {"Comment": […], "Counter": […], "Users": […]}}`,
//! sometimes inside the API's `{"errno": 0, "data": …}`. A comment has objectId, url (the
//! page's path), nick, mail, link, comment (Markdown as typed), pid (the comment it
//! answers), rid (its thread's first comment), status (`approved`, `waiting`, `spam`),
//! like, insertedAt, updatedAt and user_id; a logged-in commenter's name, address and
//! website are their `Users` entry's (display_name, email, url), which come after the
//! comments: a first pass reads them.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::json_doc::{self, date, number, text, Arrays};
use super::progress::Progress;
use super::{Body, ImportCaps, Item, Source, SourceComment, SourceThread, Status};

const DESCEND: &[&str] = &["data"];

struct User {
    name: Option<String>,
    email: Option<String>,
    website: Option<String>,
}

pub fn read(path: &Path, progress: &Progress, caps: &ImportCaps) -> anyhow::Result<Source> {
    let mut users: HashMap<String, User> = HashMap::new();
    // The first pass is not shown: the bar follows the second.
    let (input, window) = json_doc::open(path, &Progress::new(true), caps)?;
    let first = Arrays {
        wanted: &["Users"],
        descend: DESCEND,
    };
    json_doc::collect(input, first, window, |_, v| {
        if let Some(id) = text(&v, "objectId").or_else(|| text(&v, "id")) {
            users.insert(
                id,
                User {
                    name: text(&v, "display_name"),
                    email: text(&v, "email"),
                    website: text(&v, "url"),
                },
            );
        }
    })?;
    let (input, window) = json_doc::open(path, progress, caps)?;
    let second = Arrays {
        wanted: &["Comment"],
        descend: DESCEND,
    };
    let events = json_doc::read(input, second, window);
    Ok(json_doc::source(events, move |v, n| comment(v, n, &users)))
}

fn comment(v: &Value, n: u64, users: &HashMap<String, User>) -> (Option<SourceThread>, Item) {
    let Some(id) = text(v, "objectId").or_else(|| text(v, "id")) else {
        return (
            None,
            Item::skip(format!("comment {n}"), "waline comment without an objectId"),
        );
    };
    let place = format!("waline:{id}");
    let Some(url) = text(v, "url") else {
        return (None, Item::skip(place, "waline comment without a url"));
    };
    let thread = SourceThread {
        key: format!("waline:page:{url}"),
        url: Some(url),
        ..SourceThread::default()
    };
    let Some(created_at) = date(v, "insertedAt").or_else(|| date(v, "createdAt")) else {
        return (
            Some(thread),
            Item::skip(place, "waline comment without a readable insertedAt"),
        );
    };
    let status = match text(v, "status").as_deref() {
        Some("approved") | None => Status::Approved,
        Some("waiting") => Status::Pending,
        Some("spam") => Status::Spam,
        Some(_) => {
            return (
                Some(thread),
                Item::skip(place, "waline comment with an unknown status"),
            )
        }
    };
    let user = text(v, "user_id").and_then(|u| users.get(&u));
    let pick = |from_user: Option<&Option<String>>, own: &str| {
        from_user.and_then(Clone::clone).or_else(|| text(v, own))
    };
    let mut reactions = std::collections::BTreeMap::new();
    if let Some(n) = number(v, "like").filter(|n| *n >= 1.0) {
        reactions.insert("👍".to_owned(), n as i64);
    }
    let comment = Item::Comment(SourceComment {
        thread: thread.key.clone(),
        id: place,
        parent: text(v, "pid").map(|p| format!("waline:{p}")),
        author: pick(user.map(|u| &u.name), "nick"),
        email: pick(user.map(|u| &u.email), "mail"),
        website: pick(user.map(|u| &u.website), "link"),
        created_at,
        // updatedAt moves with every like and status change: not an edit.
        edited_at: None,
        body: Body::Markdown(text(v, "comment").unwrap_or_default()),
        status,
        reactions,
    });
    (Some(thread), comment)
}
