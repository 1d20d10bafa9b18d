//! Atom feeds (RFC 4287) of the latest comments: of a site, of one thread, and for the
//! moderators a site's feed with the comments still held.
//!
//! An entry shows what the thread shows: the author's name and website (never the email),
//! the same sanitized HTML, and a link to the comment on the post. Ids are `urn:uuid:`s
//! derived with the server key from the site and the comment id: stable for as long as the
//! installation keeps its key, and unlike every other installation's.
//!
//! Which comments a feed holds, and in which order, comes from the event stream: the
//! dispatcher records each comment's arrival and first publication in `feed_entries` as
//! it takes the comment's events (see `events::dispatch`), so a comment approved days
//! after it was written is new in the public feeds the day it is approved, and a feed
//! shows a change once its event is dispatched (`[events] interval`, 200 ms by default).
//! What an entry says (text, author, status) is read from the comment as it is now.

use crate::config::{Origins, SiteSettings};
use crate::db::feeds::{FeedRow, FeedStore, Order};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::view::rfc3339;

/// Entries per feed: the newest comments.
pub const ENTRIES: i64 = 50;

/// Which comments a feed holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Approved comments only.
    Public,
    /// Approved and held ones (pending), for moderators.
    Moderators,
}

impl Audience {
    fn order(self) -> Order {
        match self {
            Audience::Public => Order::Published,
            Audience::Moderators => Order::Arrived,
        }
    }
}

/// What the feed is of.
pub enum Scope<'a> {
    Site,
    Thread(&'a str),
}

/// The parts of a feed that do not come from the database.
pub struct FeedContext<'a> {
    pub site: &'a SiteSettings,
    pub key: &'a ServerKey,
    /// The feed's own address (`rel="self"`).
    pub self_url: String,
    /// Where a held comment is moderated (the admin page), for the moderators' feed.
    pub admin_url: Option<String>,
}

/// Reads the comments and writes the feed.
pub fn read<C: FeedStore>(
    c: &mut C,
    cx: &FeedContext<'_>,
    scope: &Scope<'_>,
    audience: Audience,
) -> Result<(Vec<u8>, i64), ApiError> {
    let site = cx.site.id.as_str();
    let slug = match scope {
        Scope::Site => None,
        Scope::Thread(slug) => Some(*slug),
    };
    let rows = c.latest(site, slug, audience.order(), ENTRIES)?;
    Ok(render(cx, scope, &rows))
}

struct Words {
    site_title: &'static str,
    thread_title: &'static str,
    entry_title: &'static str,
    anonymous: &'static str,
    held: &'static str,
}

/// The few words a feed has, in the site's `language`.
fn words(lang: &str) -> Words {
    match lang {
        "de" => Words {
            site_title: "Kommentare auf {site}",
            thread_title: "Kommentare zu „{title}“",
            entry_title: "{author} zu „{title}“",
            anonymous: "Anonym",
            held: "[zurückgehalten]",
        },
        "fr" => Words {
            site_title: "Commentaires sur {site}",
            thread_title: "Commentaires sur « {title} »",
            entry_title: "{author} sur « {title} »",
            anonymous: "Anonyme",
            held: "[en attente]",
        },
        "es" => Words {
            site_title: "Comentarios en {site}",
            thread_title: "Comentarios sobre «{title}»",
            entry_title: "{author} sobre «{title}»",
            anonymous: "Anónimo",
            held: "[retenido]",
        },
        "zh" => Words {
            site_title: "{site} 的评论",
            thread_title: "“{title}”的评论",
            entry_title: "{author} 评论“{title}”",
            anonymous: "匿名",
            held: "[待审核]",
        },
        _ => Words {
            site_title: "Comments on {site}",
            thread_title: "Comments on “{title}”",
            entry_title: "{author} on “{title}”",
            anonymous: "Anonymous",
            held: "[held]",
        },
    }
}

/// The feed's bytes and its `updated` time (microseconds; 0 for a feed with no entry).
fn render(cx: &FeedContext<'_>, scope: &Scope<'_>, rows: &[FeedRow]) -> (Vec<u8>, i64) {
    let w = words(cx.site.language);
    let site = cx.site.id.as_str();
    let updated = rows.iter().map(updated).max().unwrap_or(0);
    let (feed_id, title, alternate) = match scope {
        Scope::Site => (
            cx.key.uuid("atom feed", site.as_bytes()),
            w.site_title.replace("{site}", site),
            single_origin(&cx.site.origins),
        ),
        Scope::Thread(slug) => {
            let post = rows.first();
            let name = post
                .and_then(|r| r.title.as_deref())
                .unwrap_or(slug)
                .to_owned();
            (
                cx.key
                    .uuid("atom feed", format!("{site}\n{slug}").as_bytes()),
                w.thread_title.replace("{title}", &name),
                post.and_then(|r| post_url(r, &cx.site.origins))
                    .or_else(|| origin_url(&cx.site.origins, slug)),
            )
        }
    };
    let mut x = String::with_capacity(1024 + rows.iter().map(|r| r.html.len() * 2).sum::<usize>());
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"");
    x.push_str(cx.site.language);
    x.push_str("\">\n");
    element(&mut x, "id", &feed_id);
    element(&mut x, "title", &title);
    // A feed with no comment yet still needs a date: the epoch says "nothing yet".
    element(&mut x, "updated", &rfc3339(updated));
    x.push_str("<generator>Afterword</generator>\n");
    link(&mut x, "self", "application/atom+xml", &cx.self_url);
    if let Some(alt) = &alternate {
        link(&mut x, "alternate", "text/html", alt);
    }
    for r in rows {
        entry(&mut x, cx, &w, r);
    }
    x.push_str("</feed>\n");
    (x.into_bytes(), updated)
}

fn entry(x: &mut String, cx: &FeedContext<'_>, w: &Words, r: &FeedRow) {
    let site = cx.site.id.as_str();
    let author = r.author.as_deref().unwrap_or(w.anonymous);
    let post = r.title.as_deref().unwrap_or(&r.slug);
    let mut title = w
        .entry_title
        .replace("{author}", author)
        .replace("{title}", post);
    let held = r.status != "approved";
    if held {
        title = format!("{} {title}", w.held);
    }
    x.push_str("<entry>\n");
    element(
        x,
        "id",
        &cx.key
            .uuid("atom entry", format!("{site}\n{}", r.id).as_bytes()),
    );
    element(x, "title", &title);
    x.push_str("<author>");
    element(x, "name", author);
    if let Some(site) = r.website.as_deref() {
        element(x, "uri", site);
    }
    x.push_str("</author>\n");
    element(x, "published", &rfc3339(r.created_at));
    element(x, "updated", &rfc3339(updated(r)));
    let on_post = post_url(r, &cx.site.origins)
        .or_else(|| origin_url(&cx.site.origins, &r.slug))
        .map(|u| format!("{u}#afterword-comment-{}", r.id));
    if let Some(href) = &on_post {
        link(x, "alternate", "text/html", href);
    }
    if let (true, Some(admin)) = (held, &cx.admin_url) {
        link(x, "related", "text/html", admin);
    }
    x.push_str("<content type=\"html\">");
    x.push_str(&text(&r.html));
    x.push_str("</content>\n</entry>\n");
}

/// When an entry last changed as a reader sees it: written, then reaching this feed (a
/// comment approved later is new to the public feeds then), then edited.
fn updated(r: &FeedRow) -> i64 {
    r.created_at
        .max(r.published_at.unwrap_or(r.arrived_at))
        .max(r.edited_at.unwrap_or(0))
}

/// The post's recorded address, if it is on one of the site's origins.
fn post_url(r: &FeedRow, origins: &Origins) -> Option<String> {
    r.url.clone().filter(|u| origins.allows_url(u))
}

/// The post's address from the site's one origin and a slug that is a path.
fn origin_url(origins: &Origins, slug: &str) -> Option<String> {
    let origin = single_origin(origins)?;
    slug.starts_with('/').then(|| format!("{origin}{slug}"))
}

fn single_origin(origins: &Origins) -> Option<String> {
    match origins {
        Origins::List(set) if set.len() == 1 => set.iter().next().cloned(),
        _ => None,
    }
}

fn element(x: &mut String, name: &str, value: &str) {
    x.push('<');
    x.push_str(name);
    x.push('>');
    x.push_str(&text(value));
    x.push_str("</");
    x.push_str(name);
    x.push_str(">\n");
}

fn link(x: &mut String, rel: &str, kind: &str, href: &str) {
    x.push_str("<link rel=\"");
    x.push_str(rel);
    x.push_str("\" type=\"");
    x.push_str(kind);
    x.push_str("\" href=\"");
    x.push_str(&text(href));
    x.push_str("\"/>\n");
}

/// Text for XML: escaped, without the characters XML 1.0 cannot carry at all.
fn text(s: &str) -> String {
    let clean: std::borrow::Cow<'_, str> = if s.chars().all(xml_char) {
        s.into()
    } else {
        s.chars()
            .filter(|c| xml_char(*c))
            .collect::<String>()
            .into()
    };
    quick_xml::escape::escape(clean.as_ref()).into_owned()
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_xml_safe() {
        assert_eq!(
            text("a < b & \"c\" \u{1}\u{FFFE}ok"),
            "a &lt; b &amp; &quot;c&quot; ok"
        );
        assert_eq!(text("plain"), "plain");
    }
}
