//! Mail as a consumer of the event stream (issue 22): a comment only records its event;
//! the dispatcher queues the moderators' mail from it, in the transaction that marks the
//! event handled. So posting never waits on mail, each mail is queued once across
//! instances and crashes, and replies from elsewhere are mailed (and sent to webhooks)
//! like any comment. Real SMTP receiver, real SQLite file and PostgreSQL, real servers.

use crate::common;
use crate::email::{part, Mode, Smtp};

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use serde_json::{json, Value};

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

/// The email tests' sites (`held`: every comment waits and its moderator is mailed;
/// `every`: two moderators mailed about every comment), with `extra` after them.
fn config(smtp: &Smtp, extra: &str) -> String {
    format!("{}\n{extra}", crate::email::config(Some(smtp)))
}

fn pending_events(app: &TestApp) -> i64 {
    app.db
        .number("SELECT COUNT(*) AS n FROM events WHERE dispatched_at IS NULL")
}

fn moderator_mail(app: &TestApp) -> i64 {
    app.db
        .number("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'moderator-new-comment'")
}

/// Posting with the SMTP server down answers 201 at once (the mail is neither sent nor
/// even queued in the request); the moderator mail arrives, once, after it is back.
async fn posting_with_smtp_down_answers_at_once_and_mails_later(backend: Backend) {
    let smtp = Smtp::down();
    let Some(app) = common::spawn_with(backend, &config(&smtp, "")).await else {
        return;
    };
    let r = app
        .post_comment(
            "held",
            "/down/",
            json!({"body": "posted while mail is down"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["comment"]["status"], "pending", "{created}");
    // The dispatcher queues it from the event, and the worker tries and fails.
    wait("the mail queued from the event and tried", || {
        app.db.number(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'moderator-new-comment' \
             AND status = 'queued' AND attempts >= 1",
        ) == 1
    })
    .await;
    assert_eq!(pending_events(&app), 0);
    assert!(smtp.received().is_empty());
    smtp.start(Mode::Accept);
    let got = smtp.wait_for(1).await;
    wait("the outbox to say sent", || {
        app.db
            .number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'")
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(got[0].to, vec!["mod@example.com"]);
    let text = part(&got[0].data, "text/plain");
    assert!(text.contains("posted while mail is down"), "{text}");
    assert_eq!(moderator_mail(&app), 1);
}

/// The instance stops between the write and its mail (here: the transaction that would
/// queue the mail and mark the event handled is refused, as a crash before its commit
/// would lose it): nothing is queued, the event stays pending, and the next instance on
/// the same database sends the mail once.
async fn a_stop_between_the_event_and_the_mail_loses_nothing(backend: Backend) {
    let smtp = Smtp::up(Mode::Accept);
    // The first instance looks for events only once an hour after its first look.
    let slow = config(&smtp, "[events]\ninterval = \"1h\"\n");
    let Some(mut first) = common::spawn_with(backend, &slow).await else {
        return;
    };
    refuse_mail(&first);
    let r = first
        .post_comment(
            "held",
            "/crash/",
            json!({"body": "written before the stop"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let db = Arc::clone(&first.db);
    let server = first.server.take().unwrap();
    drop(first);
    let _ = server.await;
    assert_eq!(
        db.number("SELECT COUNT(*) AS n FROM events WHERE dispatched_at IS NULL AND kind = 'comment.created'"),
        1
    );
    assert_eq!(db.count("outbox"), 0);
    assert!(smtp.received().is_empty());
    allow_mail(&db, backend);
    let second = common::spawn_on(Arc::clone(&db), &config(&smtp, "")).await;
    let got = smtp.wait_for(1).await;
    wait("the event handled", || pending_events(&second) == 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(got[0].to, vec!["mod@example.com"]);
    assert!(part(&got[0].data, "text/plain").contains("written before the stop"));
    assert_eq!(moderator_mail(&second), 1);
}

/// Refuses every insert into the outbox, so the dispatcher's transaction (which marks the
/// event dispatched first, then queues the mail) fails and rolls back whole.
fn refuse_mail(app: &TestApp) {
    match app.backend() {
        Backend::Sqlite => app.db.exec(
            "CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox \
             BEGIN SELECT RAISE(ABORT, 'test: no mail now'); END",
        ),
        Backend::Postgres => {
            app.db.exec(
                "CREATE FUNCTION refuse_mail() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'test: no mail now'; END $$",
            );
            app.db.exec(
                "CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox FOR EACH ROW \
                 EXECUTE FUNCTION refuse_mail()",
            );
        }
    }
}

fn allow_mail(db: &common::TestDb, backend: Backend) {
    match backend {
        Backend::Sqlite => db.exec("DROP TRIGGER refuse_mail"),
        Backend::Postgres => db.exec("DROP TRIGGER refuse_mail ON outbox"),
    }
}

/// A public Mastodon status as `GET /api/v1/statuses/:id` shows it.
fn status(id: &str, in_reply_to: Option<&str>, acct: &str, html: &str) -> Value {
    let username = acct.split('@').next().unwrap();
    json!({
        "id": id,
        "uri": format!("https://home.example/users/x/statuses/{id}"),
        "url": format!("https://home.example/@x/{id}"),
        "created_at": "2026-12-01T10:00:00.000Z",
        "edited_at": null,
        "in_reply_to_id": in_reply_to,
        "in_reply_to_account_id": null,
        "visibility": "public",
        "sensitive": false,
        "spoiler_text": "",
        "content": html,
        "account": {
            "id": "97",
            "username": username,
            "acct": acct,
            "display_name": format!("{username} (display)"),
            "url": format!("https://{}/@{username}", acct.split('@').nth(1).unwrap_or("home.example")),
            "avatar": "https://files.example/avatar.png",
        },
        "favourites_count": 0,
        "reblogs_count": 0,
        "replies_count": 0,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
    })
}

/// A reply found on Mastodon is a comment like any other: it records `comment.created`
/// (with where it was written), which makes a webhook delivery and the moderator mail.
async fn a_remote_reply_makes_a_webhook_delivery_and_the_moderator_mail(backend: Backend) {
    let smtp = Smtp::up(Mode::Accept);
    let m = crate::federation::Stand::start();
    let extra = format!(
        "[[site]]\nid = \"hooked\"\norigins = [\"*\"]\nmoderation = \"all\"\nmoderators = [\"mod@example.com\"]\n\
         [[site.webhook]]\nurl = \"{}/hook\"\nevents = [\"comment.created\"]\n\
         secret = \"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"\n\
         [outbound]\nallow_private_addresses = true\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\n\
         [federation]\npoll_interval = \"1s\"\n",
        m.base()
    );
    let Some(app) = common::spawn_with(backend, &config(&smtp, &extra)).await else {
        return;
    };
    let admin = app.admin().await;
    app.comment("hooked", "/remote/", json!({"body": "from here"}))
        .await;
    smtp.wait_for(1).await;
    let v = admin.get("/api/v1/admin/threads?site=hooked").await;
    let t = v["threads"][0]["id"].as_i64().unwrap();
    m.set(
        "/api/v1/statuses/100",
        200,
        &status("100", None, "me", "<p>Post</p>"),
    );
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("101", Some("100"), "ann@remote.example", "<p>A thought from afar</p>"),
        ]}),
    );
    let r = admin
        .patch(
            &format!("/api/v1/admin/threads/{t}"),
            json!({ "fediverse_url": format!("{}/@me/100", m.base()) }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let got = smtp.wait_for(2).await;
    let mail = &got[1];
    assert_eq!(mail.to, vec!["mod@example.com"]);
    let text = part(&mail.data, "text/plain");
    assert!(text.contains("A thought from afar"), "{text}");
    assert!(text.contains("ann (display)"), "{text}");
    // The event says where it was written; its delivery carries it.
    assert_eq!(
        app.db.number(
            "SELECT COUNT(*) AS n FROM events WHERE kind = 'comment.created' \
             AND detail LIKE '%\"origin\"%mastodon%'"
        ),
        1
    );
    wait("the remote reply's webhook delivery", || {
        app.db.number(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE kind = 'comment.created' \
             AND body LIKE '%A thought from afar%' AND body LIKE '%\"origin\"%mastodon%'",
        ) == 1
    })
    .await;
    // One delivery per comment: the local one and the remote one.
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE kind = 'comment.created'"),
        2
    );
    // Edited there, then deleted there: the stream says so, as for a comment from here,
    // and what it said of the deleted reply's text is forgotten with it.
    let count = |kind: &str| {
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM events WHERE kind = '{kind}'"
        ))
    };
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("101", Some("100"), "ann@remote.example", "<p>A thought from afar, revised</p>"),
        ]}),
    );
    wait("the edit's event", || count("comment.edited") == 1).await;
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": []}),
    );
    wait("the deletion's event", || count("comment.deleted") == 1).await;
    assert_eq!(
        app.db.number(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE body LIKE '%thought from afar%'"
        ),
        0
    );
    assert_eq!(count("comment.created"), 1);
    // Neither makes mail.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(moderator_mail(&app), 2);
    // The address of the thread's mail is never in what webhooks receive.
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE body LIKE '%page_url%'"),
        0
    );
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::common::postgres_admin_url().is_none() {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    }
                    super::$name(crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

both!(
    posting_with_smtp_down_answers_at_once_and_mails_later,
    a_stop_between_the_event_and_the_mail_loses_nothing,
    a_remote_reply_makes_a_webhook_delivery_and_the_moderator_mail,
);

/// Two instances on one PostgreSQL database, both dispatching often, comments posted
/// through both: each moderator gets each comment's mail exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_mail_each_moderator_once_postgres() {
    let smtp = Smtp::up(Mode::Accept);
    let eager = config(&smtp, "[events]\ninterval = \"10ms\"\n");
    let Some(a) = common::spawn_with(Backend::Postgres, &eager).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let b = common::spawn_on(Arc::clone(&a.db), &eager).await;
    const N: usize = 20;
    for i in 0..N {
        let app = if i % 2 == 0 { &a } else { &b };
        // "every" mails both its moderators about every comment.
        let r = app
            .post_comment(
                "every",
                &format!("/both/{}/", i % 3),
                json!({"body": format!("comment-{i}-end")}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    smtp.wait_for(2 * N).await;
    wait("every event handled", || pending_events(&a) == 0).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let got = smtp.received();
    assert_eq!(got.len(), 2 * N);
    for moderator in ["mod@example.com", "second@example.com"] {
        let theirs: String = got
            .iter()
            .filter(|m| m.to == vec![moderator.to_owned()])
            .map(|m| part(&m.data, "text/plain"))
            .collect();
        for i in 0..N {
            assert_eq!(
                theirs.matches(&format!("comment-{i}-end")).count(),
                1,
                "{moderator} {i}"
            );
        }
    }
    assert_eq!(moderator_mail(&a), 2 * N as i64);
}
