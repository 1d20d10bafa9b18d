//! Disqus's XML export: `<thread dsq:id>` records (link, title), then `<post>` records
//! (message as HTML, author, createdAt, isDeleted, isSpam, and `<thread dsq:id>` /
//! `<parent dsq:id>` references), in any order.

use std::io::BufRead;

use super::input::Window;
use super::xml::{Record, Records};
use super::{micros_from_date, Body, Item, Source, SourceComment, SourceThread, Status};

pub fn read(input: Box<dyn BufRead + Send>, window: Window) -> Source {
    Box::new(Records::new(input, &["thread", "post"], window).map(|r| r.map(record)))
}

fn record(r: Record) -> Item {
    let e = match r.elem {
        Ok(e) => e,
        Err(why) => return Item::skip(format!("record {}", r.n), why),
    };
    let place = || match e.attr("id") {
        Some(id) => format!("disqus:{id}"),
        None => format!("record {}", r.n),
    };
    if e.name == "thread" {
        let Some(id) = e.attr("id") else {
            return Item::skip(place(), "disqus thread without a dsq:id");
        };
        return Item::Thread(SourceThread {
            key: format!("disqus:thread:{id}"),
            url: e.text_of("link").map(str::to_owned),
            title: e.text_of("title").map(str::to_owned),
            created_at: e.text_of("createdAt").and_then(micros_from_date),
            locked: e.text_of("isClosed") == Some("true"),
            ..SourceThread::default()
        });
    }
    let Some(id) = e.attr("id") else {
        return Item::skip(place(), "disqus post without a dsq:id");
    };
    let Some(thread) = e.child("thread").and_then(|t| t.attr("id")) else {
        return Item::skip(place(), "disqus post without a thread");
    };
    let Some(created_at) = e.text_of("createdAt").and_then(micros_from_date) else {
        return Item::skip(place(), "disqus post without a readable createdAt");
    };
    let flag = |name: &str| e.text_of(name) == Some("true");
    let status = if flag("isDeleted") {
        Status::Deleted
    } else if flag("isSpam") {
        Status::Spam
    } else {
        Status::Approved
    };
    let author = e.child("author");
    Item::Comment(SourceComment {
        thread: format!("disqus:thread:{thread}"),
        id: format!("disqus:{id}"),
        parent: e
            .child("parent")
            .and_then(|p| p.attr("id"))
            .map(|p| format!("disqus:{p}")),
        author: author
            .and_then(|a| a.text_of("name").or_else(|| a.text_of("username")))
            .map(str::to_owned),
        email: author.and_then(|a| a.text_of("email")).map(str::to_owned),
        website: None,
        created_at,
        edited_at: None,
        body: Body::Html(
            e.child("message")
                .map(|m| m.text.clone())
                .unwrap_or_default(),
        ),
        status,
        reactions: Default::default(),
    })
}
