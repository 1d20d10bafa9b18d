//! `afterword import` and `afterword export`, run as the shipped binary against the test
//! database while a real server serves it: every format's fixture (tests/fixtures/import),
//! re-runs, dry runs, the round trip of our own format, and caches that see the import.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use common::{TestApp, SITES};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// A config file for the CLI: the test database, the test server's sites.
struct Cli {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Cli {
    fn for_db(url: &str) -> Cli {
        Cli::with_config(url, "")
    }

    /// With more config (an `[import]` section, say).
    fn with_config(url: &str, extra: &str) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("afterword.toml");
        std::fs::write(
            &config,
            format!("database_url = \"{url}\"\n{extra}\n{SITES}"),
        )
        .unwrap();
        Cli { dir, config }
    }

    fn for_app(app: &TestApp) -> Cli {
        Cli::for_db(app.db.url())
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("AFTERWORD_CONFIG")
            .env_remove("AFTERWORD_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .output()
            .expect("run afterword")
    }

    /// Imports and returns the JSON summary, asserting that it ran: exit status 0, or 3
    /// when the summary lists records it could not import.
    fn import(&self, format: &str, file: &Path, extra: &[&str]) -> Value {
        let mut args = import_args(format, file);
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let summary: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("import failed: {}", String::from_utf8_lossy(&out.stderr)));
        let expected = if summary["problem_count"] == 0 { 0 } else { 3 };
        assert_eq!(out.status.code(), Some(expected), "{summary:#}");
        summary
    }

    /// Exports site `blog` to a file and returns its text.
    fn export(&self, extra: &[&str]) -> String {
        let path = self.dir.path().join("export.jsonl");
        let mut args = vec![
            "export",
            "--site",
            "blog",
            "--output",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&path).unwrap()
    }
}

/// `afterword import FORMAT FILE --site blog --json`.
fn import_args<'a>(format: &'a str, file: &'a Path) -> Vec<&'a str> {
    vec![
        "import",
        format,
        file.to_str().unwrap(),
        "--site",
        "blog",
        "--json",
    ]
}

fn added(summary: &Value, status: &str) -> i64 {
    summary["comments"][status].as_i64().unwrap_or(0)
}

fn skipped(summary: &Value, reason: &str) -> i64 {
    summary["skipped"][reason].as_i64().unwrap_or(0)
}

/// The thread as a reader gets it, through the running server.
async fn page(app: &TestApp, slug: &str) -> Value {
    app.thread("blog", slug, "").await
}

fn by_author<'a>(page: &'a Value, author: &str) -> &'a Value {
    page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["author"] == author)
        .unwrap_or_else(|| panic!("no comment by {author} in {page:#}"))
}

async fn isso_from_a_real_isso_database(app: TestApp) {
    let cli = Cli::for_app(&app);
    let s = cli.import("isso", &fixture("isso.db"), &[]);
    assert_eq!(s["threads_created"], 3, "{s:#}");
    assert_eq!(added(&s, "approved"), 6, "{s:#}");
    assert_eq!(added(&s, "pending"), 1);
    assert_eq!(
        added(&s, "deleted"),
        1,
        "the deleted comment with a reply stays as a placeholder"
    );
    // Three likes become 👍; the test site offers no 👎, and the summary says so.
    assert_eq!(s["reactions"], 3);
    assert_eq!(s["reactions_not_imported"]["👎"], 1);

    let p = page(&app, "/blog/hello/").await;
    assert_eq!(p["thread"]["comment_count"], 4);
    let tom = by_author(&p, "Tom & Jerry <3");
    assert_eq!(
        tom["website"], "http://example.org/tom?a=1&b=2",
        "unescaped once"
    );
    assert_eq!(
        tom["html"], "<p>Hello <em>world</em> &amp; &lt;script&gt;x&lt;/script&gt;</p>\n",
        "Isso's Markdown, through our renderer"
    );
    assert_eq!(tom["reactions"]["👍"], 3);
    let placeholder = p["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "deleted")
        .expect("a placeholder");
    assert_eq!(placeholder["author"], Value::Null);
    assert_eq!(by_author(&p, "Bo")["parent_id"], placeholder["id"]);
    assert!(
        !p.to_string().contains("Awaiting moderation"),
        "pending comments are not shown"
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE email = 'gone@example.org'"),
        0,
        "a deleted comment keeps no leftover email"
    );
    let cafe = page(&app, "/café/").await;
    assert_eq!(cafe["comments"][0]["author"], "Zoë");
    // The shape that once crashed the import: a bare `&` before typographic quotes (the
    // title as Isso 0.14 stored it), and the same escaped in a name.
    let quotes = page(&app, "/quotes/").await;
    assert_eq!(quotes["thread"]["title"], "Fish & “Chips”");
    let ann = by_author(&quotes, "Ann & “Quotes”");
    assert_eq!(ann["html"], "<p>Fish &amp; “Chips” — <em>yes</em></p>\n");
    assert_eq!(
        ann["website"],
        "https://example.org/?q=%E2%80%9Cx%E2%80%9D&y"
    );

    let again = cli.import("isso", &fixture("isso.db"), &[]);
    assert_eq!(again["comments"], serde_json::json!({}), "{again:#}");
    assert_eq!(again["already_present"], 8);
    assert_eq!(again["reactions"], 0);
    assert_eq!(
        page(&app, "/blog/hello/").await["thread"]["comment_count"],
        4
    );
}

async fn disqus_streamed_with_its_awkward_cases(app: TestApp) {
    let cli = Cli::for_app(&app);
    let s = cli.import("disqus", &fixture("disqus.xml"), &[]);
    assert_eq!(s["threads_created"], 2, "{s:#}");
    assert_eq!(added(&s, "approved"), 3, "{s:#}");
    assert_eq!(added(&s, "spam"), 1);
    assert_eq!(added(&s, "deleted"), 1);
    assert_eq!(skipped(&s, "disqus post without a readable createdAt"), 1);
    assert_eq!(
        skipped(&s, "comment of a thread the file does not describe"),
        1
    );
    assert_eq!(skipped(&s, "deleted, without replies (nothing to show)"), 1);

    let p = page(&app, "/2019/hello-world/").await;
    assert_eq!(p["thread"]["title"], "Hello & welcome");
    let alice = by_author(&p, "Alice <A>");
    assert_eq!(
        alice["html"],
        "<p>First! <strong>Bold</strong> &amp; <em>brave</em> <a href=\"https://example.org/x?a=1&amp;b=2\" rel=\"nofollow ugc noopener noreferrer\">a link</a></p>\n<p>Second paragraph</p>\n",
        "HTML kept to our set: the script is gone"
    );
    assert_eq!(alice["created_at"], "2019-05-01T11:00:00Z");
    // The reply to the deleted reply (listed before it in the file) hangs under its
    // placeholder, which hangs under Alice.
    let carol = by_author(&p, "Carol");
    let placeholder = p["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == carol["parent_id"])
        .expect("carol's parent is on the page");
    assert_eq!(placeholder["status"], "deleted");
    assert_eq!(placeholder["parent_id"], alice["id"]);
    assert!(!p.to_string().contains("watches"), "spam is not shown");

    let creme = page(&app, "/crème-brûlée/").await;
    assert_eq!(creme["thread"]["locked"], true);
    assert_eq!(creme["comments"][0]["created_at"], "2020-02-29T22:30:00Z");

    let again = cli.import("disqus", &fixture("disqus.xml"), &[]);
    assert_eq!(again["comments"], serde_json::json!({}), "{again:#}");
    assert_eq!(again["already_present"], 5);
}

async fn wordpress_wxr(app: TestApp) {
    let cli = Cli::for_app(&app);
    let s = cli.import("wordpress", &fixture("wordpress.xml"), &[]);
    assert_eq!(
        s["threads_created"], 2,
        "the post without comments is not created: {s:#}"
    );
    assert_eq!(added(&s, "approved"), 3, "{s:#}");
    assert_eq!(added(&s, "pending"), 1);
    assert_eq!(added(&s, "spam"), 1);
    assert_eq!(added(&s, "deleted"), 1);
    assert_eq!(skipped(&s, "pingback or trackback"), 1);
    assert_eq!(
        skipped(&s, "wordpress comment with an unknown comment_approved"),
        1
    );
    let p = page(&app, "/2018/03/tea-biscuits/").await;
    let jane = by_author(&p, "Jane & John");
    assert_eq!(jane["website"], "https://jane.example.org/");
    assert_eq!(
        jane["html"],
        "<p>Lovely post.</p>\n<p>Second paragraph<br>\nwith a line break, <strong>strong</strong> words &amp; <code>code()</code>.</p>\n"
    );
    assert_eq!(jane["created_at"], "2018-03-03T11:00:00Z", "the GMT date");
    let replier = by_author(&p, "Replier");
    assert_eq!(
        replier["created_at"], "2018-03-04T09:00:00Z",
        "no GMT date: the local one"
    );
    let uber = page(&app, "/über-uns/").await;
    assert_eq!(uber["thread"]["locked"], true);
    assert_eq!(uber["comments"][0]["html"], "<p>Schön &lt;3</p>\n");
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE status = 'spam'"),
        1
    );
    // The site's feed holds the imported comments that are approved, as published when
    // they were written (an import writes no events: it records them itself), the most
    // recently written first; the held one only in the moderators' record.
    let r = app.get("/feeds/blog.atom").await;
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    let f = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(f.entries.len(), 3, "{xml}");
    let published: Vec<_> = f.entries.iter().map(|e| e.published.unwrap()).collect();
    assert!(published.windows(2).all(|w| w[0] >= w[1]), "{xml}");
    assert!(
        f.entries
            .iter()
            .any(|e| e.published.unwrap().to_rfc3339() == "2018-03-03T11:00:00+00:00"),
        "{xml}"
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM feed_entries WHERE published_at IS NULL"),
        1
    );
}

async fn remark42_gzipped(app: TestApp) {
    let cli = Cli::for_app(&app);
    let gz = cli.dir.path().join("backup.gz");
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&std::fs::read(fixture("remark42.jsonl")).unwrap())
            .unwrap();
        enc.finish().unwrap();
    }
    let s = cli.import("remark42", &gz, &[]);
    assert_eq!(s["threads_created"], 2, "{s:#}");
    assert_eq!(added(&s, "approved"), 3);
    assert_eq!(added(&s, "deleted"), 1);
    assert_eq!(added(&s, "spam"), 1, "a blocked user's comment");
    assert_eq!(skipped(&s, "remark42 comment without a readable time"), 1);
    assert_eq!(skipped(&s, "remark42 line that is not JSON"), 1);
    assert_eq!(s["reactions"], 2);
    let p = page(&app, "/remark/").await;
    let rem = by_author(&p, "Rem");
    assert_eq!(
        rem["html"],
        "<p>Hello from <em>remark42</em> &amp; friends</p>\n"
    );
    assert_eq!(rem["created_at"], "2021-01-02T03:04:05.123456Z");
    assert_eq!(by_author(&p, "Third")["edited_at"], "2021-01-02T06:00:00Z");
    assert_eq!(page(&app, "/日本/").await["comments"][0]["author"], "六");
    // The same file, not gzipped: nothing new.
    let again = cli.import("remark42", &fixture("remark42.jsonl"), &[]);
    assert_eq!(again["already_present"], 5, "{again:#}");
}

async fn dry_run_writes_nothing_and_shows_the_slugs(app: TestApp) {
    let cli = Cli::for_app(&app);
    let out = cli.run(&[
        "import",
        "disqus",
        fixture("disqus.xml").to_str().unwrap(),
        "--site",
        "blog",
        "--dry-run",
        "--slug-from",
        r"regex:^https://blog\.example/(\d+)/(.*)$=/posts/$2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "records were skipped: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Dry run"), "{text}");
    assert!(
        text.contains("https://blog.example/2019/hello-world/ → /posts/hello-world/"),
        "{text}"
    );
    assert!(text.contains("2 approved"), "{text}");
    assert!(
        text.contains("comment of a thread without a usable slug"),
        "the URL the pattern does not match is reported: {text}"
    );
    assert_eq!(app.db.count("comments"), 0);
    assert_eq!(app.db.count("threads"), 0);
    // The real run then imports what the dry run counted.
    let s = cli.import(
        "disqus",
        &fixture("disqus.xml"),
        &[
            "--slug-from",
            r"regex:^https://blog\.example/(\d+)/(.*)$=/posts/$2",
        ],
    );
    assert_eq!(added(&s, "approved"), 2, "{s:#}");
    assert_eq!(
        page(&app, "/posts/hello-world/").await["thread"]["comment_count"],
        2
    );
}

async fn export_import_export_round_trip(app: TestApp) {
    let cli = Cli::for_app(&app);
    for (format, file) in [
        ("isso", "isso.db"),
        ("disqus", "disqus.xml"),
        ("wordpress", "wordpress.xml"),
        ("remark42", "remark42.jsonl"),
    ] {
        cli.import(format, &fixture(file), &[]);
    }
    // A comment written here, a reply to an imported one, and a reaction on a post.
    let p = page(&app, "/2019/hello-world/").await;
    let alice = by_author(&p, "Alice <A>")["id"].as_i64().unwrap();
    app.comment(
        "blog",
        "/2019/hello-world/",
        serde_json::json!({"body": "Native *reply*", "author": "Nat", "email": "nat@example.org", "parent_id": alice}),
    )
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/reactions?site=blog&slug=%2Fquiet%2F"))
        .header("Origin", "https://blog.example")
        .json(&serde_json::json!({"kind": "🎉", "visitor": "reader-one", "active": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let first = cli.export(&[]);
    let mut lines = first.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "afterword-export");
    assert_eq!(header["version"], 1);
    assert!(!first.contains("@example.org"), "no emails unless asked");
    assert!(!first.contains("visitor"), "no visitor hashes");
    assert!(!first.contains("\"ip\""), "no addresses");
    assert!(
        first.contains("\"id\":\"disqus:5001\""),
        "source ids are kept"
    );
    assert!(first.contains("Native *reply*"));
    assert!(first.contains("\"🎉\":1"), "{first}");
    assert!(!first.contains("reader-one"), "no visitor ids");
    let with_emails = cli.export(&["--include-emails"]);
    assert!(with_emails.contains("\"email\":\"nat@example.org\""));
    assert!(
        !with_emails.contains("gone@example.org"),
        "never a deleted comment's email"
    );

    // Into an empty database (the other backend's harness makes it), and out again.
    let empty = common::TestDb::new(app.backend()).unwrap();
    let other = Cli::for_db(empty.url());
    let file = cli.dir.path().join("first.jsonl");
    std::fs::write(&file, &first).unwrap();
    let s = other.import("afterword", &file, &[]);
    assert_eq!(skipped(&s, "comment before any thread"), 0, "{s:#}");
    let second = other.export(&[]);
    assert_eq!(
        first, second,
        "export → import → export gives the same file"
    );
    // And back into the first database: all of it is there already.
    let back = cli.import("afterword", &file, &[]);
    assert_eq!(back["comments"], serde_json::json!({}), "{back:#}");
}

async fn a_running_server_sees_the_import(app: TestApp) {
    // Read (and so cache) the thread and the counts before the import.
    let before = page(&app, "/2019/hello-world/").await;
    assert_eq!(before["comments"], serde_json::json!([]));
    let counts = app
        .get("/api/v1/counts?site=blog&slug=%2F2019%2Fhello-world%2F")
        .await;
    assert_eq!(counts.status(), 200);
    let cli = Cli::for_app(&app);
    cli.import("disqus", &fixture("disqus.xml"), &[]);
    // Bounded wait: the SQLite watcher polls, PostgreSQL notifies at commit.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = page(&app, "/2019/hello-world/").await;
        let counts: Value = app
            .get("/api/v1/counts?site=blog&slug=%2F2019%2Fhello-world%2F")
            .await
            .json()
            .await
            .unwrap();
        if p["thread"]["comment_count"] == 2 && counts.to_string().contains('2') {
            assert_eq!(p["comments"].as_array().unwrap().len(), 3, "{p:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server still serves its cached page: {p:#} {counts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A WXR file of `posts` posts with `per_post` comments each.
fn generated_wxr(path: &Path, posts: usize, per_post: usize) {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss xmlns:wp=\"http://wordpress.org/export/1.2/\"><channel>",
    );
    let mut id = 0;
    for p in 0..posts {
        xml.push_str(&format!(
            "<item><link>https://blog.example/gen/{p}/</link><wp:post_id>{p}</wp:post_id>"
        ));
        for _ in 0..per_post {
            id += 1;
            xml.push_str(&format!(
                "<wp:comment><wp:comment_id>{id}</wp:comment_id><wp:comment_author>R{id}</wp:comment_author>\
                 <wp:comment_author_email>R{}@Example.org</wp:comment_author_email>\
                 <wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt>\
                 <wp:comment_content><![CDATA[Comment <em>{id}</em>]]></wp:comment_content>\
                 <wp:comment_approved>1</wp:comment_approved></wp:comment>",
                id % 7
            ));
        }
        xml.push_str("</item>");
    }
    xml.push_str("</channel></rss>");
    std::fs::write(path, xml).unwrap();
}

async fn the_server_keeps_taking_comments_during_an_import(app: TestApp) {
    let cli = Cli::for_app(&app);
    let file = cli.dir.path().join("big.xml");
    generated_wxr(&file, 40, 50);
    let config = cli.config.clone();
    let import = std::thread::spawn(move || {
        Command::new(BIN)
            .args(import_args("wordpress", &file))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    });
    let mut posted = 0;
    while !import.is_finished() {
        let r = app
            .post_comment(
                "blog",
                "/gen/0/",
                serde_json::json!({"body": format!("live {posted}")}),
            )
            .await;
        match r.status().as_u16() {
            201 => posted += 1,
            // Waited on the import's transaction past the server's bound (a loaded
            // machine): nothing stored, and the client is told to try again.
            503 => assert_eq!(r.headers()["retry-after"], "1"),
            s => panic!("{s}: {}", r.text().await.unwrap()),
        }
    }
    let out = import.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added(&s, "approved"), 2000, "{s:#}");
    assert_eq!(app.db.count("comments"), 2000 + posted);
    assert_eq!(
        app.db
            .number("SELECT comment_count AS n FROM threads WHERE slug = '/gen/0/'"),
        50 + posted,
        "the server's comments and the import's are both counted"
    );
}

async fn bad_input_is_refused_clearly(app: TestApp) {
    let cli = Cli::for_app(&app);
    let fail = |args: &[&str]| {
        let out = cli.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let disqus = fixture("disqus.xml");
    let disqus = disqus.to_str().unwrap();
    assert!(fail(&["import", "disqus", disqus, "--site", "nope"]).contains("no site \"nope\""));
    assert!(fail(&["import", "disqus", "/no/such/file", "--site", "blog"]).contains("cannot open"));
    assert!(fail(&["import", "afterword", disqus, "--site", "blog"])
        .contains("not an Afterword export"));
    assert!(fail(&["import", "isso", disqus, "--site", "blog"]).contains("Isso"));
    let broken = cli.dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        "<disqus><thread dsq:id=\"1\"><link>x</thread></oops>",
    )
    .unwrap();
    let err = fail(&[
        "import",
        "disqus",
        broken.to_str().unwrap(),
        "--site",
        "blog",
    ]);
    assert!(err.contains("XML"), "{err}");
    assert!(fail(&[
        "import",
        "disqus",
        disqus,
        "--site",
        "blog",
        "--slug-from",
        "title"
    ])
    .contains("--slug-from"));
    assert_eq!(app.db.count("comments"), 0);
}

/// A WordPress export is imported as it is read: one cut off in the middle keeps what was
/// read whole (never part of a thread), says so, and the whole file later adds the rest.
async fn a_file_cut_short_keeps_whole_threads(app: TestApp) {
    const POSTS: usize = 30;
    const PER_POST: usize = 400;
    let cli = Cli::for_app(&app);
    let whole = cli.dir.path().join("whole.xml");
    let short = cli.dir.path().join("short.xml");
    generated_wxr(&whole, POSTS, PER_POST);
    let xml = std::fs::read_to_string(&whole).unwrap();
    // In the middle of post 20's comments.
    let middle = format!(
        "<wp:comment><wp:comment_id>{}<",
        20 * PER_POST + PER_POST / 2
    );
    std::fs::write(&short, &xml[..xml.find(&middle).unwrap()]).unwrap();

    let out = cli.run(&[
        "import",
        "wordpress",
        short.to_str().unwrap(),
        "--site",
        "blog",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("XML") && err.contains("what was committed before stays"),
        "{err}"
    );
    let kept = app.db.count("comments") as usize;
    assert!(
        (5_000..20 * PER_POST).contains(&kept),
        "{kept} comments kept"
    );
    assert_eq!(kept % PER_POST, 0, "only whole threads: {kept}");
    let per_thread = app.db.number(
        "SELECT COUNT(*) AS n FROM (SELECT thread_id FROM comments GROUP BY thread_id \
         HAVING COUNT(*) <> 400) AS partial",
    );
    assert_eq!(per_thread, 0);

    let s = cli.import("wordpress", &whole, &[]);
    assert_eq!(s["already_present"], kept as u64, "{s:#}");
    assert_eq!(added(&s, "approved"), (POSTS * PER_POST - kept) as i64);
    assert_eq!(app.db.count("comments") as usize, POSTS * PER_POST);
}

async fn import_and_export_from_the_admin_page(app: TestApp) {
    use reqwest::Method;
    let admin = app.admin().await;
    let form = admin
        .request(Method::GET, "/admin/transfer")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("Import comments") && html.contains("<option>blog</option>"));

    let body = std::fs::read(fixture("disqus.xml")).unwrap();
    let send = |query: &str, csrf: bool| {
        let url = app.url(&format!("/api/v1/admin/import?{query}"));
        app.client
            .post(url)
            .header("cookie", &admin.cookie)
            .header(
                "x-csrf-token",
                if csrf { admin.csrf.as_str() } else { "forged" },
            )
            .header("content-type", "application/octet-stream")
            .body(body.clone())
            .send()
    };
    let dry: Value = send("site=blog&format=disqus&dry_run=1", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dry["dry_run"], true, "{dry:#}");
    assert_eq!(added(&dry, "approved"), 3);
    assert_eq!(app.db.count("comments"), 0, "a dry run writes nothing");
    let done: Value = send("site=blog&format=disqus", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(added(&done, "approved"), 3, "{done:#}");
    assert_eq!(
        page(&app, "/2019/hello-world/").await["thread"]["comment_count"],
        2,
        "this server shows it at once"
    );
    common::expect_error(
        send("site=blog&format=disqus", false).await.unwrap(),
        403,
        "csrf_token_invalid",
    )
    .await;
    common::expect_error(
        send("site=nope&format=disqus", true).await.unwrap(),
        422,
        "unknown_site",
    )
    .await;
    common::expect_error(
        send("site=blog&format=blogger", true).await.unwrap(),
        422,
        "invalid_format",
    )
    .await;
    common::expect_error(
        send("site=blog&format=disqus&slug_from=regex:(=x", true)
            .await
            .unwrap(),
        422,
        "invalid_slug_rule",
    )
    .await;
    common::expect_error(
        send("site=blog&format=afterword", true).await.unwrap(),
        422,
        "import_failed",
    )
    .await;
    let not_isso = common::expect_error(
        send("site=blog&format=isso", true).await.unwrap(),
        422,
        "import_failed",
    )
    .await;
    assert!(
        not_isso
            .to_string()
            .contains("this is not an Isso database: expected the tables"),
        "{not_isso}"
    );
    // Strict: the file has records that cannot be read, so nothing is written.
    let before = app.db.count("comments");
    let strict: Value = send("site=open&format=disqus&strict=1", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(strict["strict_stopped"], true, "{strict:#}");
    assert_eq!(strict["problems"][0]["record"], "disqus:5006", "{strict:#}");
    assert_eq!(app.db.count("comments"), before);

    let r = admin
        .request(Method::GET, "/api/v1/admin/export?site=blog")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("afterword-blog.jsonl"));
    let downloaded = r.text().await.unwrap();
    assert_eq!(
        downloaded,
        Cli::for_app(&app).export(&[]),
        "the same file as the command line's"
    );
    let anonymous = app.get("/api/v1/admin/export?site=blog").await;
    assert_eq!(anonymous.status(), 401);
}

/// A large import on SQLite sets the commenters' address index aside and builds it again
/// at its end; an import stopped before that leaves it to the next start.
async fn a_large_import_builds_the_address_index_again(app: TestApp) {
    let cli = Cli::for_app(&app);
    let file = cli.dir.path().join("big.xml");
    // Two groups of threads (2,000 comments each).
    generated_wxr(&file, 50, 50);
    let sqlite = app.db.url().starts_with("sqlite");
    let index_count =
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'comments_email_key_idx'";
    // Set aside after the first group (a real import: after 50,000 comments).
    let out = cli.run_with(
        &import_args("wordpress", &file),
        &[
            ("AFTERWORD_IMPORT_INDEX_AFTER", "100"),
            ("RUST_LOG", "info"),
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_eq!(
        log.contains("address index set aside"),
        sqlite,
        "set aside on SQLite only: {log}"
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added(&s, "approved"), 2500, "{s:#}");
    let by_index = if sqlite {
        assert_eq!(app.db.number(index_count), 1, "the index is back");
        "SELECT COUNT(*) AS n FROM comments INDEXED BY comments_email_key_idx \
         WHERE email_key = 'r3@example.org' AND status = 'approved'"
    } else {
        "SELECT COUNT(*) AS n FROM comments WHERE email_key = 'r3@example.org' \
         AND status = 'approved'"
    };
    assert_eq!(
        app.db.number(by_index),
        (1..=2500).filter(|id| id % 7 == 3).count() as i64,
        "the index holds every imported comment"
    );
    if sqlite {
        // As an import killed while the index was set aside leaves it.
        app.db.exec("DROP INDEX comments_email_key_idx");
        let out = cli.run(&["migrate"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(app.db.number(index_count), 1, "migrate builds it again");
    }
}

/// A thread the database refuses (here a trigger, as a constraint would) is skipped whole
/// and said so; the threads written with it in one savepoint are written again without it.
async fn a_thread_the_database_refuses_is_skipped_whole(app: TestApp) {
    let cli = Cli::for_app(&app);
    if app.db.url().starts_with("sqlite") {
        app.db.exec(
            "CREATE TRIGGER refuse BEFORE INSERT ON comments WHEN NEW.body LIKE '%refuse me%' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        );
    } else {
        app.db.exec(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
             IF NEW.body LIKE '%refuse me%' THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
        );
        app.db.exec(
            "CREATE TRIGGER refuse BEFORE INSERT ON comments \
             FOR EACH ROW EXECUTE FUNCTION refuse()",
        );
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss xmlns:wp=\"http://wordpress.org/export/1.2/\"><channel>",
    );
    let mut id = 0;
    for post in ["first", "second", "third"] {
        xml.push_str(&format!(
            "<item><link>https://blog.example/{post}/</link><wp:post_id>{post}</wp:post_id>"
        ));
        for n in 1..=3 {
            id += 1;
            let body = if post == "second" && n == 2 {
                "please refuse me"
            } else {
                "fine"
            };
            xml.push_str(&format!(
                "<wp:comment><wp:comment_id>{id}</wp:comment_id>\
                 <wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt>\
                 <wp:comment_content>{body}</wp:comment_content>\
                 <wp:comment_approved>1</wp:comment_approved></wp:comment>"
            ));
        }
        xml.push_str("</item>");
    }
    xml.push_str("</channel></rss>");
    let file = cli.dir.path().join("refused.xml");
    std::fs::write(&file, xml).unwrap();

    let s = cli.import("wordpress", &file, &[]);
    let refused = "comment of a thread the database refused (see the log)";
    assert_eq!(added(&s, "approved"), 6, "{s:#}");
    assert_eq!(skipped(&s, refused), 3, "the whole thread: {s:#}");
    assert_eq!(s["threads_created"], 2, "{s:#}");
    assert_eq!(app.db.count("comments"), 6);
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM threads WHERE slug = '/second/'"),
        0,
        "nothing of the refused thread stays"
    );
    assert_eq!(
        page(&app, "/first/").await["comments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Once the database takes it, a second run adds just that thread.
    if app.db.url().starts_with("sqlite") {
        app.db.exec("DROP TRIGGER refuse");
    } else {
        app.db.exec("DROP TRIGGER refuse ON comments");
    }
    let s = cli.import("wordpress", &file, &[]);
    assert_eq!(added(&s, "approved"), 3, "{s:#}");
    assert_eq!(s["already_present"], 6, "{s:#}");
    assert_eq!(app.db.count("comments"), 9);
}

/// Runs an import that may fail; returns its exit status, its JSON summary (if it printed
/// one) and its standard error. A panic or an abort fails the test.
fn run_import(cli: &Cli, format: &str, file: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = import_args(format, file);
    args.extend_from_slice(extra);
    let out = cli.run(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 3 | 4)) && !err.contains("panicked"),
        "{format} {}: status {:?}\n{err}",
        file.display(),
        out.status
    );
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code.unwrap_or(-1), summary, err)
}

fn problems(summary: &Value) -> String {
    summary["problems"].to_string()
}

/// Makes the Isso databases of the corpus too large to keep in the repository: texts of
/// about 1 MiB of nesting Markdown and HTML (just under the default cap on a text), and
/// one of 3 MiB (over it).
fn large_isso_files(dir: &Path) -> Vec<PathBuf> {
    let under = (1 << 20) - 64;
    let texts: [(&str, Vec<String>); 2] = [
        (
            "deep-markdown.db",
            vec![
                format!("{}Hello", "<b>".repeat(under / 3)),
                format!("{}quote", "> ".repeat(under / 2)),
                "[".repeat(under),
                format!("{}x{}", "*".repeat(under / 2), "*".repeat(under / 2)),
                format!("{}item", "- ".repeat(under / 2)),
                format!("{}deep", "<blockquote><ul><li>".repeat(under / 20)),
            ],
        ),
        ("huge-text.db", vec!["x".repeat(3 << 20), "fine".into()]),
    ];
    texts
        .into_iter()
        .map(|(name, texts)| {
            let path = dir.join(name);
            let db = rusqlite::Connection::open(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, \
                 title VARCHAR(256)); \
                 CREATE TABLE comments (tid REFERENCES threads(id), id INTEGER PRIMARY KEY, \
                 parent INTEGER, created FLOAT NOT NULL, modified FLOAT, mode INTEGER, \
                 remote_addr VARCHAR, text VARCHAR NOT NULL, author VARCHAR, email VARCHAR, \
                 website VARCHAR, likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, \
                 voters BLOB NOT NULL, notification INTEGER DEFAULT 0); \
                 INSERT INTO threads VALUES (1, '/big/', 'Big');",
            )
            .unwrap();
            for (i, t) in texts.iter().enumerate() {
                db.execute(
                    "INSERT INTO comments (tid, id, created, mode, text, voters) \
                     VALUES (1, ?1, 1556704800.0, 1, ?2, x'')",
                    rusqlite::params![i as i64 + 1, t],
                )
                .unwrap();
            }
            path
        })
        .collect()
}

/// Which files of the nasty corpus a run reads.
#[derive(Clone, Copy, PartialEq)]
enum Corpus {
    All,
    /// Without the files of deep nesting and huge texts: those try the readers, which
    /// are the same whatever the database, and cost a debug build most of a minute each.
    Cheap,
}

/// Every importer reads every file of its nasty corpus (tests/fixtures/import/nasty, made
/// by make_nasty.py) without a panic or an abort: deep nesting of a few MiB, files cut
/// short, invalid UTF-8, lines over the cap, unreadable dates, parents in cycles and
/// self-parents, ids twice, values of the wrong type, files of another kind. Each ends
/// with a documented exit status, and the database stays sound. One test per group of
/// formats, so that they run side by side; all of them on SQLite, the cheap files on
/// PostgreSQL as well.
async fn nasty_files(app: TestApp, formats: &[&str], corpus: Corpus) {
    let cli = Cli::for_app(&app);
    let root = fixture("nasty");
    let mut seen = 0;
    for &format in formats {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(format))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if format == "isso" && corpus == Corpus::All {
            files.extend(large_isso_files(cli.dir.path()));
        }
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if corpus == Corpus::Cheap && (name.starts_with("deep-") || name.starts_with("huge-")) {
                continue;
            }
            let (code, s, err) = run_import(&cli, format, &file, &[]);
            seen += 1;
            // What some files must say.
            match (format, name.as_str()) {
                (_, "empty" | "binary" | "deep-unclosed.gz" | "unclosed") => {
                    assert_ne!(code, 0, "{format}/{name}")
                }
                ("remark42" | "afterword", "last-line-cut") => {
                    assert_eq!(code, 3, "{format}/{name}: {err}");
                    assert!(problems(&s).contains("cut short"), "{s:#}");
                }
                ("remark42" | "afterword", "long-line.gz") => {
                    assert_eq!(code, 3, "{format}/{name}: {err}");
                    assert!(problems(&s).contains("import.max_line_bytes"), "{s:#}");
                }
                ("remark42" | "afterword", "invalid-utf8") => {
                    assert!(problems(&s).contains("UTF-8"), "{s:#}")
                }
                ("disqus" | "wordpress", "deep-elements.gz") => {
                    // 4 when that was the file's only record.
                    assert!(matches!(code, 3 | 4), "{format}/{name}: {err}");
                    assert!(problems(&s).contains("nested deeper"), "{s:#}");
                }
                (_, "multibyte-entities" | "deep-html.gz") => {
                    assert_eq!(code, 0, "{format}/{name}: {err}")
                }
                (_, "parents-and-dates" | "parents-dates-types.db") => {
                    assert_eq!(code, 3, "{format}/{name}: {err}");
                    assert!(problems(&s).contains("without a readable"), "{s:#}");
                }
                ("isso", "not-isso.db" | "wrong-columns.db") => {
                    assert_eq!(code, 4, "{err}");
                    assert!(
                        err.contains("this is not an Isso database: expected the tables threads (id, uri, title)"),
                        "{err}"
                    );
                }
                ("isso", "deep-markdown.db") => assert_eq!(code, 0, "{err}"),
                (_, "huge-text.db" | "huge-text.gz") => {
                    assert_eq!(code, 3, "{format}/{name}: {err}");
                    assert!(problems(&s).contains("import.max_body_bytes"), "{s:#}");
                }
                ("commento" | "artalk" | "waline", "deep-json.gz" | "truncated") => {
                    assert_eq!(code, 4, "{format}/{name}: {err}");
                    assert!(err.contains("the JSON is broken"), "{err}");
                }
                _ => {}
            }
        }
    }
    assert!(seen >= 3 * formats.len(), "{seen} files");
    // The server still answers, and what was imported reads back (each text format's
    // `multibyte-entities` file imports a thread).
    let read_back = formats.iter().find_map(|f| match *f {
        "isso" | "cusdis" => None,
        "remark42" => Some("/r/"),
        "afterword" => Some("/t/"),
        _ => Some("/a/"),
    });
    if let Some(slug) = read_back {
        let p = page(&app, slug).await;
        assert!(
            p["comments"].as_array().is_some_and(|c| !c.is_empty()),
            "{p:#}"
        );
    }
    if let common::TestDb::Sqlite { path, .. } = &*app.db {
        let db = rusqlite::Connection::open(path).unwrap();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
}

async fn nasty_files_of_every_format_cheap_ones(app: TestApp) {
    let all = [
        "disqus",
        "wordpress",
        "remark42",
        "afterword",
        "isso",
        "commento",
        "artalk",
        "waline",
        "cusdis",
    ];
    nasty_files(app, &all, Corpus::Cheap).await;
}

mod nasty_on_sqlite {
    use super::{nasty_files, Corpus};
    use crate::common::{spawn, Backend};

    async fn all_of(formats: &[&str]) {
        let app = spawn(Backend::Sqlite).await.unwrap();
        nasty_files(app, formats, Corpus::All).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn xml_importers_survive_their_nasty_files() {
        all_of(&["disqus", "wordpress"]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_lines_importers_survive_their_nasty_files() {
        all_of(&["remark42", "afterword"]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commento_and_artalk_survive_their_nasty_files() {
        all_of(&["commento", "artalk"]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waline_survives_its_nasty_files() {
        all_of(&["waline"]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_importers_survive_their_nasty_files() {
        all_of(&["isso", "cusdis"]).await;
    }
}

/// One bad record costs only itself, and the summary names it; `--strict` writes nothing
/// then (a WordPress file, otherwise imported as it is read, is read whole first).
async fn bad_records_are_listed_and_strict_writes_nothing(app: TestApp) {
    let cli = Cli::for_app(&app);
    let nasty = fixture("nasty");
    for format in ["remark42", "wordpress"] {
        let file = nasty.join(format).join("parents-and-dates");
        let (code, s, err) = run_import(&cli, format, &file, &["--strict"]);
        assert_eq!(code, 3, "{err}");
        assert_eq!(s["strict_stopped"], true, "{s:#}");
        assert_eq!(s["comments"], serde_json::json!({}), "{s:#}");
        assert_eq!(app.db.count("comments"), 0, "{format}: --strict wrote");
    }
    let file = nasty.join("remark42").join("parents-and-dates");
    let (code, s, _) = run_import(&cli, "remark42", &file, &[]);
    assert_eq!(code, 3);
    assert_eq!(s["strict_stopped"], false);
    assert_eq!(s["problem_count"], 2, "{s:#}");
    let listed: Vec<(String, String)> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["record"].as_str().unwrap().to_owned(),
                p["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        listed.contains(&(
            "remark42:5".into(),
            "remark42 comment without a readable time".into()
        )),
        "{listed:?}"
    );
    assert!(listed.iter().any(|(r, _)| r == "remark42:6"), "{listed:?}");
    // The rest is in: a cycle, a self-parent and a reply to a missing comment become
    // top-level comments, the id given twice is kept once.
    assert_eq!(added(&s, "approved"), 5, "{s:#}");
    assert_eq!(s["already_present"], 1, "{s:#}");
}

/// Caps from `[import]`: each error names its key. A gzip of about 10 MB that would
/// inflate to 10 GiB is refused once the cap is read, in seconds, and leaves nothing in
/// the temporary directory.
async fn caps_refuse_hostile_files_by_name(app: TestApp) {
    let cli = Cli::with_config(
        app.db.url(),
        "[import]\nmax_input_bytes = 1048576\nmax_line_bytes = 300\n\
         max_record_bytes = 2000\nmax_body_bytes = 100\nmax_thread_comments = 3",
    );
    let dir = cli.dir.path();
    // The bomb: one gzip member of 1 MiB of comment lines, written 10,240 times (10 GiB
    // unpacked from 10 MiB). The cap is low, so that reading up to it is quick even in a
    // debug build on a busy machine.
    let line = r#"{"id":"b","pid":"","text":"<p>bomb</p>","user":{"name":"B"},"locator":{"url":"https://blog.example/b/"},"time":"2021-01-02T03:04:05Z"}"#;
    let mut member = Vec::new();
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(&mut member, flate2::Compression::best());
        let block = format!("{line}\n").repeat(1 << 10);
        for _ in 0..(1 << 20) / block.len() {
            gz.write_all(block.as_bytes()).unwrap();
        }
        gz.finish().unwrap();
    }
    let bomb = dir.join("bomb.jsonl.gz");
    std::fs::write(&bomb, member.repeat(10 << 10)).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 40 << 20);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = cli.run_with(
        &import_args("remark42", &bomb),
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("larger than the cap of 1048576 bytes (import.max_input_bytes"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "scratch left behind"
    );
    assert_eq!(app.db.count("comments"), 0);

    // A line, a comment's text, a thread's comments over their caps: only those are left
    // out, each named.
    let file = dir.join("caps.jsonl");
    let c = |id: &str, url: &str, text: &str| {
        format!(
            r#"{{"id":"{id}","pid":"","text":"<p>{text}</p>","user":{{"name":"N"}},"locator":{{"url":"https://blog.example/{url}/"}},"time":"2021-01-02T03:04:05Z"}}"#
        )
    };
    let lines = [
        c("1", "small", "fine"),
        c("2", "small", &"long ".repeat(30)),
        c("3", "small", &"x".repeat(400)),
        c("4", "big", "a"),
        c("5", "big", "b"),
        c("6", "big", "c"),
        c("7", "big", "d"),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, s, err) = run_import(&cli, "remark42", &file, &[]);
    assert_eq!(code, 3, "{err}");
    let p = problems(&s);
    for key in ["max_line_bytes", "max_body_bytes", "max_thread_comments"] {
        assert!(
            p.contains(&format!("import.{key} in the config")),
            "{key}: {s:#}"
        );
    }
    assert_eq!(added(&s, "approved"), 1, "{s:#}");
    assert_eq!(skipped(&s, "thread with more than 3 comments (import.max_thread_comments in the config raises the cap)"), 4);

    // Records may take more room in the scratch file than in the file (a control
    // character is one byte in XML, six escaped): the scratch file has the same cap.
    let small = Cli::with_config(app.db.url(), "[import]\nmax_input_bytes = 60000");
    let ctl = std::fs::read_to_string(fixture("disqus.xml"))
        .unwrap()
        .replace("Second paragraph", &"\u{1}".repeat(20_000));
    let file = dir.join("controls.xml");
    std::fs::write(&file, ctl).unwrap();
    let (code, _, err) = run_import(&small, "disqus", &file, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "the scratch file is larger than the cap of 60000 bytes (import.max_input_bytes"
        ),
        "{err}"
    );

    // One XML record over the cap stops the file: it cannot be read past it.
    let big = std::fs::read_to_string(fixture("disqus.xml"))
        .unwrap()
        .replace("Second paragraph", &"y".repeat(3000));
    let file = dir.join("big.xml");
    std::fs::write(&file, big).unwrap();
    let (code, _, err) = run_import(&cli, "disqus", &file, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("one record is larger than the cap of 2000 bytes (import.max_record_bytes"),
        "{err}"
    );
}

/// Thread addresses from a file are kept only on one of the site's origins, as a
/// moderator's edit would be: the others are dropped (the threads stay) and counted.
async fn addresses_off_the_sites_origins_are_dropped(app: TestApp) {
    let cli = Cli::for_app(&app);
    let file = cli.dir.path().join("origins.jsonl");
    let c = |id: &str, url: &str| {
        format!(
            r#"{{"id":"{id}","pid":"","text":"<p>hi</p>","user":{{"name":"N"}},"locator":{{"url":"{url}"}},"time":"2021-01-02T03:04:05Z"}}"#
        )
    };
    std::fs::write(
        &file,
        [
            c("1", "https://blog.example/ours/"),
            c("2", "https://elsewhere.example/theirs/"),
            c("3", "javascript:alert(1)//x/"),
        ]
        .join("\n"),
    )
    .unwrap();
    let (code, s, err) = run_import(&cli, "remark42", &file, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["addresses_dropped"], 1, "{s:#}");
    assert_eq!(added(&s, "approved"), 3, "{s:#}");
    assert_eq!(
        page(&app, "/ours/").await["thread"]["url"],
        "https://blog.example/ours/"
    );
    let theirs = page(&app, "/theirs/").await;
    assert_eq!(theirs["thread"]["url"], Value::Null, "{theirs:#}");
    assert_eq!(theirs["comments"].as_array().unwrap().len(), 1);
}

/// A comment a moderator purged, or a privacy request erased, is not brought back by
/// importing the same file again: its source id stays behind, and the summary counts it.
async fn reimport_respects_purges_and_erasures(app: TestApp) {
    let cli = Cli::for_app(&app);
    let file = cli.dir.path().join("ours.jsonl");
    let lines = [
        r#"{"format":"afterword-export","version":1,"site":"blog"}"#,
        r#"{"type":"thread","slug":"/t/","title":"T","url":null,"locked":false,"created_at":"2019-05-01T10:00:00Z","reactions":{}}"#,
        r#"{"type":"comment","id":"old:1","parent":null,"status":"approved","author":"Ann","email":"ann@example.org","website":null,"created_at":"2019-05-01T11:00:00Z","edited_at":null,"body":"purged by a moderator","reactions":{}}"#,
        r#"{"type":"comment","id":"old:2","parent":null,"status":"approved","author":"Bob","email":"bob@example.org","website":null,"created_at":"2019-05-01T12:00:00Z","edited_at":null,"body":"erased on request","reactions":{}}"#,
        r#"{"type":"comment","id":"old:3","parent":null,"status":"approved","author":"Cy","email":null,"website":null,"created_at":"2019-05-01T13:00:00Z","edited_at":null,"body":"stays","reactions":{}}"#,
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let s = cli.import("afterword", &file, &[]);
    assert_eq!(added(&s, "approved"), 3, "{s:#}");
    let id = app
        .db
        .number("SELECT id AS n FROM comments WHERE source_key = 'old:1'");
    let admin = app.admin().await;
    admin.act(id, "purge").await;
    let out = cli.run(&[
        "privacy",
        "erase",
        "bob@example.org",
        "--comments",
        "delete",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.db.count("comments"), 1);

    let again = cli.import("afterword", &file, &[]);
    assert_eq!(again["comments"], serde_json::json!({}), "{again:#}");
    assert_eq!(again["removed_here"], 2, "{again:#}");
    assert_eq!(again["already_present"], 1);
    assert_eq!(
        skipped(
            &again,
            "removed here before (purged by a moderator or erased on request)"
        ),
        2
    );
    assert_eq!(app.db.count("comments"), 1);
    assert_eq!(app.db.count("import_tombstones"), 2);
}

/// The site's export, by slug (threads) and by id (comments): every stored field of an
/// import, whatever the backend.
fn exported(cli: &Cli) -> (HashMap<String, Value>, HashMap<String, Value>) {
    let mut threads = HashMap::new();
    let mut comments = HashMap::new();
    for line in cli.export(&["--include-emails"]).lines().skip(1) {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "thread" {
            threads.insert(v["slug"].as_str().unwrap().to_owned(), v);
        } else {
            comments.insert(v["id"].as_str().unwrap().to_owned(), v);
        }
    }
    (threads, comments)
}

/// Checks the fields of an exported comment: `(field, value)` pairs.
fn has(comments: &HashMap<String, Value>, id: &str, fields: &[(&str, Value)]) {
    let c = comments
        .get(id)
        .unwrap_or_else(|| panic!("no comment {id} in {comments:#?}"));
    for (field, want) in fields {
        assert_eq!(&c[*field], want, "{id}.{field} in {c:#}");
    }
}

/// Imports a new format's fixture twice (the second adds nothing), after a dry run that
/// counts the same; returns the first summary.
fn import_new(cli: &Cli, format: &str, file: &str, comments: u64) -> Value {
    let dry = cli.import(format, &fixture(file), &["--dry-run"]);
    let s = cli.import(format, &fixture(file), &[]);
    assert_eq!(s["problem_count"], 0, "{s:#}");
    let added = s["comments"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(added, comments, "{s:#}");
    assert_eq!(
        dry["comments"], s["comments"],
        "the dry run counts the same"
    );
    let again = cli.import(format, &fixture(file), &[]);
    assert_eq!(again["comments"], json!({}), "{again:#}");
    assert_eq!(again["already_present"], comments, "{again:#}");
    s
}

/// Commento's export and Comentario's (version 3, gzipped as Comentario writes it),
/// field for field: author, email, website from the commenters listed after the
/// comments, dates, parents, states, scores as 👍, page address and title.
async fn commento_and_comentario_field_for_field(app: TestApp) {
    let cli = Cli::for_app(&app);
    import_new(&cli, "commento", "commento.json", 4);
    import_new(&cli, "commento", "comentario-v3.json.gz", 3);
    let (threads, c) = exported(&cli);
    let t = &threads["/posts/commento/"];
    assert_eq!(t["url"], "https://blog.example/posts/commento/");
    has(
        &c,
        "commento:c0ffee01",
        &[
            ("status", json!("approved")),
            ("author", json!("Ada")),
            ("email", json!("ada@example.org")),
            ("website", json!("https://ada.example/")),
            ("created_at", json!("2020-01-02T03:04:05.123456Z")),
            ("parent", Value::Null),
            ("body", json!("First, with **bold** & “quotes”")),
            ("reactions", json!({"👍": 3})),
        ],
    );
    has(
        &c,
        "commento:c0ffee02",
        &[
            ("status", json!("pending")),
            ("author", Value::Null),
            ("parent", json!("commento:c0ffee01")),
        ],
    );
    has(
        &c,
        "commento:c0ffee03",
        &[("status", json!("deleted")), ("author", Value::Null)],
    );
    has(
        &c,
        "commento:c0ffee04",
        &[
            ("status", json!("spam")),
            ("author", json!("Bo")),
            ("email", json!("bo@example.org")),
            ("website", Value::Null),
            ("parent", json!("commento:c0ffee03")),
            ("created_at", json!("2020-01-02T23:00:00Z")),
            ("reactions", json!({})),
        ],
    );
    let t = &threads["/posts/comentario/"];
    assert_eq!(t["title"], "Comentario & “friends”");
    let id = |n: u32| format!("commento:11111111-0000-0000-0000-00000000000{n}");
    has(
        &c,
        &id(1),
        &[
            ("status", json!("approved")),
            ("author", json!("Cy")),
            ("email", json!("cy@example.org")),
            ("website", json!("https://cy.example/")),
            ("created_at", json!("2023-02-01T10:00:00Z")),
            ("body", json!("Top *level*")),
            ("reactions", json!({"👍": 2})),
        ],
    );
    has(
        &c,
        &id(2),
        &[
            ("status", json!("pending")),
            ("author", json!("Guest Gil")),
            ("parent", json!(id(1))),
        ],
    );
    has(&c, &id(3), &[("status", json!("spam"))]);
}

/// Artalk's Artrans, field for field: Go's dates with their offsets, votes as 👍 and 👎,
/// pending, a page key that is a path on the site's first address or an address itself.
async fn artalk_artrans_field_for_field(app: TestApp) {
    let cli = Cli::for_app(&app);
    let s = import_new(&cli, "artalk", "artalk.artrans", 3);
    assert_eq!(s["reactions_not_imported"]["👎"], 1, "{s:#}");
    let (threads, c) = exported(&cli);
    let t = &threads["/posts/artalk/"];
    assert_eq!(
        (&t["url"], &t["title"]),
        (
            &json!("https://blog.example/posts/artalk/"),
            &json!("Artalk post")
        )
    );
    assert_eq!(threads["/posts/other/"]["title"], "Other");
    has(
        &c,
        "artalk:1",
        &[
            ("status", json!("approved")),
            ("author", json!("Ari")),
            ("email", json!("ari@example.org")),
            ("website", json!("https://ari.example/")),
            ("created_at", json!("2022-03-04T05:14:15.123Z")),
            ("body", json!("Hello from **Artalk** & “co”")),
            ("reactions", json!({"👍": 4})),
            ("parent", Value::Null),
        ],
    );
    has(
        &c,
        "artalk:2",
        &[
            ("status", json!("pending")),
            ("author", json!("Bea")),
            ("email", Value::Null),
            ("parent", json!("artalk:1")),
            ("created_at", json!("2022-03-04T14:00:00Z")),
        ],
    );
    // `--slug-from url` keeps the whole address.
    let other = Cli::for_db(app.db.url());
    let s = other.import(
        "artalk",
        &fixture("artalk.artrans"),
        &["--dry-run", "--slug-from", "url"],
    );
    assert!(
        s["slugs"]
            .to_string()
            .contains("https://blog.example/posts/other/"),
        "{s:#}"
    );
}

/// Waline's export, field for field: a logged-in commenter's name, address and website
/// from the users listed after the comments, LeanCloud's date objects, likes as 👍.
async fn waline_field_for_field(app: TestApp) {
    let cli = Cli::for_app(&app);
    import_new(&cli, "waline", "waline.json", 3);
    let (threads, c) = exported(&cli);
    assert!(threads.contains_key("/posts/waline/"), "{threads:#?}");
    has(
        &c,
        "waline:w1",
        &[
            ("status", json!("approved")),
            ("author", json!("Guest")),
            ("email", json!("guest@example.org")),
            ("website", json!("https://guest.example/")),
            ("created_at", json!("2023-05-06T07:08:09Z")),
            ("body", json!("Hi from *Waline* & “you”")),
            ("reactions", json!({"👍": 5})),
            ("parent", Value::Null),
            ("edited_at", Value::Null),
        ],
    );
    has(
        &c,
        "waline:w2",
        &[
            ("status", json!("pending")),
            ("author", json!("Wren")),
            ("email", json!("wren@example.org")),
            ("website", json!("https://wren.example/")),
            ("parent", json!("waline:w1")),
            ("created_at", json!("2023-05-06T08:00:00Z")),
        ],
    );
    has(
        &c,
        "waline:w3",
        &[
            ("status", json!("spam")),
            ("created_at", json!("2023-05-06T09:00:00Z")),
        ],
    );
}

/// Cusdis's SQLite database (Prisma's tables), field for field, opened as safely as
/// Isso's; a file that is not one is refused naming what was expected.
async fn cusdis_field_for_field(app: TestApp) {
    let cli = Cli::for_app(&app);
    import_new(&cli, "cusdis", "cusdis.db", 5);
    let (threads, c) = exported(&cli);
    let t = &threads["/posts/cusdis/"];
    assert_eq!(
        (&t["url"], &t["title"]),
        (
            &json!("https://blog.example/posts/cusdis/"),
            &json!("Cusdis & “co”")
        )
    );
    has(
        &c,
        "cusdis:c1",
        &[
            ("status", json!("approved")),
            ("author", json!("Dee")),
            ("email", json!("dee@example.org")),
            ("created_at", json!("2022-05-01T12:00:00Z")),
            ("body", json!("Plain *text* & “quotes”")),
            ("parent", Value::Null),
        ],
    );
    has(
        &c,
        "cusdis:c2",
        &[
            ("author", json!("The Owner")),
            ("parent", json!("cusdis:c1")),
        ],
    );
    has(&c, "cusdis:c3", &[("status", json!("pending"))]);
    has(
        &c,
        "cusdis:c4",
        &[("status", json!("deleted")), ("author", Value::Null)],
    );
    has(
        &c,
        "cusdis:c5",
        &[
            ("status", json!("approved")),
            ("parent", json!("cusdis:c4")),
        ],
    );
    let (code, _, err) = run_import(&cli, "cusdis", &fixture("isso.db"), &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "this is not a Cusdis database: expected the tables pages (id, slug, url, title)"
        ),
        "{err}"
    );
}

on_both_backends!(
    commento_and_comentario_field_for_field,
    artalk_artrans_field_for_field,
    waline_field_for_field,
    cusdis_field_for_field,
    nasty_files_of_every_format_cheap_ones,
    bad_records_are_listed_and_strict_writes_nothing,
    caps_refuse_hostile_files_by_name,
    addresses_off_the_sites_origins_are_dropped,
    reimport_respects_purges_and_erasures,
    a_thread_the_database_refuses_is_skipped_whole,
    a_large_import_builds_the_address_index_again,
    import_and_export_from_the_admin_page,
    isso_from_a_real_isso_database,
    disqus_streamed_with_its_awkward_cases,
    wordpress_wxr,
    remark42_gzipped,
    dry_run_writes_nothing_and_shows_the_slugs,
    export_import_export_round_trip,
    a_running_server_sees_the_import,
    the_server_keeps_taking_comments_during_an_import,
    bad_input_is_refused_clearly,
    a_file_cut_short_keeps_whole_threads,
);
