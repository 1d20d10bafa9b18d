//! The feeds' record (`feed_entries`, kept by the event dispatcher: see
//! `events::dispatch`) and the latest entries of a site or a thread read from it, newest
//! first, for the Atom feeds.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};

use super::schema::{comments, feed_entries, threads};

/// A comment with what a feed entry says of its post and of its place in the feed.
#[derive(Debug, Clone, Queryable)]
pub struct FeedRow {
    pub id: i64,
    pub status: String,
    pub html: String,
    pub author: Option<String>,
    pub website: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub slug: String,
    pub title: Option<String>,
    pub url: Option<String>,
    /// When it reached the moderators' feed (held or published).
    pub arrived_at: i64,
    /// When it was first published (the public feeds' order).
    pub published_at: Option<i64>,
}

/// Which entries, in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Approved comments, by when they were first published.
    Published,
    /// Approved and held comments, by when they arrived.
    Arrived,
}

pub trait FeedStore: Sized {
    /// Up to `n` of the newest entries of the site (or of its thread `slug`).
    fn latest(
        &mut self,
        site: &str,
        slug: Option<&str>,
        order: Order,
        n: i64,
    ) -> QueryResult<Vec<FeedRow>>;
    /// Records that each comment `(id, at, published)` reached the feeds at `at`,
    /// published (approved) or held, in order, in one statement. Once published, an
    /// entry keeps its first publication date; a comment gone meanwhile is not recorded.
    /// Returns how many rows were written.
    fn record_feed_entries(&mut self, entries: &[(i64, i64, bool)]) -> QueryResult<usize>;
}

/// The entries as one JSON array of `{id, at, published}`, one per comment: a comment
/// named twice (held, then approved in the same batch) is merged as the two upserts one
/// after the other would leave it (the first arrival, the first publication), since one
/// statement may not change a row twice.
fn entries_json(entries: &[(i64, i64, bool)]) -> String {
    let mut merged: Vec<(i64, i64, Option<i64>)> = Vec::with_capacity(entries.len());
    for &(id, at, published) in entries {
        let published = published.then_some(at);
        match merged.iter_mut().find(|(m, _, _)| *m == id) {
            Some((_, _, first)) => *first = first.or(published),
            None => merged.push((id, at, published)),
        }
    }
    let rows: Vec<serde_json::Value> = merged
        .into_iter()
        .map(|(id, at, published)| serde_json::json!({"id": id, "at": at, "published": published}))
        .collect();
    serde_json::Value::Array(rows).to_string()
}

macro_rules! feed_store_fns {
    ($upsert:literal) => {
        fn latest(
            &mut self,
            site: &str,
            slug: Option<&str>,
            order: Order,
            n: i64,
        ) -> QueryResult<Vec<FeedRow>> {
            let mut query = feed_entries::table
                .inner_join(comments::table.inner_join(threads::table))
                .into_boxed();
            query = match slug {
                // The thread's entries through its own index.
                Some(slug) => {
                    let thread: Option<i64> = threads::table
                        .filter(threads::site.eq(site))
                        .filter(threads::slug.eq(slug))
                        .select(threads::id)
                        .first(self)
                        .optional()?;
                    let Some(thread) = thread else {
                        return Ok(Vec::new());
                    };
                    query.filter(feed_entries::thread_id.eq(thread))
                }
                None => query.filter(feed_entries::site.eq(site)),
            };
            query = match order {
                Order::Published => query
                    .filter(feed_entries::published_at.is_not_null())
                    .filter(comments::status.eq("approved"))
                    .order((
                        feed_entries::published_at.desc(),
                        feed_entries::comment_id.desc(),
                    )),
                Order::Arrived => query
                    .filter(comments::status.eq_any(["approved", "pending"]))
                    .order((
                        feed_entries::arrived_at.desc(),
                        feed_entries::comment_id.desc(),
                    )),
            };
            query.limit(n).select(feed_columns!()).load(self)
        }

        fn record_feed_entries(&mut self, entries: &[(i64, i64, bool)]) -> QueryResult<usize> {
            if entries.is_empty() {
                return Ok(0);
            }
            diesel::sql_query($upsert)
                .bind::<Text, _>(entries_json(entries))
                .execute(self)
        }
    };
}

macro_rules! feed_columns {
    () => {
        (
            comments::id,
            comments::status,
            comments::html,
            comments::author,
            comments::website,
            comments::created_at,
            comments::edited_at,
            threads::slug,
            threads::title,
            threads::url,
            feed_entries::arrived_at,
            feed_entries::published_at,
        )
    };
}

impl FeedStore for SqliteConnection {
    feed_store_fns!(
        "INSERT INTO feed_entries (comment_id, site, thread_id, arrived_at, published_at) \
         SELECT c.id, t.site, c.thread_id, json_extract(v.value, '$.at'), \
         json_extract(v.value, '$.published') FROM json_each(?) AS v \
         JOIN comments c ON c.id = json_extract(v.value, '$.id') \
         JOIN threads t ON t.id = c.thread_id WHERE true \
         ON CONFLICT (comment_id) DO UPDATE \
         SET published_at = COALESCE(feed_entries.published_at, excluded.published_at)"
    );
}

impl FeedStore for PgConnection {
    feed_store_fns!(
        "INSERT INTO feed_entries (comment_id, site, thread_id, arrived_at, published_at) \
         SELECT c.id, t.site, c.thread_id, v.at, v.published \
         FROM jsonb_to_recordset($1::jsonb) AS v(id BIGINT, at BIGINT, published BIGINT) \
         JOIN comments c ON c.id = v.id \
         JOIN threads t ON t.id = c.thread_id \
         ON CONFLICT (comment_id) DO UPDATE \
         SET published_at = COALESCE(feed_entries.published_at, excluded.published_at)"
    );
}

#[cfg(test)]
mod tests {
    /// A comment held and then approved within one batch is one entry: its first arrival
    /// and its publication, as the two upserts one after the other would leave it.
    #[test]
    fn a_comment_named_twice_in_a_batch_is_one_entry() {
        let json =
            super::entries_json(&[(1, 10, false), (2, 11, true), (1, 12, true), (2, 13, true)]);
        let got: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            got,
            serde_json::json!([
                {"id": 1, "at": 10, "published": 12},
                {"id": 2, "at": 11, "published": 11},
            ])
        );
    }
}
