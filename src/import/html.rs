//! Comment HTML from other systems to Markdown. Every imported comment is stored as
//! Markdown and rendered by our own renderer, like a comment typed here: a moderator can
//! edit it, an export carries it, and the page shows the same small set of HTML.
//!
//! html5ever's tokenizer reads the HTML as a browser would (entities, quoting, comments,
//! broken markup); a small tree of the elements Markdown can say is built from its tokens
//! and written out as Markdown. Nothing here has to be safe: the renderer's sanitizer is
//! what the page gets. One pass of html5ever instead of two (cleaning the HTML first would
//! parse it to a full DOM) halves what an import spends on converting.

use std::cell::{Cell, RefCell};

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// A node of the comment: text, or one of the elements a comment keeps.
#[derive(Debug)]
enum Node {
    Text(String),
    El {
        tag: &'static str,
        href: Option<String>,
        start: Option<u64>,
        kids: Vec<Node>,
    },
}

/// HTML (as Disqus, WordPress and Remark42 store it) to Markdown.
pub fn to_markdown(html: &str) -> String {
    let nodes = parse(html);
    let mut blocks = Vec::new();
    render_blocks(&nodes, &mut blocks);
    blocks.join("\n\n")
}

/// HTML to what is stored: the Markdown, and the HTML our renderer makes of it (what a
/// comment typed here would show).
pub fn convert(html: &str) -> (String, String) {
    let md = to_markdown(html);
    let out = if md.is_empty() {
        String::new()
    } else {
        crate::markdown::render(&md)
    };
    (md, out)
}

/// What an element of the source becomes: one the Markdown can say (old-style `<b>`, `<i>`,
/// `<s>`, `<tt>` as their modern names), a paragraph for other blocks (so their text does
/// not run together), or nothing (its text stays).
fn kept(name: &str) -> Option<&'static str> {
    Some(match name {
        "p" | "div" | "section" | "article" | "header" | "footer" | "aside" | "figure"
        | "figcaption" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "dl" | "dt" | "dd" | "table"
        | "tr" | "address" | "center" | "details" | "summary" => "p",
        "br" => "br",
        "hr" => "hr",
        "em" | "i" | "u" | "cite" | "var" => "em",
        "strong" | "b" => "strong",
        "del" | "s" | "strike" => "del",
        "code" | "tt" | "kbd" | "samp" => "code",
        "pre" | "listing" => "pre",
        "blockquote" => "blockquote",
        "ul" => "ul",
        "ol" => "ol",
        "li" => "li",
        "a" => "a",
        _ => return None,
    })
}

/// Elements whose content is not text for the reader, left out whole: the element's name
/// (to match its end tag) and how the tokenizer reads its content.
fn dropped(name: &str) -> Option<(&'static str, RawKind)> {
    Some(match name {
        "script" => ("script", RawKind::ScriptData),
        "style" => ("style", RawKind::Rawtext),
        "iframe" => ("iframe", RawKind::Rawtext),
        "noembed" => ("noembed", RawKind::Rawtext),
        "noframes" => ("noframes", RawKind::Rawtext),
        "xmp" => ("xmp", RawKind::Rawtext),
        "template" => ("template", RawKind::Rawtext),
        _ => return None,
    })
}

/// How deep elements may nest: deeper ones are read as their text. It bounds the
/// recursion that writes the Markdown (and that drops the tree), whatever the input.
const MAX_DEPTH: usize = 64;

/// Builds the tree from html5ever's tokens. Tags are read as browsers read them (quotes,
/// entities, comments, broken markup); the tree is simpler than a browser's: an end tag
/// closes up to its element, or nothing when it is not open; a block closes an open
/// paragraph, a list item an open item of its list, a link an open link.
struct Builder {
    /// The open elements; the bottom one is the document.
    stack: RefCell<Vec<Node>>,
    /// Inside a dropped element (its name): everything up to its end tag is ignored.
    skipping: Cell<Option<&'static str>>,
    /// Just after `<pre>`: a newline there is not content.
    after_pre: Cell<bool>,
}

fn el(tag: &'static str, href: Option<String>, start: Option<u64>) -> Node {
    Node::El {
        tag,
        href,
        start,
        kids: Vec::new(),
    }
}

fn tag_of(n: &Node) -> &'static str {
    match n {
        Node::El { tag, .. } => tag,
        Node::Text(_) => "",
    }
}

/// Closes the innermost open elements, up to and including the `n`th from the bottom.
fn close_to(stack: &mut Vec<Node>, n: usize) {
    while stack.len() > n.max(1) {
        if let Some(done) = stack.pop() {
            push(stack, done);
        }
    }
}

/// Appends a node to the innermost open element.
fn push(stack: &mut [Node], node: Node) {
    if let Some(Node::El { kids, .. }) = stack.last_mut() {
        kids.push(node);
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
        let Some(tag) = kept(&t.name) else {
            return TokenSinkResult::Continue;
        };
        let attr = |name: &str| {
            t.attrs
                .iter()
                .find(|a| &*a.name.local == name)
                .map(|a| a.value.to_string())
        };
        let mut stack = self.stack.borrow_mut();
        let open = |stack: &Vec<Node>, name: &str| stack.iter().rposition(|n| tag_of(n) == name);
        if matches!(tag, "p" | "pre" | "blockquote" | "ul" | "ol" | "hr" | "li") {
            if let Some(i) = open(&stack, "p") {
                close_to(&mut stack, i);
            }
        }
        if tag == "li" {
            // The nearest open item, unless a list opened since.
            let item = open(&stack, "li");
            let list = stack.iter().rposition(|n| matches!(tag_of(n), "ul" | "ol"));
            if let (Some(i), l) = (item, list) {
                if l.is_none_or(|l| l < i) {
                    close_to(&mut stack, i);
                }
            }
        }
        if tag == "a" {
            if let Some(i) = open(&stack, "a") {
                close_to(&mut stack, i);
            }
        }
        let node = el(
            tag,
            if tag == "a" { attr("href") } else { None },
            if tag == "ol" {
                attr("start").and_then(|s| s.trim().parse().ok())
            } else {
                None
            },
        );
        if matches!(tag, "br" | "hr") {
            push(&mut stack, node);
        } else if stack.len() > MAX_DEPTH {
            return TokenSinkResult::Continue;
        } else {
            stack.push(node);
        }
        self.after_pre.set(tag == "pre");
        TokenSinkResult::Continue
    }

    fn end(&self, t: &Tag) {
        let Some(tag) = kept(&t.name) else { return };
        let mut stack = self.stack.borrow_mut();
        if let Some(i) = stack.iter().rposition(|n| tag_of(n) == tag) {
            if i > 0 {
                close_to(&mut stack, i);
            }
        }
    }

    fn text(&self, s: &str) {
        let s = if self.after_pre.replace(false) {
            s.strip_prefix('\n').unwrap_or(s)
        } else {
            s
        };
        if s.is_empty() {
            return;
        }
        let mut stack = self.stack.borrow_mut();
        // Runs of text arrive in pieces (around entities): one node.
        if let Some(Node::El { kids, .. }) = stack.last_mut() {
            if let Some(Node::Text(t)) = kids.last_mut() {
                t.push_str(s);
                return;
            }
        }
        push(&mut stack, Node::Text(s.to_owned()));
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
            Token::CharacterTokens(s) => self.text(&s),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn parse(html: &str) -> Vec<Node> {
    let builder = Builder {
        stack: RefCell::new(vec![el("", None, None)]),
        skipping: Cell::new(None),
        after_pre: Cell::new(false),
    };
    let tokenizer = Tokenizer::new(builder, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(html.into());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut stack = tokenizer.sink.stack.into_inner();
    close_to(&mut stack, 1);
    match stack.pop() {
        Some(Node::El { kids, .. }) => kids,
        _ => Vec::new(),
    }
}

/// Decodes HTML entities (named and numeric) in text that was HTML-escaped when saved, such
/// as Isso's and WordPress's author names. `&` not starting an entity stays as it is.
pub fn unescape(s: &str) -> String {
    html_escape::decode_html_entities(s).into_owned()
}

fn is_block(tag: &str) -> bool {
    matches!(tag, "p" | "blockquote" | "pre" | "ul" | "ol" | "li" | "hr")
}

/// Renders nodes as Markdown blocks; runs of inline nodes between blocks are paragraphs.
fn render_blocks(nodes: &[Node], out: &mut Vec<String>) {
    let mut inline = String::new();
    let flush = |inline: &mut String, out: &mut Vec<String>| {
        let mut p = inline.trim_matches(|c: char| c == ' ' || c == '\n');
        // A break at the end of a paragraph is nothing (an odd run of backslashes ends
        // with a break's; an even one is escaped backslashes).
        while (p.len() - p.trim_end_matches('\\').len()) % 2 == 1 {
            p = p[..p.len() - 1].trim_end_matches([' ', '\n']);
        }
        let p = escape_line_starts(p);
        if !p.trim().is_empty() {
            out.push(p);
        }
        inline.clear();
    };
    for n in nodes {
        match n {
            Node::El {
                tag, kids, start, ..
            } if is_block(tag) => {
                flush(&mut inline, out);
                match *tag {
                    "p" | "li" => {
                        let mut inner = Vec::new();
                        render_blocks(kids, &mut inner);
                        out.extend(inner);
                    }
                    "hr" => out.push("***".into()),
                    "pre" => {
                        let text = plain_text(kids);
                        let fence = if text.contains("```") { "~~~~" } else { "```" };
                        out.push(format!("{fence}\n{}\n{fence}", text.trim_end_matches('\n')));
                    }
                    "blockquote" => {
                        let mut inner = Vec::new();
                        render_blocks(kids, &mut inner);
                        let quoted: Vec<String> = inner
                            .join("\n\n")
                            .lines()
                            .map(|l| {
                                if l.is_empty() {
                                    ">".to_owned()
                                } else {
                                    format!("> {l}")
                                }
                            })
                            .collect();
                        if !quoted.is_empty() {
                            out.push(quoted.join("\n"));
                        }
                    }
                    list => {
                        let ordered = list == "ol";
                        let mut n = start.unwrap_or(1);
                        let mut items = Vec::new();
                        for k in kids {
                            let Node::El {
                                tag: item_tag,
                                kids: item_kids,
                                ..
                            } = k
                            else {
                                continue;
                            };
                            if *item_tag != "li" {
                                continue;
                            }
                            let mut inner = Vec::new();
                            render_blocks(item_kids, &mut inner);
                            let marker = if ordered {
                                format!("{n}. ")
                            } else {
                                "- ".to_owned()
                            };
                            let indent = " ".repeat(marker.len());
                            let body = inner.join("\n\n");
                            let mut lines = body.lines();
                            let mut item = format!("{marker}{}", lines.next().unwrap_or(""));
                            for l in lines {
                                item.push('\n');
                                if !l.is_empty() {
                                    item.push_str(&indent);
                                    item.push_str(l);
                                }
                            }
                            items.push(item);
                            n += 1;
                        }
                        if !items.is_empty() {
                            out.push(items.join("\n"));
                        }
                    }
                }
            }
            other => render_inline(other, &mut inline),
        }
    }
    flush(&mut inline, out);
}

fn render_inline(n: &Node, out: &mut String) {
    match n {
        Node::Text(t) => {
            // HTML collapses whitespace; Markdown would read a newline as a line break.
            let mut last_space = out.ends_with(' ') || out.ends_with('\n') || out.is_empty();
            for c in t.chars() {
                if c.is_whitespace() && c != '\u{a0}' {
                    if !last_space {
                        out.push(' ');
                        last_space = true;
                    }
                    continue;
                }
                last_space = false;
                if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Node::El {
            tag, href, kids, ..
        } => {
            let mut inner = String::new();
            for k in kids {
                render_inline(k, &mut inner);
            }
            match *tag {
                "br" => {
                    while out.ends_with(' ') {
                        out.pop();
                    }
                    // A break needs text before it; one at the start is nothing.
                    if !out.trim().is_empty() {
                        out.push_str("\\\n");
                    }
                }
                "em" => wrap(out, &inner, "*"),
                "strong" => wrap(out, &inner, "**"),
                "del" => wrap(out, &inner, "~~"),
                "code" => {
                    let text = plain_text(kids);
                    let ticks = if text.contains('`') { "`` " } else { "`" };
                    let close = if text.contains('`') { " ``" } else { "`" };
                    out.push_str(ticks);
                    out.push_str(&text);
                    out.push_str(close);
                }
                "a" => match href {
                    Some(h) => {
                        let h = link_target(h);
                        let text = if inner.trim().is_empty() {
                            h.clone()
                        } else {
                            inner
                        };
                        out.push_str(&format!("[{}]({h})", text.trim()));
                    }
                    None => out.push_str(&inner),
                },
                _ => out.push_str(&inner),
            }
        }
    }
}

/// A link's address as a Markdown link target: what would end it or break it is
/// percent-encoded.
fn link_target(href: &str) -> String {
    let href = href.trim();
    let mut out = String::with_capacity(href.len());
    for c in href.chars() {
        if c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '<' | '>') {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `*text*`, with the spaces moved outside (Markdown needs the markers against the text).
fn wrap(out: &mut String, inner: &str, marker: &str) {
    let t = inner.trim();
    if t.is_empty() {
        out.push_str(inner);
        return;
    }
    if inner.starts_with(' ') {
        out.push(' ');
    }
    out.push_str(marker);
    out.push_str(t);
    out.push_str(marker);
    if inner.ends_with(' ') {
        out.push(' ');
    }
}

fn plain_text(nodes: &[Node]) -> String {
    let mut s = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => s.push_str(t),
            Node::El { tag, kids, .. } => {
                if *tag == "br" {
                    s.push('\n');
                }
                s.push_str(&plain_text(kids));
            }
        }
    }
    s
}

/// Escapes what would start a heading, a list or a rule at the start of a line.
fn escape_line_starts(p: &str) -> String {
    p.lines()
        .map(|l| {
            let l = l.trim_start();
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            if l.starts_with(['#', '-', '+', '=']) {
                format!("\\{l}")
            } else if digits > 0 && l[digits..].starts_with(['.', ')']) {
                format!("{}\\{}", &l[..digits], &l[digits..])
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_markdown_that_renders_alike() {
        let cases = [
            (
                "<p>Hello <b>bold</b> &amp; <i>it</i></p>",
                "Hello **bold** & *it*",
            ),
            ("<p>a</p><p>b<br>c</p>", "a\n\nb\\\nc"),
            (
                "Visit <a href=\"https://x.example/a_(b)\">the site</a>!",
                "Visit [the site](https://x.example/a_%28b%29)!",
            ),
            (
                "<blockquote><p>quoted</p></blockquote><p>reply</p>",
                "> quoted\n\nreply",
            ),
            (
                "<pre><code>let x = 1 * 2;\n</code></pre>",
                "```\nlet x = 1 * 2;\n```",
            ),
            ("use <code>a*b</code> here", "use `a*b` here"),
            ("<script>alert(1)</script>safe", "safe"),
            ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
            (
                "1. not a list, *not* emphasis",
                "1\\. not a list, \\*not\\* emphasis",
            ),
            ("caf&eacute; &#233; &#xe9;", "café é é"),
        ];
        for (html, md) in cases {
            assert_eq!(to_markdown(html), md, "{html}");
        }
        // What the page shows is what our renderer makes of it.
        assert_eq!(
            crate::markdown::render(&to_markdown("<p>Hello <b>bold</b> &amp; <i>it</i></p>")),
            "<p>Hello <strong>bold</strong> &amp; <em>it</em></p>\n"
        );
    }

    #[test]
    fn broken_and_foreign_markup_reads_as_a_browser_would() {
        let cases = [
            // Paragraphs and items left open close when the next one starts.
            ("<p>one<p>two", "one\n\ntwo"),
            ("<ul><li>a<li>b</ul>after", "- a\n- b\n\nafter"),
            (
                "<ul><li>a<ul><li>inner</ul><li>b</ul>",
                "- a\n\n  - inner\n- b",
            ),
            // A block inside a paragraph ends it.
            (
                "<p>intro<blockquote>quoted</blockquote>",
                "intro\n\n> quoted",
            ),
            // Misnested and stray end tags.
            ("<b>bold <i>both</b> after</i>", "**bold *both*** after"),
            ("text</p></em>more", "textmore"),
            // A link inside a link ends the first.
            (
                "<a href=\"https://a.example/\">one<a href=\"https://b.example/\">two</a>",
                "[one](https://a.example/)[two](https://b.example/)",
            ),
            // Quoted `>` in attributes, comments, unknown tags, entities without `;`.
            (
                "<span title=\"a > b\">kept</span><!-- <b>gone</b> --> &amp &lt;3",
                "kept & \\<3",
            ),
            // Divs and headings part paragraphs instead of running together.
            (
                "<div>one</div><div>two</div><h2>three</h2>",
                "one\n\ntwo\n\nthree",
            ),
            // Script, style and iframe content is not text.
            (
                "a<style>p { color: red }</style><script>if (a < b) x()</script>\
                 <iframe>frame</iframe>b",
                "ab",
            ),
            // `<pre>` drops the newline right after it, as browsers do.
            (
                "<pre>\nline 1\n  line 2</pre>",
                "```\nline 1\n  line 2\n```",
            ),
            // A bare `<` is text.
            ("a < b and c > d", "a \\< b and c \\> d"),
            // Addresses are made safe for Markdown; line breaks and spaces encoded.
            (
                "<a href=\"https://x.example/a b\n(c)\">t</a>",
                "[t](https://x.example/a%20b%0A%28c%29)",
            ),
            ("<ol start=\"3\"><li>c<li>d</ol>", "3. c\n4. d"),
            ("", ""),
            ("<p> </p><br>", ""),
            // Breaks at the start or end of a paragraph are nothing; escaped backslashes
            // at its end stay.
            ("<p><br>a<br>b<br></p><p>c \\<br></p>", "a\\\nb\n\nc \\\\"),
        ];
        for (html, md) in cases {
            assert_eq!(to_markdown(html), md, "{html:?}");
        }
    }

    #[test]
    fn what_the_page_shows_is_safe_whatever_the_source_said() {
        let (md, html) = convert(
            "<a href=\"javascript:alert(1)\">x</a> <a href=\"/relative\">y</a> \
             <img src=x onerror=alert(1)> <p onclick=\"x()\">z</p>",
        );
        assert_eq!(md, "[x](javascript:alert%281%29) [y](/relative)\n\nz");
        assert_eq!(html, "<p>x y</p>\n<p>z</p>\n");
        assert_eq!(convert(""), (String::new(), String::new()));
    }

    #[test]
    fn entities_next_to_multibyte_characters() {
        // The shape that crashed a real Isso import: a bare `&` before typographic quotes.
        assert_eq!(unescape("Tom & “Quotes”"), "Tom & “Quotes”");
        assert_eq!(
            unescape("&amp; “Quotes” &#8220;x&#x201D; &eacute;"),
            "& “Quotes” “x” é"
        );
        assert_eq!(unescape("&“;&"), "&“;&");
        assert_eq!(to_markdown("a & “b” &é;"), "a & “b” &é;");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // A few MiB of unclosed elements: no stack overflow, the text stays.
        for open in ["<b>", "<blockquote>", "<ul><li>", "<a href=x>", "<pre>"] {
            let html = format!("{}deep", open.repeat((1 << 20) / open.len()));
            let md = to_markdown(&html);
            assert!(md.contains("deep"), "{open}");
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Arbitrary Unicode, with multi-byte characters next to `&`, `<` and `;`.
            #[test]
            fn any_text_converts_and_unescapes(
                s in r"(\PC|[&<>;#]|&#?[a-zA-Z0-9]{0,8};?|“|”|é|😀|\u{0}){0,64}"
            ) {
                let _ = unescape(&s);
                let (md, out) = convert(&s);
                if !md.is_empty() {
                    prop_assert_eq!(out, crate::markdown::render(&md));
                }
            }


            /// Any input converts without panicking, and the stored HTML is exactly what
            /// rendering the stored Markdown gives (an edit later renders the same way).
            #[test]
            fn converting_never_fails_and_agrees_with_the_renderer(
                html in r#"(<(/?)(p|b|i|a href="[a-z:/.<> ]{0,12}"|ul|ol|li|pre|br|blockquote|script|style|div|code|em|x-y)( /)?>|[a-z &;<>#0-9\n*_`\[\]]{0,6}|&[a-z]{1,6};?){0,40}"#
            ) {
                let (md, out) = convert(&html);
                if md.is_empty() {
                    prop_assert_eq!(out, "");
                } else {
                    prop_assert_eq!(out, crate::markdown::render(&md));
                }
            }

            #[test]
            fn text_survives_as_text(text in "[^<&]{0,200}") {
                let md = to_markdown(&text);
                let rendered = crate::markdown::render(&md);
                // Every run of letters and digits of the text is on the page.
                for run in text.split(|c: char| !c.is_alphanumeric()).filter(|r| !r.is_empty()) {
                    prop_assert!(rendered.contains(run), "{run:?} missing from {rendered:?}");
                }
            }
        }
    }
}
