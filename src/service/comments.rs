//! What the comment endpoints do. Handlers parse, these decide.
//!
//! The write functions run on the writer, inside a savepoint it opens and closes for them
//! (see `db::writer`): an error or a panic rolls back everything they did, so they open no
//! transaction themselves and do every read they need right here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{Moderation, SiteSettings};
use crate::db::models::{CommentPatch, NewComment, NewThread};
use crate::db::{Db, Store};
use crate::domain::{
    names, AuthorName, CommentBody, CommentId, CommentStatus, Cursor, Email, EventKind, Limit,
    PageUrl, SiteId, Slug, Sort, Title, Website,
};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::view::{self, CommentJson, SiteJson, ThreadPage};

use super::spam;

/// What a thread answer says in `site.notifications`: whether commenters can ask to be
/// emailed about replies, which they can when email is on.
pub fn reply_notifications(email_on: bool) -> bool {
    email_on
}

/// Comments one reader may ask about at once with their edit tokens.
pub const MAX_OWN_COMMENTS: usize = 100;

/// Reads one page of a thread. An unknown thread is an empty page, not an error.
pub fn read_thread<C: Store + crate::db::FederationStore>(
    c: &mut C,
    site_info: SiteJson,
    site: &SiteId,
    slug: &Slug,
    sort: Sort,
    limit: Limit,
    after: Option<Cursor>,
) -> Result<ThreadPage, ApiError> {
    let Some(thread) = c.find_thread(site.as_str(), slug.as_str())? else {
        return Ok(ThreadPage {
            thread: view::thread_json(site.as_str(), slug.as_str(), None, BTreeMap::new()),
            comments: Vec::new(),
            next: None,
            site: site_info,
        });
    };
    // One more top-level comment than the page holds tells whether there is a next page.
    // Every read below is a seek by the thread and the page's own keys: a page of a
    // 10,000-comment thread costs what a page of a short one does.
    let want = limit.get() as i64 + 1;
    let tops = match sort {
        Sort::Oldest | Sort::Newest => {
            c.top_level_page(thread.id, sort == Sort::Newest, after.map(|a| a.id), want)?
        }
        Sort::Top => c.top_level_by_score(thread.id, after.map(|a| (a.score, a.id)), want)?,
    };
    let roots: Vec<i64> = tops.iter().map(|t| t.id).collect();
    let mut rows = c.replies_under(thread.id, &roots)?;
    rows.extend(tops);
    rows.sort_by_key(|r| r.id);
    // The post's counters (key 0) and the page's comments' only.
    let keys: Vec<i64> = std::iter::once(0)
        .chain(rows.iter().map(|r| r.id))
        .collect();
    let reactions = c.page_reaction_counts(thread.id, &keys)?;
    let (post_reactions, comments, next) = view::page(rows, reactions, sort, limit, after);
    let mut thread_json =
        view::thread_json(site.as_str(), slug.as_str(), Some(&thread), post_reactions);
    thread_json.elsewhere = super::federation::elsewhere(c, thread.id)?;
    Ok(ThreadPage {
        thread: thread_json,
        comments,
        next,
        site: site_info,
    })
}

pub struct NewCommentInput {
    pub slug: Slug,
    pub body: CommentBody,
    pub html: String,
    pub author: Option<AuthorName>,
    pub email: Option<Email>,
    pub website: Option<Website>,
    pub parent_id: Option<CommentId>,
    pub notify_replies: bool,
    pub title: Option<Title>,
    pub url: Option<PageUrl>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The moderator account posting (from the admin page): the comment is approved at
    /// once, may use a reserved name and may go into a locked thread.
    pub moderator_id: Option<i64>,
    /// Email is on: the commenter may ask for reply mail (the moderators' mail follows
    /// from the comment's event either way, see `crate::events`).
    pub email_on: bool,
    /// What the spam checks that need no database found (see `spam::check`).
    pub spam: spam::Verdict,
    /// The language of mail to the author (see `email::i18n::pick`).
    pub lang: &'static str,
    /// An earlier comment's id and edit token, proving the author owns `email`.
    pub proof: Option<(i64, String)>,
    /// What `check_author_early` found (whether a ban holds the comment), when it ran
    /// before the write; `None` checks in the write.
    pub author_checked: Option<bool>,
}

pub struct Created {
    pub comment: CommentJson,
    /// Not stored for a moderator's comment: moderators edit through the admin API.
    pub edit_token: String,
    pub thread_id: i64,
    /// The commenter asked for reply mail (and email is on): a confirmation mail goes out
    /// unless the address is confirmed. The same for every address: no oracle.
    pub confirmation_sent: bool,
    /// What the caller is to pass to `email::replies::subscribe` in this same write, when
    /// the commenter asked for reply mail: the one mail that answers the commenter's own
    /// request, so it is queued at once rather than from the event.
    pub reply_mail: Option<ReplyMailRequest>,
}

/// A commenter's request for reply mail, made with their comment.
pub struct ReplyMailRequest {
    pub thread: crate::db::models::ThreadRow,
    /// Lower-cased.
    pub email_key: String,
    pub lang: &'static str,
    pub at: i64,
}

fn reserved_name() -> ApiError {
    ApiError::unprocessable(
        "reserved_name",
        "This name belongs to the site's moderators; please choose another.",
    )
    .with_field("author")
}

fn banned() -> ApiError {
    ApiError::forbidden("banned", "Comments from you are not accepted on this site.")
}

/// Whether an anonymous author's name is one only moderators may use: a moderator
/// account's display name or username, or one of the site's reserved names, compared
/// folded and by confusable skeleton (see `domain::names`). Read in the write, or just
/// before it (see `check_author_early`), so an account made a moment ago counts.
fn is_reserved<C: Db>(c: &mut C, site: &SiteSettings, author: &str) -> Result<bool, ApiError> {
    let forms = names::folds(author);
    let skeletons = names::skeletons(author);
    let taken = |folded: &str| {
        forms.iter().any(|f| f == folded) || skeletons.contains(&names::skeleton(folded))
    };
    if site.reserved_names.iter().any(|r| taken(r)) {
        return Ok(true);
    }
    for (username, display_name) in c.admin_names()? {
        if taken(&names::fold(&username)) || taken(&names::fold(&display_name)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `proof` (an earlier comment's id and edit token) shows that this author owns
/// the address: that comment is approved, on this site, written with the same address,
/// and the token is its own.
fn proves_address<C: Db>(
    c: &mut C,
    key: &ServerKey,
    site: &str,
    email_key: &str,
    proof: Option<&(i64, String)>,
) -> Result<bool, ApiError> {
    let Some((id, token)) = proof else {
        return Ok(false);
    };
    let Some(p) = c.comment_proof(*id)? else {
        return Ok(false);
    };
    Ok(p.status == CommentStatus::Approved.as_str()
        && p.site == site
        && p.email_key.as_deref() == Some(email_key)
        && p.edit_token_hash
            .as_deref()
            .is_some_and(|h| key.verify_edit_token(token, h)))
}

/// Refuses a comment before anything is written, or says how a ban wants it held.
/// Returns whether it must be held.
fn check_author<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    input: &NewCommentInput,
    email_key: Option<&str>,
    now: i64,
) -> Result<bool, ApiError> {
    if let Some(u) = &input.url {
        if !site.origins.allows_url(u.as_str()) {
            return Err(crate::service::moderation::url_not_on_site());
        }
    }
    if input.moderator_id.is_some() {
        return Ok(false);
    }
    if let Some(a) = &input.author {
        if is_reserved(c, site, a.as_str())? {
            return Err(reserved_name());
        }
    }
    let ip_hash = input.ip.as_deref().map(|ip| key.hash_ip(ip));
    let person = email_key.map(|e| key.person_key(e));
    match c
        .ban_action(
            site.id.as_str(),
            email_key,
            person.as_deref(),
            ip_hash.as_deref(),
            now,
        )?
        .as_deref()
    {
        Some("refuse") => Err(banned()),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// The checks of the author that need the database (reserved names, bans), run on a
/// read connection just before the comment is queued for the writer, so that the writer,
/// which runs every write of the instance one after the other, does not wait on them:
/// two round trips fewer per comment there on PostgreSQL (the JSON and form endpoints do
/// this on PostgreSQL only). A name taken or a ban made in the milliseconds between this
/// check and the write does not apply to this comment, as to one posted a moment
/// earlier. Returns whether a ban holds it.
pub fn check_author_early<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    input: &NewCommentInput,
    now: i64,
) -> Result<bool, ApiError> {
    let email_key = input.email.as_ref().map(|e| e.as_str().to_lowercase());
    check_author(c, site, key, input, email_key.as_deref(), now)
}

pub fn create_comment<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    input: &NewCommentInput,
) -> Result<Created, ApiError> {
    let now = view::now_micros();
    let edit_token = crate::security::new_token();
    let token_hash = key.hash_edit_token(&edit_token);
    let site_id = site.id.as_str();
    let email_key = input.email.as_ref().map(|e| e.as_str().to_lowercase());
    let proven = match &email_key {
        Some(k) => proves_address(c, key, site_id, k, input.proof.as_ref())?,
        None => false,
    };
    // The address's own avatar only for its proven owner: otherwise it would confirm a
    // guessed address. Others get one of their own, tied to nothing.
    let avatar = match (&email_key, &input.author) {
        (Some(k), _) if proven => key.avatar(&format!("email:{k}")),
        (Some(_), _) => key.avatar(&format!("new:{token_hash}")),
        (None, Some(a)) => key.avatar(&format!("name:{}", a.as_str())),
        (None, None) => key.avatar(&format!("ip:{}", input.ip.as_deref().unwrap_or(""))),
    };
    let held = match input.author_checked {
        Some(held) => held,
        None => check_author(c, site, key, input, email_key.as_deref(), now)?,
    };
    // Only the keyed hash of the address is kept: enough to match bans and to spot one
    // sender behind several names.
    let stored_ip = input.ip.as_deref().map(|ip| key.hash_ip(ip));
    let verdict = match &input.spam {
        _ if input.moderator_id.is_some() => spam::Verdict::Clean,
        found => found.clone(),
    };
    let status = match site.moderation {
        _ if input.moderator_id.is_some() => CommentStatus::Approved,
        _ if matches!(verdict, spam::Verdict::Spam(_)) => CommentStatus::Spam,
        _ if held || matches!(verdict, spam::Verdict::Hold(_)) => CommentStatus::Pending,
        Moderation::None => CommentStatus::Approved,
        Moderation::All => CommentStatus::Pending,
        // Proven: an approved comment of this address on this site is this browser's.
        Moderation::FirstTime if proven => CommentStatus::Approved,
        Moderation::FirstTime => CommentStatus::Pending,
    };
    let approved = status == CommentStatus::Approved;
    // Counted before the checks below: a refused comment rolls the count back with it.
    let delta = i64::from(approved);
    // The thread's title and address are the owner's: only a comment published at once
    // (so seen by a moderator's rules) may record them.
    let thread = c.upsert_thread(
        &NewThread {
            site: site_id,
            slug: input.slug.as_str(),
            title: input.title.as_ref().filter(|_| approved).map(Title::as_str),
            url: input.url.as_ref().filter(|_| approved).map(PageUrl::as_str),
            locked: false,
            comment_count: delta,
            created_at: now,
        },
        delta,
    )?;
    // Moderators may still post into a locked thread: it is their call.
    if thread.locked && input.moderator_id.is_none() {
        return Err(ApiError::conflict(
            "thread_locked",
            "This thread is locked: it takes no new comments.",
        ));
    }
    let root_id = match input.parent_id {
        None => None,
        Some(parent) => match c.comment_in_thread(parent.0, thread.id)? {
            Some((status, root)) if status == "approved" => Some(root.unwrap_or(parent.0)),
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_parent",
                    "parent_id must be a visible comment of this same thread.",
                )
                .with_field("parent_id"))
            }
        },
    };
    let mut row = c.insert_comment(&NewComment {
        thread_id: thread.id,
        parent_id: input.parent_id.map(|p| p.0),
        root_id,
        status: status.as_str(),
        body: input.body.as_str(),
        html: &input.html,
        author: input.author.as_ref().map(AuthorName::as_str),
        email: input.email.as_ref().map(Email::as_str),
        website: input.website.as_ref().map(Website::as_str),
        avatar: &avatar,
        notify_replies: input.notify_replies,
        edit_token_hash: input.moderator_id.is_none().then_some(token_hash.as_str()),
        ip: stored_ip.as_deref(),
        user_agent: input.user_agent.as_deref(),
        created_at: now,
        email_key: email_key.as_deref(),
        moderator_id: input.moderator_id,
    })?;
    let caught = match &verdict {
        spam::Verdict::Clean => None,
        spam::Verdict::Spam(reason) => Some(("spam", reason)),
        spam::Verdict::Hold(reason) => Some(("hold", reason)),
    };
    if let Some((action, reason)) = caught {
        // Moderators see why in the audit log; the poster sees a held comment either way.
        super::events::audit(
            c,
            spam::FILTER,
            action,
            Some(row.id),
            Some(thread.id),
            Some(reason),
        )?;
    }
    let is_spam = status == CommentStatus::Spam;
    if is_spam {
        row.status = CommentStatus::Pending.as_str().to_owned();
    }
    // Nothing is mailed for what the spam checks caught: no confirmation to an address a
    // bot typed in. Its answer still says what a clean comment's would.
    let confirmation_sent = input.email_on && email_key.is_some() && input.notify_replies;
    let reply_mail = match (&email_key, confirmation_sent && !is_spam) {
        (Some(email), true) => Some(ReplyMailRequest {
            thread: thread.clone(),
            email_key: email.clone(),
            lang: input.lang,
            at: now,
        }),
        _ => None,
    };
    // What the spam checks caught is no news: the moderators find it in the spam list.
    // The moderators' mail, reply mail and webhooks follow from this event.
    if !is_spam {
        let status = if approved { "approved" } else { "pending" };
        let mut detail = serde_json::json!({ "status": status });
        if let Some(u) = &input.url {
            detail[crate::events::dispatch::PAGE_URL] = u.as_str().into();
        }
        // The comment as just stored: no need to read it back.
        let about = super::events::About {
            id: row.id,
            status: &row.status,
            parent_id: row.parent_id,
            author: row.author.as_deref(),
            body: input.body.as_str(),
            created_at: Some(row.created_at),
        };
        super::events::record_about(
            c,
            EventKind::CommentCreated,
            site_id,
            Some(thread.id),
            Some(&about),
            &detail,
            now,
        )?;
    }
    Ok(Created {
        comment: view::comment_json(row, BTreeMap::new()),
        edit_token,
        thread_id: thread.id,
        confirmation_sent,
        reply_mail,
    })
}

/// The thread a comment belongs to, for the checks an author action needs first.
pub struct Owned {
    pub site: SiteId,
    pub slug: Slug,
    pub thread_id: i64,
}

/// Finds the comment and its thread; a deleted comment counts as gone.
pub fn locate_comment<C: Store>(c: &mut C, id: CommentId) -> Result<Owned, ApiError> {
    let gone = ApiError::comment_not_found;
    let auth = c.comment_auth(id.0)?.ok_or_else(gone)?;
    if auth.status == "deleted" {
        return Err(gone());
    }
    let thread = c.thread_by_id(auth.thread_id)?;
    let site = SiteId::parse(&thread.site).map_err(|_| gone())?;
    let slug = Slug::parse(&thread.slug).map_err(|_| gone())?;
    Ok(Owned {
        site,
        slug,
        thread_id: thread.id,
    })
}

/// An author's request to change their comment, as proven by the edit token.
pub struct AuthorAction<'a> {
    pub key: &'a ServerKey,
    pub site: &'a SiteSettings,
    pub owned: &'a Owned,
    pub id: CommentId,
    pub token: &'a str,
}

/// Checks the edit token and window inside the write transaction.
fn authorize<C: Store>(
    c: &mut C,
    key: &ServerKey,
    id: CommentId,
    token: &str,
    window: Duration,
    now: i64,
) -> Result<(crate::db::models::CommentAuthRow, bool), ApiError> {
    let auth = c
        .comment_auth(id.0)?
        .filter(|a| a.status != "deleted")
        .ok_or_else(ApiError::comment_not_found)?;
    let valid = auth
        .edit_token_hash
        .as_deref()
        .is_some_and(|h| key.verify_edit_token(token, h));
    if !valid {
        return Err(ApiError::forbidden(
            "invalid_token",
            "This edit token does not belong to this comment.",
        ));
    }
    let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    if now > auth.created_at.saturating_add(window_us) {
        return Err(ApiError::forbidden(
            "edit_window_closed",
            format!(
                "Comments can be changed for {} after posting; this one is older.",
                humantime::format_duration(window)
            ),
        ));
    }
    let locked = c.thread_by_id(auth.thread_id)?.locked;
    Ok((auth, locked))
}

pub fn edit_comment<C: Db>(
    c: &mut C,
    action: &AuthorAction<'_>,
    body: &CommentBody,
    html: &str,
) -> Result<CommentJson, ApiError> {
    let AuthorAction {
        key,
        site,
        owned,
        id,
        token,
    } = *action;
    let now = view::now_micros();
    let (auth, locked) = authorize(c, key, id, token, site.edit_window, now)?;
    if locked {
        return Err(ApiError::conflict(
            "thread_locked",
            "This thread is locked: its comments can no longer change.",
        ));
    }
    // Where comments wait for a moderator, an edit waits too: otherwise an approved
    // comment could be changed into anything afterwards.
    if auth.status == "approved" && site.moderation != Moderation::None {
        c.set_comment_status(id.0, CommentStatus::Pending.as_str(), None, now)?;
        c.add_comment_count(auth.thread_id, -1)?;
    }
    let row = c.update_comment(
        id.0,
        &CommentPatch {
            body: body.as_str(),
            html,
            edited_at: Some(now),
        },
    )?;
    super::events::record(
        c,
        EventKind::CommentEdited,
        site.id.as_str(),
        Some(auth.thread_id),
        Some(id.0),
        &serde_json::json!({ "by": "author", "status": row.status }),
        now,
    )?;
    let reactions = c
        .target_reaction_counts(owned.thread_id, id.0)?
        .into_iter()
        .collect();
    Ok(view::comment_json(row, reactions))
}

pub fn delete_comment<C: Db>(c: &mut C, action: &AuthorAction<'_>) -> Result<(), ApiError> {
    let AuthorAction {
        key,
        site,
        id,
        token,
        ..
    } = *action;
    let now = view::now_micros();
    let (auth, locked) = authorize(c, key, id, token, site.edit_window, now)?;
    if locked {
        return Err(ApiError::conflict(
            "thread_locked",
            "This thread is locked: its comments can no longer change.",
        ));
    }
    c.scrub_comment(id.0, now, "author")?;
    if auth.status == "approved" {
        c.add_comment_count(auth.thread_id, -1)?;
    }
    // Its text is gone: so is what earlier events said of it.
    c.forget_comment_events(id.0)?;
    super::events::record(
        c,
        EventKind::CommentDeleted,
        site.id.as_str(),
        Some(auth.thread_id),
        Some(id.0),
        &serde_json::json!({ "by": "author", "from": auth.status }),
        now,
    )?;
    Ok(())
}

/// The current state of comments their author holds edit tokens for, in one thread.
/// Only pending and approved comments whose token matches are answered: a comment refused
/// (spam), deleted, of another thread or with a wrong token is simply left out, so the
/// answer tells a stranger nothing they did not know. One the spam checks filed, and no
/// moderator has looked at since, still reads as pending: its poster learns nothing.
pub fn own_comments<C: Db>(
    c: &mut C,
    key: &ServerKey,
    site: &SiteId,
    slug: &Slug,
    claims: &[(CommentId, String)],
) -> Result<Vec<CommentJson>, ApiError> {
    let Some(thread) = c.find_thread(site.as_str(), slug.as_str())? else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for (id, token) in claims {
        let Some(auth) = c.comment_auth(id.0)? else {
            continue;
        };
        let filed = auth.status == "spam" && c.last_actor(id.0)?.as_deref() == Some(spam::FILTER);
        let owned = auth.thread_id == thread.id
            && (matches!(auth.status.as_str(), "approved" | "pending") || filed)
            && auth
                .edit_token_hash
                .as_deref()
                .is_some_and(|h| key.verify_edit_token(token, h));
        if owned && !ids.contains(&id.0) {
            ids.push(id.0);
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut reactions: std::collections::HashMap<i64, BTreeMap<String, i64>> =
        std::collections::HashMap::new();
    for (comment, kind, n) in c.page_reaction_counts(thread.id, &ids)? {
        if let Some(id) = comment {
            reactions.entry(id).or_default().insert(kind, n);
        }
    }
    let mut rows = c.comments_by_ids(&ids)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows
        .into_iter()
        .map(|mut r| {
            if r.status == "spam" {
                r.status = CommentStatus::Pending.as_str().to_owned();
            }
            let mine = reactions.remove(&r.id).unwrap_or_default();
            view::comment_json(r, mine)
        })
        .collect())
}

/// Approved comments per slug: every slug asked for is answered, unknown ones with 0.
pub fn counts<C: Store>(
    c: &mut C,
    site: &SiteId,
    slugs: &[(String, Slug)],
) -> Result<BTreeMap<String, i64>, ApiError> {
    let wanted: Vec<&str> = slugs.iter().map(|(_, s)| s.as_str()).collect();
    let found: std::collections::HashMap<String, i64> =
        c.counts(site.as_str(), &wanted)?.into_iter().collect();
    Ok(slugs
        .iter()
        .map(|(asked, s)| (asked.clone(), found.get(s.as_str()).copied().unwrap_or(0)))
        .collect())
}
