//! Comment HTML from other systems to Markdown. Every imported comment is stored as
//! Markdown and rendered by our own renderer, like a comment typed here: a moderator can
//! edit it, an export carries it, and the page shows the same small set of HTML.
//!
//! The HTML is first cleaned to that set ([`crate::markdown::clean_html`]), which leaves
//! well-formed tags; those are read into a small tree and written out as Markdown.

/// A node of cleaned HTML.
#[derive(Debug)]
enum Node {
    Text(String),
    El {
        tag: String,
        href: Option<String>,
        start: Option<u64>,
        kids: Vec<Node>,
    },
}

/// HTML (as Disqus, WordPress and Remark42 store it) to Markdown.
pub fn to_markdown(html: &str) -> String {
    let clean = crate::markdown::clean_html(&modern_tags(html));
    let nodes = parse(&clean);
    let mut blocks = Vec::new();
    render_blocks(&nodes, &mut blocks);
    blocks.join("\n\n")
}

/// `<b>`, `<i>`, `<s>`, `<tt>` as the cleaner knows them (`<strong>`, `<em>`, …), so
/// old-style emphasis survives.
fn modern_tags(html: &str) -> std::borrow::Cow<'_, str> {
    static OLD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)<(/?)(b|i|s|strike|tt|u)(\s[^>]*)?>").expect("a valid pattern")
    });
    OLD.replace_all(html, |c: &regex::Captures<'_>| {
        let tag = match c[2].to_ascii_lowercase().as_str() {
            "b" => "strong",
            "i" | "u" => "em",
            "s" | "strike" => "del",
            _ => "code",
        };
        format!("<{}{tag}>", &c[1])
    })
}

const VOID: [&str; 2] = ["br", "hr"];

fn el(tag: String, href: Option<String>, start: Option<u64>) -> Node {
    Node::El {
        tag,
        href,
        start,
        kids: Vec::new(),
    }
}

/// Appends a node to the innermost open element.
fn push(stack: &mut [Node], node: Node) {
    if let Some(Node::El { kids, .. }) = stack.last_mut() {
        kids.push(node);
    }
}

fn parse(html: &str) -> Vec<Node> {
    // The open elements; the bottom one is the document.
    let mut stack: Vec<Node> = vec![el(String::new(), None, None)];
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = tag_end(after);
            let inner = &after[..end];
            rest = &after[(end + 1).min(after.len())..];
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                let open = matches!(stack.last(), Some(Node::El { tag, .. }) if *tag == name);
                if stack.len() > 1 && open {
                    if let Some(done) = stack.pop() {
                        push(&mut stack, done);
                    }
                }
                continue;
            }
            let name: String = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let node = el(
                name.clone(),
                attr(inner, "href"),
                attr(inner, "start").and_then(|s| s.parse().ok()),
            );
            if VOID.contains(&name.as_str()) {
                push(&mut stack, node);
            } else {
                stack.push(node);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            push(&mut stack, Node::Text(unescape(&rest[..end])));
            rest = &rest[end..];
        }
    }
    // Close whatever was left open (the cleaner closes all; this is for safety).
    while stack.len() > 1 {
        if let Some(done) = stack.pop() {
            push(&mut stack, done);
        }
    }
    match stack.pop() {
        Some(Node::El { kids, .. }) => kids,
        _ => Vec::new(),
    }
}

/// Where a tag ends: the first `>` outside a quoted attribute value.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i,
            _ => {}
        }
    }
    s.len()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')? + at;
    Some(unescape(&tag[at..end]))
}

/// The entities the cleaner writes, and numeric ones.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_block(tag: &str) -> bool {
    matches!(tag, "p" | "blockquote" | "pre" | "ul" | "ol" | "li" | "hr")
}

/// Renders nodes as Markdown blocks; runs of inline nodes between blocks are paragraphs.
fn render_blocks(nodes: &[Node], out: &mut Vec<String>) {
    let mut inline = String::new();
    let flush = |inline: &mut String, out: &mut Vec<String>| {
        let p = escape_line_starts(inline.trim_matches(|c: char| c == ' ' || c == '\n'));
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
                match tag.as_str() {
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
                            if item_tag != "li" {
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
            match tag.as_str() {
                "br" => {
                    while out.ends_with(' ') {
                        out.pop();
                    }
                    out.push_str("\\\n");
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
                        let h = h
                            .replace(' ', "%20")
                            .replace('(', "%28")
                            .replace(')', "%29");
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
                if tag == "br" {
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
}
