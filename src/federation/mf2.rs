//! What a webmention's source page says, read as microformats2 (the part of it webmentions
//! use): its links, and its first `h-entry` with the author's `h-card`, `u-in-reply-to`,
//! `u-like-of`, `u-repost-of`, `u-bookmark-of`, `e-content`, `dt-published`.
//!
//! html5ever's tokenizer reads the page as a browser would; a plain tree of every element
//! is built from its tokens (an end tag closes up to its element; void elements never
//! open), deep enough for any real page and bounded for any other.

use std::cell::{Cell, RefCell};

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

#[derive(Debug)]
enum Node {
    Text(String),
    El(El),
}

#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    kids: Vec<Node>,
}

impl El {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn classes(&self) -> impl Iterator<Item = &str> {
        self.attr("class").unwrap_or("").split_ascii_whitespace()
    }

    fn has_class(&self, c: &str) -> bool {
        self.classes().any(|x| x == c)
    }

    /// A microformat's root (`h-entry`, `h-card`, `h-cite`...).
    fn is_root(&self) -> bool {
        self.classes().any(|c| c.starts_with("h-") && c.len() > 2)
    }

    fn text(&self) -> String {
        let mut out = String::new();
        text_of(&self.kids, &mut out);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

fn text_of(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::El(e) if matches!(e.name.as_str(), "img") => {
                if let Some(alt) = e.attr("alt") {
                    out.push_str(alt);
                }
            }
            Node::El(e) => {
                if matches!(e.name.as_str(), "p" | "br" | "div" | "li") {
                    out.push(' ');
                }
                text_of(&e.kids, out)
            }
        }
    }
}

/// The HTML of `nodes` again, escaped, every attribute but `href` dropped: for the
/// sanitizer, which keeps what a comment may show.
fn html_of(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(&html_escape::encode_text(t)),
            Node::El(e) => {
                if VOID.contains(&e.name.as_str()) {
                    if e.name == "br" {
                        out.push_str("<br>");
                    }
                    continue;
                }
                out.push('<');
                out.push_str(&e.name);
                if let Some(h) = e.attr("href") {
                    out.push_str(" href=\"");
                    out.push_str(&html_escape::encode_double_quoted_attribute(h));
                    out.push('"');
                }
                out.push('>');
                html_of(&e.kids, out);
                out.push_str("</");
                out.push_str(&e.name);
                out.push('>');
            }
        }
    }
}

const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements deeper than this are not opened: leaves, their text their parent's.
const MAX_DEPTH: usize = 200;

struct Builder {
    stack: RefCell<Vec<El>>,
    skipping: Cell<Option<&'static str>>,
}

fn dropped(name: &str) -> Option<(&'static str, RawKind)> {
    Some(match name {
        "script" => ("script", RawKind::ScriptData),
        "style" => ("style", RawKind::Rawtext),
        "iframe" => ("iframe", RawKind::Rawtext),
        "noscript" => ("noscript", RawKind::Rawtext),
        "template" => ("template", RawKind::Rawtext),
        "textarea" => ("textarea", RawKind::Rcdata),
        "title" => ("title", RawKind::Rcdata),
        _ => return None,
    })
}

fn close_to(stack: &mut Vec<El>, n: usize) {
    while stack.len() > n.max(1) {
        if let Some(done) = stack.pop() {
            if let Some(parent) = stack.last_mut() {
                parent.kids.push(Node::El(done));
            }
        }
    }
}

impl TokenSink for Builder {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Some(name) = self.skipping.get() {
            if let Token::TagToken(t) = &token {
                if t.kind == TagKind::EndTag && &*t.name == name {
                    self.skipping.set(None);
                }
            }
            return TokenSinkResult::Continue;
        }
        match token {
            Token::TagToken(t) if t.kind == TagKind::StartTag => return self.start(&t),
            Token::TagToken(t) => self.end(&t),
            Token::CharacterTokens(s) => {
                let mut stack = self.stack.borrow_mut();
                if let Some(top) = stack.last_mut() {
                    if let Some(Node::Text(t)) = top.kids.last_mut() {
                        t.push_str(&s);
                    } else {
                        top.kids.push(Node::Text(s.to_string()));
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

impl Builder {
    fn start(&self, t: &Tag) -> TokenSinkResult<()> {
        if let Some((name, raw)) = dropped(&t.name) {
            if !t.self_closing {
                self.skipping.set(Some(name));
                return TokenSinkResult::RawData(raw);
            }
            return TokenSinkResult::Continue;
        }
        let el = El {
            name: t.name.to_string(),
            attrs: t
                .attrs
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
            kids: Vec::new(),
        };
        let mut stack = self.stack.borrow_mut();
        // Too deep: kept as a leaf (its links still count), its content goes to its parent.
        if VOID.contains(&el.name.as_str()) || t.self_closing || stack.len() >= MAX_DEPTH {
            if let Some(top) = stack.last_mut() {
                top.kids.push(Node::El(el));
            }
        } else {
            stack.push(el);
        }
        TokenSinkResult::Continue
    }

    fn end(&self, t: &Tag) {
        let mut stack = self.stack.borrow_mut();
        if let Some(i) = stack.iter().rposition(|e| e.name == *t.name) {
            if i > 0 {
                close_to(&mut stack, i);
            }
        }
    }
}

fn parse(html: &str) -> El {
    let builder = Builder {
        stack: RefCell::new(vec![El::default()]),
        skipping: Cell::new(None),
    };
    let tokenizer = Tokenizer::new(builder, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(html.into());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut stack = tokenizer.sink.stack.into_inner();
    close_to(&mut stack, 1);
    stack.pop().unwrap_or_default()
}

/// What the source page means for the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionKind {
    Reply,
    Like,
    Repost,
    Bookmark,
    /// Links to the target, nothing more.
    Mention,
}

impl MentionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MentionKind::Reply => "reply",
            MentionKind::Like => "like",
            MentionKind::Repost => "repost",
            MentionKind::Bookmark => "bookmark",
            MentionKind::Mention => "mention",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub kind: MentionKind,
    pub author_name: Option<String>,
    pub author_url: Option<String>,
    /// The entry's content as HTML (not yet sanitized), if it has any.
    pub content_html: Option<String>,
    /// `dt-published`, as written.
    pub published: Option<String>,
    /// The entry's own `u-url`, if it says one.
    pub url: Option<String>,
}

/// Reads the source page (fetched from `base`) for `target`: `None` when it does not
/// link to it.
pub fn read(html: &str, base: &Url, target: &Url) -> Option<Mention> {
    let doc = parse(html);
    let resolve = |raw: &str| base.join(raw.trim()).ok();
    let same = |u: &Url| same_resource(u, target);
    let mut links = false;
    walk(&doc, &mut |e| {
        for attr in ["href", "src"] {
            if let Some(v) = e.attr(attr) {
                links |= resolve(v).is_some_and(|u| same(&u));
            }
        }
    });
    if !links {
        return None;
    }
    let Some(entry) = find(&doc, &|e| e.has_class("h-entry")) else {
        return Some(Mention {
            kind: MentionKind::Mention,
            author_name: None,
            author_url: None,
            content_html: None,
            published: None,
            url: None,
        });
    };
    let mut props: Vec<(&str, &El)> = Vec::new();
    properties(entry, &mut props);
    let url_of = |e: &El| -> Option<Url> {
        let raw = e
            .attr("href")
            .or_else(|| e.attr("src"))
            .map(str::to_owned)
            .or_else(|| {
                if e.is_root() {
                    find(e, &|x| x.has_class("u-url"))
                        .and_then(|u| u.attr("href").or(u.attr("value")).map(str::to_owned))
                } else {
                    None
                }
            })
            .or_else(|| e.attr("value").map(str::to_owned))
            .unwrap_or_else(|| e.text());
        resolve(&raw)
    };
    let points_here = |class: &str| {
        props
            .iter()
            .any(|(c, e)| *c == class && url_of(e).is_some_and(|u| same(&u)))
    };
    let kind = if points_here("u-in-reply-to") {
        MentionKind::Reply
    } else if points_here("u-repost-of") {
        MentionKind::Repost
    } else if points_here("u-like-of") {
        MentionKind::Like
    } else if points_here("u-bookmark-of") {
        MentionKind::Bookmark
    } else {
        MentionKind::Mention
    };
    let (author_name, author_url) = match props.iter().find(|(c, _)| *c == "p-author") {
        Some((_, a)) if a.has_class("h-card") => (
            find(a, &|x| x.has_class("p-name"))
                .map(El::text)
                .or_else(|| Some(a.text()))
                .filter(|n| !n.is_empty()),
            find(a, &|x| x.has_class("u-url"))
                .and_then(|u| u.attr("href"))
                .or(a.attr("href"))
                .and_then(resolve)
                .map(|u| u.to_string()),
        ),
        Some((_, a)) => (
            Some(a.text()).filter(|n| !n.is_empty()),
            a.attr("href").and_then(resolve).map(|u| u.to_string()),
        ),
        None => (None, None),
    };
    let content_html = props
        .iter()
        .find(|(c, _)| *c == "e-content")
        .map(|(_, e)| {
            let mut out = String::new();
            html_of(&e.kids, &mut out);
            out
        })
        .or_else(|| {
            props
                .iter()
                .find(|(c, _)| *c == "p-content" || *c == "p-summary" || *c == "p-name")
                .map(|(_, e)| format!("<p>{}</p>", html_escape::encode_text(&e.text())))
        })
        .filter(|h| !h.trim().is_empty());
    let published = props
        .iter()
        .find(|(c, _)| *c == "dt-published")
        .map(|(_, e)| {
            e.attr("datetime")
                .map(str::to_owned)
                .unwrap_or_else(|| e.text())
        });
    let url = props
        .iter()
        .find(|(c, _)| *c == "u-url")
        .and_then(|(_, e)| url_of(e))
        .map(|u| u.to_string());
    Some(Mention {
        kind,
        author_name: author_name.map(|n| n.chars().take(100).collect()),
        author_url,
        content_html,
        published,
        url,
    })
}

/// Every address a piece of HTML links to, resolved against `base`.
pub fn links(html: &str, base: &Url) -> Vec<String> {
    let doc = parse(html);
    let mut out = Vec::new();
    walk(&doc, &mut |e| {
        if let Some(u) = e.attr("href").and_then(|h| base.join(h.trim()).ok()) {
            out.push(u.to_string());
        }
    });
    out
}

/// Two URLs name the same page: equal but for the fragment, `http` and `https` alike.
fn same_resource(a: &Url, b: &Url) -> bool {
    let key = |u: &Url| {
        let mut u = u.clone();
        u.set_fragment(None);
        let s = u.to_string();
        s.strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(&s)
            .to_owned()
    };
    key(a) == key(b)
}

fn walk(e: &El, f: &mut impl FnMut(&El)) {
    f(e);
    for k in &e.kids {
        if let Node::El(c) = k {
            walk(c, f);
        }
    }
}

fn find<'a>(e: &'a El, pred: &dyn Fn(&El) -> bool) -> Option<&'a El> {
    for k in &e.kids {
        if let Node::El(c) = k {
            if pred(c) {
                return Some(c);
            }
            if let Some(found) = find(c, pred) {
                return Some(found);
            }
        }
    }
    None
}

/// The properties (`p-`, `u-`, `dt-`, `e-` classes) of a microformat, not those of
/// microformats nested in it.
fn properties<'a>(root: &'a El, out: &mut Vec<(&'a str, &'a El)>) {
    for k in &root.kids {
        let Node::El(e) = k else { continue };
        for c in e.classes() {
            if ["p-", "u-", "dt-", "e-"].iter().any(|p| c.starts_with(p)) {
                out.push((c, e));
            }
        }
        if !e.is_root() {
            properties(e, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const TARGET: &str = "https://blog.example/post/";

    #[test]
    fn a_reply_with_its_author_and_content() {
        let html = r#"<html><body><div class="h-entry">
            <a class="p-author h-card" href="/"><img src="/me.jpg" alt="">Ann <b>A.</b></a>
            <p>In reply to <a class="u-in-reply-to" href="https://blog.example/post/#top">the post</a></p>
            <div class="e-content"><p>So <em>true</em> <script>alert(1)</script><img src=x onerror=y></p></div>
            <time class="dt-published" datetime="2026-12-01T10:00:00Z">Dec 1</time>
            <a class="u-url" href="/replies/1">link</a>
        </div></body></html>"#;
        let m = read(html, &url("https://ann.example/replies/1"), &url(TARGET)).unwrap();
        assert_eq!(m.kind, MentionKind::Reply);
        assert_eq!(m.author_name.as_deref(), Some("Ann A."));
        assert_eq!(m.author_url.as_deref(), Some("https://ann.example/"));
        assert_eq!(m.published.as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(m.url.as_deref(), Some("https://ann.example/replies/1"));
        let c = m.content_html.unwrap();
        assert!(
            c.contains("<em>true</em>") && !c.contains("script") && !c.contains("onerror"),
            "{c}"
        );
    }

    #[test]
    fn likes_reposts_bookmarks_and_plain_mentions() {
        for (class, kind) in [
            ("u-like-of", MentionKind::Like),
            ("u-repost-of", MentionKind::Repost),
            ("u-bookmark-of", MentionKind::Bookmark),
        ] {
            let html = format!(
                r#"<article class="h-entry"><span class="p-author h-card"><a class="p-name u-url" href="https://bob.example/">Bob</a></span>
                   <a class="{class}" href="{TARGET}">this</a></article>"#
            );
            let m = read(&html, &url("https://bob.example/l/1"), &url(TARGET)).unwrap();
            assert_eq!(m.kind, kind, "{class}");
            assert_eq!(m.author_name.as_deref(), Some("Bob"));
            assert_eq!(m.author_url.as_deref(), Some("https://bob.example/"));
        }
        // A like of another post that only links here is a mention.
        let html = format!(
            r#"<div class="h-entry"><a class="u-like-of h-cite" href="https://else.example/"><span class="p-name">x</span></a>
               <p class="e-content">see <a href="{TARGET}">this</a></p></div>"#
        );
        let m = read(&html, &url("https://bob.example/"), &url(TARGET)).unwrap();
        assert_eq!(m.kind, MentionKind::Mention);
        // An h-cite's own u-url names what it replies to.
        let html = format!(
            r#"<div class="h-entry"><div class="u-in-reply-to h-cite"><a class="u-url" href="{TARGET}">post</a></div>
               <p class="p-content">yes</p></div>"#
        );
        let m = read(&html, &url("https://bob.example/"), &url(TARGET)).unwrap();
        assert_eq!(m.kind, MentionKind::Reply);
        assert_eq!(m.content_html.as_deref(), Some("<p>yes</p>"));
        // No microformats at all: a mention.
        let html = format!(r#"<p>Look: <a href="{TARGET}">here</a></p>"#);
        let m = read(&html, &url("https://bob.example/"), &url(TARGET)).unwrap();
        assert_eq!(m.kind, MentionKind::Mention);
    }

    #[test]
    fn a_page_that_does_not_link_to_the_target_is_no_mention() {
        for html in [
            "<p>nothing</p>",
            r#"<a href="https://blog.example/other/">other</a>"#,
            r#"<script>var x = "<a href='https://blog.example/post/'>";</script>"#,
            r#"<!-- <a href="https://blog.example/post/"> -->"#,
        ] {
            assert_eq!(
                read(html, &url("https://x.example/"), &url(TARGET)),
                None,
                "{html}"
            );
        }
        // Relative links count, resolved against the page.
        assert!(read(
            r#"<a href="/post/">x</a>"#,
            &url("https://blog.example/a"),
            &url(TARGET)
        )
        .is_some());
    }

    #[test]
    fn deep_or_broken_markup_is_read_without_trouble() {
        let deep = "<div>".repeat(100_000) + &format!(r#"<a href="{TARGET}">x</a>"#);
        assert!(read(&deep, &url("https://x.example/"), &url(TARGET)).is_some());
        let broken = format!(
            r#"<div class="h-entry"><p><b><a class="u-like-of" href="{TARGET}">x</p></div></i>"#
        );
        assert_eq!(
            read(&broken, &url("https://x.example/"), &url(TARGET))
                .unwrap()
                .kind,
            MentionKind::Like
        );
    }
}
