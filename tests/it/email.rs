//! Email against a real SMTP server (mailin-embedded on a free port, in this process): the
//! moderator mail, its headers and parts; the durable outbox through SMTP outages, 4xx and
//! 5xx answers, restarts and two instances; the action links end to end.

use crate::common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Backend, TestApp};
use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Accept,
    /// `451` at MAIL FROM.
    Temporary,
    /// `550` at RCPT TO.
    Permanent,
    /// Accepts, but takes this long over each of MAIL, RCPT, DATA and the end of data.
    Slow(Duration),
}

#[derive(Default)]
struct Inbox {
    mode: Option<Mode>,
    received: Vec<Received>,
}

#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) to: Vec<String>,
    pub(crate) data: String,
}

/// A real SMTP server; the port is reserved first so the server can be "down" and then
/// start on it.
#[derive(Clone)]
pub(crate) struct Smtp {
    pub(crate) port: u16,
    inbox: Arc<Mutex<Inbox>>,
}

#[derive(Clone)]
struct SmtpHandler {
    inbox: Arc<Mutex<Inbox>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl SmtpHandler {
    fn dawdle(&self) {
        let mode = self.inbox.lock().unwrap().mode;
        if let Some(Mode::Slow(d)) = mode {
            std::thread::sleep(d);
        }
    }
}

impl Handler for SmtpHandler {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        self.to.clear();
        self.data.clear();
        self.dawdle();
        match self.inbox.lock().unwrap().mode {
            Some(Mode::Temporary) => Response::custom(451, "4.3.0 Try again later".into()),
            _ => response::OK,
        }
    }
    fn rcpt(&mut self, to: &str) -> Response {
        if self.inbox.lock().unwrap().mode == Some(Mode::Permanent) {
            return Response::custom(550, "5.1.1 No such mailbox here".into());
        }
        self.dawdle();
        self.to.push(to.to_owned());
        response::OK
    }
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.dawdle();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        self.dawdle();
        let r = Received {
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.inbox.lock().unwrap().received.push(r);
        response::OK
    }
}

impl Smtp {
    /// A port with nothing listening yet.
    pub(crate) fn down() -> Smtp {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Smtp {
            port,
            inbox: Arc::default(),
        }
    }

    pub(crate) fn up(mode: Mode) -> Smtp {
        let s = Smtp::down();
        s.start(mode);
        s
    }

    pub(crate) fn start(&self, mode: Mode) {
        self.inbox.lock().unwrap().mode = Some(mode);
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the SMTP port");
        let mut server = Server::new(SmtpHandler {
            inbox: Arc::clone(&self.inbox),
            to: Vec::new(),
            data: Vec::new(),
        });
        server.with_name("smtp.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        self.inbox.lock().unwrap().mode = Some(mode);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().received.clone()
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        wait(&format!("{n} messages at the SMTP server"), || {
            self.received().len() >= n
        })
        .await;
        self.received()
    }
}

async fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const MODERATOR: &str = "mod@example.com";

pub(crate) fn config(smtp: Option<&Smtp>) -> String {
    let mut c = format!(
        r#"
public_url = "https://comments.example"

[[site]]
id = "held"
origins = ["*"]
moderation = "all"
moderators = ["{MODERATOR}"]

[[site]]
id = "every"
origins = ["*"]
notify_moderators = "all"
moderators = ["{MODERATOR}", "second@example.com"]

[[site]]
id = "quiet"
origins = ["*"]
moderators = ["{MODERATOR}"]

[[site]]
id = "open"
origins = ["https://blog.example"]

[[site]]
id = "mod"
origins = ["*"]
moderation = "all"

[[site]]
id = "de"
origins = ["*"]
moderation = "all"
moderators = ["{MODERATOR}"]
language = "de"

[[site]]
id = "zh"
origins = ["*"]
notify_moderators = "all"
moderators = ["{MODERATOR}"]
language = "zh"

[limits]
comments_per_ip_per_minute = 0
"#
    );
    if let Some(s) = smtp {
        c.push_str(&format!(
            "\n[smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"Afterword <comments@example.com>\"\n\
             retry_after = \"200ms\"\ntimeout = \"5s\"\nreply_delay = \"2s\"\n",
            s.port
        ));
    }
    c
}

async fn spawn(backend: Backend, smtp: Option<&Smtp>) -> Option<TestApp> {
    common::spawn_with(backend, &config(smtp)).await
}

/// A header's value (unfolded), from the message's header section.
pub(crate) fn header(msg: &str, name: &str) -> Option<String> {
    let head = msg.split("\r\n\r\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    let mut found = None;
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(v) = value.as_mut() {
                v.push_str(line);
            }
            continue;
        }
        if let Some(v) = value.take() {
            found.get_or_insert(v);
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_owned());
            }
        }
    }
    found.or(value)
}

/// The header lines' names, in order.
fn header_names(msg: &str) -> Vec<String> {
    let head = msg.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect()
}

/// The decoded body of the part with this content type.
pub(crate) fn part(msg: &str, content_type: &str) -> String {
    let at = msg
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {msg}"));
    let rest = &msg[at..];
    let body_start = rest.find("\r\n\r\n").unwrap() + 4;
    let body = &rest[body_start..];
    let body = &body[..body.find("\r\n--").unwrap_or(body.len())];
    let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("base64 part"),
    )
    .unwrap()
}

/// The approve, spam and delete links of a mail's text part, as paths of `app`.
fn action_links(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("https://comments.example/admin/mail/action?t="))
        .map(|w| w.trim_start_matches("https://comments.example").to_owned())
        .collect()
}

/// The number `sql` selects as `n`; none (a `MIN` or `MAX` of no rows) reads as 0: mail
/// about a comment is queued a moment after it, from its event (see `crate::events`).
fn outbox_number(app: &TestApp, sql: &str) -> i64 {
    app.db.number(&format!("SELECT COALESCE(({sql}), 0) AS n"))
}

async fn moderator_mail_has_the_comment_and_safe_headers(app: TestApp, smtp: Smtp) {
    let body = "Hello <script>alert(1)</script> & welcome\n\n.\nA line with a dot above.";
    let (c, _) = app
        .comment(
            "held",
            "/2026/11/post/",
            json!({"body": body, "author": "Eve <b>\"E\"</b>", "email": "eve@example.org",
                   "url": "https://blog.example/2026/11/post/"}),
        )
        .await;
    let id = c["id"].as_i64().unwrap();
    let got = smtp.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.to, vec![MODERATOR.to_owned()]);
    let d = &m.data;
    assert_eq!(header(d, "To").as_deref(), Some(MODERATOR));
    assert_eq!(
        header(d, "From").as_deref(),
        Some("Afterword <comments@example.com>")
    );
    let subject = header(d, "Subject").unwrap();
    assert!(subject.contains("Pending comment by"), "{subject}");
    assert!(subject.contains("/2026/11/post/"), "{subject}");
    let mid = header(d, "Message-ID").unwrap();
    assert!(
        mid.starts_with('<') && mid.ends_with("@example.com>"),
        "{mid}"
    );
    assert!(header(d, "Date").is_some());
    assert_eq!(
        header(d, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let thread_ref = header(d, "In-Reply-To").unwrap();
    assert!(thread_ref.starts_with("<thread-"), "{thread_ref}");
    assert_eq!(
        header(d, "References").as_deref(),
        Some(thread_ref.as_str())
    );
    assert!(header(d, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));

    // Lines end in CRLF in mail.
    let text = part(d, "text/plain").replace("\r\n", "\n");
    assert!(text.contains(body), "{text}");
    assert!(
        text.contains("Eve <b>\"E\"</b> <eve@example.org>"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "https://blog.example/2026/11/post/#afterword-comment-{id}"
        )),
        "{text}"
    );
    assert_eq!(action_links(&text).len(), 3, "{text}");
    let html = part(d, "text/html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; welcome"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");

    // The outbox says what happened (marked once the server's 250 is written down, which
    // may come a moment after the message arrived).
    wait("the message marked sent in the outbox", || {
        outbox_number(&app, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND attempts = 1 AND last_answer LIKE '250%' AND sent_at IS NOT NULL") == 1
    })
    .await;

    // The next comment on the post threads with the first.
    app.comment("held", "/2026/11/post/", json!({"body": "second"}))
        .await;
    let got = smtp.wait_for(2).await;
    assert_eq!(
        header(&got[1].data, "In-Reply-To"),
        Some(thread_ref.clone())
    );
    assert_ne!(header(&got[1].data, "Message-ID"), Some(mid));
}

async fn no_header_can_be_injected(app: TestApp, smtp: Smtp) {
    // Names and slugs with line breaks are refused at the edge…
    let r = app
        .post_comment(
            "held",
            "/inject/",
            json!({"body": "x", "author": "Eve\r\nBcc: evil@example.org"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post_comment("held", "/a\r\nBcc: evil@example.org", json!({"body": "x"}))
        .await;
    assert!(r.status().is_client_error());
    // …and whatever reaches a mail is one line, encoded by lettre.
    app.comment(
        "held",
        "/inject/",
        json!({"body": "Subject: no\r\nBcc: evil@example.org\r\n\r\nbody", "author": "Eve Bcc: evil@example.org"}),
    )
    .await;
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec![MODERATOR.to_owned()]);
    let names = header_names(&got[0].data);
    assert!(!names.contains(&"bcc".to_owned()), "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == "subject").count(), 1);
}

async fn only_the_chosen_comments_are_mailed(app: TestApp, smtp: Smtp) {
    // "quiet" mails pending comments only; this one is published at once.
    app.comment("quiet", "/q/", json!({"body": "published"}))
        .await;
    // "every" mails every comment, to each moderator.
    app.comment("every", "/e/", json!({"body": "published too"}))
        .await;
    let got = smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_now = smtp.received();
    assert_eq!(got_now.len(), 2, "{got:?}");
    let mut to: Vec<String> = got_now.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, vec!["mod@example.com", "second@example.com"]);
    assert!(header(&got_now[0].data, "Subject")
        .unwrap()
        .starts_with("New comment by"));
    assert_eq!(app.db.count("outbox"), 2);
}

async fn a_failed_comment_queues_nothing(app: TestApp, _smtp: Smtp) {
    // The write panics after its statements (the outbox insert included) ran.
    app.faults
        .inject("/fails", afterword::db::faults::Fault::JobPanics);
    let r = app
        .post_comment("held", "/fails/", json!({"body": "lost"}))
        .await;
    assert!(r.status().is_server_error());
    // Refused before it is stored: a reply to a comment that does not exist.
    let r = app
        .post_comment("held", "/ok/", json!({"body": "x", "parent_id": 999999}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.db.count("outbox"), 0);
    assert_eq!(app.db.count("comments"), 0);
    // Nor later: no event was recorded to make mail from.
    assert_eq!(app.db.count("events"), 0);
}

async fn smtp_down_then_back_delivers_once(app: TestApp, smtp: Smtp) {
    app.comment("held", "/down/", json!({"body": "while down"}))
        .await;
    let attempts = || outbox_number(&app, "SELECT MAX(attempts) AS n FROM outbox");
    wait("two failed attempts", || attempts() >= 2).await;
    assert_eq!(
        outbox_number(&app, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'queued' AND last_answer IS NOT NULL AND next_attempt_at > created_at"),
        1
    );
    // Up, but answering 451: still queued, the answer recorded.
    smtp.start(Mode::Temporary);
    let before = attempts();
    wait("a 451 answer", || {
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE last_answer LIKE '%451%'",
        ) == 1
    })
    .await;
    assert!(attempts() > before);
    assert!(smtp.received().is_empty());
    smtp.set_mode(Mode::Accept);
    smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'"
        ),
        1
    );
}

/// A comment on `slug` whose moderator mail the server refuses for good.
async fn refused_mail(app: &TestApp, smtp: &Smtp, slug: &str) {
    smtp.set_mode(Mode::Permanent);
    app.comment("held", slug, json!({"body": "nobody home"}))
        .await;
    wait("the message marked failed", || {
        outbox_number(
            app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'",
        ) == 1
    })
    .await;
}

async fn a_permanent_answer_stops_the_retries(app: TestApp, smtp: Smtp) {
    refused_mail(&app, &smtp, "/perm/").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        outbox_number(&app, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed' AND attempts = 1 AND last_answer LIKE '%550%No such mailbox%'"),
        1
    );
    assert!(smtp.received().is_empty());
}

async fn action_links_confirm_then_act_once(app: TestApp, smtp: Smtp) {
    let (c, _) = app
        .comment(
            "held",
            "/act/",
            json!({"body": "approve me", "author": "Ann"}),
        )
        .await;
    let id = c["id"].as_i64().unwrap();
    let got = smtp.wait_for(1).await;
    let links = action_links(&part(&got[0].data, "text/plain"));
    let approve = links.iter().find(|l| l.contains(".approve.")).unwrap();

    // GET only asks.
    let r = app.get(approve).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-security-policy").is_some());
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("Approve comment #{id}?")), "{page}");
    assert!(page.contains("approve me"), "{page}");
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(app.thread("held", "/act/", "").await["comments"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(app.db.count("audit_log"), 0);

    // POST acts, as the admin page would.
    let token = approve.split("t=").nth(1).unwrap().to_owned();
    let post = || {
        app.client
            .post(app.url("/admin/mail/action"))
            .form(&[("t", token.as_str())])
            .send()
    };
    let r = post().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("approved"));
    let thread: Value = app.thread("held", "/act/", "").await;
    assert_eq!(common::ids(&thread), vec![id]);
    assert_eq!(thread["thread"]["comment_count"], 1);
    assert_eq!(
        app.db.number(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE moderator = 'email:{MODERATOR}' AND action = 'approve' AND comment_id = {id}")),
        1
    );

    // Once only.
    let r = post().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("works once"));
    assert_eq!(app.get(approve).await.status(), 409);

    // Tampered: another comment id under the same signature.
    let tampered = token.replacen(&format!("{id}."), &format!("{}.", id + 1), 1);
    let r = app
        .client
        .post(app.url("/admin/mail/action"))
        .form(&[("t", tampered.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not valid"));

    // Expired: signed with the server's key, a week and a day ago.
    let hex = secret(&app);
    let key = afterword::security::ServerKey::from_hex(&hex).unwrap();
    let old = afterword::email::links::ActionToken::new(
        afterword::domain::CommentId(id),
        "spam",
        MODERATOR,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 8 * 24 * 3600,
    )
    .encode(&key);
    let r = app.get(&format!("/admin/mail/action?t={old}")).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("expired"));
    let r = app
        .client
        .post(app.url("/admin/mail/action"))
        .form(&[("t", old.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(
        common::ids(&app.thread("held", "/act/", "").await),
        vec![id]
    );
}

/// A link mailed to a moderator who has since been taken off the site's `moderators`
/// does nothing (its page says why); the other moderator's link still works.
async fn links_act_only_for_current_moderators(app: TestApp, smtp: Smtp) {
    let (c, _) = app
        .comment(
            "every",
            "/gone/",
            json!({"body": "who decides", "author": "Ann"}),
        )
        .await;
    let id = c["id"].as_i64().unwrap();
    let got = smtp.wait_for(2).await;
    let approve_of = |to: &str| {
        let m = got.iter().find(|m| m.to == vec![to.to_owned()]).unwrap();
        let links = action_links(&part(&m.data, "text/plain"));
        links.into_iter().find(|l| l.contains(".spam.")).unwrap()
    };
    let (removed, kept) = (approve_of("second@example.com"), approve_of(MODERATOR));
    // The operator takes "second" off the list and restarts: a new instance, same data.
    let now = common::spawn_on(
        std::sync::Arc::clone(&app.db),
        &config(Some(&smtp)).replace(
            &format!(r#"moderators = ["{MODERATOR}", "second@example.com"]"#),
            &format!(r#"moderators = ["{MODERATOR}"]"#),
        ),
    )
    .await;
    let post = |link: &str| {
        let token = link.split("t=").nth(1).unwrap().to_owned();
        now.client
            .post(now.url("/admin/mail/action"))
            .form(&[("t", token)])
            .send()
    };
    let r = now.get(&removed).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("no longer"));
    let r = post(&removed).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {id} AND status = 'approved'"
        )),
        1,
        "nothing changed"
    );
    assert_eq!(app.db.count("audit_log"), 0);
    assert_eq!(app.db.count("used_tokens"), 0);
    let r = post(&kept).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {id} AND status = 'spam'"
        )),
        1
    );
}

fn secret(app: &TestApp) -> String {
    // The key is 32 bytes of hex; read it as text through a tiny query per backend.
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let sql = "SELECT value FROM server_secrets WHERE name = 'server_key'";
    match &*app.db {
        common::TestDb::Sqlite { path, .. } => {
            let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            diesel::sql_query(sql)
                .get_result::<V>(&mut c)
                .unwrap()
                .value
        }
        common::TestDb::Postgres { url, .. } => {
            let mut c = diesel::PgConnection::establish(url).unwrap();
            diesel::sql_query(sql)
                .get_result::<V>(&mut c)
                .unwrap()
                .value
        }
    }
}

macro_rules! with_smtp {
    ($mode:expr, $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let smtp = $mode;
                    let app = crate::email::spawn(crate::email::Backend::Sqlite, Some(&smtp)).await.unwrap();
                    crate::email::$name(app, smtp).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let smtp = $mode;
                    let Some(app) = crate::email::spawn(crate::email::Backend::Postgres, Some(&smtp)).await else {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    crate::email::$name(app, smtp).await;
                }
            )*
        }
    };
}

mod up {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Accept),
        moderator_mail_has_the_comment_and_safe_headers,
        no_header_can_be_injected,
        only_the_chosen_comments_are_mailed,
        a_failed_comment_queues_nothing,
        a_permanent_answer_stops_the_retries,
        action_links_confirm_then_act_once,
        links_act_only_for_current_moderators,
    );
}

mod down {
    with_smtp!(
        crate::email::Smtp::down(),
        smtp_down_then_back_delivers_once,
        mail_waiting_long_goes_out_soon_after_smtp_is_back,
    );
}

mod once {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Accept),
        accepted_mail_is_marked_sent_once_the_database_takes_it,
    );
}

mod slow {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Slow(std::time::Duration::from_millis(
            1200
        ))),
        a_send_longer_than_the_lease_keeps_its_claim,
    );
}

/// Makes the database refuse to mark any message sent (a trigger), as a database that
/// fails just after the SMTP server said 250 would.
fn refuse_marking_sent(app: &TestApp) {
    match app.backend() {
        Backend::Sqlite => app.db.exec(
            "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox WHEN NEW.status = 'sent' \
             BEGIN SELECT RAISE(ABORT, 'test: the database refuses'); END",
        ),
        Backend::Postgres => {
            app.db.exec(
                "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'test: the database refuses'; END $$",
            );
            app.db.exec(
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox FOR EACH ROW \
                 WHEN (NEW.status = 'sent') EXECUTE FUNCTION refuse_sent()",
            );
        }
    }
}

fn allow_marking_sent(app: &TestApp) {
    match app.backend() {
        Backend::Sqlite => app.db.exec("DROP TRIGGER refuse_sent"),
        Backend::Postgres => app.db.exec("DROP TRIGGER refuse_sent ON outbox"),
    }
}

/// The SMTP server accepts a message but the database will not record it: the worker
/// keeps its claim and retries the record, never the send; once the database takes it,
/// the message is sent, once.
async fn accepted_mail_is_marked_sent_once_the_database_takes_it(app: TestApp, smtp: Smtp) {
    refuse_marking_sent(&app);
    app.comment("held", "/once/", json!({"body": "mail me once"}))
        .await;
    smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.received().len(), 1);
    let now = afterword::view::now_micros();
    assert_eq!(
        outbox_number(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM outbox WHERE status = 'queued' \
                 AND claimed_by IS NOT NULL AND lease_until > {now}"
            )
        ),
        1,
        "the message stays claimed while its record is retried"
    );
    allow_marking_sent(&app);
    wait("the message marked sent", || {
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND attempts = 1 \
             AND claimed_by IS NULL AND last_answer LIKE '250%'",
        ) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1);
}

/// A send that takes longer than a claim lasts (each SMTP step within the timeout) keeps
/// its claim all along: a second instance never sends the message too.
async fn a_send_longer_than_the_lease_keeps_its_claim(mut app: TestApp, smtp: Smtp) {
    // A 2 s timeout makes a 4 s lease; the server takes 4.8 s.
    let config = config(Some(&smtp)).replace("timeout = \"5s\"", "timeout = \"2s\"");
    let db = Arc::clone(&app.db);
    let server = app.server.take().unwrap();
    drop(app);
    let _ = server.await;
    let first = common::spawn_on(Arc::clone(&db), &config).await;
    let second = common::spawn_on(db, &config).await;
    first
        .comment("held", "/slow/", json!({"body": "a slow one"}))
        .await;
    let start = Instant::now();
    while smtp.received().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "never sent");
        let now = afterword::view::now_micros();
        assert_eq!(
            outbox_number(
                &first,
                &format!(
                    "SELECT COUNT(*) AS n FROM outbox WHERE claimed_by IS NOT NULL \
                     AND lease_until <= {now}"
                )
            ),
            0,
            "a claim ran out while its message was being sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        start.elapsed() > Duration::from_secs(4),
        "slower than the lease"
    );
    wait("the message marked sent", || {
        outbox_number(
            &second,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'",
        ) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(smtp.received().len(), 1);
}

/// Mail that waits for a retry an hour away goes out within seconds once the SMTP server
/// is back: the workers try one early now and then, and when one passes, the rest is
/// sent, each message once though two instances wake it.
async fn mail_waiting_long_goes_out_soon_after_smtp_is_back(app: TestApp, smtp: Smtp) {
    let _second = common::spawn_on(Arc::clone(&app.db), &config(Some(&smtp))).await;
    for body in ["one", "two", "three", "four"] {
        app.comment("held", "/wait/", json!({ "body": body })).await;
    }
    wait("an attempt on each", || {
        outbox_number(&app, "SELECT COUNT(*) AS n FROM outbox WHERE attempts >= 1") == 4
    })
    .await;
    // As after many failed attempts: the next is an hour away.
    let hour_on = afterword::view::now_micros() + 3_600_000_000;
    app.db.exec(&format!(
        "UPDATE outbox SET attempts = 12, next_attempt_at = {hour_on}"
    ));
    smtp.start(Mode::Accept);
    let start = Instant::now();
    smtp.wait_for(4).await;
    eprintln!(
        "delivered {:?} after the SMTP server came back",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    wait("all marked sent", || {
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'",
        ) == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(message_ids(&smtp).len(), 4);
}

/// The Message-IDs the SMTP server received, each once (it panics on a duplicate).
pub(crate) fn message_ids(smtp: &Smtp) -> Vec<String> {
    let mut ids: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| header(&m.data, "Message-ID").unwrap())
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a mail arrived twice");
    ids
}

async fn without_smtp_nothing_is_queued(backend: Backend) {
    let Some(app) = spawn(backend, None).await else {
        return;
    };
    app.comment("held", "/off/", json!({"body": "no mail"}))
        .await;
    let page = app.thread("held", "/off/", "").await;
    assert_eq!(page["site"]["notifications"], false);
    // Its event is handed over, and makes no mail.
    wait("the comment's event handed over", || {
        app.db
            .number("SELECT COUNT(*) AS n FROM events WHERE dispatched_at IS NULL")
            == 0
    })
    .await;
    assert_eq!(app.db.count("events"), 1);
    assert_eq!(app.db.count("outbox"), 0);
    let r = app
        .client
        .post(app.url("/api/v1/subscriptions?site=open&slug=/off/"))
        .json(&json!({"email": ANN}))
        .send()
        .await
        .unwrap();
    common::expect_error(r, 409, "notifications_off").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_nothing_is_queued_sqlite() {
    without_smtp_nothing_is_queued(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_nothing_is_queued_postgres() {
    without_smtp_nothing_is_queued(Backend::Postgres).await;
}

/// Queued mail survives a restart, and a dead instance's expired claim is taken over.
async fn a_restart_loses_nothing(backend: Backend) {
    let smtp = Smtp::down();
    let Some(mut first) = spawn(backend, Some(&smtp)).await else {
        return;
    };
    first
        .comment("held", "/restart/", json!({"body": "one"}))
        .await;
    first
        .comment("held", "/restart/", json!({"body": "two"}))
        .await;
    wait("an attempt on each", || {
        outbox_number(
            &first,
            "SELECT COUNT(*) AS n FROM outbox WHERE attempts >= 1",
        ) == 2
    })
    .await;
    let db = Arc::clone(&first.db);
    let server = first.server.take().unwrap();
    drop(first);
    let _ = server.await;
    // As if an instance had died holding the second one: its lease has run out.
    db.exec(
        "UPDATE outbox SET claimed_by = 'crashed', lease_until = 1 WHERE id = (SELECT MAX(id) FROM outbox)",
    );
    smtp.start(Mode::Accept);
    let second = common::spawn_on(Arc::clone(&db), &config(Some(&smtp))).await;
    smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(
        outbox_number(
            &second,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND claimed_by IS NULL"
        ),
        2
    );
}

/// At start (then hourly) the worker prunes sent mail older than a week and the nonces of
/// action links that have expired; queued, failed and recent mail stays.
async fn old_sent_mail_and_used_links_are_pruned(backend: Backend) {
    let smtp = Smtp::up(Mode::Accept);
    let Some(mut first) = spawn(backend, Some(&smtp)).await else {
        return;
    };
    let db = Arc::clone(&first.db);
    let server = first.server.take().unwrap();
    drop(first);
    let _ = server.await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let day = 86_400_000_000i64;
    for (status, sent_at) in [
        ("sent", Some(now - 8 * day)),
        ("sent", Some(now - day)),
        ("failed", None),
    ] {
        db.exec(&format!(
            "INSERT INTO outbox (created_at, kind, sender, recipient, message, status, attempts, \
             next_attempt_at, sent_at) VALUES ({}, 'test', 'a@example.com', 'b@example.com', 'm', \
             '{status}', 1, {}, {})",
            now - 9 * day,
            now - 9 * day,
            sent_at.map_or("NULL".to_owned(), |t| t.to_string())
        ));
    }
    db.exec(&format!(
        "INSERT INTO used_tokens (nonce, used_at) VALUES ('old', {}), ('new', {})",
        now - 9 * day,
        now - day
    ));
    let second = common::spawn_on(Arc::clone(&db), &config(Some(&smtp))).await;
    wait("the old rows pruned", || {
        second.db.count("used_tokens") == 1
    })
    .await;
    assert_eq!(
        second
            .db
            .number("SELECT COUNT(*) AS n FROM used_tokens WHERE nonce = 'new'"),
        1
    );
    assert_eq!(second.db.count("outbox"), 2);
    assert_eq!(
        second
            .db
            .number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sent_mail_and_used_links_are_pruned_sqlite() {
    old_sent_mail_and_used_links_are_pruned(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sent_mail_and_used_links_are_pruned_postgres() {
    old_sent_mail_and_used_links_are_pruned(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_sqlite() {
    a_restart_loses_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_postgres() {
    a_restart_loses_nothing(Backend::Postgres).await;
}

/// Two instances on one PostgreSQL, both sending: every message arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_message_once_postgres() {
    let smtp = Smtp::up(Mode::Accept);
    let Some(a) = spawn(Backend::Postgres, Some(&smtp)).await else {
        return;
    };
    let b = common::spawn_on(Arc::clone(&a.db), &config(Some(&smtp))).await;
    const N: usize = 30;
    for i in 0..N {
        let app = if i % 2 == 0 { &a } else { &b };
        // "every" mails two moderators per comment.
        app.comment(
            "every",
            &format!("/many/{i}/"),
            json!({"body": format!("comment {i}")}),
        )
        .await;
    }
    smtp.wait_for(2 * N).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let got = smtp.received();
    assert_eq!(got.len(), 2 * N);
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| header(&m.data, "Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2 * N);
    assert_eq!(
        a.db.number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND attempts = 1"),
        2 * N as i64
    );
    assert_eq!(
        a.db.number("SELECT COUNT(*) AS n FROM outbox WHERE claimed_by IS NOT NULL"),
        0
    );
}

/// Two instances on one PostgreSQL, replies posted through both: every reply reaches its
/// subscriber in exactly one mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_mail_each_reply_once_postgres() {
    let smtp = Smtp::up(Mode::Accept);
    let Some(a) = spawn(Backend::Postgres, Some(&smtp)).await else {
        return;
    };
    let b = common::spawn_on(Arc::clone(&a.db), &config(Some(&smtp))).await;
    const PEOPLE: usize = 4;
    let mut parents = Vec::new();
    for i in 0..PEOPLE {
        let c = a
            .comment(
                "open",
                &format!("/two/{i}/"),
                json!({"body": "q", "email": format!("p{i}@example.org"), "notify_replies": true}),
            )
            .await
            .0;
        parents.push(c["id"].as_i64().unwrap());
    }
    smtp.wait_for(PEOPLE).await;
    a.db.exec("UPDATE subscribers SET confirmed_at = 1");
    const ROUNDS: usize = 6;
    for round in 0..ROUNDS {
        for (i, parent) in parents.iter().enumerate() {
            let app = if (round + i) % 2 == 0 { &a } else { &b };
            app.comment(
                "open",
                &format!("/two/{i}/"),
                json!({"body": format!("reply-{i}-{round}-end"), "parent_id": parent}),
            )
            .await;
        }
        // Some rounds after a digest went out, some before.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    wait("every reply mailed", || {
        let all: String = smtp
            .received()
            .iter()
            .map(|m| part(&m.data, "text/plain"))
            .collect();
        (0..PEOPLE).all(|i| (0..ROUNDS).all(|r| all.contains(&format!("reply-{i}-{r}-end"))))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let got = smtp.received();
    let all: String = got.iter().map(|m| part(&m.data, "text/plain")).collect();
    for i in 0..PEOPLE {
        for r in 0..ROUNDS {
            assert_eq!(
                all.matches(&format!("reply-{i}-{r}-end")).count(),
                1,
                "{i} {r}"
            );
        }
        let to_i: Vec<&Received> = got
            .iter()
            .filter(|m| m.to == vec![format!("p{i}@example.org")])
            .collect();
        // The confirmation, then fewer digests than replies.
        assert!(to_i.len() >= 2 && to_i.len() <= ROUNDS, "{}", to_i.len());
    }
    assert_eq!(a.db.count("reply_digests"), 0);
}

/// The schema as lines to compare (for `down_is_exact`): SQLite's definitions of every
/// table, index and trigger.
pub(crate) const SQLITE_SCHEMA_LINES: &str =
    "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line FROM sqlite_master \
     WHERE name <> '__diesel_schema_migrations' ORDER BY name";

/// The same for PostgreSQL: every column, index and constraint.
pub(crate) const POSTGRES_SCHEMA_LINES: &str =
    "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || \
     ' ' || COALESCE(column_default, '') AS line FROM information_schema.columns \
     WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
     UNION ALL SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' \
     UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) AS line FROM pg_constraint \
     WHERE connamespace = 'public'::regnamespace ORDER BY line";

pub(crate) fn down_is_exact<C>(
    conn: &mut C,
    source: &impl Fn() -> diesel_migrations::EmbeddedMigrations,
    dump: &str,
    version: &str,
) where
    C: diesel::Connection + diesel_migrations::MigrationHarness<C::Backend>,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, C::Backend>,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Line>,
{
    use diesel::RunQueryDsl;
    let schema = |c: &mut C| -> Vec<String> {
        diesel::sql_query(dump)
            .load::<Line>(c)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect()
    };
    // Up to the one before it, whatever other migrations come between.
    let next_is_it = |c: &mut C| {
        c.pending_migrations(source())
            .unwrap()
            .first()
            .is_some_and(|m| m.name().version().to_string().ends_with(version))
    };
    while !next_is_it(conn) {
        conn.run_next_migration(source()).expect("migrate");
    }
    let before = schema(conn);
    let v = conn.run_next_migration(source()).unwrap().to_string();
    assert!(v.ends_with(version), "{v}");
    assert_ne!(schema(conn), before);
    conn.revert_last_migration(source()).unwrap();
    assert_eq!(schema(conn), before);
    conn.run_next_migration(source()).unwrap();
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// `down_is_exact` for each of `versions`, in order, on a fresh SQLite database.
pub(crate) fn sqlite_downs_are_exact(versions: &[&str]) {
    use diesel::Connection;
    let db = common::TestDb::new(Backend::Sqlite).unwrap();
    let common::TestDb::Sqlite { path, .. } = &db else {
        unreachable!()
    };
    let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    for version in versions {
        down_is_exact(
            &mut c,
            &|| afterword::db::SQLITE_MIGRATIONS,
            SQLITE_SCHEMA_LINES,
            version,
        );
    }
}

/// The same on a fresh PostgreSQL database (nothing without one).
pub(crate) fn postgres_downs_are_exact(versions: &[&str]) {
    use diesel::Connection;
    let Some(db) = common::TestDb::new(Backend::Postgres) else {
        return;
    };
    let mut c = diesel::PgConnection::establish(db.url()).unwrap();
    for version in versions {
        down_is_exact(
            &mut c,
            &|| afterword::db::POSTGRES_MIGRATIONS,
            POSTGRES_SCHEMA_LINES,
            version,
        );
    }
}

/// `down.sql` of the mail migrations (outbox, subscriptions) leaves the schema exactly as
/// it found it.
#[test]
fn outbox_migration_down_is_exact_sqlite() {
    sqlite_downs_are_exact(&["000006", "000007", "000013"]);
}

#[test]
fn outbox_migration_down_is_exact_postgres() {
    postgres_downs_are_exact(&["000006", "000007", "000013"]);
}

// ---- Reply notifications: opt-in, digests, unsubscribe -------------------------------

const ANN: &str = "ann@example.org";

/// Posts with an `Accept-Language`, as a browser would; returns the comment.
async fn comment_in(app: &TestApp, site: &str, slug: &str, lang: &str, body: Value) -> Value {
    post_in(app, site, slug, lang, body).await["comment"].clone()
}

/// Posts with an `Accept-Language`; returns the whole `201` answer.
async fn post_in(app: &TestApp, site: &str, slug: &str, lang: &str, body: Value) -> Value {
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/comments?site={site}&slug={}",
            common::enc(slug)
        )))
        .header("accept-language", lang)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    v
}

/// Links of this server found in a text part, as paths.
fn links_to(text: &str, path: &str) -> Vec<String> {
    let prefix = format!("https://comments.example{path}");
    text.split_whitespace()
        .filter(|w| w.starts_with(&prefix))
        .map(|w| w.trim_start_matches("https://comments.example").to_owned())
        .collect()
}

/// Mail to `to` received so far.
fn mail_to(smtp: &Smtp, to: &str) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
        .collect()
}

/// Waits until `n` mails reached `to`, then a little more to see no other arrives.
async fn settle(smtp: &Smtp, to: &str, n: usize) -> Vec<Received> {
    wait(&format!("{n} mails to {to}"), || {
        mail_to(smtp, to).len() >= n
    })
    .await;
    // Longer than reply_delay (2 s) and a worker round.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let got = mail_to(smtp, to);
    assert_eq!(got.len(), n, "{got:#?}");
    got
}

/// Ann comments on `slug` asking for replies and confirms through the mailed link.
async fn ann_subscribed(app: &TestApp, smtp: &Smtp, slug: &str) -> i64 {
    let c = comment_in(
        app,
        "open",
        slug,
        "en",
        json!({"body": "Ann's point", "author": "Ann", "email": ANN, "notify_replies": true}),
    )
    .await;
    let got = settle(smtp, ANN, 1).await;
    confirm_by_link(app, &part(&got[0].data, "text/plain")).await;
    c["id"].as_i64().unwrap()
}

/// Presses "stop mail about this thread" on the unsubscribe page at `path`.
async fn unsubscribe_thread(app: &TestApp, path: &str) {
    let r = app
        .client
        .post(app.url(path))
        .form(&[("scope", "thread")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// POSTs the confirmation link found in a mail's text, as its page's button does.
async fn confirm_by_link(app: &TestApp, text: &str) {
    let confirm = links_to(text, "/mail/confirm?t=");
    let token = confirm[0].split("t=").nth(1).unwrap().to_owned();
    let r = app
        .client
        .post(app.url("/mail/confirm"))
        .form(&[("t", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn opt_in_then_one_mail_per_reply(app: TestApp, smtp: Smtp) {
    // The embed shows the checkbox: email is on.
    let page = app.thread("open", "/r/", "").await;
    assert_eq!(page["site"]["notifications"], true);
    let first = comment_in(
        &app,
        "open",
        "/r/",
        "fr-FR,fr;q=0.9,en;q=0.5",
        json!({"body": "Premier", "author": "Ann", "email": "Ann@Example.org", "notify_replies": true}),
    )
    .await;
    let ann_id = first["id"].as_i64().unwrap();
    // A second comment before confirming: still one confirmation mail.
    comment_in(
        &app,
        "open",
        "/r/",
        "fr",
        json!({"body": "Second", "email": ANN, "notify_replies": true}),
    )
    .await;
    // Unconfirmed: a reply now mails nothing.
    app.comment(
        "open",
        "/r/",
        json!({"body": "too early", "author": "Bob", "parent_id": ann_id}),
    )
    .await;
    let got = settle(&smtp, ANN, 1).await;
    let d = &got[0].data;
    let subject = header(d, "Subject").unwrap();
    assert!(subject.contains("confirmer"), "{subject}");
    assert_eq!(header(d, "List-Unsubscribe"), None);
    assert_eq!(
        header(d, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let text = part(d, "text/plain");
    assert!(text.contains("/r/"), "{text}");
    let confirm = links_to(&text, "/mail/confirm?t=");
    assert_eq!(confirm.len(), 1, "{text}");
    let confirmed = || {
        app.db
            .number("SELECT COUNT(*) AS n FROM subscribers WHERE confirmed_at IS NOT NULL")
    };

    // GET shows a button and changes nothing.
    let r = app.get(&confirm[0]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-security-policy").is_some());
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/mail/confirm\""),
        "{html}"
    );
    assert!(html.contains(ANN), "{html}");
    assert_eq!(confirmed(), 0);
    // A changed token is refused.
    let token = confirm[0].split("t=").nth(1).unwrap().to_owned();
    let bad = format!("{}x", &token);
    let post = |t: String| {
        app.client
            .post(app.url("/mail/confirm"))
            .form(&[("t", t)])
            .send()
    };
    assert_eq!(post(bad).await.unwrap().status(), 400);
    assert_eq!(confirmed(), 0);
    // POST confirms (twice is fine).
    let r = post(token.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Confirmé"));
    assert_eq!(post(token).await.unwrap().status(), 200);
    assert_eq!(confirmed(), 1);

    // Now a reply is mailed, once, with the right headers.
    let reply = app
        .comment(
            "open",
            "/r/",
            json!({"body": "Bob says <b>hi</b> & more", "author": "Bob", "email": "bob@example.org",
                   "parent_id": ann_id}),
        )
        .await
        .0;
    // Ann answering herself (another case of her address) mails nobody.
    app.comment(
        "open",
        "/r/",
        json!({"body": "me again", "email": "ANN@example.org", "parent_id": ann_id}),
    )
    .await;
    let got = settle(&smtp, ANN, 2).await;
    let d = &got[1].data;
    assert_eq!(got[1].to, vec![ANN.to_owned()]);
    let subject = header(d, "Subject").unwrap();
    assert!(
        subject.contains("Nouvelle réponse") || subject.contains("=?utf-8?"),
        "{subject}"
    );
    let unsubscribe = header(d, "List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with("<https://comments.example/mail/unsubscribe?k=")
            && unsubscribe.contains("&thread=")
            && unsubscribe.ends_with('>'),
        "{unsubscribe}"
    );
    assert_eq!(
        header(d, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        header(d, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(header(d, "Message-ID").is_some() && header(d, "Date").is_some());
    let thread_ref = header(d, "In-Reply-To").unwrap();
    assert!(thread_ref.starts_with("<thread-"), "{thread_ref}");
    assert_eq!(header(d, "References"), Some(thread_ref.clone()));
    assert_eq!(header(&got[0].data, "In-Reply-To"), Some(thread_ref));
    let text = part(d, "text/plain");
    assert!(text.contains("Bob a répondu"), "{text}");
    assert!(text.contains("Bob says <b>hi</b> & more"), "{text}");
    assert!(!text.contains("me again"), "{text}");
    assert!(
        text.contains(&format!(
            "https://blog.example/r/#afterword-comment-{}",
            reply["id"]
        )),
        "{text}"
    );
    assert_eq!(links_to(&text, "/mail/unsubscribe?k=").len(), 2, "{text}");
    let html = part(d, "text/html");
    assert!(!html.contains("<b>hi"), "{html}");
    assert!(
        html.contains("&#60;b&#62;hi&#60;/b&#62; &#38; more"),
        "{html}"
    );
    assert!(html.contains("/mail/unsubscribe?k="), "{html}");
    // Bob asked for nothing and got nothing.
    assert!(mail_to(&smtp, "bob@example.org").is_empty());
}

async fn a_pending_reply_is_mailed_once_approved(app: TestApp, smtp: Smtp) {
    let parent = comment_in(
        &app,
        "mod",
        "/p/",
        "de",
        json!({"body": "Frage", "email": ANN, "notify_replies": true}),
    )
    .await;
    let parent_id = parent["id"].as_i64().unwrap();
    settle(&smtp, ANN, 1).await;
    app.db.exec("UPDATE subscribers SET confirmed_at = 1");
    let admin = app.admin().await;
    admin.act(parent_id, "approve").await;
    let (reply, _) = app
        .comment(
            "mod",
            "/p/",
            json!({"body": "Antwort", "author": "Bob", "parent_id": parent_id}),
        )
        .await;
    assert_eq!(reply["status"], "pending");
    // Held: nothing goes out.
    settle(&smtp, ANN, 1).await;
    assert_eq!(app.db.count("reply_digests"), 0);
    admin.act(reply["id"].as_i64().unwrap(), "approve").await;
    let got = settle(&smtp, ANN, 2).await;
    let text = part(&got[1].data, "text/plain");
    assert!(text.contains("Bob hat geantwortet:"), "{text}");
    assert!(text.contains("Antwort"), "{text}");
    // A spam reply approved later is mailed too; a deleted one restored is not again.
    let (spam, _) = app
        .comment(
            "mod",
            "/p/",
            json!({"body": "zweite", "parent_id": parent_id}),
        )
        .await;
    let spam_id = spam["id"].as_i64().unwrap();
    admin.act(spam_id, "spam").await;
    admin.act(spam_id, "approve").await;
    settle(&smtp, ANN, 3).await;
    admin.act(spam_id, "delete").await;
    admin.act(spam_id, "restore").await;
    settle(&smtp, ANN, 3).await;
    // A reply held while its parent is deleted mails nobody once approved.
    let (late, _) = app
        .comment(
            "mod",
            "/p/",
            json!({"body": "zu spät", "parent_id": parent_id}),
        )
        .await;
    admin.act(parent_id, "delete").await;
    admin.act(late["id"].as_i64().unwrap(), "approve").await;
    settle(&smtp, ANN, 3).await;
    assert_eq!(app.db.count("reply_digests"), 0);
    assert_eq!(
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'reply-notification'"
        ),
        2
    );
}

async fn quick_replies_make_one_digest_and_unsubscribe_stops_them(app: TestApp, smtp: Smtp) {
    let ann_id = ann_subscribed(&app, &smtp, "/d/").await;
    for i in 0..3 {
        app.comment(
            "open",
            "/d/",
            json!({"body": format!("reply number {i}"), "author": format!("R{i}"), "parent_id": ann_id}),
        )
        .await;
    }
    let got = settle(&smtp, ANN, 2).await;
    let d = &got[1].data;
    assert!(
        header(d, "Subject").unwrap().starts_with("3 new replies"),
        "{d}"
    );
    let text = part(d, "text/plain");
    for i in 0..3 {
        assert!(text.contains(&format!("R{i} replied:")), "{text}");
        assert!(text.contains(&format!("reply number {i}")), "{text}");
    }

    // The page behind the thread link only asks.
    let list = header(d, "List-Unsubscribe").unwrap();
    let url = list
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let path = url
        .trim_start_matches("https://comments.example")
        .to_owned();
    let r = app.get(&path).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert_eq!(page.matches("<form method=\"post\"").count(), 2, "{page}");
    assert!(page.contains("name=\"scope\" value=\"thread\""), "{page}");

    // Another thread of Ann's, still subscribed.
    let other = comment_in(
        &app,
        "open",
        "/other/",
        "en",
        json!({"body": "elsewhere", "email": ANN, "notify_replies": true}),
    )
    .await;
    // "This thread" from the page: /d/ stops, /other/ goes on.
    unsubscribe_thread(&app, &path).await;
    app.comment(
        "open",
        "/d/",
        json!({"body": "unheard", "parent_id": ann_id}),
    )
    .await;
    app.comment(
        "open",
        "/other/",
        json!({"body": "heard", "parent_id": other["id"]}),
    )
    .await;
    let got = settle(&smtp, ANN, 3).await;
    let text = part(&got[2].data, "text/plain");
    assert!(
        text.contains("heard") && !text.contains("unheard"),
        "{text}"
    );

    // The one-click POST of a mail client (RFC 8058): nothing more from this site.
    let list = header(&got[2].data, "List-Unsubscribe").unwrap();
    let url = list
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let r = app
        .client
        .post(url.replace("https://comments.example", &app.url("")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.db.count("subscribers"), 0);
    app.comment(
        "open",
        "/other/",
        json!({"body": "also unheard", "parent_id": other["id"]}),
    )
    .await;
    settle(&smtp, ANN, 3).await;
    // The link still answers, and says so.
    let r = app.get(&path).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("no more mail"));
}

async fn follow(app: &TestApp, slug: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/subscriptions?site=open&slug={}",
            common::enc(slug)
        )))
        .header("accept-language", "es")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn following_a_thread_mails_every_new_comment(app: TestApp, smtp: Smtp) {
    const FAN: &str = "fan@example.org";
    common::expect_error(follow(&app, "/f/", json!({})).await, 422, "invalid_field").await;
    common::expect_error(
        follow(&app, "/f/", json!({"email": " "})).await,
        422,
        "email_required",
    )
    .await;
    let r = follow(&app, "/f/", json!({"email": FAN})).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"accepted": true}));
    let got = settle(&smtp, FAN, 1).await;
    let text = part(&got[0].data, "text/plain");
    assert!(text.contains("nuevos comentarios en «/f/»"), "{text}");
    // Unconfirmed: a comment now mails nothing.
    app.comment("open", "/f/", json!({"body": "unseen", "author": "Zed"}))
        .await;
    confirm_by_link(&app, &text).await;
    // Following again (already confirmed): no new confirmation mail, the same answer.
    assert_eq!(
        follow(&app, "/f/", json!({"email": FAN})).await.status(),
        202
    );

    // Any new comment, top-level or reply, but not the fan's own.
    let (top, _) = app
        .comment(
            "open",
            "/f/",
            json!({"body": "a new thought", "author": "Yan"}),
        )
        .await;
    app.comment(
        "open",
        "/f/",
        json!({"body": "an answer", "author": "Xia", "parent_id": top["id"]}),
    )
    .await;
    app.comment("open", "/f/", json!({"body": "my own", "email": FAN}))
        .await;
    let got = settle(&smtp, FAN, 2).await;
    let d = &got[1].data;
    assert!(header(d, "List-Unsubscribe").unwrap().contains("&thread="));
    let text = part(d, "text/plain");
    assert!(
        text.contains("Yan escribió:") && text.contains("a new thought"),
        "{text}"
    );
    assert!(
        text.contains("Xia escribió:") && text.contains("an answer"),
        "{text}"
    );
    assert!(
        !text.contains("my own") && !text.contains("unseen"),
        "{text}"
    );
    assert!(text.contains("sigues los comentarios"), "{text}");

    // "Stop mail about this thread" ends it.
    let path = links_to(&text, "/mail/unsubscribe?k=")
        .into_iter()
        .find(|l| l.contains("&thread="))
        .unwrap();
    unsubscribe_thread(&app, &path).await;
    app.comment("open", "/f/", json!({"body": "after", "author": "Wu"}))
        .await;
    settle(&smtp, FAN, 2).await;
    assert_eq!(app.db.count("thread_subscriptions"), 0);
}

/// A reader asks for their data with their address: the answer is the same for an
/// address the server knows and one it does not; the link mailed to the address opens
/// a page whose buttons download everything stored about it and erase it.
async fn readers_see_and_erase_their_own_data(app: TestApp, smtp: Smtp) {
    const ME: &str = "reader@example.org";
    let ask = |email: &'static str| {
        app.client
            .post(app.url("/api/v1/privacy?site=open"))
            .json(&json!({ "email": email }))
            .send()
    };
    let (mine, _) = app
        .comment(
            "open",
            "/p/",
            json!({"body": "My words", "author": "Rea", "email": ME, "notify_replies": true}),
        )
        .await;
    settle(&smtp, ME, 1).await;
    let known = ask(ME).await.unwrap();
    assert_eq!(known.status(), 202);
    let known = known.bytes().await.unwrap();
    let unknown = ask("stranger@example.org").await.unwrap();
    assert_eq!(unknown.status(), 202);
    assert_eq!(known, unknown.bytes().await.unwrap(), "the same answer");
    common::expect_error(
        app.client
            .post(app.url("/api/v1/privacy?site=open"))
            .json(&json!({"email": "not an address"}))
            .send()
            .await
            .unwrap(),
        422,
        "invalid_email",
    )
    .await;
    settle(&smtp, "stranger@example.org", 1).await;
    let got = settle(&smtp, ME, 2).await;
    let text = part(&got[1].data, "text/plain");
    let link = links_to(&text, "/privacy?t=")
        .pop()
        .expect("a link to the data");

    // The page only shows buttons.
    let r = app.get(&link).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Download my data") && page.contains("Erase my data"),
        "{page}"
    );
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE email = '{ME}'"
        )),
        1
    );
    let t = link.split("t=").nth(1).unwrap().to_owned();
    let post = |path: &str| {
        app.client
            .post(app.url(path))
            .form(&[("t", t.as_str())])
            .send()
    };
    let r = post("/privacy/export").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let data: Value = r.json().await.unwrap();
    assert_eq!(data["email"], ME);
    assert_eq!(data["comments"][0]["id"], mine["id"]);
    assert_eq!(data["comments"][0]["body"], "My words");
    assert_eq!(data["subscriptions"].as_array().unwrap().len(), 1, "{data}");

    let r = post("/privacy/erase").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE email = '{ME}'"
        )),
        0
    );
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {} AND author IS NULL",
            mine["id"]
        )),
        1,
        "anonymized, as configured by default"
    );
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM subscribers WHERE email = '{ME}'"
        )),
        0
    );
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE lower(recipient) = '{ME}'"
        )),
        0
    );
    let data: Value = post("/privacy/export").await.unwrap().json().await.unwrap();
    assert_eq!(data["comments"].as_array().unwrap().len(), 0, "{data}");

    // A tampered link does nothing: another address under the same signature.
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let sig = t.rsplit('.').next().unwrap();
    let forged = format!(
        "{}.9999999999.{sig}",
        URL_SAFE_NO_PAD.encode("bob@example.com")
    );
    let r = app
        .client
        .post(app.url("/privacy/erase"))
        .form(&[("t", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// Nobody is subscribed to anything without confirming it: a stranger asking for a
/// confirmed reader to follow another thread, in another language, changes nothing until
/// the reader follows the link mailed for that thread; and an unconfirmed address's own
/// confirmation does not take on a thread someone else asked for.
async fn following_another_thread_needs_its_own_confirmation(app: TestApp, smtp: Smtp) {
    const FAN: &str = "fan2@example.org";
    let sql_lang =
        format!("SELECT COUNT(*) AS n FROM subscribers WHERE email = '{FAN}' AND lang = 'es'");
    assert_eq!(
        follow(&app, "/a/", json!({"email": FAN})).await.status(),
        202
    );
    let got = settle(&smtp, FAN, 1).await;
    confirm_by_link(&app, &part(&got[0].data, "text/plain")).await;
    assert_eq!(app.db.count("thread_subscriptions"), 1);
    assert_eq!(app.db.number(&sql_lang), 1);

    // A stranger, in German, for thread /b/ (ten minutes later: one such mail per address
    // every ten minutes): the same answer, no change, one mail.
    app.db.exec(&format!(
        "UPDATE subscribers SET confirm_sent_at = 0 WHERE email = '{FAN}'"
    ));
    let r = app
        .client
        .post(app.url("/api/v1/subscriptions?site=open&slug=/b/"))
        .header("accept-language", "de")
        .json(&json!({"email": FAN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"accepted": true}));
    let got = settle(&smtp, FAN, 2).await;
    assert_eq!(
        app.db.count("thread_subscriptions"),
        1,
        "not following /b/ yet"
    );
    assert_eq!(app.db.number(&sql_lang), 1, "the language is unchanged");
    app.comment(
        "open",
        "/b/",
        json!({"body": "not for the fan", "author": "Zed"}),
    )
    .await;
    settle(&smtp, FAN, 2).await;

    // The reader agrees through the link: now /b/ is followed, in German.
    let text = part(&got[1].data, "text/plain");
    assert!(text.contains("/b/"), "{text}");
    confirm_by_link(&app, &text).await;
    assert_eq!(app.db.count("thread_subscriptions"), 2);
    assert_eq!(app.db.number(&sql_lang), 0);
    app.comment(
        "open",
        "/b/",
        json!({"body": "for the fan", "author": "Yan"}),
    )
    .await;
    let got = settle(&smtp, FAN, 3).await;
    assert!(part(&got[2].data, "text/plain").contains("for the fan"));

    // Unconfirmed: a stranger's follow of /c/, then the reader's own comment asking for
    // replies; confirming through the stranger's mail's link would be the reader's choice,
    // but their own link (for replies) does not follow /c/.
    const NEW: &str = "new2@example.org";
    assert_eq!(
        follow(&app, "/c/", json!({"email": NEW})).await.status(),
        202
    );
    settle(&smtp, NEW, 1).await;
    app.db.exec(&format!(
        "UPDATE subscribers SET confirm_sent_at = 0 WHERE email = '{NEW}'"
    ));
    post_in(
        &app,
        "open",
        "/d/",
        "en",
        json!({"body": "mine", "email": NEW, "notify_replies": true}),
    )
    .await;
    let got = settle(&smtp, NEW, 2).await;
    confirm_by_link(&app, &part(&got[1].data, "text/plain")).await;
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM thread_subscriptions s JOIN subscribers b \
             ON b.id = s.subscriber_id WHERE b.email = '{NEW}'"
        )),
        0
    );
}

/// The answer is the same whether the address is unknown, waiting for confirmation or
/// confirmed: byte for byte but for the comment's id, time, avatar and edit token (and the
/// avatar is not the known one). Only `notify_replies` (and email on) decides
/// `confirmation_sent`; mail still goes out only to an address not confirmed yet.
async fn the_answer_is_the_same_for_every_address(app: TestApp, smtp: Smtp) {
    let ask = |email: &str| json!({"body": "Tell me", "author": "Bo", "email": email, "notify_replies": true});
    let a = post_in(&app, "open", "/inbox/", "en", ask("bo@example.org")).await;
    assert_eq!(a["confirmation_sent"], true, "{a}");
    let got = settle(&smtp, "bo@example.org", 1).await;
    // Asked again before confirming: the first mail still stands, none is added.
    let again = post_in(&app, "open", "/inbox/", "en", ask("bo@example.org")).await;
    assert_eq!(again["confirmation_sent"], true, "{again}");
    settle(&smtp, "bo@example.org", 1).await;
    let plain = post_in(
        &app,
        "open",
        "/inbox/",
        "en",
        json!({"body": "No mail", "email": "cy@example.org"}),
    )
    .await;
    assert_eq!(plain["confirmation_sent"], false, "{plain}");
    confirm_by_link(&app, &part(&got[0].data, "text/plain")).await;

    let masked = |mut v: Value| {
        for f in ["id", "created_at", "avatar"] {
            v["comment"][f] = Value::Null;
        }
        v["edit_token"] = Value::Null;
        serde_json::to_vec(&v).unwrap()
    };
    let confirmed = post_in(&app, "open", "/inbox/", "en", ask("bo@example.org")).await;
    let unknown = post_in(&app, "open", "/inbox/", "en", ask("nobody@example.org")).await;
    assert_eq!(confirmed["confirmation_sent"], true, "{confirmed}");
    assert_eq!(masked(confirmed.clone()), masked(unknown.clone()));
    assert_ne!(confirmed["comment"]["avatar"], a["comment"]["avatar"]);
    assert_ne!(confirmed["comment"]["avatar"], again["comment"]["avatar"]);
    // The unknown address gets its confirmation; the confirmed one no second mail.
    settle(&smtp, "nobody@example.org", 1).await;
    assert_eq!(mail_to(&smtp, "bo@example.org").len(), 1);
}

/// Decodes the RFC 2047 words (`=?utf-8?b?…?=`) of a header value.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut last_was_word = false;
    for token in value.split_whitespace() {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                let (_, enc, text) = (parts.next()?, parts.next()?, parts.next()?);
                enc.eq_ignore_ascii_case("b").then(|| {
                    String::from_utf8(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .unwrap(),
                    )
                    .unwrap()
                })
            });
        match word {
            Some(w) => {
                // White space between two encoded words is not part of the text.
                if !last_was_word && !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&w);
                last_was_word = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(token);
                last_was_word = false;
            }
        }
    }
    out
}

/// A site's `language` is its moderators': the subject, both parts, the action links'
/// confirmation and result pages. A broken link speaks the browser's language.
async fn moderator_mail_speaks_the_site_language(app: TestApp, smtp: Smtp) {
    let (c, _) = app
        .comment(
            "de",
            "/de/beitrag/",
            json!({"body": "Guten Tag", "author": "Jörg", "email": "joerg@example.org"}),
        )
        .await;
    let id = c["id"].as_i64().unwrap();
    let got = smtp.wait_for(1).await;
    let d = &got[0].data;
    let subject = decode_words(&header(d, "Subject").unwrap());
    assert_eq!(
        subject,
        "Kommentar von Jörg zu /de/beitrag/ wartet auf Freigabe"
    );
    let text = part(d, "text/plain").replace("\r\n", "\n");
    for want in [
        "Ein neuer Kommentar zu „/de/beitrag/“ wartet auf Freigabe.",
        "Von: Jörg <joerg@example.org>",
        "Diskussion: /de/beitrag/",
        "Freigeben: https://comments.example/admin/mail/action?t=",
        "Als Spam markieren: https://",
        "Löschen: https://",
        "Er funktioniert einmal und 7 Tage lang.",
        "Moderationsseite: https://comments.example/admin",
        "weil Sie diese Website moderieren.",
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    assert!(
        !text.contains("Approve") && !text.contains("moderate"),
        "{text}"
    );
    let html = part(d, "text/html");
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains(">Als Spam markieren</a>"), "{html}");
    assert!(html.contains("<title>Kommentar von Jörg"), "{html}");

    // The link's page asks in German, and says what it did in German.
    let links = action_links(&text);
    let approve = links.iter().find(|l| l.contains(".approve.")).unwrap();
    let r = app.get(approve).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-language")
            .unwrap()
            .to_str()
            .unwrap(),
        "de"
    );
    let page = r.text().await.unwrap();
    for want in [
        "<html lang=\"de\">",
        &format!("Kommentar #{id} freigeben?"),
        "Erst wenn Sie bestätigen, ändert sich etwas.",
        &format!("Kommentar #{id} · derzeit wartend"),
        ">Freigeben</button>",
        ">Moderationsseite</a>",
    ] {
        assert!(page.contains(want), "{want} not in {page}");
    }
    let token = approve.split("t=").nth(1).unwrap().to_owned();
    let post = || {
        app.client
            .post(app.url("/admin/mail/action"))
            .form(&[("t", token.as_str())])
            .send()
    };
    let page = post().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(&format!("Kommentar #{id} freigegeben")),
        "{page}"
    );
    let r = post().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Dieser Link wurde bereits benutzt"));

    // Another site, another language: every comment of "zh" is mailed, in Chinese.
    let (c, _) = app
        .comment("zh", "/zh/", json!({"body": "你好", "author": "李"}))
        .await;
    let zid = c["id"].as_i64().unwrap();
    let got = smtp.wait_for(2).await;
    let d = &got[1].data;
    assert_eq!(
        decode_words(&header(d, "Subject").unwrap()),
        "李 在 /zh/ 发表了新评论"
    );
    let text = part(d, "text/plain");
    assert!(text.contains("“/zh/”有一条新评论已发布。"), "{text}");
    assert!(text.contains("标记为垃圾评论: https://"), "{text}");
    let spam = action_links(&text)
        .into_iter()
        .find(|l| l.contains(".spam."))
        .unwrap();
    let page = app.get(&spam).await.text().await.unwrap();
    assert!(
        page.contains(&format!("将评论 #{zid} 标记为垃圾评论？")),
        "{page}"
    );
    assert!(page.contains("当前状态：已通过"), "{page}");

    // A link too broken to name a comment: the browser's language.
    let r = app
        .client
        .get(app.url("/admin/mail/action?t=nonsense"))
        .header("accept-language", "fr-CH, en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Ce lien n’est pas valide"));
}

mod languages {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Accept),
        moderator_mail_speaks_the_site_language,
        the_answer_is_the_same_for_every_address,
    );
}

mod notify {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Accept),
        following_a_thread_mails_every_new_comment,
        following_another_thread_needs_its_own_confirmation,
        readers_see_and_erase_their_own_data,
        opt_in_then_one_mail_per_reply,
        a_pending_reply_is_mailed_once_approved,
        quick_replies_make_one_digest_and_unsubscribe_stops_them,
    );
}

// ---- The outbox for moderators, and `afterword email test` ---------------------------

async fn outbox_admin_api_lists_retries_and_drops(app: TestApp, smtp: Smtp) {
    refused_mail(&app, &smtp, "/ob/").await;
    let r = app.get("/api/v1/admin/outbox").await;
    assert_eq!(r.status(), 401);
    let admin = app.admin().await;
    let list = admin.get("/api/v1/admin/outbox").await;
    assert_eq!(list["email_on"], true);
    let m = &list["messages"][0];
    assert_eq!(m["status"], "failed");
    assert_eq!(m["kind"], "moderator-new-comment");
    assert_eq!(m["recipient"], MODERATOR);
    assert_eq!(m["attempts"], 1);
    assert!(m["last_answer"].as_str().unwrap().contains("550"), "{m}");
    assert_eq!(m["sending"], false);
    let id = m["id"].as_i64().unwrap();
    // The admin page shows it, with the answer and the buttons.
    let page = admin
        .request(reqwest::Method::GET, "/admin/mail?status=failed")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("id=\"mail-{id}\" class=\"mail-failed\"")),
        "{page}"
    );
    assert!(page.contains("No such mailbox here"), "{page}");
    assert!(
        page.contains(&format!("data-url=\"/api/v1/admin/outbox/{id}/retry\"")),
        "{page}"
    );
    assert!(
        page.contains("data-url=\"/api/v1/admin/outbox/test\""),
        "{page}"
    );
    assert_eq!(
        admin.get("/api/v1/admin/outbox?status=sent").await["messages"],
        json!([])
    );
    common::expect_error(
        admin
            .request(reqwest::Method::GET, "/api/v1/admin/outbox?status=lost")
            .send()
            .await
            .unwrap(),
        422,
        "invalid_status",
    )
    .await;

    // Without the CSRF token: refused, nothing changes.
    let no_csrf = |method: reqwest::Method, path: String| {
        app.client
            .request(method, app.url(&path))
            .header("cookie", &admin.cookie)
            .send()
    };
    let retry = format!("/api/v1/admin/outbox/{id}/retry");
    let one = format!("/api/v1/admin/outbox/{id}");
    let r = no_csrf(reqwest::Method::POST, retry.clone()).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = no_csrf(reqwest::Method::DELETE, one.clone()).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'"
        ),
        1
    );

    // Retry, now that the server takes it: sent once.
    smtp.set_mode(Mode::Accept);
    let again = admin.post(&retry, json!({})).await;
    assert_eq!(again["message"]["status"], "queued");
    smtp.wait_for(1).await;
    wait("the retried message sent", || {
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'",
        ) == 1
    })
    .await;
    let sent = &admin.get("/api/v1/admin/outbox?status=sent").await["messages"][0];
    assert!(
        sent["last_answer"].as_str().unwrap().starts_with("250"),
        "{sent}"
    );
    assert!(sent["sent_at"].is_string());
    common::expect_error(
        admin.post_raw(&retry, json!({})).await,
        409,
        "mail_not_retryable",
    )
    .await;
    common::expect_error(
        admin
            .post_raw("/api/v1/admin/outbox/999999/retry", json!({}))
            .await,
        404,
        "mail_not_found",
    )
    .await;

    // Drop.
    let r = admin
        .request(reqwest::Method::DELETE, &one)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.db.count("outbox"), 0);
    let r = admin
        .request(reqwest::Method::DELETE, &one)
        .send()
        .await
        .unwrap();
    common::expect_error(r, 404, "mail_not_found").await;
    assert_eq!(
        app.db.number("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('mail_retry', 'mail_drop') AND moderator = 'mod'"),
        2
    );

    // A test mail, at once, with the server's answer.
    let r = admin
        .post(
            "/api/v1/admin/outbox/test",
            json!({"to": "owner@example.net"}),
        )
        .await;
    assert!(r["answer"].as_str().unwrap().starts_with("250"), "{r}");
    let got = smtp.wait_for(2).await;
    assert_eq!(got[1].to, vec!["owner@example.net".to_owned()]);
    assert_eq!(
        header(&got[1].data, "Subject").as_deref(),
        Some("Afterword test message")
    );
    common::expect_error(
        admin
            .post_raw("/api/v1/admin/outbox/test", json!({"to": "not an address"}))
            .await,
        422,
        "invalid_email",
    )
    .await;
    smtp.set_mode(Mode::Permanent);
    let v = common::expect_error(
        admin
            .post_raw(
                "/api/v1/admin/outbox/test",
                json!({"to": "owner@example.net"}),
            )
            .await,
        502,
        "smtp_failed",
    )
    .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("550"),
        "{v}"
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'mail_test'"),
        2
    );
}

mod admin_outbox {
    with_smtp!(
        crate::email::Smtp::up(crate::email::Mode::Accept),
        outbox_admin_api_lists_retries_and_drops,
    );
}

/// Runs `afterword email test ADDRESS` with `[smtp]` at `port` (or none).
fn email_test_cli(port: Option<u16>) -> std::process::Output {
    let section = port.map(|p| {
        format!(
            "[smtp]\nurl = \"smtp://127.0.0.1:{p}\"\nfrom = \"Afterword <comments@example.com>\"\ntimeout = \"5s\"\n"
        )
    });
    email_test_cli_with(section.as_deref())
}

/// Runs `afterword email test ADDRESS` with this `[smtp]` section (or none).
fn email_test_cli_with(smtp: Option<&str>) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("public_url = \"https://comments.example\"\n");
    if let Some(s) = smtp {
        config.push_str(s);
    }
    let path = dir.path().join("afterword.toml");
    std::fs::write(&path, config).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_afterword"))
        .current_dir(dir.path())
        .args(["email", "test", "owner@example.net", "--config"])
        .arg(&path)
        .env_remove("AFTERWORD_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn email_test_command_prints_the_answer_or_why_not() {
    let smtp = Smtp::up(Mode::Accept);
    let out = email_test_cli(Some(smtp.port));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("accepted by the SMTP server: 250"),
        "{stdout}"
    );
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["owner@example.net".to_owned()]);

    // Refused for good: the 550 is shown.
    smtp.set_mode(Mode::Permanent);
    let out = email_test_cli(Some(smtp.port));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("550") && stderr.contains("No such mailbox"),
        "{stderr}"
    );

    // Nothing listening.
    let closed = Smtp::down();
    let out = email_test_cli(Some(closed.port));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("did not take the message"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );

    // No [smtp] at all.
    let out = email_test_cli(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [smtp] section"));
}

// ---- TLS: smtps:// and smtp+starttls:// against real TLS servers --------------------

/// A private CA, and a certificate for 127.0.0.1 it signed, made for one test.
struct Pki {
    dir: tempfile::TempDir,
}

mod pki {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage,
        SubjectAlternativeName, SubjectKeyIdentifier,
    };
    use openssl::x509::{X509Builder, X509NameBuilder, X509};

    pub fn key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// A certificate for `key`: a CA's when `issuer` is `None` (self-signed), else a
    /// server's for 127.0.0.1 and localhost signed by the issuer.
    pub fn cert(key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        let cn = if issuer.is_some() {
            "127.0.0.1"
        } else {
            "Afterword test CA"
        };
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map_or(&*name, |(ca, _)| ca.subject_name()))
            .unwrap();
        b.set_pubkey(key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        b.set_not_before(&Asn1Time::from_unix(now - 3600).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + 86_400).unwrap())
            .unwrap();
        match issuer {
            None => {
                b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                    .unwrap();
                b.append_extension(
                    KeyUsage::new()
                        .critical()
                        .key_cert_sign()
                        .crl_sign()
                        .build()
                        .unwrap(),
                )
                .unwrap();
                let ski = SubjectKeyIdentifier::new()
                    .build(&b.x509v3_context(None, None))
                    .unwrap();
                b.append_extension(ski).unwrap();
                b.sign(key, MessageDigest::sha256()).unwrap();
            }
            Some((ca, ca_key)) => {
                b.append_extension(BasicConstraints::new().build().unwrap())
                    .unwrap();
                b.append_extension(
                    KeyUsage::new()
                        .critical()
                        .digital_signature()
                        .build()
                        .unwrap(),
                )
                .unwrap();
                b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                    .unwrap();
                let san = SubjectAlternativeName::new()
                    .ip("127.0.0.1")
                    .dns("localhost")
                    .build(&b.x509v3_context(Some(ca), None))
                    .unwrap();
                b.append_extension(san).unwrap();
                let aki = AuthorityKeyIdentifier::new()
                    .keyid(true)
                    .build(&b.x509v3_context(Some(ca), None))
                    .unwrap();
                b.append_extension(aki).unwrap();
                b.sign(ca_key, MessageDigest::sha256()).unwrap();
            }
        }
        b.build()
    }
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = pki::key();
        let ca = pki::cert(&ca_key, None);
        let key = pki::key();
        let cert = pki::cert(&key, Some((&ca, &ca_key)));
        std::fs::write(dir.path().join("ca.pem"), ca.to_pem().unwrap()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.to_pem().unwrap()).unwrap();
        std::fs::write(
            dir.path().join("key.pem"),
            key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

impl Smtp {
    /// Up with STARTTLS offered (mailin-embedded), the certificate of `pki`.
    fn up_starttls(pki: &Pki) -> Smtp {
        let s = Smtp::down();
        s.inbox.lock().unwrap().mode = Some(Mode::Accept);
        let listener = TcpListener::bind(("127.0.0.1", s.port)).unwrap();
        let mut server = Server::new(SmtpHandler {
            inbox: Arc::clone(&s.inbox),
            to: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("smtp.test")
            .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                cert_path: pki.path("cert.pem"),
                key_path: pki.path("key.pem"),
            })
            .unwrap()
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        s
    }

    /// Up with TLS from the first byte (smtps, port 465 style), the certificate of `pki`:
    /// mailin's session over an OpenSSL stream.
    fn up_implicit_tls(pki: &Pki) -> Smtp {
        use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
        let s = Smtp::down();
        s.inbox.lock().unwrap().mode = Some(Mode::Accept);
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor
            .set_private_key_file(pki.path("key.pem"), SslFiletype::PEM)
            .unwrap();
        acceptor
            .set_certificate_chain_file(pki.path("cert.pem"))
            .unwrap();
        let acceptor = Arc::new(acceptor.build());
        let listener = TcpListener::bind(("127.0.0.1", s.port)).unwrap();
        let inbox = Arc::clone(&s.inbox);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (acceptor, inbox) = (Arc::clone(&acceptor), Arc::clone(&inbox));
                std::thread::spawn(move || {
                    let handler = SmtpHandler {
                        inbox,
                        to: Vec::new(),
                        data: Vec::new(),
                    };
                    // A client that refuses the certificate ends the handshake: no session.
                    if let Ok(tls) = acceptor.accept(stream) {
                        let _ = smtp_session(tls, handler);
                    }
                });
            }
        });
        s
    }
}

/// One SMTP session over an established stream, as mailin-embedded runs it.
fn smtp_session<S: std::io::Read + std::io::Write>(
    stream: S,
    handler: SmtpHandler,
) -> std::io::Result<()> {
    use std::io::BufRead;
    let mut session = mailin::SessionBuilder::new("smtp.test")
        .build(std::net::Ipv4Addr::LOCALHOST.into(), handler);
    let mut stream = std::io::BufReader::new(stream);
    session.greeting().write_to(stream.get_mut())?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let res = session.process(&line);
        match res.action {
            mailin::Action::Reply => res.write_to(stream.get_mut())?,
            mailin::Action::NoReply => {}
            mailin::Action::Close | mailin::Action::UpgradeTls => {
                res.write_to(stream.get_mut())?;
                return Ok(());
            }
        }
        stream.get_mut().flush()?;
    }
}

/// The `[smtp]` section for `url`, trusting `ca` (a PEM file) besides the system's CAs.
fn smtp_section(url: &str, ca: Option<&str>) -> String {
    let mut s = format!(
        "\n[smtp]\nurl = \"{url}\"\nfrom = \"Afterword <comments@example.com>\"\n\
         retry_after = \"200ms\"\ntimeout = \"5s\"\n"
    );
    if let Some(ca) = ca {
        s.push_str(&format!("tls_ca_file = \"{ca}\"\n"));
    }
    s
}

/// A comment on "held" is mailed to its moderator over TLS, and the outbox says so.
async fn delivered_over(backend: Backend, scheme: &str) {
    let pki = Pki::new();
    let smtp = if scheme == "smtps" {
        Smtp::up_implicit_tls(&pki)
    } else {
        Smtp::up_starttls(&pki)
    };
    let url = format!("{scheme}://127.0.0.1:{}", smtp.port);
    let section = smtp_section(&url, Some(&pki.path("ca.pem")));
    let Some(app) = common::spawn_with(backend, &format!("{}{section}", config(None))).await else {
        return;
    };
    app.comment(
        "held",
        "/tls/",
        json!({"body": "over TLS", "author": "Tia"}),
    )
    .await;
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0].to, vec![MODERATOR.to_owned()]);
    assert!(part(&got[0].data, "text/plain").contains("over TLS"));
    wait("the outbox to record it sent", || {
        outbox_number(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND last_answer LIKE '250%'",
        ) == 1
    })
    .await;
}

/// A certificate Afterword does not trust: nothing is sent, the outbox says why (and
/// retries: a fixed certificate or setting lets it through), and so does
/// `afterword email test`.
async fn an_untrusted_certificate_stops_the_mail(backend: Backend, scheme: &str) {
    let pki = Pki::new();
    let other = Pki::new();
    let smtp = if scheme == "smtps" {
        Smtp::up_implicit_tls(&pki)
    } else {
        Smtp::up_starttls(&pki)
    };
    let url = format!("{scheme}://127.0.0.1:{}", smtp.port);
    // smtps: only the system's CAs; STARTTLS: another private CA than the server's.
    let ca = (scheme != "smtps").then(|| other.path("ca.pem"));
    let section = smtp_section(&url, ca.as_deref());
    let Some(app) = common::spawn_with(backend, &format!("{}{section}", config(None))).await else {
        return;
    };
    app.comment(
        "held",
        "/untrusted/",
        json!({"body": "not for eavesdroppers"}),
    )
    .await;
    wait("a failed attempt", || {
        outbox_number(&app, "SELECT MAX(attempts) AS n FROM outbox") >= 1
    })
    .await;
    assert_eq!(
        outbox_number(&app, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'queued' AND last_answer LIKE 'TLS: the SMTP server''s certificate is not trusted%' AND last_answer LIKE '%certificate verify failed%' AND last_answer LIKE '%smtp.tls_ca_file%'"),
        1
    );
    assert!(smtp.received().is_empty());

    let out = email_test_cli_with(Some(&section));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("did not take the message")
            && stderr.contains("certificate is not trusted")
            && stderr.contains("smtp.tls_ca_file"),
        "{stderr}"
    );
    assert!(smtp.received().is_empty());
}

#[test]
fn email_test_command_speaks_tls() {
    let pki = Pki::new();
    for (scheme, smtp) in [
        ("smtps", Smtp::up_implicit_tls(&pki)),
        ("smtp+starttls", Smtp::up_starttls(&pki)),
    ] {
        let url = format!("{scheme}://127.0.0.1:{}", smtp.port);
        let out = email_test_cli_with(Some(&smtp_section(&url, Some(&pki.path("ca.pem")))));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{scheme}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("accepted by the SMTP server: 250"),
            "{stdout}"
        );
        assert_eq!(smtp.received().len(), 1, "{scheme}");
    }
}

mod tls {
    use super::{an_untrusted_certificate_stops_the_mail as untrusted, delivered_over, Backend};

    macro_rules! tls_tests {
        ($($name:ident: $f:ident($scheme:expr)),* $(,)?) => {
            $(
                mod $name {
                    use super::*;
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        $f(Backend::Sqlite, $scheme).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        // Skipped (returns at once) when AFTERWORD_TEST_POSTGRES_URL is not set.
                        $f(Backend::Postgres, $scheme).await;
                    }
                }
            )*
        };
    }

    tls_tests!(
        smtps_delivers: delivered_over("smtps"),
        starttls_delivers: delivered_over("smtp+starttls"),
        smtps_untrusted: untrusted("smtps"),
        starttls_untrusted: untrusted("smtp+starttls"),
    );
}
