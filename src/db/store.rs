//! The model functions, written once and compiled for both backends by `impl_store!`.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::models::*;
use super::schema::{comments, reaction_counts, reactions, server_secrets, threads};

/// The avatar of a deleted comment's placeholder: the same for all, tied to no one.
pub const DELETED_AVATAR: &str = "0000000000000000";

diesel::define_sql_function! {
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Every query Afterword runs. Implemented for SQLite and PostgreSQL connections from one body.
pub trait Store: Sized {
    fn find_thread(&mut self, site: &str, slug: &str) -> QueryResult<Option<ThreadRow>>;
    fn thread_by_id(&mut self, id: i64) -> QueryResult<ThreadRow>;
    /// Creates the thread or updates it in one statement: adds `delta` to its count and
    /// fills a missing title and url. Returns the row as it is now.
    fn upsert_thread(&mut self, new: &NewThread<'_>, delta: i64) -> QueryResult<ThreadRow>;
    fn add_comment_count(&mut self, thread_id: i64, delta: i64) -> QueryResult<()>;
    /// Up to `n` visible top-level comments after the cursor id, oldest or newest first.
    /// Others count only when an approved reply hangs under them (as placeholders).
    fn top_level_page(
        &mut self,
        thread_id: i64,
        newest_first: bool,
        after_id: Option<i64>,
        n: i64,
    ) -> QueryResult<Vec<PublicCommentRow>>;
    /// Up to `n` visible top-level comments in `sort=top` order (score down, then oldest
    /// first) after the cursor `(score, id)`. Both halves are seeks on `comments_top_idx`.
    fn top_level_by_score(
        &mut self,
        thread_id: i64,
        after: Option<(i64, i64)>,
        n: i64,
    ) -> QueryResult<Vec<PublicCommentRow>>;
    /// Those of `roots` (top-level comments) under which an approved reply hangs.
    fn roots_with_approved_replies(
        &mut self,
        thread_id: i64,
        roots: &[i64],
    ) -> QueryResult<Vec<Option<i64>>>;
    fn comments_by_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<PublicCommentRow>>;
    /// Every reply under these top-level comments, oldest first; the page keeps those
    /// approved and the placeholders they need.
    fn replies_under(
        &mut self,
        thread_id: i64,
        roots: &[i64],
    ) -> QueryResult<Vec<PublicCommentRow>>;
    /// `(comment_id, kind, count)`; `comment_id` is `None` for the post itself. Read from
    /// the counters, never by counting reactions.
    fn reaction_counts(&mut self, thread_id: i64) -> QueryResult<Vec<(Option<i64>, String, i64)>>;
    /// The same for some targets only: `keys` are comment ids, 0 for the post. For a
    /// page: read by the counters' key, whatever the thread's size.
    fn page_reaction_counts(
        &mut self,
        thread_id: i64,
        keys: &[i64],
    ) -> QueryResult<Vec<(Option<i64>, String, i64)>>;
    /// `(kind, count)` of one target: a comment, or the post (`comment_key` 0).
    fn target_reaction_counts(
        &mut self,
        thread_id: i64,
        comment_key: i64,
    ) -> QueryResult<Vec<(String, i64)>>;
    /// Adds the visitor's reaction unless they have it already; true when it was added.
    fn add_reaction(&mut self, new: &NewReaction<'_>) -> QueryResult<bool>;
    /// Removes the visitor's reaction; true when there was one.
    fn remove_reaction(
        &mut self,
        thread_id: i64,
        comment_id: Option<i64>,
        kind: &str,
        visitor_hash: &str,
    ) -> QueryResult<bool>;
    /// Adds `delta` to a target's counter of `kind`; a counter that reaches 0 is removed.
    fn add_reaction_count(
        &mut self,
        thread_id: i64,
        comment_key: i64,
        kind: &str,
        delta: i64,
    ) -> QueryResult<()>;
    /// `(comment_id, kind)` of one visitor's reactions in a thread.
    fn visitor_reactions(
        &mut self,
        thread_id: i64,
        visitor_hash: &str,
    ) -> QueryResult<Vec<(Option<i64>, String)>>;
    /// Those of `ids` that are approved comments.
    fn approved_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<i64>>;
    /// `(slug, count)` rows of the reactions on the posts themselves among `slugs`.
    fn post_reaction_counts(
        &mut self,
        site: &str,
        slugs: &[&str],
    ) -> QueryResult<Vec<(String, i64)>>;
    /// `(status, root_id)` of a comment if it belongs to the thread.
    fn comment_in_thread(
        &mut self,
        id: i64,
        thread_id: i64,
    ) -> QueryResult<Option<(String, Option<i64>)>>;
    fn comment_auth(&mut self, id: i64) -> QueryResult<Option<CommentAuthRow>>;
    fn comment_proof(&mut self, id: i64) -> QueryResult<Option<CommentProofRow>>;
    fn insert_comment(&mut self, new: &NewComment<'_>) -> QueryResult<PublicCommentRow>;
    fn update_comment(
        &mut self,
        id: i64,
        patch: &CommentPatch<'_>,
    ) -> QueryResult<PublicCommentRow>;
    /// Marks a comment deleted and erases what its author wrote about themselves.
    /// `by`: `author` (their own delete) or `erased` (a moderator's erasure).
    fn scrub_comment(&mut self, id: i64, now: i64, by: &str) -> QueryResult<()>;
    /// `(slug, comment_count)` of the existing threads among `slugs`, in one query.
    fn counts(&mut self, site: &str, slugs: &[&str]) -> QueryResult<Vec<(String, i64)>>;
    fn secret(&mut self, name: &str) -> QueryResult<Option<String>>;
    fn insert_secret_if_absent(&mut self, name: &str, value: &str) -> QueryResult<()>;
    fn ping(&mut self) -> QueryResult<()>;
}

/// A thread's top-level comments, whatever their status: `keep_visible` sorts them out.
macro_rules! top_level {
    ($thread_id:expr) => {
        comments::table
            .filter(comments::thread_id.eq($thread_id))
            .filter(comments::root_id.is_null())
            .select(PublicCommentRow::as_select())
    };
}

/// The top-level comments a reader sees among `rows`: approved ones, and any other
/// (deleted, refused, pending again) that keeps an approved reply, as a placeholder.
/// Asked in a second query for the few others, not as a subquery of the page's: under
/// `OR`, PostgreSQL answers such a subquery from a hash of every approved comment.
fn keep_visible<C: Store>(
    c: &mut C,
    thread_id: i64,
    rows: Vec<PublicCommentRow>,
) -> QueryResult<Vec<PublicCommentRow>> {
    let others: Vec<i64> = rows
        .iter()
        .filter(|r| r.status != "approved")
        .map(|r| r.id)
        .collect();
    if others.is_empty() {
        return Ok(rows);
    }
    let kept: std::collections::HashSet<i64> = c
        .roots_with_approved_replies(thread_id, &others)?
        .into_iter()
        .flatten()
        .collect();
    Ok(rows
        .into_iter()
        .filter(|r| r.status == "approved" || kept.contains(&r.id))
        .collect())
}

/// Up to `n` visible top-level comments, read in batches of `n` in index order from the
/// cursor `after` on (`batch` reads one, `cursor` is a row's place in that order) until
/// `n` are visible: hidden ones cost another batch only when there are some.
fn first_visible<C: Store, K: Copy>(
    c: &mut C,
    thread_id: i64,
    n: i64,
    mut after: Option<K>,
    cursor: impl Fn(&PublicCommentRow) -> K,
    mut batch: impl FnMut(&mut C, Option<K>) -> QueryResult<Vec<PublicCommentRow>>,
) -> QueryResult<Vec<PublicCommentRow>> {
    let mut out = Vec::new();
    loop {
        let rows = batch(c, after)?;
        let more = rows.len() as i64 == n;
        after = rows.last().map(&cursor).or(after);
        out.extend(keep_visible(c, thread_id, rows)?);
        if out.len() as i64 >= n || !more {
            out.truncate(n as usize);
            return Ok(out);
        }
    }
}

/// A counter row as the readers want it: the post's key 0 as `None`.
fn counter((key, kind, n): (i64, String, i64)) -> (Option<i64>, String, i64) {
    ((key != 0).then_some(key), kind, n)
}

macro_rules! common_store_fns {
    () => {
        fn find_thread(&mut self, site: &str, slug: &str) -> QueryResult<Option<ThreadRow>> {
            threads::table
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq(slug))
                .select(ThreadRow::as_select())
                .first(self)
                .optional()
        }

        fn thread_by_id(&mut self, id: i64) -> QueryResult<ThreadRow> {
            threads::table
                .find(id)
                .select(ThreadRow::as_select())
                .first(self)
        }

        fn upsert_thread(&mut self, new: &NewThread<'_>, delta: i64) -> QueryResult<ThreadRow> {
            use diesel::upsert::excluded;
            diesel::insert_into(threads::table)
                .values(new)
                .on_conflict((threads::site, threads::slug))
                .do_update()
                .set((
                    threads::comment_count.eq(threads::comment_count + delta),
                    threads::title.eq(coalesce(threads::title, excluded(threads::title))),
                    threads::url.eq(coalesce(threads::url, excluded(threads::url))),
                ))
                .returning(ThreadRow::as_returning())
                .get_result(self)
        }

        fn add_comment_count(&mut self, thread_id: i64, delta: i64) -> QueryResult<()> {
            diesel::update(threads::table.find(thread_id))
                .set(threads::comment_count.eq(threads::comment_count + delta))
                .execute(self)
                .map(|_| ())
        }

        fn top_level_page(
            &mut self,
            thread_id: i64,
            newest_first: bool,
            after_id: Option<i64>,
            n: i64,
        ) -> QueryResult<Vec<PublicCommentRow>> {
            first_visible(
                self,
                thread_id,
                n,
                after_id,
                |r| r.id,
                |c: &mut Self, after| {
                    let q = top_level!(thread_id).limit(n).into_boxed();
                    let q = match (newest_first, after) {
                        (false, Some(a)) => q.filter(comments::id.gt(a)).order(comments::id.asc()),
                        (false, None) => q.order(comments::id.asc()),
                        (true, Some(a)) => q.filter(comments::id.lt(a)).order(comments::id.desc()),
                        (true, None) => q.order(comments::id.desc()),
                    };
                    q.load(c)
                },
            )
        }

        fn top_level_by_score(
            &mut self,
            thread_id: i64,
            after: Option<(i64, i64)>,
            n: i64,
        ) -> QueryResult<Vec<PublicCommentRow>> {
            let cursor = |r: &PublicCommentRow| (r.score, r.id);
            first_visible(self, thread_id, n, after, cursor, |c: &mut Self, after| {
                // `score < s OR (score = s AND id > i)` in one query would make the planners
                // walk the index from its start; as two ranges each is a seek.
                let mut batch: Vec<PublicCommentRow> = Vec::new();
                if let Some((score, id)) = after {
                    batch = top_level!(thread_id)
                        .filter(comments::score.eq(score))
                        .filter(comments::id.gt(id))
                        .order(comments::id.asc())
                        .limit(n)
                        .load(c)?;
                }
                let left = n - batch.len() as i64;
                if left > 0 {
                    let mut q = top_level!(thread_id)
                        .order((comments::score.desc(), comments::id.asc()))
                        .limit(left)
                        .into_boxed();
                    if let Some((score, _)) = after {
                        q = q.filter(comments::score.lt(score));
                    }
                    batch.extend(q.load(c)?);
                }
                Ok(batch)
            })
        }

        fn roots_with_approved_replies(
            &mut self,
            thread_id: i64,
            roots: &[i64],
        ) -> QueryResult<Vec<Option<i64>>> {
            comments::table
                .filter(comments::thread_id.eq(thread_id))
                .filter(comments::root_id.eq_any(roots))
                .filter(comments::status.eq("approved"))
                .select(comments::root_id)
                .distinct()
                .load(self)
        }

        fn comments_by_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<PublicCommentRow>> {
            comments::table
                .filter(comments::id.eq_any(ids))
                .select(PublicCommentRow::as_select())
                .load(self)
        }

        fn replies_under(
            &mut self,
            thread_id: i64,
            roots: &[i64],
        ) -> QueryResult<Vec<PublicCommentRow>> {
            if roots.is_empty() {
                return Ok(Vec::new());
            }
            // Sorted here, not by the query: asked to order by id, SQLite walks the whole
            // thread in comments_thread_idx instead of seeking each root in
            // comments_root_idx.
            let mut rows: Vec<PublicCommentRow> = comments::table
                .filter(comments::thread_id.eq(thread_id))
                .filter(comments::root_id.eq_any(roots))
                .select(PublicCommentRow::as_select())
                .load(self)?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        }

        fn reaction_counts(
            &mut self,
            thread_id: i64,
        ) -> QueryResult<Vec<(Option<i64>, String, i64)>> {
            let rows: Vec<(i64, String, i64)> = reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .select((
                    reaction_counts::comment_key,
                    reaction_counts::kind,
                    reaction_counts::count,
                ))
                .load(self)?;
            Ok(rows.into_iter().map(counter).collect())
        }

        fn page_reaction_counts(
            &mut self,
            thread_id: i64,
            keys: &[i64],
        ) -> QueryResult<Vec<(Option<i64>, String, i64)>> {
            let mut out = Vec::new();
            // A page's ids, a few hundred at a time: well within any bind limit even when
            // one comment holds thousands of replies.
            for chunk in keys.chunks(500) {
                let rows: Vec<(i64, String, i64)> = reaction_counts::table
                    .filter(reaction_counts::thread_id.eq(thread_id))
                    .filter(reaction_counts::comment_key.eq_any(chunk))
                    .select((
                        reaction_counts::comment_key,
                        reaction_counts::kind,
                        reaction_counts::count,
                    ))
                    .load(self)?;
                out.extend(rows.into_iter().map(counter));
            }
            Ok(out)
        }

        fn target_reaction_counts(
            &mut self,
            thread_id: i64,
            comment_key: i64,
        ) -> QueryResult<Vec<(String, i64)>> {
            reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .filter(reaction_counts::comment_key.eq(comment_key))
                .select((reaction_counts::kind, reaction_counts::count))
                .load(self)
        }

        fn add_reaction(&mut self, new: &NewReaction<'_>) -> QueryResult<bool> {
            // The unique index decides, also against another instance's writer.
            diesel::insert_into(reactions::table)
                .values(new)
                .on_conflict_do_nothing()
                .execute(self)
                .map(|n| n == 1)
        }

        fn remove_reaction(
            &mut self,
            thread_id: i64,
            comment_id: Option<i64>,
            kind: &str,
            visitor_hash: &str,
        ) -> QueryResult<bool> {
            let q = reactions::table
                .filter(reactions::visitor_hash.eq(visitor_hash))
                .filter(reactions::thread_id.eq(thread_id))
                .filter(reactions::kind.eq(kind))
                .select(reactions::id)
                .into_boxed();
            let q = match comment_id {
                Some(c) => q.filter(reactions::comment_id.eq(c)),
                None => q.filter(reactions::comment_id.is_null()),
            };
            let Some(id) = q.first::<i64>(self).optional()? else {
                return Ok(false);
            };
            // By id: if another instance removed it meanwhile, this removes nothing.
            diesel::delete(reactions::table.find(id))
                .execute(self)
                .map(|n| n == 1)
        }

        fn add_reaction_count(
            &mut self,
            thread_id: i64,
            comment_key: i64,
            kind: &str,
            delta: i64,
        ) -> QueryResult<()> {
            let target = reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .filter(reaction_counts::comment_key.eq(comment_key))
                .filter(reaction_counts::kind.eq(kind));
            if delta < 0 {
                let gone = diesel::delete(target.filter(reaction_counts::count.le(-delta)))
                    .execute(self)?;
                if gone == 0 {
                    diesel::update(target)
                        .set(reaction_counts::count.eq(reaction_counts::count + delta))
                        .execute(self)?;
                }
            } else {
                diesel::insert_into(reaction_counts::table)
                    .values((
                        reaction_counts::thread_id.eq(thread_id),
                        reaction_counts::comment_key.eq(comment_key),
                        reaction_counts::kind.eq(kind),
                        reaction_counts::count.eq(delta),
                    ))
                    .on_conflict((
                        reaction_counts::thread_id,
                        reaction_counts::comment_key,
                        reaction_counts::kind,
                    ))
                    .do_update()
                    .set(reaction_counts::count.eq(reaction_counts::count + delta))
                    .execute(self)?;
            }
            if comment_key == 0 {
                return Ok(());
            }
            // The comment's score is the sum of its counters, set from them (not moved by
            // `delta`) so that it cannot drift from what the page shows.
            let counts: Vec<i64> = reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .filter(reaction_counts::comment_key.eq(comment_key))
                .select(reaction_counts::count)
                .load(self)?;
            diesel::update(comments::table.find(comment_key))
                .set(comments::score.eq(counts.iter().sum::<i64>()))
                .execute(self)
                .map(|_| ())
        }

        fn visitor_reactions(
            &mut self,
            thread_id: i64,
            visitor_hash: &str,
        ) -> QueryResult<Vec<(Option<i64>, String)>> {
            reactions::table
                .filter(reactions::visitor_hash.eq(visitor_hash))
                .filter(reactions::thread_id.eq(thread_id))
                .select((reactions::comment_id, reactions::kind))
                .load(self)
        }

        fn approved_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<i64>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            comments::table
                .filter(comments::id.eq_any(ids))
                .filter(comments::status.eq("approved"))
                .select(comments::id)
                .load(self)
        }

        fn post_reaction_counts(
            &mut self,
            site: &str,
            slugs: &[&str],
        ) -> QueryResult<Vec<(String, i64)>> {
            threads::table
                .inner_join(reaction_counts::table)
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq_any(slugs))
                .filter(reaction_counts::comment_key.eq(0))
                .select((threads::slug, reaction_counts::count))
                .load(self)
        }

        fn comment_in_thread(
            &mut self,
            id: i64,
            thread_id: i64,
        ) -> QueryResult<Option<(String, Option<i64>)>> {
            comments::table
                .filter(comments::id.eq(id))
                .filter(comments::thread_id.eq(thread_id))
                .select((comments::status, comments::root_id))
                .first(self)
                .optional()
        }

        fn comment_auth(&mut self, id: i64) -> QueryResult<Option<CommentAuthRow>> {
            comments::table
                .find(id)
                .select(CommentAuthRow::as_select())
                .first(self)
                .optional()
        }

        fn comment_proof(&mut self, id: i64) -> QueryResult<Option<CommentProofRow>> {
            comments::table
                .inner_join(threads::table)
                .filter(comments::id.eq(id))
                .select((
                    threads::site,
                    comments::status,
                    comments::email_key,
                    comments::edit_token_hash,
                ))
                .first(self)
                .optional()
        }

        fn insert_comment(&mut self, new: &NewComment<'_>) -> QueryResult<PublicCommentRow> {
            diesel::insert_into(comments::table)
                .values(new)
                .returning(PublicCommentRow::as_returning())
                .get_result(self)
        }

        fn update_comment(
            &mut self,
            id: i64,
            patch: &CommentPatch<'_>,
        ) -> QueryResult<PublicCommentRow> {
            diesel::update(comments::table.find(id))
                .set(patch)
                .returning(PublicCommentRow::as_returning())
                .get_result(self)
        }

        fn scrub_comment(&mut self, id: i64, now: i64, by: &str) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set((
                    comments::status.eq("deleted"),
                    comments::body.eq(""),
                    comments::html.eq(""),
                    comments::author.eq(None::<String>),
                    comments::email.eq(None::<String>),
                    comments::email_key.eq(None::<String>),
                    comments::website.eq(None::<String>),
                    comments::notify_replies.eq(false),
                    comments::edit_token_hash.eq(None::<String>),
                    comments::ip.eq(None::<String>),
                    comments::user_agent.eq(None::<String>),
                    // Derived from the address: it would link the placeholder to them.
                    comments::avatar.eq(DELETED_AVATAR),
                    comments::deleted_at.eq(Some(now)),
                    comments::deleted_by.eq(by),
                    // Who wrote it elsewhere (a reply from Mastodon, Bluesky, a webmention).
                    comments::origin.eq(None::<String>),
                    comments::remote_account.eq(None::<String>),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn counts(&mut self, site: &str, slugs: &[&str]) -> QueryResult<Vec<(String, i64)>> {
            threads::table
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq_any(slugs))
                .select((threads::slug, threads::comment_count))
                .load(self)
        }

        fn secret(&mut self, name: &str) -> QueryResult<Option<String>> {
            server_secrets::table
                .find(name)
                .select(server_secrets::value)
                .first(self)
                .optional()
        }

        fn insert_secret_if_absent(&mut self, name: &str, value: &str) -> QueryResult<()> {
            diesel::insert_into(server_secrets::table)
                .values((
                    server_secrets::name.eq(name),
                    server_secrets::value.eq(value),
                ))
                .on_conflict(server_secrets::name)
                .do_nothing()
                .execute(self)
                .map(|_| ())
        }

        fn ping(&mut self) -> QueryResult<()> {
            diesel::sql_query("SELECT 1").execute(self).map(|_| ())
        }
    };
}

impl Store for SqliteConnection {
    common_store_fns!();
}

impl Store for PgConnection {
    common_store_fns!();
}
