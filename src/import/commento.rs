//! Commento's export (`commento-export.json`; Comentario writes the same as its version 1)
//! and Comentario's own export (version 3): one JSON document.
//!
//! - Version 1: `comments` (commentHex, commenterHex, parentHex `root` at the top,
//!   markdown, score, state, creationDate, deleted, the page under `url` or `path`, the
//!   site under `domain` or `host`) and `commenters` (commenterHex, name, email, link or
//!   websiteUrl).
//! - Version 3: `pages` (id, path, title), `comments` (id, pageId, parentId, markdown,
//!   score, isApproved, isPending, isDeleted, createdTime, userCreated, authorName) and
//!   `commenters` (id, name, email, websiteUrl).
//!
//! Commenters and pages come after the comments in the file: a first pass reads them (and
//! passes over the comments), the second streams the comments.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::json_doc::{self, date, flag, number, text, Arrays};
use super::progress::Progress;
use super::{Body, ImportCaps, Item, Source, SourceComment, SourceThread, Status};

struct Person {
    name: Option<String>,
    email: Option<String>,
    website: Option<String>,
}

struct Page {
    path: String,
    title: Option<String>,
}

pub fn read(path: &Path, progress: &Progress, caps: &ImportCaps) -> anyhow::Result<Source> {
    let mut people: HashMap<String, Person> = HashMap::new();
    let mut pages: HashMap<String, Page> = HashMap::new();
    // The first pass is not shown: the bar follows the second.
    let (input, window) = json_doc::open(path, &Progress::new(true), caps)?;
    let first = Arrays {
        wanted: &["commenters", "pages"],
        descend: &[],
    };
    json_doc::collect(input, first, window, |name, v| {
        if name == "pages" {
            if let (Some(id), Some(path)) = (text(&v, "id"), text(&v, "path")) {
                pages.insert(
                    id,
                    Page {
                        path,
                        title: text(&v, "title"),
                    },
                );
            }
        } else if let Some(id) = text(&v, "commenterHex").or_else(|| text(&v, "id")) {
            people.insert(
                id,
                Person {
                    name: text(&v, "name"),
                    email: text(&v, "email"),
                    website: text(&v, "websiteUrl")
                        .or_else(|| text(&v, "link"))
                        .filter(|l| l != "undefined"),
                },
            );
        }
    })?;
    let (input, window) = json_doc::open(path, progress, caps)?;
    let second = Arrays {
        wanted: &["comments"],
        descend: &[],
    };
    let events = json_doc::read(input, second, window);
    Ok(json_doc::source(events, move |v, n| {
        comment(v, n, &people, &pages)
    }))
}

/// A comment of either version, with the thread it names.
fn comment(
    v: &Value,
    n: u64,
    people: &HashMap<String, Person>,
    pages: &HashMap<String, Page>,
) -> (Option<SourceThread>, Item) {
    let v3 = v.get("pageId").is_some();
    let Some(id) = text(v, if v3 { "id" } else { "commentHex" }) else {
        return (
            None,
            Item::skip(format!("comment {n}"), "commento comment without an id"),
        );
    };
    let place = format!("commento:{id}");
    let thread = if v3 {
        text(v, "pageId")
            .and_then(|p| pages.get(&p))
            .map(|p| SourceThread {
                key: format!("commento:page:{}", p.path),
                url: Some(p.path.clone()),
                title: p.title.clone(),
                ..SourceThread::default()
            })
    } else {
        text(v, "url").or_else(|| text(v, "path")).map(|path| {
            let host = text(v, "domain").or_else(|| text(v, "host"));
            let path = format!("/{}", path.trim_start_matches('/'));
            SourceThread {
                key: format!("commento:page:{path}"),
                url: Some(match host {
                    Some(h) => format!("https://{h}{path}"),
                    None => path,
                }),
                ..SourceThread::default()
            }
        })
    };
    let Some(thread) = thread else {
        return (None, Item::skip(place, "commento comment without a page"));
    };
    let Some(created_at) = date(v, if v3 { "createdTime" } else { "creationDate" }) else {
        return (
            Some(thread),
            Item::skip(place, "commento comment without a readable date"),
        );
    };
    let deleted = flag(v, if v3 { "isDeleted" } else { "deleted" });
    let status = if deleted {
        Status::Deleted
    } else if v3 {
        if flag(v, "isApproved") {
            Status::Approved
        } else if flag(v, "isPending") {
            Status::Pending
        } else {
            Status::Spam
        }
    } else {
        match text(v, "state").as_deref() {
            Some("approved") | None => Status::Approved,
            Some("unapproved") => Status::Pending,
            Some("flagged") => Status::Spam,
            Some(_) => {
                return (
                    Some(thread),
                    Item::skip(place, "commento comment with an unknown state"),
                )
            }
        }
    };
    let person =
        text(v, if v3 { "userCreated" } else { "commenterHex" }).and_then(|p| people.get(&p));
    let parent = text(v, if v3 { "parentId" } else { "parentHex" })
        .filter(|p| p != "root")
        .map(|p| format!("commento:{p}"));
    let mut reactions = std::collections::BTreeMap::new();
    if let Some(score) = number(v, "score").filter(|s| *s >= 1.0) {
        reactions.insert("👍".to_owned(), score as i64);
    }
    let comment = Item::Comment(SourceComment {
        thread: thread.key.clone(),
        id: place,
        parent,
        author: person
            .and_then(|p| p.name.clone())
            .or_else(|| text(v, "authorName")),
        email: person.and_then(|p| p.email.clone()),
        website: person.and_then(|p| p.website.clone()),
        created_at,
        edited_at: date(v, "editedTime"),
        body: Body::Markdown(text(v, "markdown").unwrap_or_default()),
        status,
        reactions,
    });
    (Some(thread), comment)
}
