//! Artalk's Artrans (`artalk export`, or its admin's *Transfer*): one JSON array of
//! comments, every field a string: id, rid (`"0"` at the top), content (Markdown as typed),
//! nick, email, link, is_pending, vote_up, vote_down, created_at and updated_at (Go's
//! `2006-01-02 15:04:05.999 -0700 MST`), page_key (the page's path or address),
//! page_title, site_name, site_urls.

use serde_json::Value;

use super::input::Window;
use super::json_doc::{self, date, flag, number, text, Arrays};
use super::{Body, Item, Source, SourceComment, SourceThread, Status};

pub fn read(input: Box<dyn std::io::BufRead + Send>, window: Window) -> Source {
    let arrays = Arrays {
        wanted: &[""],
        descend: &[],
    };
    json_doc::source(json_doc::read(input, arrays, window), comment)
}

fn comment(v: &Value, n: u64) -> (Option<SourceThread>, Item) {
    let Some(id) = text(v, "id") else {
        return (
            None,
            Item::skip(format!("comment {n}"), "artalk comment without an id"),
        );
    };
    let place = format!("artalk:{id}");
    let Some(page) = text(v, "page_key") else {
        return (None, Item::skip(place, "artalk comment without a page_key"));
    };
    // A page key is a path on one of the site's addresses, or an address already.
    let base = text(v, "site_urls").and_then(|u| {
        u.split(',')
            .map(str::trim)
            .find(|u| !u.is_empty())
            .map(str::to_owned)
    });
    let url = match base {
        Some(b) if page.starts_with('/') => format!("{}{page}", b.trim_end_matches('/')),
        _ => page.clone(),
    };
    let thread = SourceThread {
        key: format!(
            "artalk:page:{}:{page}",
            text(v, "site_name").unwrap_or_default()
        ),
        url: Some(url),
        title: text(v, "page_title"),
        ..SourceThread::default()
    };
    let Some(created_at) = date(v, "created_at") else {
        return (
            Some(thread),
            Item::skip(place, "artalk comment without a readable created_at"),
        );
    };
    let mut reactions = std::collections::BTreeMap::new();
    for (kind, key) in [("👍", "vote_up"), ("👎", "vote_down")] {
        if let Some(n) = number(v, key).filter(|n| *n >= 1.0) {
            reactions.insert(kind.to_owned(), n as i64);
        }
    }
    let comment = Item::Comment(SourceComment {
        thread: thread.key.clone(),
        id: place,
        parent: text(v, "rid")
            .filter(|r| r != "0")
            .map(|r| format!("artalk:{r}")),
        author: text(v, "nick"),
        email: text(v, "email"),
        website: text(v, "link"),
        created_at,
        // updated_at moves with every vote: not an edit.
        edited_at: None,
        body: Body::Markdown(text(v, "content").unwrap_or_default()),
        status: if flag(v, "is_pending") {
            Status::Pending
        } else {
            Status::Approved
        },
        reactions,
    });
    (Some(thread), comment)
}
