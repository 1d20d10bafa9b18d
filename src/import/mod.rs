//! `afterword import FORMAT FILE`: comments from Isso, Disqus, WordPress, Remark42,
//! Commento or Comentario, Artalk, Waline, Cusdis or our own export, into one site.
//!
//! Each format's reader turns its file into one stream of [`Item`]s (threads and comments
//! with their source ids), read as it goes, never whole. The stream is first spooled into
//! a scratch SQLite file ([`stage`]), since some formats scatter a thread's comments over
//! the whole file; then [`write`] imports it thread by thread, many threads per
//! transaction, each thread whole or not at all. Comments keep their source id
//! (`comments.source_key`), so running the same import again adds nothing.

pub mod afterword;
pub mod artalk;
pub mod commento;
pub mod cusdis;
pub mod disqus;
pub mod export;
pub mod html;
pub mod input;
pub mod isso;
pub mod json_doc;
pub mod progress;
pub mod remark42;
pub mod slug;
pub mod sqlite_file;
pub mod stage;
pub mod waline;
pub mod wordpress;
pub mod write;
pub mod xml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::config::ImportCaps;
pub use slug::SlugRule;
pub use write::{Options, Summary};

/// The formats `afterword import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Isso's SQLite database.
    Isso,
    Disqus,
    /// WordPress's WXR export.
    Wordpress,
    /// Remark42's backup.
    Remark42,
    /// Commento's export, and Comentario's (versions 1 and 3).
    Commento,
    /// Artalk's Artrans.
    Artalk,
    Waline,
    /// Cusdis's SQLite database.
    Cusdis,
    /// Our own export.
    Afterword,
}

/// A post whose comments follow, as the source knows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceThread {
    /// What the source's comments name their thread by (an id, or the URL).
    pub key: String,
    /// The post's address or path, for the slug.
    pub url: Option<String>,
    pub title: Option<String>,
    /// A slug the source already decided (our own export); `--slug-from` overrides it.
    pub slug: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: Option<i64>,
    pub locked: bool,
    /// Reactions on the post itself, by kind.
    pub reactions: BTreeMap<String, i64>,
}

/// What became of a comment in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Status {
    Approved,
    Pending,
    Spam,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Pending => "pending",
            Status::Spam => "spam",
            Status::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "approved" => Status::Approved,
            "pending" => Status::Pending,
            "spam" => Status::Spam,
            "deleted" => Status::Deleted,
            _ => return None,
        })
    }
}

/// A comment's text: Markdown as typed (Isso, ours) or HTML (Disqus, WordPress, Remark42),
/// which is converted to Markdown on import, so every comment can be edited alike.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Body {
    Markdown(String),
    Html(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceComment {
    /// The [`SourceThread::key`] of its thread.
    pub thread: String,
    /// Its id in the source, prefixed by the source's name (`disqus:123`).
    pub id: String,
    pub parent: Option<String>,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub body: Body,
    pub status: Status,
    /// Counts by reaction kind (likes become 👍, dislikes 👎).
    pub reactions: BTreeMap<String, i64>,
}

/// One record of a source file.
#[derive(Debug)]
pub enum Item {
    Thread(SourceThread),
    Comment(SourceComment),
    /// A record that could not be read; the import goes on without it, and the summary
    /// lists it.
    Skip(Skipped),
    /// A record that is not for us (a pingback): counted under its reason, not a problem.
    Pass(&'static str),
}

/// A record that could not be read: where it is and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Its id in the source (`disqus:123`), else its place (`line 7`, `record 3`).
    pub record: String,
    pub reason: String,
}

impl Item {
    pub fn skip(record: impl Into<String>, reason: impl Into<String>) -> Item {
        Item::Skip(Skipped {
            record: record.into(),
            reason: reason.into(),
        })
    }
}

/// A reader of one format: items in file order. An `Err` is fatal (the file cannot be read
/// on), a bad record is an [`Item::Skip`].
pub type Source = Box<dyn Iterator<Item = anyhow::Result<Item>> + Send>;

/// Opens `path` for reading, through gzip when it is gzipped (by its magic bytes), within
/// the caps: the bytes after gunzipping, and those of one record (`window`, which the
/// parser resets where each record ends).
pub fn open_maybe_gzip(
    path: &std::path::Path,
    progress: &progress::Progress,
    caps: &ImportCaps,
    window: input::Window,
) -> anyhow::Result<Box<dyn std::io::BufRead + Send>> {
    use anyhow::Context;
    use std::io::{BufReader, Read};
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = std::io::Cursor::new(magic[..n].to_vec()).chain(file);
    let counted = progress.reader(file);
    let unpacked: Box<dyn Read + Send> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    Ok(Box::new(BufReader::with_capacity(
        1 << 16,
        input::Capped::new(unpacked, caps, window),
    )))
}

/// A file that is not readable as its format at all: nothing was imported
/// (`afterword import` exits with [`EXIT_UNREADABLE`]).
#[derive(Debug, thiserror::Error)]
#[error("nothing could be read")]
pub struct Unreadable;

/// `afterword import`'s exit statuses besides 0 (everything imported) and 1 (the import
/// failed or stopped; see its message). 2 is a mistake on the command line.
pub const EXIT_SKIPPED: u8 = 3;
pub const EXIT_UNREADABLE: u8 = 4;

impl Format {
    /// Whether each thread's comments come right after it in the file (so the file can be
    /// imported as it is read); the others are read whole into a scratch file first.
    pub fn grouped(self) -> bool {
        matches!(self, Format::Wordpress | Format::Afterword)
    }
}

/// The reader for `format`.
pub fn source(
    format: Format,
    path: &std::path::Path,
    progress: &progress::Progress,
    caps: &ImportCaps,
) -> anyhow::Result<Source> {
    let window = input::Window::new(caps.max_record_bytes);
    let unbounded = || input::Window::new(u64::MAX);
    Ok(match format {
        Format::Isso => isso::read(path, caps)?,
        Format::Disqus => disqus::read(
            open_maybe_gzip(path, progress, caps, window.clone())?,
            window,
        ),
        Format::Wordpress => wordpress::read(
            open_maybe_gzip(path, progress, caps, window.clone())?,
            window,
        ),
        // Line by line: each line is checked against its own cap.
        Format::Remark42 => remark42::read(input::Lines::new(
            open_maybe_gzip(path, progress, caps, unbounded())?,
            caps,
        )),
        Format::Afterword => afterword::read(input::Lines::new(
            open_maybe_gzip(path, progress, caps, unbounded())?,
            caps,
        )),
        Format::Commento => commento::read(path, progress, caps)?,
        Format::Artalk => artalk::read(
            open_maybe_gzip(path, progress, caps, window.clone())?,
            window,
        ),
        Format::Waline => waline::read(path, progress, caps)?,
        Format::Cusdis => cusdis::read(path, caps)?,
    })
}

/// What a JSON Lines record that does not parse becomes: a record cut short when the
/// file ends in it, otherwise `reason` (with serde's explanation).
pub fn json_line_error(n: u64, ended: bool, reason: &str, e: &serde_json::Error) -> Item {
    if !ended && e.is_eof() {
        Item::skip(
            format!("line {n}"),
            "the file ends inside this record (cut short)",
        )
    } else {
        Item::skip(format!("line {n} ({e})"), reason)
    }
}

/// Seconds (with a fraction) since the epoch to microseconds.
pub fn micros_from_secs(secs: f64) -> Option<i64> {
    (secs.is_finite() && secs.abs() < 1e12).then(|| (secs * 1e6).round() as i64)
}

/// An RFC 3339 date (`2019-05-01T10:00:00Z`, `…+02:00`, with or without a fraction), or
/// one without an offset (read as UTC), or `YYYY-MM-DD HH:MM:SS` (UTC), to microseconds.
pub fn micros_from_date(raw: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, PrimitiveDateTime};
    let t = raw.trim();
    if let Ok(d) = OffsetDateTime::parse(t, &Rfc3339) {
        return micros(d);
    }
    let with_t = t.replacen(' ', "T", 1);
    if let Ok(d) = OffsetDateTime::parse(&with_t, &Rfc3339) {
        return micros(d);
    }
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(d) = PrimitiveDateTime::parse(&with_t, &fmt) {
        return micros(d.assume_utc());
    }
    // Go's `Time.String()` (Artalk): `2021-05-01 12:34:56.789 +0800 CST`; the zone's
    // name adds nothing to its offset.
    let go = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]] [offset_hour sign:mandatory][offset_minute]"
    );
    let without_name = match t.rsplit_once(' ') {
        Some((rest, name)) if name.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => t,
    };
    OffsetDateTime::parse(without_name, &go)
        .ok()
        .and_then(micros)
}

fn micros(d: time::OffsetDateTime) -> Option<i64> {
    i64::try_from(d.unix_timestamp_nanos() / 1000).ok()
}

/// What the command line chose for one import (see [`Options`]).
pub struct Choices {
    pub slug_from: Option<SlugRule>,
    pub dry_run: bool,
    pub strict: bool,
}

/// `afterword import`: opens the database and the file, imports, returns the summary.
pub fn import_file(
    settings: &crate::config::Settings,
    format: Format,
    path: &std::path::Path,
    site: &str,
    choices: Choices,
    progress: &progress::Progress,
) -> anyhow::Result<Summary> {
    let site = site_settings(settings, site)?;
    let pool = open_db(settings)?;
    let key = pool.server_key()?;
    let opts = Options {
        site,
        slug_from: choices.slug_from,
        dry_run: choices.dry_run,
        strict: choices.strict,
        key: &key,
        caps: &settings.import,
    };
    import_with(&pool, format, path, &opts, progress)
}

/// Imports `path` on a connection of `pool` (the command line's, or a running server's
/// for the admin page).
pub fn import_with(
    pool: &crate::db::Pool,
    format: Format,
    path: &std::path::Path,
    opts: &Options<'_>,
    progress: &progress::Progress,
) -> anyhow::Result<Summary> {
    let source = source(format, path, progress, opts.caps).map_err(|e| e.context(Unreadable))?;
    let size = std::fs::metadata(path).ok().map(|m| m.len());
    use crate::db::imports::ImportStore;
    let mut conn = pool.get()?;
    crate::with_conn!(conn, |c| {
        c.import_cache(true)?;
        let result = write::run(c, source, format.grouped(), opts, progress, size);
        // The connection may go back to a server's pool.
        let _ = c.import_cache(false);
        result
    })
}

/// Writes the export of `site` on a connection of `pool`.
pub fn export_with(
    pool: &crate::db::Pool,
    site: &str,
    key: &crate::security::ServerKey,
    include_emails: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<export::Written> {
    let mut conn = pool.get()?;
    crate::with_conn!(conn, |c| export::export(c, site, key, include_emails, out))
}

/// `afterword export`: writes the site's export to `output` (through a temporary file
/// renamed at the end, so a failed export leaves no half file), or to standard output.
pub fn export_site(
    settings: &crate::config::Settings,
    site: &str,
    include_emails: bool,
    output: Option<&std::path::Path>,
) -> anyhow::Result<export::Written> {
    use anyhow::Context;
    use std::io::Write;
    let site = site_settings(settings, site)?.id.as_str();
    let pool = open_db(settings)?;
    let key = pool.server_key()?;
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let w = export_with(&pool, site, &key, include_emails, &mut out)?;
            out.flush()?;
            Ok(w)
        }
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let result = export_with(&pool, site, &key, include_emails, &mut out).and_then(|w| {
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(w)
            });
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        }
    }
}

fn site_settings<'a>(
    settings: &'a crate::config::Settings,
    site: &str,
) -> anyhow::Result<&'a crate::config::SiteSettings> {
    settings.sites.get(site).ok_or_else(|| {
        let known: Vec<&str> = settings.sites.keys().map(String::as_str).collect();
        anyhow::anyhow!(
            "there is no site {site:?} in the configuration (sites: {})",
            known.join(", ")
        )
    })
}

fn open_db(settings: &crate::config::Settings) -> anyhow::Result<crate::db::Pool> {
    let pool = crate::db::Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1)?;
    pool.migrate()?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn reader(bytes: Vec<u8>) -> Box<dyn std::io::BufRead + Send> {
            Box::new(std::io::Cursor::new(bytes))
        }

        /// Every reader over `bytes`, drained: it may refuse, never panic.
        fn read_all(bytes: &[u8]) {
            let caps = ImportCaps {
                max_line_bytes: 512,
                ..ImportCaps::default()
            };
            let window = || input::Window::new(4096);
            let sources: Vec<Source> = vec![
                disqus::read(reader(bytes.to_vec()), window()),
                wordpress::read(reader(bytes.to_vec()), window()),
                remark42::read(input::Lines::new(reader(bytes.to_vec()), &caps)),
                afterword::read(input::Lines::new(reader(bytes.to_vec()), &caps)),
                artalk::read(reader(bytes.to_vec()), window()),
            ];
            // Commento's and Waline's readers take a path: they read the file twice.
            let mut sources = sources;
            if let Ok(mut file) = tempfile::NamedTempFile::new() {
                use std::io::Write;
                if file.write_all(bytes).is_ok() {
                    let quiet = progress::Progress::new(true);
                    sources.extend(commento::read(file.path(), &quiet, &caps).ok());
                    sources.extend(waline::read(file.path(), &quiet, &caps).ok());
                }
            }
            for source in sources {
                for item in source.take(10_000) {
                    if let Ok(Item::Comment(c)) = item {
                        if let Body::Html(h) = &c.body {
                            let _ = html::convert(h);
                        }
                    }
                }
            }
        }

        /// Text with the characters parsers trip on: multi-byte ones next to `&`, `<`, `;`.
        const NASTY: &str = r"(\PC|[&<>;#\\\]\[{}]|“|”|é|😀|&#?[a-z0-9]{0,6};?|\n){0,40}";

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn readers_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                read_all(&bytes);
            }

            #[test]
            fn readers_take_any_text_in_their_records(text in NASTY, date in NASTY) {
                let j = |s: &str| serde_json::to_string(s).unwrap_or_default();
                let x = |s: &str| s.replace("]]>", "");
                let files = [
                    format!(r#"<disqus><thread dsq:id="1"><link>{t}</link></thread><post dsq:id="2"><message><![CDATA[{c}]]></message><createdAt>{d}</createdAt><thread dsq:id="1"/></post></disqus>"#,
                        t = x(&text), c = x(&text), d = x(&date)),
                    format!(r#"<rss><channel><item><link>https://a.example/{t}</link><wp:post_id>1</wp:post_id><wp:comment><wp:comment_id>{t}</wp:comment_id><wp:comment_author><![CDATA[{c}]]></wp:comment_author><wp:comment_content><![CDATA[{c}]]></wp:comment_content><wp:comment_date_gmt>{d}</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved></wp:comment></item></channel></rss>"#,
                        t = x(&text), c = x(&text), d = x(&date)),
                    format!("{{\"id\":{t},\"pid\":{t},\"text\":{t},\"user\":{{\"name\":{t}}},\"locator\":{{\"url\":{t}}},\"time\":{d}}}\n",
                        t = j(&text), d = j(&date)),
                    format!("{{\"format\":\"afterword-export\",\"version\":1,\"site\":\"b\"}}\n{{\"type\":\"thread\",\"slug\":{t},\"created_at\":{d}}}\n{{\"type\":\"comment\",\"id\":{t},\"status\":\"approved\",\"created_at\":{d},\"body\":{t}}}\n",
                        t = j(&text), d = j(&date)),
                    format!(r#"[{{"id":{t},"rid":{t},"content":{t},"nick":{t},"page_key":{t},"site_urls":{t},"created_at":{d},"vote_up":{t}}}]"#,
                        t = j(&text), d = j(&date)),
                    format!(r#"{{"comments":[{{"commentHex":{t},"url":{t},"domain":{t},"commenterHex":{t},"markdown":{t},"parentHex":{t},"creationDate":{d},"state":{t},"score":{t}}}],"commenters":[{{"commenterHex":{t},"name":{t}}}]}}"#,
                        t = j(&text), d = j(&date)),
                    format!(r#"{{"data":{{"Comment":[{{"objectId":{t},"url":{t},"comment":{t},"nick":{t},"pid":{t},"insertedAt":{d},"status":{t},"user_id":{t}}}],"Users":[{{"objectId":{t},"display_name":{t}}}]}}}}"#,
                        t = j(&text), d = j(&date)),
                    text.clone(),
                ];
                for f in files {
                    read_all(f.as_bytes());
                }
                let _ = micros_from_date(&date);
                let _ = html::unescape(&text);
            }
        }
    }

    #[test]
    fn dates_in_the_forms_sources_write() {
        let z = micros_from_date("2019-05-01T10:00:00Z").unwrap();
        assert_eq!(z, 1_556_704_800_000_000);
        assert_eq!(micros_from_date("2019-05-01 10:00:00"), Some(z));
        assert_eq!(micros_from_date("2019-05-01T12:00:00+02:00"), Some(z));
        assert_eq!(micros_from_date("2019-05-01T10:00:00"), Some(z));
        assert_eq!(
            micros_from_date("2019-05-01T10:00:00.5Z"),
            Some(z + 500_000)
        );
        assert_eq!(micros_from_date("yesterday"), None);
        assert_eq!(micros_from_date("2019-05-01 18:00:00 +0800 CST"), Some(z));
        assert_eq!(
            micros_from_date("2019-05-01 10:00:00.5 +0000 UTC"),
            Some(z + 500_000)
        );
        assert_eq!(micros_from_secs(1_556_704_800.25), Some(z + 250_000));
    }
}
