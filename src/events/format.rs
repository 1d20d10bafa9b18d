//! The bodies webhook endpoints are sent: `standard` (Standard Webhooks' `type`,
//! `timestamp`, `data`), and what the incoming webhooks of Slack, Discord, Matrix
//! (matrix-hookshot's generic webhooks) and ntfy expect. Each says what happened, on which
//! post, who wrote it, an excerpt, and links: to the comment on the post, to it on the
//! admin page, and, for a comment waiting for a moderator, to approve it or file it as spam
//! (each opens a page that asks to confirm, as the links in moderator mail do).

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::WebhookFormat;

/// The kind of the test event the admin page sends.
pub const TEST_KIND: &str = "webhook.test";

/// The thread an event is about.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadInfo {
    pub id: i64,
    pub slug: String,
    pub title: Option<String>,
    /// The post on the blog, when its address is known.
    pub url: Option<String>,
}

/// The comment an event is about, as far as moderators may pass it on: never the email
/// address, the IP hash or the full text.
#[derive(Debug, Clone, Serialize)]
pub struct CommentInfo {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// Its status now: `approved`, `pending`, `spam` or `deleted`.
    pub status: String,
    pub author: Option<String>,
    /// The start of its Markdown text, on one line; empty once deleted.
    pub excerpt: String,
    /// Where it is on the post, when the post's address is known.
    pub link: Option<String>,
    /// Where moderators find it on the admin page.
    pub admin_link: String,
    pub created_at: String,
}

/// A link that acts on the comment once a moderator confirms it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionLink {
    /// `approve` or `spam`.
    pub action: &'static str,
    pub url: String,
}

/// Everything a message is made from.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: String,
    /// Unix microseconds.
    pub at: i64,
    pub site: String,
    pub thread: Option<ThreadInfo>,
    pub comment: Option<CommentInfo>,
    /// The event's own detail: the status before (`from`), who acted (`by`), the reaction.
    pub detail: Value,
    pub actions: Vec<ActionLink>,
}

/// The text on one line, at most `n` characters, with `…` where it was cut.
pub fn excerpt(text: &str, n: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= n {
        return flat;
    }
    let mut cut: String = flat.chars().take(n.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn thread_name(m: &Message) -> String {
    match &m.thread {
        Some(t) => excerpt(t.title.as_deref().unwrap_or(&t.slug), 120),
        None => m.site.clone(),
    }
}

/// One line that says what happened, for chat messages and notification titles.
pub fn title(m: &Message) -> String {
    let on = thread_name(m);
    let status = m.comment.as_ref().map(|c| c.status.as_str());
    match m.kind.as_str() {
        "comment.created" if status == Some("pending") => {
            format!("New comment waiting for moderation on “{on}”")
        }
        "comment.created" => format!("New comment on “{on}”"),
        "comment.approved" => format!("Comment approved on “{on}”"),
        "comment.edited" => format!("Comment edited on “{on}”"),
        "comment.deleted" => format!("Comment deleted on “{on}”"),
        "comment.spam" => format!("Comment filed as spam on “{on}”"),
        "reaction.added" => {
            let r = m.detail["reaction"].as_str().unwrap_or("?");
            format!("New reaction {r} on “{on}”")
        }
        TEST_KIND => format!("Test event from Afterword (site {})", m.site),
        other => format!("{other} on “{on}”"),
    }
}

fn author(m: &Message) -> String {
    m.comment
        .as_ref()
        .and_then(|c| c.author.clone())
        .unwrap_or_else(|| "Anonymous".to_owned())
}

fn label(action: &str) -> &'static str {
    match action {
        "approve" => "Approve",
        "spam" => "Spam",
        _ => "Act",
    }
}

/// The Standard Webhooks body: `type`, `timestamp` (RFC 3339) and `data`.
pub fn standard(m: &Message) -> Value {
    let mut data = json!({
        "site": m.site,
        "thread": m.thread,
        "comment": m.comment,
    });
    if let (Value::Object(d), Value::Object(extra)) = (&mut data, &m.detail) {
        for (k, v) in extra {
            d.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if !m.actions.is_empty() {
        data["actions"] = json!(m.actions);
    }
    json!({
        "type": m.kind,
        "timestamp": crate::view::rfc3339(m.at),
        "data": data,
    })
}

/// Slack's `mrkdwn` treats these three as markup.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming webhook's message: `text` (the notification) and Block Kit `blocks`:
/// the title (linked to the post), the author and excerpt quoted, and buttons that open
/// their links.
pub fn slack(m: &Message) -> Value {
    let title = title(m);
    let mut head = format!("*{}*", slack_escape(&title));
    if let Some(link) = m.comment.as_ref().and_then(|c| c.link.as_deref()) {
        head = format!("*<{}|{}>*", link, slack_escape(&title));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": head},
    })];
    if let Some(c) = &m.comment {
        let quoted = if c.excerpt.is_empty() {
            String::new()
        } else {
            format!("\n>{}", slack_escape(&c.excerpt))
        };
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*{}*{quoted}", slack_escape(&author(m)))},
        }));
    }
    let mut buttons: Vec<Value> = m
        .actions
        .iter()
        .map(|a| {
            json!({
                "type": "button",
                "text": {"type": "plain_text", "text": label(a.action)},
                "url": a.url,
                "style": if a.action == "approve" { "primary" } else { "danger" },
            })
        })
        .collect();
    if let Some(c) = &m.comment {
        buttons.push(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in admin"},
            "url": c.admin_link,
        }));
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({ "text": title, "blocks": blocks })
}

/// `[text](url)` for Discord, with the brackets of the text escaped.
fn md_link(text: &str, url: &str) -> String {
    format!("[{}]({url})", text.replace('[', "\\[").replace(']', "\\]"))
}

/// A Discord webhook's message: one embed (title linked to the comment, author,
/// excerpt, the links as a field: Discord's own webhooks take no buttons). Mentions in
/// the text never ping anyone.
pub fn discord(m: &Message) -> Value {
    let mut embed = json!({
        "title": excerpt(&title(m), 256),
        "timestamp": crate::view::rfc3339(m.at),
        "footer": {"text": format!("Afterword · {}", m.site)},
    });
    if let Some(c) = &m.comment {
        embed["author"] = json!({"name": excerpt(&author(m), 256)});
        if !c.excerpt.is_empty() {
            embed["description"] = json!(c.excerpt);
        }
        if let Some(l) = &c.link {
            embed["url"] = json!(l);
        }
        let mut links: Vec<String> = m
            .actions
            .iter()
            .map(|a| md_link(label(a.action), &a.url))
            .collect();
        links.push(md_link("Open in admin", &c.admin_link));
        embed["fields"] = json!([{"name": "Moderate", "value": links.join(" · ")}]);
    }
    json!({
        "username": "Afterword",
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Matrix message through matrix-hookshot's generic webhooks: `text` (plain) and
/// `html` (what clients show), and the sender's display name.
pub fn matrix(m: &Message) -> Value {
    let title = title(m);
    let mut text = title.clone();
    let mut html = match m.comment.as_ref().and_then(|c| c.link.as_deref()) {
        Some(l) => format!(
            "<strong><a href=\"{}\">{}</a></strong>",
            html_escape(l),
            html_escape(&title)
        ),
        None => format!("<strong>{}</strong>", html_escape(&title)),
    };
    if let Some(c) = &m.comment {
        let who = author(m);
        text.push_str(&format!("\n{who}: {}", c.excerpt));
        html.push_str(&format!(
            "<br><em>{}</em><blockquote>{}</blockquote>",
            html_escape(&who),
            html_escape(&c.excerpt)
        ));
        let mut links: Vec<(String, String)> = m
            .actions
            .iter()
            .map(|a| (label(a.action).to_owned(), a.url.clone()))
            .collect();
        links.push(("Open in admin".to_owned(), c.admin_link.clone()));
        for (l, u) in &links {
            text.push_str(&format!("\n{l}: {u}"));
        }
        let anchors: Vec<String> = links
            .iter()
            .map(|(l, u)| format!("<a href=\"{}\">{}</a>", html_escape(u), html_escape(l)))
            .collect();
        html.push_str(&anchors.join(" · "));
    }
    json!({ "text": text, "html": html, "username": "Afterword" })
}

/// Where an ntfy message is posted and its topic: JSON messages go to the server's root
/// with the topic inside (`https://ntfy.sh/mytopic` → `https://ntfy.sh/`, `mytopic`).
pub fn ntfy_target(endpoint: &str) -> (String, String) {
    let Ok(mut url) = url::Url::parse(endpoint) else {
        return (endpoint.to_owned(), String::new());
    };
    let path = url.path().trim_end_matches('/').to_owned();
    let (root, topic) = path.rsplit_once('/').unwrap_or(("", &path));
    let topic = topic.to_owned();
    url.set_path(&format!("{root}/"));
    url.set_query(None);
    (url.to_string(), topic)
}

/// An ntfy message (JSON publishing): title, the author and excerpt, a click target, and
/// view actions (ntfy's buttons) for the links.
pub fn ntfy(m: &Message, topic: &str) -> Value {
    let mut body = json!({
        "topic": topic,
        "title": title(m),
        "tags": ["speech_balloon"],
    });
    match &m.comment {
        Some(c) => {
            body["message"] = json!(format!("{}: {}", author(m), c.excerpt));
            body["click"] = json!(c.link.clone().unwrap_or_else(|| c.admin_link.clone()));
            let mut actions: Vec<Value> = m
                .actions
                .iter()
                .map(|a| json!({"action": "view", "label": label(a.action), "url": a.url}))
                .collect();
            actions.push(json!({"action": "view", "label": "Open in admin", "url": c.admin_link}));
            // ntfy shows at most three.
            actions.truncate(3);
            body["actions"] = json!(actions);
        }
        None => body["message"] = json!(title(m)),
    }
    body
}

/// The body for `format`, as sent.
pub fn render(format: WebhookFormat, endpoint: &str, m: &Message) -> String {
    let v = match format {
        WebhookFormat::Standard => standard(m),
        WebhookFormat::Slack => slack(m),
        WebhookFormat::Discord => discord(m),
        WebhookFormat::Matrix => matrix(m),
        WebhookFormat::Ntfy => ntfy(m, &ntfy_target(endpoint).1),
    };
    v.to_string()
}

/// Where a delivery to `endpoint` is posted.
pub fn target(format: &str, endpoint: &str) -> String {
    if format == WebhookFormat::Ntfy.as_str() {
        ntfy_target(endpoint).0
    } else {
        endpoint.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Message {
        Message {
            kind: "comment.created".into(),
            at: 1_700_000_000_000_000,
            site: "blog".into(),
            thread: Some(ThreadInfo {
                id: 3,
                slug: "/p".into(),
                title: Some("A <post>".into()),
                url: Some("https://blog.example/p".into()),
            }),
            comment: Some(CommentInfo {
                id: 9,
                parent_id: None,
                status: "pending".into(),
                author: Some("Ann & co".into()),
                excerpt: "Hello <b>world</b> @everyone".into(),
                link: Some("https://blog.example/p#afterword-comment-9".into()),
                admin_link: "https://aw.example/admin#comment-9".into(),
                created_at: "2023-11-14T22:13:20Z".into(),
            }),
            detail: json!({"status": "pending"}),
            actions: vec![
                ActionLink {
                    action: "approve",
                    url: "https://aw.example/admin/mail/action?t=a".into(),
                },
                ActionLink {
                    action: "spam",
                    url: "https://aw.example/admin/mail/action?t=s".into(),
                },
            ],
        }
    }

    #[test]
    fn excerpts_are_one_line_and_cut() {
        assert_eq!(excerpt("a\n\n b  c", 10), "a b c");
        assert_eq!(excerpt("abcdefghijk", 5), "abcd…");
    }

    #[test]
    fn standard_has_type_timestamp_data() {
        let v = standard(&held());
        assert_eq!(v["type"], "comment.created");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["data"]["comment"]["id"], 9);
        assert_eq!(v["data"]["status"], "pending");
        assert_eq!(v["data"]["actions"][0]["action"], "approve");
        assert!(v["data"]["comment"].get("email").is_none());
    }

    #[test]
    fn slack_escapes_and_has_buttons() {
        let v = slack(&held());
        let s = v.to_string();
        assert!(s.contains("Ann &amp; co"));
        assert!(s.contains("&lt;b&gt;world"));
        let buttons = &v["blocks"][2]["elements"];
        assert_eq!(
            buttons[0]["url"],
            "https://aw.example/admin/mail/action?t=a"
        );
        assert_eq!(buttons[2]["text"]["text"], "Open in admin");
    }

    #[test]
    fn discord_never_pings() {
        let v = discord(&held());
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
        assert_eq!(v["embeds"][0]["author"]["name"], "Ann & co");
        assert!(v["embeds"][0]["fields"][0]["value"]
            .as_str()
            .unwrap()
            .contains("[Approve](https://aw.example/admin/mail/action?t=a)"));
    }

    #[test]
    fn matrix_html_is_escaped() {
        let v = matrix(&held());
        let html = v["html"].as_str().unwrap();
        assert!(html.contains("&lt;b&gt;world&lt;/b&gt;"));
        assert!(!html.contains("<b>world"));
    }

    #[test]
    fn ntfy_posts_to_the_root_with_the_topic() {
        assert_eq!(
            ntfy_target("https://ntfy.sh/my-topic"),
            ("https://ntfy.sh/".to_owned(), "my-topic".to_owned())
        );
        assert_eq!(
            ntfy_target("http://127.0.0.1:9/sub/path/t1"),
            ("http://127.0.0.1:9/sub/path/".to_owned(), "t1".to_owned())
        );
        let v = ntfy(&held(), "t");
        assert_eq!(v["topic"], "t");
        assert_eq!(v["actions"].as_array().unwrap().len(), 3);
    }
}
