//! What replies from elsewhere say, as a comment's Markdown and sanitized HTML: Mastodon's
//! HTML and Bluesky's text with facets both go through the importers' HTML reader and the
//! comment renderer, so they show exactly what a comment typed here could.

use serde::Deserialize;

/// HTML from elsewhere to a comment's Markdown and HTML. Nothing left (an image alone):
/// a link to the original.
pub fn from_html(html: &str, original: &str) -> (String, String) {
    let (body, out) = crate::import::html::convert(html);
    if body.trim().is_empty() {
        let md = format!("[(see the original)](<{original}>)");
        let rendered = crate::markdown::render(&md);
        return (md, rendered);
    }
    (body, out)
}

/// A Bluesky facet: a byte range of the text and what it is.
#[derive(Debug, Deserialize)]
pub struct Facet {
    pub index: ByteSlice,
    #[serde(default)]
    pub features: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByteSlice {
    pub byte_start: usize,
    pub byte_end: usize,
}

/// Where a facet links to: a link's URI, a mention's profile, a tag's search.
fn facet_href(features: &[serde_json::Value], web: &str) -> Option<String> {
    for f in features {
        let kind = f.get("$type").and_then(|t| t.as_str()).unwrap_or("");
        let field = |name: &str| f.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        match kind {
            "app.bsky.richtext.facet#link" => return field("uri"),
            "app.bsky.richtext.facet#mention" => {
                return field("did").map(|d| format!("{web}/profile/{d}"))
            }
            "app.bsky.richtext.facet#tag" => {
                return field("tag").map(|t| {
                    format!(
                        "{web}/hashtag/{}",
                        percent_encoding::utf8_percent_encode(
                            &t,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    )
                })
            }
            _ => {}
        }
    }
    None
}

/// Bluesky's plain text with its facets (links, mentions, tags) as HTML: paragraphs at
/// blank lines, line breaks, links. Facets that overlap, run past the text or cut a
/// character are ignored.
pub fn facets_to_html(text: &str, facets: &[Facet], web: &str) -> String {
    let mut spans: Vec<(usize, usize, String)> = facets
        .iter()
        .filter_map(|f| {
            let (s, e) = (f.index.byte_start, f.index.byte_end);
            let ok =
                s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e);
            ok.then(|| facet_href(&f.features, web).map(|h| (s, e, h)))
                .flatten()
        })
        .collect();
    spans.sort_by_key(|(s, _, _)| *s);
    let mut html = String::from("<p>");
    let mut at = 0;
    let plain = |html: &mut String, t: &str| {
        let escaped = html_escape::encode_text(t);
        html.push_str(&escaped.replace("\n\n", "</p><p>").replace('\n', "<br>"));
    };
    for (s, e, href) in spans {
        if s < at {
            continue;
        }
        plain(&mut html, &text[at..s]);
        html.push_str("<a href=\"");
        html.push_str(&html_escape::encode_double_quoted_attribute(&href));
        html.push_str("\">");
        html.push_str(&html_escape::encode_text(&text[s..e]));
        html.push_str("</a>");
        at = e;
    }
    plain(&mut html, &text[at..]);
    html.push_str("</p>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facet(s: usize, e: usize, feature: serde_json::Value) -> Facet {
        Facet {
            index: ByteSlice {
                byte_start: s,
                byte_end: e,
            },
            features: vec![feature],
        }
    }

    #[test]
    fn facets_become_links_and_the_rest_is_text() {
        let text = "Héllo @ann.example.com, see example.org <b>!\n\n#rust";
        let at = text.find('@').unwrap();
        let ex = text.find("example.org").unwrap();
        let tag = text.find('#').unwrap();
        let facets = vec![
            facet(
                at,
                at + "@ann.example.com".len(),
                serde_json::json!({"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ann"}),
            ),
            facet(
                ex,
                ex + "example.org".len(),
                serde_json::json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/x?a=1&b=2"}),
            ),
            facet(
                tag,
                tag + 5,
                serde_json::json!({"$type": "app.bsky.richtext.facet#tag", "tag": "rust"}),
            ),
            // Cuts the é in two: ignored.
            facet(
                1,
                2,
                serde_json::json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://evil.example/"}),
            ),
            // Past the end: ignored.
            facet(
                0,
                999,
                serde_json::json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://evil.example/"}),
            ),
        ];
        let html = facets_to_html(text, &facets, "https://bsky.app");
        assert_eq!(
            html,
            "<p>Héllo <a href=\"https://bsky.app/profile/did:plc:ann\">@ann.example.com</a>, see \
             <a href=\"https://example.org/x?a=1&amp;b=2\">example.org</a> &lt;b&gt;!</p>\
             <p><a href=\"https://bsky.app/hashtag/rust\">#rust</a></p>"
        );
        let (md, out) = from_html(&html, "https://bsky.app/profile/ann/post/1");
        assert!(
            md.contains("[example.org](https://example.org/x?a=1&b=2)"),
            "{md}"
        );
        assert!(
            out.contains("href=\"https://bsky.app/profile/did:plc:ann\""),
            "{out}"
        );
        assert!(out.contains("&lt;b&gt;"), "{out}");
        assert!(!out.contains("evil"), "{out}");
    }

    #[test]
    fn mastodon_html_is_sanitized_and_an_empty_reply_links_to_its_original() {
        let (md, html) = from_html(
            "<p><span class=\"h-card\"><a href=\"https://m.example/@ann\" class=\"u-url mention\">@<span>ann</span></a></span> nice <script>alert(1)</script><img src=x onerror=alert(1)></p>",
            "https://m.example/@bob/1",
        );
        assert!(
            !html.contains("script") && !html.contains("onerror"),
            "{html}"
        );
        assert!(html.contains("href=\"https://m.example/@ann\""), "{html}");
        assert!(md.contains("nice"), "{md}");
        let (md, html) = from_html("<p></p>", "https://m.example/@bob/1");
        assert!(md.contains("https://m.example/@bob/1"), "{md}");
        assert!(html.contains("href=\"https://m.example/@bob/1\""), "{html}");
    }
}
