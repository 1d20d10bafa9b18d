//! Concurrent posts and the check that every answer told the truth about what was stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::TestApp;

pub struct Answer {
    pub key: String,
    pub slug: String,
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
    /// How long the answer took.
    pub elapsed: std::time::Duration,
}

/// Posts one comment per slug, all at once so that they share commit batches. Each body
/// is a key unique to the request.
pub async fn post_all(app: &Arc<TestApp>, tag: &str, slugs: Vec<String>) -> Vec<Answer> {
    post_padded(app, tag, slugs, 0).await
}

/// `post_all` with `pad` more characters in each body.
pub async fn post_padded(
    app: &Arc<TestApp>,
    tag: &str,
    slugs: Vec<String>,
    pad: usize,
) -> Vec<Answer> {
    let mut tasks = Vec::new();
    for (i, slug) in slugs.into_iter().enumerate() {
        let app = app.clone();
        let key = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let body = format!("{key} .{}", "x".repeat(pad));
            let started = std::time::Instant::now();
            let r = app
                .post_comment("open", &slug, json!({ "body": body }))
                .await;
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = r.json().await.unwrap_or(Value::Null);
            Answer {
                key,
                slug,
                status,
                retry_after,
                body,
                elapsed: started.elapsed(),
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Every 201 is stored exactly once and shows on its thread's page; every 5xx is a JSON
/// error that stored nothing, not even its thread, and a 503 says when to retry. Slugs
/// must be unique per request. Returns how many were created and how many failed.
pub async fn assert_truthful(app: &TestApp, answers: &[Answer]) -> (usize, usize) {
    let (mut created, mut failed) = (0, 0);
    for a in answers {
        let stored = app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE body LIKE '{} .%'",
            a.key
        ));
        let threads = app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM threads WHERE slug = '{}'",
            a.slug
        ));
        match a.status {
            201 => {
                assert_eq!(stored, 1, "{} was answered 201: stored once", a.key);
                let page = app.thread("open", &a.slug, "").await;
                let shown: Vec<&str> = page["comments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["html"].as_str().unwrap())
                    .collect();
                assert!(
                    shown.len() == 1 && shown[0].contains(&a.key),
                    "{}: its page shows it: {page}",
                    a.key
                );
                created += 1;
            }
            500..=599 => {
                assert_eq!(stored, 0, "{} was answered {}: not stored", a.key, a.status);
                assert_eq!(threads, 0, "{}: its thread was not created", a.key);
                assert!(a.body["error"]["code"].is_string(), "{}", a.body);
                if a.status == 503 {
                    assert_eq!(a.retry_after.as_deref(), Some("1"), "{}", a.key);
                }
                failed += 1;
            }
            other => panic!("{}: unexpected status {other}: {}", a.key, a.body),
        }
    }
    (created, failed)
}

pub fn slugs(n: usize, pick: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(pick).collect()
}

/// Reads `path(i)` for i = 1, 2, … until `running` turns false; returns each answer's
/// status and whether it said when to retry. Reads must answer 200, or 503 with
/// `Retry-After`, whatever happens to the database: see [`assert_reads_honest`].
pub fn spawn_reader(
    app: Arc<TestApp>,
    running: Arc<AtomicBool>,
    path: impl Fn(usize) -> String + Send + 'static,
) -> tokio::task::JoinHandle<Vec<(u16, bool)>> {
    tokio::spawn(async move {
        let mut statuses = Vec::new();
        let mut i = 0;
        while running.load(Ordering::Acquire) {
            i += 1;
            let r = app.client.get(app.url(&path(i))).send().await.unwrap();
            statuses.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        statuses
    })
}

pub fn assert_reads_honest(reads: &[(u16, bool)]) {
    assert!(!reads.is_empty());
    for (status, retry_after) in reads {
        assert!(
            *status == 200 || (*status == 503 && *retry_after),
            "a read answered {status}"
        );
    }
}

/// Under a database fault every write is answered 201 or 503, never another status.
pub fn assert_stored_or_refused(answers: &[Answer]) {
    for a in answers {
        assert!(
            a.status == 201 || a.status == 503,
            "{}: {} {}",
            a.key,
            a.status,
            a.body
        );
    }
}
