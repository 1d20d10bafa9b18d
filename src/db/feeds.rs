//! The feeds' record (`feed_entries`, kept by the event dispatcher: see
//! `events::dispatch`) and the latest entries of a site or a thread read from it, newest
//! first, for the Atom feeds.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
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
    /// Records that comment `comment_id` reached the feeds at `at`, published (approved)
    /// or held. Once published, it keeps its first publication date; a comment gone
    /// meanwhile is not recorded. Returns whether a row was written.
    fn record_feed_entry(&mut self, comment_id: i64, at: i64, published: bool)
        -> QueryResult<bool>;
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

        fn record_feed_entry(
            &mut self,
            comment_id: i64,
            at: i64,
            published: bool,
        ) -> QueryResult<bool> {
            let n = diesel::sql_query($upsert)
                .bind::<BigInt, _>(at)
                .bind::<Nullable<BigInt>, _>(published.then_some(at))
                .bind::<BigInt, _>(comment_id)
                .execute(self)?;
            Ok(n > 0)
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
         SELECT c.id, t.site, c.thread_id, ?, ? FROM comments c \
         JOIN threads t ON t.id = c.thread_id WHERE c.id = ? \
         ON CONFLICT (comment_id) DO UPDATE \
         SET published_at = COALESCE(feed_entries.published_at, excluded.published_at)"
    );
}

impl FeedStore for PgConnection {
    feed_store_fns!(
        "INSERT INTO feed_entries (comment_id, site, thread_id, arrived_at, published_at) \
         SELECT c.id, t.site, c.thread_id, $1, $2 FROM comments c \
         JOIN threads t ON t.id = c.thread_id WHERE c.id = $3 \
         ON CONFLICT (comment_id) DO UPDATE \
         SET published_at = COALESCE(feed_entries.published_at, excluded.published_at)"
    );
}
