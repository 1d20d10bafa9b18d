//! Moderation through the admin API: sessions, CSRF, the queue and every action, with
//! caches and counts right at once, on SQLite and PostgreSQL.

mod common;

use common::TestApp;
use serde_json::json;

on_both_backends!(approving_a_pending_comment_publishes_it_at_once);

async fn approving_a_pending_comment_publishes_it_at_once(app: TestApp) {
    let (c, _) = app
        .comment("moderated", "/p/", json!({"body": "hold me"}))
        .await;
    assert_eq!(c["status"], "pending");
    // Read (and cache) the thread while the comment waits.
    let before = app.thread("moderated", "/p/", "").await;
    assert_eq!(before["comments"].as_array().unwrap().len(), 0);
    let admin = app.admin().await;
    let queue = admin.get("/api/v1/admin/comments?status=pending").await;
    assert_eq!(queue["comments"][0]["id"], c["id"]);
    let acted = admin.act(c["id"].as_i64().unwrap(), "approve").await;
    assert_eq!(acted["status"], "approved");
    let after = app.thread("moderated", "/p/", "").await;
    assert_eq!(common::ids(&after), vec![c["id"].as_i64().unwrap()]);
    assert_eq!(after["thread"]["comment_count"], 1);
}
