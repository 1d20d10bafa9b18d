//! WordPress's WXR export: one `<item>` per post (link, title, wp:post_name, wp:post_id)
//! holding its `<wp:comment>`s, so a post's comments come together.

use std::io::BufRead;

use super::input::Window;
use super::xml::{Elem, Records};
use super::{micros_from_date, Body, Item, Source, SourceComment, SourceThread, Status};

pub fn read(input: Box<dyn BufRead + Send>, window: Window) -> Source {
    Box::new(
        Records::new(input, &["item"], window).flat_map(|r| -> Vec<anyhow::Result<Item>> {
            match r {
                Ok(r) => match r.elem {
                    Ok(e) => item(&e, r.n).into_iter().map(Ok).collect(),
                    Err(why) => vec![Ok(Item::skip(format!("item {}", r.n), why))],
                },
                Err(e) => vec![Err(e)],
            }
        }),
    )
}

fn item(e: &Elem, n: u64) -> Vec<Item> {
    let comments: Vec<&Elem> = e.children("comment").collect();
    let Some(key) = e
        .text_of("post_id")
        .map(|id| format!("wordpress:post:{id}"))
        .or_else(|| e.text_of("link").map(str::to_owned))
    else {
        return vec![Item::skip(
            format!("item {n}"),
            "wordpress item without a post id or link",
        )];
    };
    if comments.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(comments.len() + 1);
    out.push(Item::Thread(SourceThread {
        key: key.clone(),
        url: e.text_of("link").map(str::to_owned),
        title: e.text_of("title").map(str::to_owned),
        created_at: e.text_of("post_date_gmt").and_then(micros_from_date),
        locked: e.text_of("comment_status") == Some("closed"),
        ..SourceThread::default()
    }));
    out.extend(comments.into_iter().map(|c| comment(&key, c, n)));
    out
}

fn comment(thread: &str, c: &Elem, n: u64) -> Item {
    let Some(id) = c.text_of("comment_id") else {
        return Item::skip(
            format!("a comment of item {n}"),
            "wordpress comment without a comment_id",
        );
    };
    if matches!(c.text_of("comment_type"), Some("pingback" | "trackback")) {
        return Item::Pass("pingback or trackback");
    }
    let place = format!("wordpress:{id}");
    // comment_date_gmt is 0000-00-00 00:00:00 on some old comments: then the local date.
    let Some(created_at) = c
        .text_of("comment_date_gmt")
        .and_then(micros_from_date)
        .or_else(|| c.text_of("comment_date").and_then(micros_from_date))
    else {
        return Item::skip(place, "wordpress comment without a readable date");
    };
    let status = match c.text_of("comment_approved").unwrap_or("") {
        "1" | "approve" => Status::Approved,
        "0" | "hold" => Status::Pending,
        "spam" => Status::Spam,
        "trash" | "post-trashed" => Status::Deleted,
        _ => return Item::skip(place, "wordpress comment with an unknown comment_approved"),
    };
    Item::Comment(SourceComment {
        thread: thread.to_owned(),
        id: format!("wordpress:{id}"),
        parent: c
            .text_of("comment_parent")
            .filter(|p| *p != "0")
            .map(|p| format!("wordpress:{p}")),
        // WordPress keeps the name HTML-escaped (`Jane &amp; John`).
        author: c.text_of("comment_author").map(super::html::unescape),
        email: c.text_of("comment_author_email").map(str::to_owned),
        website: c.text_of("comment_author_url").map(str::to_owned),
        created_at,
        edited_at: None,
        body: Body::Html(autop(
            c.child("comment_content").map_or("", |t| t.text.as_str()),
        )),
        status,
        reactions: Default::default(),
    })
}

/// WordPress stores comments as typed and adds paragraphs when it shows them (wpautop):
/// blank lines part paragraphs, single newlines break lines.
fn autop(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    if text.contains("<p>") || text.contains("<p ") {
        return text;
    }
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>\n")))
        .collect()
}
