//! The latest comments of a site or a thread, newest first, for the Atom feeds.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::schema::{comments, threads};

/// A comment with what a feed entry says of its post.
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
}

pub trait FeedStore: Sized {
    /// Up to `n` of the newest comments of the site (or of its thread `slug`) whose status
    /// is one of `statuses`.
    fn latest(
        &mut self,
        site: &str,
        slug: Option<&str>,
        statuses: &[&str],
        n: i64,
    ) -> QueryResult<Vec<FeedRow>>;
}

macro_rules! feed_store_fns {
    () => {
        fn latest(
            &mut self,
            site: &str,
            slug: Option<&str>,
            statuses: &[&str],
            n: i64,
        ) -> QueryResult<Vec<FeedRow>> {
            // Newest first by id (ids grow with time): for a site, the (status, id) index
            // walks back from the newest comment and stops after `n` of this site's; for a
            // thread, its (thread_id, id) index.
            let mut query = comments::table
                .inner_join(threads::table)
                .filter(threads::site.eq(site))
                .filter(comments::status.eq_any(statuses))
                .into_boxed();
            if let Some(slug) = slug {
                query = query.filter(threads::slug.eq(slug));
            }
            query
                .order(comments::id.desc())
                .limit(n)
                .select(feed_columns!())
                .load(self)
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
        )
    };
}

impl FeedStore for SqliteConnection {
    feed_store_fns!();
}

impl FeedStore for PgConnection {
    feed_store_fns!();
}
