//! What turning one imported comment's HTML into stored Markdown and HTML costs, in CPU
//! time, step by step: `cargo bench --bench import_render`. (benches/import.sh measures
//! a whole import end to end.)

use std::hint::black_box;
use std::time::Instant;

use afterword::import::html;
use afterword::markdown;

/// What `benches/import.sh` writes (a WordPress comment after wpautop), a Disqus-style
/// comment with a quote and a list, and a plain one.
const SAMPLES: [(&str, &str); 3] = [
    (
        "wordpress",
        "<p>lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor \
         lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor</p>\n\
         <p>With <em>emphasis</em> &amp; a <a href=\"https://example.org/12\">link</a>.</p>",
    ),
    (
        "disqus",
        "<blockquote><p>Someone said <b>this</b> earlier.</p></blockquote><p>And I \
         disagree: see <a href=\"https://example.org/a_(b)\" rel=\"nofollow\">this \
         page</a> &mdash; it explains<br>why.</p><ul><li>one</li><li>two <code>x*y</code></li></ul>",
    ),
    (
        "plain",
        "<p>Thanks for the write-up, this helped me fix my build at last.</p>",
    ),
];

fn time(label: &str, n: u32, mut f: impl FnMut(u32)) {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("  {label:<28} {us:>7.2} µs");
}

fn main() {
    let n: u32 = 20_000;
    for (name, sample) in SAMPLES {
        println!("{name} ({} bytes):", sample.len());
        let md = html::to_markdown(sample);
        // For scale: one full html5ever parse to a DOM, sanitized and written out again,
        // which is what converting used to start with (and what rendering ends with).
        time("ammonia::clean", n, |_| {
            black_box(ammonia::clean(black_box(sample)));
        });
        time("to_markdown (all of it)", n, |_| {
            black_box(html::to_markdown(black_box(sample)));
        });
        time("render the Markdown", n, |_| {
            black_box(markdown::render(black_box(&md)));
        });
        time("convert (as an import does)", n, |_| {
            black_box(html::convert(black_box(sample)));
        });
    }
}
