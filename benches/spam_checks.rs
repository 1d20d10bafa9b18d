//! What the spam checks cost one comment, in CPU time: `cargo bench --bench spam_checks`.
//! (benches/spam.sh measures the same end to end, as comment writes per second.)
//! For scale it also times the Markdown rendering every comment goes through.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use afterword::config::{BlockedWords, SpamSettings};
use afterword::security::ServerKey;
use afterword::service::spam::{self, Posted, RecentTexts, Submission, Verdict};

const BODY: &str = "Load-test comment number 12 from wrk thread 1. This paragraph has \
    *emphasis*, some **strong text** and a [link](https://example.com/posts/12) so that the \
    Markdown renderer and the HTML sanitizer both have real work to do.\n\nA second \
    paragraph keeps the body near three hundred characters. Request key: t1-n12.";

fn main() {
    // 200 blocked entries, as benches/spam.sh configures them.
    let mut list: Vec<String> = (0..180).map(|i| format!("spamword{i}")).collect();
    list.extend((0..15).map(|i| format!("cheap pills {i}")));
    list.extend(
        [
            "/v[i1]agra/",
            "/c[a4]s[i1]n[o0]/",
            "/\\bfree money\\b/",
            "/crypt[o0] ?giveaway/",
            "/b[i1]tc[o0][i1]n doubler/",
        ]
        .map(String::from),
    );
    let blocked = BlockedWords::new(&list).unwrap().map(Arc::new);
    let settings = SpamSettings {
        blocked,
        ..SpamSettings::default()
    };
    let key = ServerKey::generate();
    let token = spam::form_token(&key, "bench", "/bench/", 1000);
    let recent = RecentTexts::default();
    let n: u32 = 20_000;
    let bodies: Vec<String> = (0..n).map(|i| format!("{BODY} {i}")).collect();

    let t = Instant::now();
    for (i, text) in bodies.iter().enumerate() {
        let sub = Submission {
            site: "bench",
            slug: "/bench/",
            body: text,
            author: Some("Bench writer 1"),
            email: None,
            website: None,
            honeypot: None,
            form_token: Some(&token),
        };
        assert_eq!(
            black_box(spam::check(&settings, &key, &sub, 1010)),
            Verdict::Clean
        );
        let p = Posted {
            site: "bench",
            slug: "/bench/",
            client: Some("127.0.0.1"),
            body: text,
        };
        let now = i as i64 * 1000;
        let key = recent.key(&p);
        assert_eq!(recent.check(settings.duplicates, &key, now), Verdict::Clean);
        recent.record(key, now);
    }
    let checks = t.elapsed() / n;

    let t = Instant::now();
    for text in &bodies {
        black_box(afterword::markdown::render(text));
    }
    let render = t.elapsed() / n;
    println!("spam checks (all on, 200 blocked entries): {checks:?} per comment");
    println!("Markdown rendering, for scale:              {render:?} per comment");
}
