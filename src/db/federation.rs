//! Replies from elsewhere: linked posts and their poller's state, comments that came from
//! Mastodon, Bluesky or a webmention, bans of remote accounts and domains, webmentions.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::models::PublicCommentRow;
use super::schema::{comments, import_tombstones, remote_bans, remote_posts, threads, webmentions};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = remote_posts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RemotePostRow {
    pub thread_id: i64,
    pub kind: String,
    pub url: String,
    pub api_base: String,
    pub remote_id: String,
    pub linked_at: i64,
    pub next_poll_at: i64,
    pub polled_at: Option<i64>,
    pub failures: i64,
    pub last_error: Option<String>,
    pub likes: i64,
    pub reposts: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = remote_posts)]
pub struct NewRemotePost<'a> {
    pub thread_id: i64,
    pub kind: &'a str,
    pub url: &'a str,
    pub api_base: &'a str,
    pub remote_id: &'a str,
    pub linked_at: i64,
    pub next_poll_at: i64,
    pub failures: i64,
    pub likes: i64,
    pub reposts: i64,
}

/// What a poll found out, recorded on the linked post.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = remote_posts)]
#[diesel(treat_none_as_null = true)]
pub struct PollOutcome<'a> {
    pub remote_id: &'a str,
    pub next_poll_at: i64,
    pub polled_at: Option<i64>,
    pub failures: i64,
    pub last_error: Option<&'a str>,
    pub likes: i64,
    pub reposts: i64,
    pub claimed_by: Option<&'a str>,
    pub lease_until: Option<i64>,
}

/// A comment from elsewhere as the poller compares it with what it fetched.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RemoteCommentRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub status: String,
    pub body: String,
    pub source_key: Option<String>,
    pub remote_account: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = comments)]
pub struct NewRemoteComment<'a> {
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub status: &'a str,
    pub body: &'a str,
    pub html: &'a str,
    pub author: Option<&'a str>,
    pub website: Option<&'a str>,
    pub avatar: &'a str,
    pub notify_replies: bool,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub source_key: &'a str,
    pub origin: &'a str,
    pub remote_account: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webmentions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct WebmentionRow {
    pub id: i64,
    pub site: String,
    pub source: String,
    pub target: String,
    pub status: String,
    pub kind: Option<String>,
    pub thread_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub attempts: i64,
    pub received_at: i64,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = webmentions)]
#[diesel(treat_none_as_null = true)]
pub struct WebmentionOutcome<'a> {
    pub status: &'a str,
    pub kind: Option<&'a str>,
    pub thread_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub author_name: Option<&'a str>,
    pub author_url: Option<&'a str>,
    pub verified_at: Option<i64>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<&'a str>,
    pub claimed_by: Option<&'a str>,
    pub lease_until: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = remote_bans)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RemoteBanRow {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub site: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = remote_bans)]
pub struct NewRemoteBan<'a> {
    pub kind: &'a str,
    pub value: &'a str,
    pub site: Option<&'a str>,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub created_by: &'a str,
    pub created_at: i64,
}

pub trait FederationStore {
    fn remote_bans(&mut self) -> QueryResult<Vec<RemoteBanRow>>;
    fn insert_remote_ban(&mut self, new: &NewRemoteBan<'_>) -> QueryResult<RemoteBanRow>;
    fn delete_remote_ban(&mut self, id: i64) -> QueryResult<bool>;
    /// The remote account of a comment: `None` if there is no such comment.
    fn comment_remote_account(&mut self, id: i64) -> QueryResult<Option<Option<String>>>;
    fn remote_post(&mut self, thread_id: i64) -> QueryResult<Option<RemotePostRow>>;
    /// Links the thread to `new` (replacing any earlier link), or unlinks it.
    fn set_remote_post(
        &mut self,
        thread_id: i64,
        new: Option<&NewRemotePost<'_>>,
    ) -> QueryResult<()>;
    /// Takes a lease on one linked post that is due, if another poller holds none on it.
    fn claim_remote_post(
        &mut self,
        me: &str,
        now: i64,
        lease_until: i64,
    ) -> QueryResult<Option<RemotePostRow>>;
    /// Records a poll's outcome and gives the lease back (only if it is still ours and
    /// the post is still linked to the same thing).
    fn finish_poll(
        &mut self,
        thread_id: i64,
        me: &str,
        outcome: &PollOutcome<'_>,
    ) -> QueryResult<bool>;
    /// The comments that came from elsewhere into a thread, under a source key prefix.
    fn remote_comments(
        &mut self,
        thread_id: i64,
        prefix: &str,
    ) -> QueryResult<Vec<RemoteCommentRow>>;
    fn insert_remote_comment(
        &mut self,
        new: &NewRemoteComment<'_>,
    ) -> QueryResult<PublicCommentRow>;
    fn update_remote_comment(
        &mut self,
        id: i64,
        body: &str,
        html: &str,
        origin: &str,
        edited_at: Option<i64>,
    ) -> QueryResult<()>;
    /// Forgets where a deleted comment came from, but not its source key (so it does not
    /// come back).
    fn forget_origin(&mut self, id: i64) -> QueryResult<()>;
    /// Whether the remote account has an approved comment on the site.
    fn remote_account_known(&mut self, site: &str, account: &str) -> QueryResult<bool>;
    /// The strictest ban on the account or the domain on this site: `refuse` or `hold`.
    fn remote_ban_action(
        &mut self,
        site: &str,
        account: &str,
        domain: &str,
    ) -> QueryResult<Option<String>>;
    /// Records a webmention (or asks for a new check of one received before).
    fn queue_webmention(
        &mut self,
        site: &str,
        source: &str,
        target: &str,
        now: i64,
    ) -> QueryResult<()>;
    fn claim_webmention(
        &mut self,
        me: &str,
        now: i64,
        lease_until: i64,
    ) -> QueryResult<Option<WebmentionRow>>;
    fn finish_webmention(
        &mut self,
        id: i64,
        me: &str,
        outcome: &WebmentionOutcome<'_>,
    ) -> QueryResult<bool>;
    /// Whether a comment of this source key was deleted for good on the site (a moderator's
    /// purge): it must not come back.
    fn is_tombstoned(&mut self, site: &str, source_key: &str) -> QueryResult<bool>;
    /// A check that could not be made (the source did not answer): tried again later.
    fn retry_webmention(
        &mut self,
        id: i64,
        me: &str,
        attempts: i64,
        next_attempt_at: i64,
        last_error: &str,
    ) -> QueryResult<bool>;
    /// A comment's status, if it exists.
    fn comment_status(&mut self, id: i64) -> QueryResult<Option<String>>;
    /// Accepted webmentions other than replies, counted by kind.
    fn webmention_counts(&mut self, thread_id: i64) -> QueryResult<Vec<(String, i64)>>;
}

macro_rules! federation_store_fns {
    () => {
        fn remote_bans(&mut self) -> QueryResult<Vec<RemoteBanRow>> {
            remote_bans::table
                .order(remote_bans::id.desc())
                .select(RemoteBanRow::as_select())
                .load(self)
        }

        fn insert_remote_ban(&mut self, new: &NewRemoteBan<'_>) -> QueryResult<RemoteBanRow> {
            diesel::insert_into(remote_bans::table)
                .values(new)
                .returning(RemoteBanRow::as_returning())
                .get_result(self)
        }

        fn delete_remote_ban(&mut self, id: i64) -> QueryResult<bool> {
            diesel::delete(remote_bans::table.find(id))
                .execute(self)
                .map(|n| n == 1)
        }

        fn comment_remote_account(&mut self, id: i64) -> QueryResult<Option<Option<String>>> {
            comments::table
                .find(id)
                .select(comments::remote_account)
                .first(self)
                .optional()
        }

        fn remote_post(&mut self, thread_id: i64) -> QueryResult<Option<RemotePostRow>> {
            remote_posts::table
                .find(thread_id)
                .select(RemotePostRow::as_select())
                .first(self)
                .optional()
        }

        fn set_remote_post(
            &mut self,
            thread_id: i64,
            new: Option<&NewRemotePost<'_>>,
        ) -> QueryResult<()> {
            diesel::delete(remote_posts::table.find(thread_id)).execute(self)?;
            if let Some(new) = new {
                diesel::insert_into(remote_posts::table)
                    .values(new)
                    .execute(self)?;
            }
            Ok(())
        }

        fn claim_remote_post(
            &mut self,
            me: &str,
            now: i64,
            lease_until: i64,
        ) -> QueryResult<Option<RemotePostRow>> {
            let free = remote_posts::lease_until
                .is_null()
                .or(remote_posts::lease_until.lt(now));
            let due: Vec<i64> = remote_posts::table
                .filter(remote_posts::next_poll_at.le(now))
                .filter(free)
                .order(remote_posts::next_poll_at.asc())
                .select(remote_posts::thread_id)
                .limit(4)
                .load(self)?;
            for id in due {
                // Re-checked in the UPDATE: of two pollers, one wins.
                let free = remote_posts::lease_until
                    .is_null()
                    .or(remote_posts::lease_until.lt(now));
                let won = diesel::update(
                    remote_posts::table
                        .find(id)
                        .filter(remote_posts::next_poll_at.le(now))
                        .filter(free),
                )
                .set((
                    remote_posts::claimed_by.eq(me),
                    remote_posts::lease_until.eq(lease_until),
                ))
                .execute(self)?;
                if won == 1 {
                    return self.remote_post(id);
                }
            }
            Ok(None)
        }

        fn finish_poll(
            &mut self,
            thread_id: i64,
            me: &str,
            outcome: &PollOutcome<'_>,
        ) -> QueryResult<bool> {
            diesel::update(
                remote_posts::table
                    .find(thread_id)
                    .filter(remote_posts::claimed_by.eq(me)),
            )
            .set(outcome)
            .execute(self)
            .map(|n| n == 1)
        }

        fn remote_comments(
            &mut self,
            thread_id: i64,
            prefix: &str,
        ) -> QueryResult<Vec<RemoteCommentRow>> {
            comments::table
                .filter(comments::thread_id.eq(thread_id))
                .filter(
                    comments::source_key
                        .like(format!("{}%", super::moderation::escape_like(prefix)))
                        .escape('\\'),
                )
                .order(comments::id.asc())
                .select(RemoteCommentRow::as_select())
                .load(self)
        }

        fn insert_remote_comment(
            &mut self,
            new: &NewRemoteComment<'_>,
        ) -> QueryResult<PublicCommentRow> {
            diesel::insert_into(comments::table)
                .values(new)
                .returning(PublicCommentRow::as_returning())
                .get_result(self)
        }

        fn update_remote_comment(
            &mut self,
            id: i64,
            body: &str,
            html: &str,
            origin: &str,
            edited_at: Option<i64>,
        ) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set((
                    comments::body.eq(body),
                    comments::html.eq(html),
                    comments::origin.eq(origin),
                    comments::edited_at.eq(edited_at),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn forget_origin(&mut self, id: i64) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set((
                    comments::origin.eq(None::<String>),
                    comments::remote_account.eq(None::<String>),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn remote_account_known(&mut self, site: &str, account: &str) -> QueryResult<bool> {
            let found: Option<i64> = comments::table
                .inner_join(threads::table)
                .filter(threads::site.eq(site))
                .filter(comments::remote_account.eq(account))
                .filter(comments::status.eq("approved"))
                .select(comments::id)
                .first(self)
                .optional()?;
            Ok(found.is_some())
        }

        fn remote_ban_action(
            &mut self,
            site: &str,
            account: &str,
            domain: &str,
        ) -> QueryResult<Option<String>> {
            let bans: Vec<(String, String, String)> = remote_bans::table
                .filter(remote_bans::site.is_null().or(remote_bans::site.eq(site)))
                .select((remote_bans::kind, remote_bans::value, remote_bans::action))
                .load(self)?;
            let domain = domain.to_lowercase();
            // A domain ban holds its subdomains too (a ban of bsky.social, its handles).
            let hits = |kind: &str, value: &str| match kind {
                "account" => value == account,
                _ => domain == value || domain.ends_with(&format!(".{value}")),
            };
            let actions: Vec<&String> = bans
                .iter()
                .filter(|(k, v, _)| hits(k, v))
                .map(|(_, _, a)| a)
                .collect();
            Ok(actions
                .iter()
                .find(|a| a.as_str() == "refuse")
                .or(actions.first())
                .map(|a| (*a).clone()))
        }

        fn queue_webmention(
            &mut self,
            site: &str,
            source: &str,
            target: &str,
            now: i64,
        ) -> QueryResult<()> {
            diesel::insert_into(webmentions::table)
                .values((
                    webmentions::site.eq(site),
                    webmentions::source.eq(source),
                    webmentions::target.eq(target),
                    webmentions::status.eq("queued"),
                    webmentions::received_at.eq(now),
                    webmentions::next_attempt_at.eq(now),
                    webmentions::attempts.eq(0),
                ))
                .on_conflict((webmentions::source, webmentions::target))
                .do_update()
                .set((
                    webmentions::next_attempt_at.eq(now),
                    webmentions::attempts.eq(0),
                    webmentions::received_at.eq(now),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn claim_webmention(
            &mut self,
            me: &str,
            now: i64,
            lease_until: i64,
        ) -> QueryResult<Option<WebmentionRow>> {
            let due: Vec<i64> = webmentions::table
                .filter(webmentions::next_attempt_at.le(now))
                .filter(
                    webmentions::lease_until
                        .is_null()
                        .or(webmentions::lease_until.lt(now)),
                )
                .order(webmentions::next_attempt_at.asc())
                .select(webmentions::id)
                .limit(4)
                .load(self)?;
            for id in due {
                let won = diesel::update(
                    webmentions::table
                        .find(id)
                        .filter(webmentions::next_attempt_at.le(now))
                        .filter(
                            webmentions::lease_until
                                .is_null()
                                .or(webmentions::lease_until.lt(now)),
                        ),
                )
                .set((
                    webmentions::claimed_by.eq(me),
                    webmentions::lease_until.eq(lease_until),
                ))
                .execute(self)?;
                if won == 1 {
                    return webmentions::table
                        .find(id)
                        .select(WebmentionRow::as_select())
                        .first(self)
                        .optional();
                }
            }
            Ok(None)
        }

        fn finish_webmention(
            &mut self,
            id: i64,
            me: &str,
            outcome: &WebmentionOutcome<'_>,
        ) -> QueryResult<bool> {
            diesel::update(
                webmentions::table
                    .find(id)
                    .filter(webmentions::claimed_by.eq(me)),
            )
            .set(outcome)
            .execute(self)
            .map(|n| n == 1)
        }

        fn is_tombstoned(&mut self, site: &str, source_key: &str) -> QueryResult<bool> {
            let found: Option<i64> = import_tombstones::table
                .filter(import_tombstones::site.eq(site))
                .filter(import_tombstones::source_key.eq(source_key))
                .select(import_tombstones::removed_at)
                .first(self)
                .optional()?;
            Ok(found.is_some())
        }

        fn retry_webmention(
            &mut self,
            id: i64,
            me: &str,
            attempts: i64,
            next_attempt_at: i64,
            last_error: &str,
        ) -> QueryResult<bool> {
            diesel::update(
                webmentions::table
                    .find(id)
                    .filter(webmentions::claimed_by.eq(me)),
            )
            .set((
                webmentions::attempts.eq(attempts),
                webmentions::next_attempt_at.eq(next_attempt_at),
                webmentions::last_error.eq(last_error),
                webmentions::claimed_by.eq(None::<String>),
                webmentions::lease_until.eq(None::<i64>),
            ))
            .execute(self)
            .map(|n| n == 1)
        }

        fn comment_status(&mut self, id: i64) -> QueryResult<Option<String>> {
            comments::table
                .find(id)
                .select(comments::status)
                .first(self)
                .optional()
        }

        fn webmention_counts(&mut self, thread_id: i64) -> QueryResult<Vec<(String, i64)>> {
            let kinds: Vec<Option<String>> = webmentions::table
                .filter(webmentions::thread_id.eq(thread_id))
                .filter(webmentions::status.eq("accepted"))
                .filter(webmentions::kind.ne("reply"))
                .select(webmentions::kind)
                .load(self)?;
            let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
            for k in kinds.into_iter().flatten() {
                *counts.entry(k).or_default() += 1;
            }
            Ok(counts.into_iter().collect())
        }
    };
}

impl FederationStore for SqliteConnection {
    federation_store_fns!();
}

impl FederationStore for PgConnection {
    federation_store_fns!();
}
