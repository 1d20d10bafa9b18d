//! Row structs, apart from their queries.

use diesel::prelude::*;

use super::schema::{comments, reactions, threads};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = threads)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ThreadRow {
    pub id: i64,
    pub site: String,
    pub slug: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub locked: bool,
    pub comment_count: i64,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = threads)]
pub struct NewThread<'a> {
    pub site: &'a str,
    pub slug: &'a str,
    pub title: Option<&'a str>,
    pub url: Option<&'a str>,
    pub locked: bool,
    pub comment_count: i64,
    pub created_at: i64,
}

/// The public parts of a comment, as a thread read needs them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct PublicCommentRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub html: String,
    pub author: Option<String>,
    pub website: Option<String>,
    pub avatar: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// The moderator account that wrote it, if one did.
    pub moderator_id: Option<i64>,
    /// Where it came from when it was not written here (JSON, see `view::Origin`).
    pub origin: Option<String>,
    /// The sum of its reaction counts, which `sort=top` orders by.
    pub score: i64,
}

/// What the author endpoints (edit, delete) need to decide.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CommentAuthRow {
    pub id: i64,
    pub thread_id: i64,
    pub status: String,
    pub edit_token_hash: Option<String>,
    pub created_at: i64,
}

/// What proves an author owns an address: an earlier comment of theirs.
#[derive(Debug, Clone, Queryable)]
pub struct CommentProofRow {
    pub site: String,
    pub status: String,
    pub email_key: Option<String>,
    pub edit_token_hash: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = comments)]
pub struct NewComment<'a> {
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub status: &'a str,
    pub body: &'a str,
    pub html: &'a str,
    pub author: Option<&'a str>,
    pub email: Option<&'a str>,
    pub website: Option<&'a str>,
    pub avatar: &'a str,
    pub notify_replies: bool,
    pub edit_token_hash: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub created_at: i64,
    /// `email` in lower case, as first-time moderation compares it.
    pub email_key: Option<&'a str>,
    pub moderator_id: Option<i64>,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = comments)]
pub struct CommentPatch<'a> {
    pub body: &'a str,
    pub html: &'a str,
    pub edited_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = reactions)]
pub struct NewReaction<'a> {
    pub thread_id: i64,
    pub comment_id: Option<i64>,
    pub kind: &'a str,
    /// The keyed hash of the visitor id, never the id itself.
    pub visitor_hash: &'a str,
    pub created_at: i64,
}
