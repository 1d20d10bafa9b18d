//! Test harness: the real server on port 0, over a temp SQLite file or a fresh PostgreSQL database.
#![allow(dead_code)]

pub mod admin;
pub mod proxy;
pub mod writes;

use std::time::Duration;

use afterword::config::Settings;
use afterword::startup::Application;
use diesel::prelude::*;
use diesel::{Connection, PgConnection};
use reqwest::{Client, Response};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests: `AFTERWORD_TEST_POSTGRES_URL`, a URL to a database we may
/// create databases from (CI: postgres://postgres@127.0.0.1:5432/postgres).
///
/// On loopback, without TLS unless the URL asks for it (`sslmode`): libpq's default
/// (`prefer`) makes every connection a TLS handshake when the server offers TLS, as
/// Debian's does, and the suite makes thousands of connections: measured with `perf`, the
/// handshakes were a fifth of PostgreSQL's CPU during the tests.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("AFTERWORD_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(without_tls_on_loopback(u)),
        _ => {
            if std::env::var("AFTERWORD_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!(
                    "AFTERWORD_TEST_REQUIRE_POSTGRES=1 but AFTERWORD_TEST_POSTGRES_URL is not set"
                );
            }
            None
        }
    }
}

fn without_tls_on_loopback(raw: String) -> String {
    let Ok(mut url) = url::Url::parse(&raw) else {
        return raw;
    };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !loopback || url.query_pairs().any(|(k, _)| k == "sslmode") {
        return raw;
    }
    url.query_pairs_mut().append_pair("sslmode", "disable");
    url.to_string()
}

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
        path: std::path::PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("test.db");
                let url = format!("sqlite://{}", path.display());
                Some(TestDb::Sqlite {
                    _dir: dir,
                    url,
                    path,
                })
            }
            Backend::Postgres => Some(TestDb::postgres_on(postgres_admin_url()?)),
        }
    }

    /// A database for a server to start on: as `new`, but on PostgreSQL a copy of one
    /// already migrated (see `migrated_template`), which the server finds up to date. A
    /// new database and its sixteen migrations cost PostgreSQL about 0.4 s of CPU, and
    /// the suite makes some two hundred (`perf record -a` of the suite: PostgreSQL a
    /// fifth of all samples); a copy of the template costs a third of that.
    pub fn migrated(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => TestDb::new(backend),
            Backend::Postgres => {
                let admin_url = postgres_admin_url()?;
                let template = migrated_template(&admin_url);
                Some(TestDb::postgres_from(admin_url, Some(template)))
            }
        }
    }

    /// A fresh database on the PostgreSQL server `admin_url` points at (its `postgres`
    /// database), dropped with the value.
    pub fn postgres_on(admin_url: String) -> TestDb {
        TestDb::postgres_from(admin_url, None)
    }

    fn postgres_from(admin_url: String, template: Option<&str>) -> TestDb {
        let name = format!("afterword_test_{}", random_suffix());
        let mut conn =
            PgConnection::establish(&admin_url).expect("connect to the PostgreSQL test server");
        // From the template if it is there (a concurrent run of other migrations may have
        // dropped it), else empty: the server migrates it as it starts.
        let copied = template.is_some_and(|t| {
            diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {t}"))
                .execute(&mut conn)
                .is_ok()
        });
        if !copied {
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create test database");
        }
        let mut url = url::Url::parse(&admin_url).expect("admin url");
        url.set_path(&format!("/{name}"));
        TestDb::Postgres {
            admin_url,
            name,
            url: url.to_string(),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Runs SQL directly, as an operator or a later feature (moderation, locking) would.
    pub fn exec(&self, sql: &str) {
        match self {
            TestDb::Sqlite { path, .. } => {
                let mut c =
                    diesel::SqliteConnection::establish(&path.to_string_lossy()).expect("sqlite");
                diesel::sql_query("PRAGMA busy_timeout = 5000")
                    .execute(&mut c)
                    .expect("pragma");
                diesel::sql_query(sql).execute(&mut c).expect("sql");
            }
            TestDb::Postgres { url, .. } => {
                let mut c = PgConnection::establish(url).expect("pg");
                diesel::sql_query(sql).execute(&mut c).expect("sql");
            }
        }
    }

    /// Runs SQL on the PostgreSQL server's admin database; `{db}` stands for this test's
    /// database (its own connections only: other tests share the server).
    pub fn admin(&self, sql: &str) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            let mut c = PgConnection::establish(admin_url).expect("pg admin");
            diesel::sql_query(sql.replace("{db}", name))
                .execute(&mut c)
                .expect("admin sql");
        }
    }

    /// How many rows a table holds.
    pub fn count(&self, table: &str) -> i64 {
        self.number(&format!("SELECT COUNT(*) AS n FROM {table}"))
    }

    /// The one number `sql` selects, as column `n`.
    pub fn number(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        match self {
            TestDb::Sqlite { path, .. } => {
                let mut c =
                    diesel::SqliteConnection::establish(&path.to_string_lossy()).expect("sqlite");
                diesel::sql_query("PRAGMA busy_timeout = 5000")
                    .execute(&mut c)
                    .expect("pragma");
                diesel::sql_query(sql)
                    .get_result::<N>(&mut c)
                    .expect("count")
                    .n
            }
            TestDb::Postgres { url, .. } => {
                let mut c = PgConnection::establish(url).expect("pg");
                diesel::sql_query(sql)
                    .get_result::<N>(&mut c)
                    .expect("count")
                    .n
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// The name of a database on the test server that holds every migration and nothing
/// else, made the first time a test asks (then reused by every test of this run, and of
/// later runs with the same migrations: the name is a hash of them). It is built under a
/// name of its own and renamed once complete, with connections refused from then on, so
/// a database by that name is a finished, untouched copy; another process building it at
/// the same time gives way to the first rename. Templates of other migrations are dropped.
fn migrated_template(admin_url: &str) -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use diesel_migrations::MigrationHarness;
        use std::hash::{Hash, Hasher};
        // Each migration's folder name and the `up.sql` the template is built with.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut versions: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        versions.sort();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for v in &versions {
            v.file_name().hash(&mut h);
            std::fs::read(v.join("up.sql")).unwrap().hash(&mut h);
        }
        let name = format!("afterword_template_{:016x}", h.finish());
        let mut admin =
            PgConnection::establish(admin_url).expect("connect to the PostgreSQL test server");
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let existing: Vec<Name> = diesel::sql_query(
            "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'afterword\\_template\\_%'",
        )
        .load(&mut admin)
        .expect("list templates");
        if existing.iter().any(|d| d.datname == name) {
            return name;
        }
        for old in existing {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", old.datname))
                .execute(&mut admin);
        }
        let building = format!("afterword_building_{}", random_suffix());
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .expect("create the template database");
        {
            let mut url = url::Url::parse(admin_url).expect("admin url");
            url.set_path(&format!("/{building}"));
            let mut c = PgConnection::establish(url.as_str()).expect("connect to the template");
            c.run_pending_migrations(afterword::db::POSTGRES_MIGRATIONS)
                .expect("migrate the template");
        }
        diesel::sql_query(format!("ALTER DATABASE {building} WITH ALLOW_CONNECTIONS false"))
            .execute(&mut admin)
            .expect("close the template");
        if diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut admin)
            .is_err()
        {
            // Another process renamed its own first.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut admin);
        }
        name
    })
}

pub fn random_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{}_{}", std::process::id(), nanos, rand_u32())
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom(&mut b);
    u32::from_le_bytes(b)
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("urandom");
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: std::sync::Arc<TestDb>,
    /// The writer's fault injection.
    pub faults: std::sync::Arc<afterword::db::Faults>,
    /// The server task: it ends when the server stops, with an error if it had to.
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for it to finish.
        drop(self.handle.stop(false));
    }
}

/// The sites every test app serves.
pub const SITES: &str = r#"
[[site]]
id = "blog"
origins = ["https://blog.example"]

[[site]]
id = "open"
origins = ["*"]
reserved_names = ["The Editor"]

[[site]]
id = "short"
origins = ["*"]
edit_window = "1s"
max_comment_length = 20

[[site]]
id = "moderated"
origins = ["*"]
moderation = "all"

[[site]]
id = "firsttime"
origins = ["*"]
moderation = "first-time"

[limits]
comments_per_ip_per_minute = 0
"#;

pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, SITES).await
}

pub async fn spawn_with(backend: Backend, config: &str) -> Option<TestApp> {
    let db = std::sync::Arc::new(TestDb::migrated(backend)?);
    Some(spawn_on(db, config).await)
}

/// Another instance on the same database (for several instances behind a load balancer).
pub async fn spawn_on(db: std::sync::Arc<TestDb>, config: &str) -> TestApp {
    let url = db.url().to_owned();
    spawn_via(db, &url, config).await
}

/// An instance on `db` that reaches it at `url` (through a proxy, say).
pub async fn spawn_via(db: std::sync::Arc<TestDb>, url: &str, config: &str) -> TestApp {
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{url}\"\n{config}{}",
        spam_checks_off(config)
    );
    let settings = Settings::from_toml(&text, &|_| None).expect("test settings");
    let app = Application::build(settings).expect("build app");
    let port = app.port();
    let handle = app.handle();
    let faults = app.faults();
    let server = tokio::spawn(app.run_until_stopped());
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client,
        db,
        faults,
        server: Some(server),
        handle,
    }
}

/// Tests post straight to the API, with no form token and often the same text twice: the
/// spam checks are off unless a test's config sets them (`tests/it/spam.rs` does).
pub fn spam_checks_off(config: &str) -> &'static str {
    if config.contains("[spam]") || config.contains("spam =") {
        ""
    } else {
        "\n[spam]\nhoneypot = false\nform_token = false\nmax_links = 0\nduplicates = \"0s\"\n"
    }
}

fn backend_of(app: &TestApp) -> Backend {
    match *app.db {
        TestDb::Sqlite { .. } => Backend::Sqlite,
        TestDb::Postgres { .. } => Backend::Postgres,
    }
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn backend(&self) -> Backend {
        backend_of(self)
    }

    pub async fn post_comment(&self, site: &str, slug: &str, body: Value) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/comments?site={site}&slug={}", enc(slug))))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Posts and returns `(comment, edit_token)`, asserting 201.
    /// POSTs a comment as if from `ip` (the test client is a trusted proxy).
    pub async fn post_from(&self, ip: &str, site: &str, slug: &str, body: Value) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/comments?site={site}&slug={}", enc(slug))))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The author's view of their own comment (what the embed asks after a reload): the
    /// `comments` of `/api/v1/comments/mine`.
    pub async fn mine(&self, site: &str, slug: &str, c: &Value, token: &str) -> Value {
        let r = self
            .client
            .post(self.url(&format!(
                "/api/v1/comments/mine?site={site}&slug={}",
                enc(slug)
            )))
            .json(&serde_json::json!({"comments": [{"id": c["id"], "edit_token": token}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["comments"].clone()
    }

    pub async fn comment(&self, site: &str, slug: &str, body: Value) -> (Value, String) {
        let r = self.post_comment(site, slug, body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        (
            v["comment"].clone(),
            v["edit_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn thread(&self, site: &str, slug: &str, extra: &str) -> Value {
        let r = self
            .client
            .get(self.url(&format!(
                "/api/v1/comments?site={site}&slug={}{extra}",
                enc(slug)
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// `PATCH url` with the edit token.
    pub async fn edit(&self, url: impl reqwest::IntoUrl, token: &str, body: &Value) -> Response {
        self.client
            .patch(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE url` with the edit token.
    pub async fn remove(&self, url: impl reqwest::IntoUrl, token: &str) -> Response {
        self.client
            .delete(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

/// The ids of a thread page's comments, in order.
/// Reads a thread until `done` holds for it (a change made by another process reaches a
/// server's cache within a second), for at most 5 s; returns the last page read.
pub async fn until_thread(
    app: &TestApp,
    site: &str,
    slug: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut page = app.thread(site, slug, "").await;
    for _ in 0..100 {
        if done(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = app.thread(site, slug, "").await;
    }
    panic!("the thread did not change: {page}");
}

pub fn ids(page: &Value) -> Vec<i64> {
    page["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

/// Asserts the error shape of API.md and returns it.
pub async fn expect_error(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "wrong status for {code}");
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"].as_str().is_some_and(|m| m.len() > 10),
        "{v}"
    );
    v
}

/// Generates `mod sqlite` and `mod postgres` with one `#[tokio::test]` per listed test fn.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::spawn($crate::common::Backend::Sqlite).await.unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::common::spawn($crate::common::Backend::Postgres).await else {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}
