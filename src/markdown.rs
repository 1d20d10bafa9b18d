//! Comment Markdown to safe HTML: pulldown-cmark renders, ammonia enforces a small allowlist.
//!
//! Raw HTML in the source is shown as text, never interpreted; images become links;
//! bare URLs become links; every link gets `rel="nofollow ugc noopener noreferrer"`
//! and only http, https and mailto targets survive.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(HashSet::from([
        "p",
        "br",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "hr",
    ]))
    .tag_attributes(HashMap::from([
        ("a", HashSet::from(["href", "title"])),
        ("ol", HashSet::from(["start"])),
    ]))
    .url_schemes(HashSet::from(["http", "https", "mailto"]))
    .url_relative(ammonia::UrlRelative::Deny)
    .link_rel(Some("nofollow ugc noopener noreferrer"))
    .clean_content_tags(HashSet::from(["script", "style"]))
    .strip_comments(true);
    b
});

/// How many quotes, lists and list items nest in a rendered comment (a list level is two:
/// the list and its item); what is deeper still shows, at the deepest level kept.
pub const MAX_NESTING: usize = 32;

/// Renders comment Markdown to sanitized HTML.
///
/// ```
/// use afterword::markdown::render;
///
/// assert_eq!(render("Hi *there*"), "<p>Hi <em>there</em></p>\n");
/// // Raw HTML is text, and dangerous links lose their target.
/// assert_eq!(render("<b>x</b>"), "<p>&lt;b&gt;x&lt;/b&gt;</p>\n");
/// assert_eq!(render("[x](javascript:alert(1))"), "<p>x</p>\n");
/// ```
pub fn render(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Vec::new();
    // One entry per open link: was it kept? Links to other schemes lose their anchor here,
    // for tidy output; ammonia below is what enforces the rule.
    let mut links: Vec<bool> = Vec::new();
    let mut in_code = 0usize;
    // One entry per open quote, list or list item: is it kept? They nest as deep as a
    // reader may wish to follow and no deeper: the HTML sanitizer's scope checks walk
    // every open element, so 10,000 nested lists would cost it seconds.
    let mut containers: Vec<bool> = Vec::new();
    let mut kept = 0usize;
    let source = cap_quote_markers(source);
    for event in Parser::new_ext(&source, options) {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::Item) => {
                let keep = kept < MAX_NESTING;
                containers.push(keep);
                if keep {
                    kept += 1;
                    events.push(event);
                }
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item) => {
                if containers.pop().unwrap_or(false) {
                    kept -= 1;
                    events.push(event);
                }
            }
            // Raw HTML is shown as the visitor typed it.
            Event::Html(html) | Event::InlineHtml(html) => events.push(Event::Text(html)),
            Event::Start(Tag::Image {
                dest_url,
                title,
                id,
                ..
            }) => {
                // Inside a link, an image is only its alt text: anchors do not nest.
                let keep = allowed_url(&dest_url) && !links.contains(&true);
                links.push(keep);
                if keep {
                    events.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Image) | Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            // Comments have no document outline: headings read as bold paragraphs.
            Event::Start(Tag::Heading { .. }) => {
                events.push(Event::Start(Tag::Paragraph));
                events.push(Event::Start(Tag::Strong));
            }
            Event::End(TagEnd::Heading(_)) => {
                events.push(Event::End(TagEnd::Strong));
                events.push(Event::End(TagEnd::Paragraph));
            }
            Event::Start(Tag::Link { ref dest_url, .. }) => {
                let keep = allowed_url(dest_url);
                links.push(keep);
                if keep {
                    events.push(event);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code += 1;
                events.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = in_code.saturating_sub(1);
                events.push(event);
            }
            Event::Text(text) if links.is_empty() && in_code == 0 => {
                linkify_text(text, &mut events)
            }
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    SANITIZER.clean(&html).to_string()
}

/// Lines that open more quotes than are ever shown (see [`MAX_NESTING`]) lose the extra
/// `>` markers before parsing: the parser's work on `>>>>…` grows with the square of
/// their number, and 20,000 of them on one line would otherwise take it seconds.
fn cap_quote_markers(source: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = MAX_NESTING;
    let too_deep = |line: &str| {
        line.chars()
            .take_while(|c| matches!(c, '>' | ' ' | '\t'))
            .filter(|c| *c == '>')
            .nth(KEEP)
            .is_some()
    };
    if !source.split('\n').any(too_deep) {
        return std::borrow::Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len());
    for (i, line) in source.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !too_deep(line) {
            out.push_str(line);
            continue;
        }
        let prefix_len = line
            .find(|c: char| !matches!(c, '>' | ' ' | '\t'))
            .unwrap_or(line.len());
        let (prefix, rest) = line.split_at(prefix_len);
        let mut seen = 0;
        for c in prefix.chars() {
            if c == '>' {
                seen += 1;
                if seen > KEEP {
                    continue;
                }
            }
            out.push(c);
        }
        out.push_str(rest);
    }
    std::borrow::Cow::Owned(out)
}

fn allowed_url(url: &str) -> bool {
    let u = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| u.starts_with(s))
}

/// Turns bare http(s) URLs in a text run into links.
fn linkify_text<'a>(text: CowStr<'a>, out: &mut Vec<Event<'a>>) {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let links: Vec<_> = finder
        .links(&text)
        .filter(|l| {
            let s = l.as_str();
            s.starts_with("http://") || s.starts_with("https://")
        })
        .map(|l| (l.start(), l.end()))
        .collect();
    if links.is_empty() {
        out.push(Event::Text(text));
        return;
    }
    let mut pos = 0;
    for (start, end) in links {
        if start > pos {
            out.push(Event::Text(CowStr::from(text[pos..start].to_owned())));
        }
        let url = text[start..end].to_owned();
        out.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: CowStr::from(url.clone()),
            title: CowStr::from(""),
            id: CowStr::from(""),
        }));
        out.push(Event::Text(CowStr::from(url)));
        out.push(Event::End(TagEnd::Link));
        pos = end;
    }
    if pos < text.len() {
        out.push(Event::Text(CowStr::from(text[pos..].to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    /// Every tag in the output is allowlisted, every attribute too, every href is http(s) or mailto.
    fn assert_no_active_content(html: &str) {
        let allowed_tags = [
            "p",
            "br",
            "em",
            "strong",
            "del",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
            "a",
            "hr",
        ];
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("tags close") + start;
            let tag = &rest[start + 1..end];
            let tag = tag.strip_prefix('/').unwrap_or(tag);
            let mut parts = tag.splitn(2, ' ');
            let name = parts.next().unwrap();
            assert!(allowed_tags.contains(&name), "tag <{name}> in {html}");
            let mut attrs = parts.next().unwrap_or("");
            while let Some(eq) = attrs.find("=\"") {
                let attr = attrs[..eq].trim();
                assert!(
                    ["href", "rel", "title", "start"].contains(&attr),
                    "attribute {attr} in {html}"
                );
                let close = attrs[eq + 2..].find('"').expect("quoted") + eq + 2;
                let value = &attrs[eq + 2..close];
                if attr == "href" {
                    let v = value.to_ascii_lowercase();
                    assert!(
                        v.starts_with("http://")
                            || v.starts_with("https://")
                            || v.starts_with("mailto:"),
                        "href {value} in {html}"
                    );
                }
                attrs = &attrs[close + 1..];
            }
            assert!(
                attrs.trim().is_empty(),
                "stray attribute text {attrs} in {html}"
            );
            rest = &rest[end + 1..];
        }
    }

    #[test]
    fn basic_markdown() {
        assert_eq!(render("Hello *world*"), "<p>Hello <em>world</em></p>\n");
        assert_eq!(
            render("**b** ~~s~~ `c`"),
            "<p><strong>b</strong> <del>s</del> <code>c</code></p>\n"
        );
        assert_eq!(
            render("> quote"),
            "<blockquote>\n<p>quote</p>\n</blockquote>\n"
        );
        assert_eq!(render("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
        assert_eq!(
            render("3. a\n4. b"),
            "<ol start=\"3\">\n<li>a</li>\n<li>b</li>\n</ol>\n"
        );
        assert_eq!(
            render("```\nlet x = 1 < 2;\n```"),
            "<pre><code>let x = 1 &lt; 2;\n</code></pre>\n"
        );
        assert_eq!(render("# Title"), "<p><strong>Title</strong></p>\n");
    }

    #[test]
    fn links_get_rel_and_keep_safe_schemes() {
        let html = render("[site](https://example.com/a?b=1&c=2)");
        assert_eq!(
            html,
            "<p><a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener noreferrer\">site</a></p>\n"
        );
        assert!(render("[m](mailto:a@example.com)").contains("href=\"mailto:a@example.com\""));
        assert!(render("[h](HTTP://EXAMPLE.COM)").contains("href=\"HTTP://EXAMPLE.COM\""));
    }

    #[test]
    fn bare_urls_become_links_but_not_in_code() {
        let html = render("see https://example.com/x. ok");
        assert!(html.contains("<a href=\"https://example.com/x\" rel=\"nofollow ugc noopener noreferrer\">https://example.com/x</a>."), "{html}");
        assert!(!render("`https://example.com`").contains("<a"));
        assert!(!render("    https://example.com").contains("<a"));
    }

    #[test]
    fn hostile_link_schemes_lose_their_href() {
        let cases = [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](JAVASCRIPT:alert(1))",
            "[x](  javascript:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](&#x6A;&#x61;&#x76;&#x61;script:alert(1))",
            "[x](javascript&colon;alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "[x](DATA:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox(1))",
            "[x](VbScRiPt:msgbox(1))",
            "<javascript:alert(1)>",
            "<JAVASCRIPT:alert(1)>",
            "<data:text/html,x>",
            "<vbscript:x>",
            "[x][r]\n\n[r]: javascript:alert(1)",
            "![x](javascript:alert(1))",
            "[x](/relative/path)",
            "[x](//evil.example/)",
        ];
        for case in cases {
            let html = render(case);
            assert_no_active_content(&html);
            assert!(!html.contains("href"), "{case} kept an href: {html}");
        }
    }

    #[test]
    fn raw_html_is_text() {
        let cases = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)>",
            "<svg><script>alert(1)</script></svg>",
            "<iframe src=javascript:alert(1)></iframe>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<!-- comment --><style>*{}</style>",
            "text <b onmouseover=alert(1)>bold</b>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
            "<details open ontoggle=alert(1)>",
        ];
        for case in cases {
            let html = render(case);
            assert_no_active_content(&html);
            assert!(!html.contains("<a"), "{case}: {html}");
        }
        assert_eq!(
            render("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            render("a <img src=x onerror=alert(1)> b"),
            "<p>a &lt;img src=x onerror=alert(1)&gt; b</p>\n"
        );
    }

    #[test]
    fn images_become_links() {
        assert_eq!(
            render("![cat](https://example.com/cat.png)"),
            "<p><a href=\"https://example.com/cat.png\" rel=\"nofollow ugc noopener noreferrer\">cat</a></p>\n"
        );
    }

    #[test]
    fn linked_images_do_not_nest_anchors() {
        let html = render("[![cat](https://example.com/cat.png)](https://example.com/)");
        assert_eq!(html.matches("<a ").count(), 1, "{html}");
        assert!(html.contains(">cat</a>"), "{html}");
    }

    #[test]
    fn titles_are_escaped() {
        let html = render("[x](https://example.com \"a\\\" onmouseover=\\\"alert(1)\")");
        assert_no_active_content(&html);
        assert!(
            html.contains("title=\"a&quot; onmouseover=&quot;alert(1)\""),
            "{html}"
        );
    }

    mod properties {
        use super::{assert_no_active_content, render};
        use proptest::prelude::*;

        /// Text made of what Markdown and HTML give meaning to, with link schemes and tags
        /// that must never come out active.
        fn markup() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("javascript:alert(1)".to_owned()),
                Just("data:text/html,x".to_owned()),
                Just("vbscript:x".to_owned()),
                Just("http://a.example/".to_owned()),
                Just("<script>".to_owned()),
                Just("<img src=x onerror=alert(1)>".to_owned()),
                Just("<a href=\"javascript:x\">".to_owned()),
                Just("&#106;avascript:".to_owned()),
                Just("](".to_owned()),
                Just("<http://".to_owned()),
                Just("www.".to_owned()),
                "[<>\\[\\]()*_`~#!:/a-z &;\"'=\n|-]{1,12}",
            ];
            prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn any_text_renders_without_active_content(s in any::<String>()) {
                assert_no_active_content(&render(&s));
            }

            #[test]
            fn any_markup_renders_without_active_content(s in markup()) {
                assert_no_active_content(&render(&s));
            }
        }

        /// 60,000 characters of nesting render and stay sanitized. Nesting is capped (see
        /// `MAX_NESTING`): before, 20,000 `>` took seconds, 60,000 minutes (unoptimized).
        #[test]
        fn deep_nesting_renders() {
            for unit in [
                ">", "> ", "*", "* ", "- ", "+ ", "1. ", "1) ", "[", "_", "`", "<", "![", "**_",
            ] {
                let s = unit.repeat(60_000 / unit.len());
                let html = render(&s);
                assert_no_active_content(&html);
                assert!(!html.is_empty(), "{unit}");
            }
        }
    }
}
