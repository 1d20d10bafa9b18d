//! A thread of 10,000 comments (1,000 top-level, each with replies below the nesting limit),
//! seeded through `afterword import` (the importer's writes, not 10,000 HTTP posts): every
//! page of every sort, walked through `next`, shows each visible comment exactly once with
//! its own reaction counts, and the count the thread states is the number seen. The page
//! queries seek by index on both backends (their query plans, read from the databases).

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use afterword::domain::{Cursor, Limit, SiteId, Slug, Sort};
use common::{enc, TestApp, SITES};
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_afterword");
const SLUG: &str = "/big/";
const TOPS: usize = 1000;
/// The parent of reply `j` (1..=9) in its tree, 0 being the top-level comment: three
/// levels deep (the nesting limit of `fragment::MAX_DEPTH`) and one beyond it.
const PARENT: [usize; 10] = [0, 0, 0, 1, 3, 4, 0, 6, 2, 8];

/// What the seeded thread must show.
struct Expected {
    /// Author → reactions, for every approved comment.
    approved: HashMap<String, BTreeMap<String, i64>>,
    /// Comments not approved that keep an approved reply: shown as placeholders.
    placeholders: usize,
}

fn status(t: usize, j: usize) -> &'static str {
    match (t % 100, j) {
        // Deleted, with approved replies: a placeholder.
        (7, 0) => "deleted",
        // Refused, and so are its replies: nothing of this tree shows.
        (13, 0) => "spam",
        (13, _) => "deleted",
        // Now and then a reply waits for a moderator (with replies under it, a placeholder).
        _ if (t * 9 + j).is_multiple_of(53) => "pending",
        _ => "approved",
    }
}

fn reactions(t: usize, j: usize) -> BTreeMap<String, i64> {
    let h = ((t * 31 + j * 7) % 11) as i64;
    [("👍", h % 5), ("❤️", h % 3)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_owned(), n))
        .collect()
}

/// Writes the thread as an Afterword export and says what it must show.
fn write_export(path: &Path) -> Expected {
    let mut out = String::new();
    let line = |out: &mut String, v: Value| writeln!(out, "{v}").unwrap();
    line(
        &mut out,
        json!({"format": "afterword-export", "version": 1, "site": "blog"}),
    );
    line(
        &mut out,
        json!({"type": "thread", "slug": SLUG, "title": "Big", "url": null, "locked": false,
               "created_at": "2020-01-01T00:00:00Z", "reactions": {"🎉": 3}}),
    );
    let mut expected = Expected {
        approved: HashMap::new(),
        placeholders: 0,
    };
    let mut n = 0;
    for t in 0..TOPS {
        // Shown: approved, or keeping a shown reply; replies come after their parents.
        let mut shown = [false; 10];
        for j in (0..10).rev() {
            let approved = status(t, j) == "approved";
            shown[j] |= approved;
            if j > 0 && shown[j] {
                shown[PARENT[j]] = true;
            }
            if shown[j] && !approved {
                expected.placeholders += 1;
            }
        }
        for (j, parent) in PARENT.iter().enumerate() {
            n += 1;
            let st = status(t, j);
            let rx = if st == "approved" {
                reactions(t, j)
            } else {
                BTreeMap::new()
            };
            let author = format!("a{t}-{j}");
            if st == "approved" {
                expected.approved.insert(author.clone(), rx.clone());
            }
            line(
                &mut out,
                json!({"type": "comment", "id": format!("big:{t}-{j}"),
                       "parent": (j > 0).then(|| format!("big:{t}-{parent}")),
                       "status": st, "author": author, "website": null,
                       "created_at": format!("2020-01-01T{:02}:{:02}:{:02}Z", n / 3600, n / 60 % 60, n % 60),
                       "edited_at": null, "body": format!("Comment {t}-{j}"), "reactions": rx}),
            );
        }
    }
    std::fs::write(path, out).unwrap();
    expected
}

/// Seeds the thread into the app's database through `afterword import`.
fn seed(app: &TestApp) -> Expected {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let expected = write_export(&file);
    let config = dir.path().join("afterword.toml");
    std::fs::write(
        &config,
        format!("database_url = \"{}\"\n{SITES}", app.db.url()),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["import", "afterword"])
        .arg(&file)
        .args(["--site", "blog", "--json", "--config"])
        .arg(&config)
        .env_remove("AFTERWORD_CONFIG")
        .env_remove("AFTERWORD_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["comments"]["approved"].as_u64(),
        Some(expected.approved.len() as u64),
        "{summary:#}"
    );
    expected
}

fn score(c: &Value) -> i64 {
    c["reactions"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum()
}

/// Walks every page of one sort through `next` and checks what each shows.
async fn walk(app: &TestApp, sort: &str, expected: &Expected) {
    let mut seen: HashSet<i64> = HashSet::new();
    let (mut approved, mut placeholders, mut pages) = (0, 0, 0);
    // The last top-level comment seen: (score, id).
    let mut last: Option<(i64, i64)> = None;
    let mut after = String::new();
    loop {
        let page = app
            .thread("blog", SLUG, &format!("&sort={sort}&limit=50{after}"))
            .await;
        pages += 1;
        assert_eq!(
            page["thread"]["comment_count"].as_u64(),
            Some(expected.approved.len() as u64),
            "the count, on page {pages} of {sort}"
        );
        assert_eq!(page["thread"]["reactions"], json!({"🎉": 3}));
        let comments = page["comments"].as_array().unwrap();
        let tops = comments.iter().filter(|c| c["parent_id"].is_null()).count();
        assert!((1..=50).contains(&tops), "{tops} top-level comments");
        for c in comments {
            let id = c["id"].as_i64().unwrap();
            assert!(seen.insert(id), "comment {id} shown twice ({sort})");
            if c["status"] == "approved" {
                approved += 1;
                let author = c["author"].as_str().unwrap();
                let rx: BTreeMap<String, i64> = serde_json::from_value(c["reactions"].clone())
                    .unwrap_or_else(|_| panic!("{c}"));
                assert_eq!(Some(&rx), expected.approved.get(author), "{author}");
            } else {
                assert_eq!(c["status"], "deleted", "{c}");
                placeholders += 1;
            }
            if c["parent_id"].is_null() {
                let key = (score(c), id);
                if let Some(prev) = last {
                    let in_order = match sort {
                        "oldest" => key.1 > prev.1,
                        "newest" => key.1 < prev.1,
                        _ => key.0 < prev.0 || (key.0 == prev.0 && key.1 > prev.1),
                    };
                    assert!(in_order, "{sort}: {key:?} after {prev:?}");
                }
                last = Some(key);
            }
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    // The refused trees show nothing: 990 top-level comments.
    assert_eq!(pages, (TOPS - TOPS / 100).div_ceil(50), "{sort}");
    assert_eq!(approved, expected.approved.len(), "{sort}");
    assert_eq!(placeholders, expected.placeholders, "{sort}");
}

async fn ten_thousand_comments_each_once_on_every_sort(app: TestApp) {
    let expected = seed(&app);
    // 1,000 trees of 10 minus the refused ones and the waiting replies.
    assert!(
        expected.approved.len() > 9_500,
        "{}",
        expected.approved.len()
    );
    for sort in ["oldest", "newest", "top"] {
        walk(&app, sort, &expected).await;
    }
    // The HTML fragment reads the same pages: its first one, and one deep in the thread.
    let first = app.thread("blog", SLUG, "&limit=50").await;
    let html = |extra: String| {
        let app = &app;
        async move {
            let r = app
                .get(&format!(
                    "/api/v1/comments.html?site=blog&slug={}&limit=50{extra}",
                    enc(SLUG)
                ))
                .await;
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let top = html(String::new()).await;
    let author = first["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| c["author"].as_str())
        .unwrap();
    assert!(top.contains(author), "{author} missing from the fragment");
    // After id 9,000: the last tenth of the thread.
    let deep = Cursor {
        sort: Sort::Oldest,
        score: 0,
        id: 9_000,
    };
    let page = html(format!("&after={}", deep.encode())).await;
    assert!(!page.contains(author), "a later page repeats the first");
    assert!(page.contains(">Comment "), "the later page shows comments");
    query_plans(&app);
}

/// Every SQL statement `read_thread` runs for one page, as diesel sends it.
fn statements<C>(c: &mut C, sort: Sort, after: Option<Cursor>) -> Vec<String>
where
    C: Connection + afterword::db::Store + afterword::db::FederationStore,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            sink.lock().unwrap().push(query.to_string());
        }
    });
    let site = afterword::view::SiteJson {
        moderation: "none",
        edit_window: 900,
        max_length: 5000,
        reactions: Vec::new(),
        notifications: false,
    };
    afterword::service::read_thread(
        c,
        site,
        &SiteId::parse("blog").unwrap(),
        &Slug::parse(SLUG).unwrap(),
        sort,
        Limit::DEFAULT,
        after,
    )
    .unwrap();
    c.set_instrumentation(None::<Box<dyn Instrumentation>>);
    let out = seen.lock().unwrap().clone();
    out
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The page reads of every sort, first page and a deep one, planned by the database.
fn page_statements<C>(c: &mut C) -> Vec<String>
where
    C: Connection + afterword::db::Store + afterword::db::FederationStore,
{
    let mut all = Vec::new();
    for sort in [Sort::Oldest, Sort::Newest, Sort::Top] {
        all.extend(statements(c, sort, None));
        let deep = Cursor {
            sort,
            score: 1,
            id: 9_000,
        };
        all.extend(statements(c, sort, Some(deep)));
    }
    // SQLite's statements quote names with backquotes, PostgreSQL's with double quotes.
    let mut all: Vec<String> = all.into_iter().map(|s| s.replace('`', "\"")).collect();
    all.retain(|s| s.contains("\"comments\"") || s.contains("\"reaction_counts\""));
    // Per sort and page: the top-level comments (two reads after a `top` cursor), their
    // replies, their counters.
    assert!(all.len() >= 18, "{all:#?}");
    assert!(all.iter().any(|s| s.contains("\"score\" = ")), "{all:#?}");
    all
}

/// Checks one plan: the thread's comments and counters are sought by index, never read
/// whole; `sort=top` orders by `comments_top_idx`.
fn check_plan(sql: &str, plan: &str, scan: &str) {
    let what = format!("{sql}\n{plan}");
    eprintln!("{what}");
    for table in ["comments", "replies", "reaction_counts"] {
        assert!(!plan.contains(&format!("{scan}{table}\n")), "{what}");
        assert!(!plan.contains(&format!("{scan}{table} ")), "{what}");
    }
    if sql.contains("ORDER BY \"comments\".\"score\" DESC") || sql.contains("\"score\" = ") {
        assert!(plan.contains("comments_top_idx"), "{what}");
    }
}

/// SQLite's plan besides: no sort of what was read (the index gives the order, so the
/// LIMIT stops the read), and no read of a whole thread: an index sought by the thread
/// alone is walked in page order only (`comments_top_idx`, with a LIMIT).
fn check_sqlite_plan(sql: &str, plan: &str) {
    check_plan(sql, plan, "SCAN ");
    let what = format!("{sql}\n{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{what}");
    for line in plan.lines() {
        if line.ends_with("(thread_id=?)") {
            assert!(
                line.contains("comments_top_idx") && sql.contains(" LIMIT "),
                "{what}"
            );
        }
    }
}

fn query_plans(app: &TestApp) {
    match &*app.db {
        common::TestDb::Sqlite { path, .. } => {
            let mut c = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            for sql in page_statements(&mut c) {
                let sql = sql.split(" -- binds:").next().unwrap().to_owned();
                // Unbound parameters are NULL: the plan does not depend on them.
                let plan: String = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                    .load::<PlanLine>(&mut c)
                    .unwrap()
                    .into_iter()
                    .map(|l| l.detail + "\n")
                    .collect();
                check_sqlite_plan(&sql, &plan);
            }
        }
        common::TestDb::Postgres { url, .. } => {
            let mut c = PgConnection::establish(url).unwrap();
            // PostgreSQL plans by its statistics: in a database of this one thread it reads
            // the table whole, rightly (it is the thread). A blog's database holds other
            // threads too: 100,000 comments of another post, with 200,000 counters.
            c.batch_execute(
                "INSERT INTO threads (site, slug, locked, comment_count, created_at) \
                     VALUES ('blog', '/filler/', FALSE, 100000, 0); \
                 INSERT INTO comments (thread_id, status, body, html, avatar, notify_replies, created_at) \
                     SELECT t.id, 'approved', 'x', 'x', 'a', FALSE, 0 \
                     FROM threads t, generate_series(1, 100000) WHERE t.slug = '/filler/'; \
                 INSERT INTO reaction_counts (thread_id, comment_key, kind, count) \
                     SELECT c.thread_id, c.id, k, 1 FROM comments c, threads t, \
                         (VALUES ('a'), ('b')) AS kinds (k) \
                     WHERE t.slug = '/filler/' AND c.thread_id = t.id; \
                 ANALYZE;",
            )
            .unwrap();
            for sql in page_statements(&mut c) {
                let sql = pg_inline_binds(&sql);
                let plan: String = diesel::sql_query(format!("EXPLAIN {sql}"))
                    .load::<PgPlanLine>(&mut c)
                    .unwrap()
                    .into_iter()
                    .map(|l| l.line + "\n")
                    .collect();
                check_plan(&sql, &plan, "Seq Scan on ");
                // Every read of comments or counters seeks in an index (by the thread, or
                // by the cursor's id where the planner knows those ids are the thread's).
                let reads = plan
                    .lines()
                    .filter(|l| l.contains(" on comments") || l.contains(" on reaction_counts"))
                    .count();
                let sought = plan
                    .lines()
                    .filter(|l| l.trim_start().starts_with("Index Cond: ("))
                    .count();
                assert_eq!(reads, sought, "{sql}\n{plan}");
            }
        }
    }
}

/// Diesel's debug text of a PostgreSQL statement (`... $1 ... -- binds: [1, "a", [2, 3]]`)
/// as one statement with the values written in, for `EXPLAIN`.
fn pg_inline_binds(debug: &str) -> String {
    let (sql, binds) = debug.split_once(" -- binds: ").unwrap();
    let inner = &binds.trim()[1..binds.trim().len() - 1];
    let mut values = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                values.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner.trim().is_empty() {
        values.push(inner[start..].trim());
    }
    let literal = |v: &str| -> String {
        if let Some(list) = v.strip_prefix('[') {
            format!("ARRAY[{}]::bigint[]", list.trim_end_matches(']'))
        } else if let Some(s) = v.strip_prefix('"') {
            format!("'{}'", s.trim_end_matches('"').replace('\'', "''"))
        } else {
            v.to_owned()
        }
    };
    let mut out = sql.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), &literal(v));
    }
    out
}

on_both_backends!(ten_thousand_comments_each_once_on_every_sort);

/// The score migration fills the scores from the counters, and its `down.sql` leaves the
/// schema exactly as it found it.
#[test]
fn score_migration_down_is_exact_sqlite() {
    crate::email::sqlite_downs_are_exact(&["000018"]);
}

#[test]
fn score_migration_down_is_exact_postgres() {
    crate::email::postgres_downs_are_exact(&["000018"]);
}
