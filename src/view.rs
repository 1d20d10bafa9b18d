//! The public JSON of threads and comments, and how a thread is paged.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::config::SiteSettings;
use crate::db::models::{PublicCommentRow, ThreadRow};
use crate::domain::{Cursor, Limit, Sort};

/// A post's thread as the public sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadJson {
    pub site: String,
    pub slug: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub locked: bool,
    /// Approved comments in the thread, replies included.
    pub comment_count: i64,
    /// Reactions on the post itself.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub reactions: BTreeMap<String, i64>,
    /// The post's life elsewhere: its announcement on Mastodon or Bluesky, and the
    /// webmentions it received. Absent when it has neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elsewhere: Option<Elsewhere>,
}

/// See `ThreadJson::elsewhere`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Elsewhere {
    /// The announcement the thread is linked to, where readers can reply.
    pub announcement: Option<Announcement>,
    /// Accepted webmentions other than replies, by kind (`like`, `repost`, `bookmark`,
    /// `mention`); replies are comments.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub webmentions: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Announcement {
    /// `mastodon` or `bluesky`.
    pub kind: String,
    /// The announcement itself: reply there.
    pub url: String,
    /// Favourites (Mastodon) or likes (Bluesky).
    pub likes: i64,
    /// Boosts (Mastodon) or reposts (Bluesky).
    pub reposts: i64,
}

/// A comment as the public sees it. Never holds emails, addresses or token hashes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentJson {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub author: Option<String>,
    pub website: Option<String>,
    /// A stable identicon seed, derived with a server key from the email or name.
    pub avatar: String,
    /// Sanitized HTML rendered from the Markdown source.
    pub html: String,
    /// RFC 3339.
    pub created_at: String,
    pub edited_at: Option<String>,
    /// `approved`, `pending` (only ever shown to its author) or `deleted` (a placeholder).
    pub status: &'static str,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub reactions: BTreeMap<String, i64>,
    /// Written by one of the site's moderators (from the admin page).
    pub moderator: bool,
    /// Where the comment was written when not here (a Mastodon or Bluesky reply, a
    /// webmention); absent for comments written here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where a comment from elsewhere was written, and how to answer it there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Origin {
    /// `mastodon`, `bluesky` or `webmention`.
    pub kind: String,
    /// What to show as its origin: the instance, `Bluesky`, or the source's domain.
    pub label: String,
    /// The author's handle there (`@ann@example.social`, `@ann.bsky.social`), if any.
    pub handle: Option<String>,
    /// The author's profile page there.
    pub author_url: Option<String>,
    /// The original (the reply itself, or the webmention's source page).
    pub url: String,
    /// Where a reader answers it (on Mastodon or Bluesky); absent for webmentions.
    pub reply_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadPage {
    pub thread: ThreadJson,
    /// Top-level comments of this page, each followed by all its replies (oldest first).
    pub comments: Vec<CommentJson>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
    /// What the embed needs to know about the site, so it needs no request of its own.
    pub site: SiteJson,
}

/// The public settings of a site: what a comment form must know before it posts.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SiteJson {
    /// `none`, `first-time` or `all`: whether new comments wait for a moderator.
    pub moderation: &'static str,
    /// Seconds after posting during which the author may edit or delete a comment.
    pub edit_window: u64,
    /// The longest comment accepted, in characters.
    pub max_length: usize,
    /// The reactions readers may give, in display order.
    pub reactions: Vec<String>,
    /// Whether the server can email commenters about replies (`notify_replies`).
    pub notifications: bool,
}

pub fn site_json(site: &SiteSettings, notifications: bool) -> SiteJson {
    SiteJson {
        moderation: site.moderation.as_str(),
        edit_window: site.edit_window.as_secs(),
        max_length: site.max_comment_length,
        reactions: site.reactions.clone(),
        notifications,
    }
}

pub fn rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub fn comment_json(row: PublicCommentRow, reactions: BTreeMap<String, i64>) -> CommentJson {
    let status = match row.status.as_str() {
        "approved" => "approved",
        "pending" => "pending",
        _ => "deleted",
    };
    let deleted = status == "deleted";
    CommentJson {
        id: row.id,
        parent_id: row.parent_id,
        author: if deleted { None } else { row.author },
        website: if deleted { None } else { row.website },
        // A placeholder tells nothing of who wrote it.
        avatar: if deleted { String::new() } else { row.avatar },
        html: if deleted { String::new() } else { row.html },
        created_at: rfc3339(row.created_at),
        edited_at: row.edited_at.map(rfc3339),
        status,
        reactions: if deleted { BTreeMap::new() } else { reactions },
        moderator: !deleted && row.moderator_id.is_some(),
        origin: if deleted {
            None
        } else {
            row.origin
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
        },
    }
}

pub fn thread_json(
    site: &str,
    slug: &str,
    row: Option<&ThreadRow>,
    reactions: BTreeMap<String, i64>,
) -> ThreadJson {
    ThreadJson {
        site: site.to_owned(),
        slug: slug.to_owned(),
        title: row.and_then(|t| t.title.clone()),
        url: row.and_then(|t| t.url.clone()),
        locked: row.is_some_and(|t| t.locked),
        comment_count: row.map_or(0, |t| t.comment_count),
        reactions,
        elsewhere: None,
    }
}

/// One page of a thread from its candidate top-level rows and their replies (ordered by id).
/// Sorting, the cursor and the limit apply here too, so any superset of the page works.
pub fn page(
    rows: Vec<PublicCommentRow>,
    reaction_rows: Vec<(Option<i64>, String, i64)>,
    sort: Sort,
    limit: Limit,
    after: Option<Cursor>,
) -> (BTreeMap<String, i64>, Vec<CommentJson>, Option<String>) {
    let mut post_reactions = BTreeMap::new();
    let mut by_comment: HashMap<i64, BTreeMap<String, i64>> = HashMap::new();
    for (comment, kind, n) in reaction_rows {
        match comment {
            None => {
                post_reactions.insert(kind, n);
            }
            Some(id) => {
                by_comment.entry(id).or_default().insert(kind, n);
            }
        }
    }

    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let n = rows.len();
    // A comment not approved (deleted, refused, or pending again after an edit) stays only
    // as the placeholder of visible replies.
    let mut visible: Vec<bool> = rows.iter().map(|r| r.status == "approved").collect();
    for i in (0..n).rev() {
        if visible[i] {
            if let Some(p) = rows[i].parent_id.and_then(|p| index.get(&p)) {
                visible[*p] = true;
            }
        }
    }
    // Replies whose parent is not loaded are hidden with it.
    let mut shown = vec![false; n];
    let mut children: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut top: Vec<usize> = Vec::new();
    for i in 0..n {
        let reachable = match rows[i].parent_id {
            None => true,
            Some(p) => index.get(&p).is_some_and(|&pi| shown[pi]),
        };
        shown[i] = visible[i] && reachable;
        if !shown[i] {
            continue;
        }
        match rows[i].parent_id {
            None => top.push(i),
            Some(p) => children.entry(p).or_default().push(i),
        }
    }

    // The stored score, as the page's query ordered by: the counters shown may have moved
    // since, but the order and the cursor must agree with the query's.
    let score = |i: usize| -> i64 { rows[i].score };
    match sort {
        Sort::Oldest => {}
        Sort::Newest => top.reverse(),
        Sort::Top => {
            top.sort_by(|&a, &b| score(b).cmp(&score(a)).then(rows[a].id.cmp(&rows[b].id)))
        }
    }
    if let Some(c) = after {
        top.retain(|&i| {
            let id = rows[i].id;
            match sort {
                Sort::Oldest => id > c.id,
                Sort::Newest => id < c.id,
                Sort::Top => {
                    let s = score(i);
                    s < c.score || (s == c.score && id > c.id)
                }
            }
        });
    }
    let has_more = top.len() > limit.get();
    top.truncate(limit.get());
    let next = if has_more {
        top.last().map(|&i| {
            Cursor {
                sort,
                score: if sort == Sort::Top { score(i) } else { 0 },
                id: rows[i].id,
            }
            .encode()
        })
    } else {
        None
    };

    let mut order = Vec::new();
    for &t in &top {
        let mut stack = vec![t];
        while let Some(i) = stack.pop() {
            order.push(i);
            if let Some(kids) = children.get(&rows[i].id) {
                stack.extend(kids.iter().rev());
            }
        }
    }
    let mut slots: Vec<Option<PublicCommentRow>> = rows.into_iter().map(Some).collect();
    let comments = order
        .into_iter()
        .filter_map(|i| {
            let mut row = slots[i].take()?;
            // Anything not approved that is shown at all is the placeholder of replies.
            if row.status != "approved" {
                row.status = "deleted".into();
            }
            let reactions = by_comment.remove(&row.id).unwrap_or_default();
            Some(comment_json(row, reactions))
        })
        .collect();
    (post_reactions, comments, next)
}

/// Where a thread's comments are on the blog: its recorded address, or the site's one
/// origin and the slug when the slug is a path.
pub fn thread_link(site: Option<&SiteSettings>, slug: &str, url: Option<&str>) -> Option<String> {
    if let Some(u) = url {
        return Some(u.to_owned());
    }
    let site = site?;
    match &site.origins {
        crate::config::Origins::List(l) if l.len() == 1 && slug.starts_with('/') => {
            l.iter().next().map(|o| format!("{o}{slug}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, parent: Option<i64>, status: &str) -> PublicCommentRow {
        PublicCommentRow {
            id,
            parent_id: parent,
            status: status.into(),
            html: format!("<p>{id}</p>"),
            author: Some(format!("a{id}")),
            website: None,
            avatar: "x".into(),
            created_at: id * 1_000_000,
            edited_at: None,
            moderator_id: None,
            origin: None,
            score: 0,
        }
    }

    fn ids(c: &[CommentJson]) -> Vec<i64> {
        c.iter().map(|c| c.id).collect()
    }

    #[test]
    fn replies_follow_their_top_level_comment() {
        let rows = vec![
            row(1, None, "approved"),
            row(2, None, "approved"),
            row(3, Some(1), "approved"),
            row(4, Some(3), "approved"),
            row(5, Some(1), "approved"),
        ];
        let (_, c, next) = page(rows, vec![], Sort::Oldest, Limit::DEFAULT, None);
        assert_eq!(ids(&c), [1, 3, 4, 5, 2]);
        assert!(next.is_none());
    }

    #[test]
    fn paging_by_top_level_comment() {
        let rows: Vec<_> = (1..=5)
            .map(|i| row(i, None, "approved"))
            .chain([row(6, Some(2), "approved")])
            .collect();
        let limit = Limit::parse("2").unwrap();
        let (_, c, next) = page(rows.clone(), vec![], Sort::Oldest, limit, None);
        assert_eq!(ids(&c), [1, 2, 6]);
        let cur = Cursor::parse(next.as_deref().unwrap(), Sort::Oldest).unwrap();
        let (_, c, next) = page(rows.clone(), vec![], Sort::Oldest, limit, Some(cur));
        assert_eq!(ids(&c), [3, 4]);
        let cur = Cursor::parse(next.as_deref().unwrap(), Sort::Oldest).unwrap();
        let (_, c, next) = page(rows.clone(), vec![], Sort::Oldest, limit, Some(cur));
        assert_eq!(ids(&c), [5]);
        assert!(next.is_none());
        let (_, c, _) = page(rows, vec![], Sort::Newest, limit, None);
        assert_eq!(ids(&c), [5, 4]);
    }

    #[test]
    fn top_sorts_by_reactions_then_age() {
        // The stored scores are the sums of the counters below.
        let rows: Vec<_> = (1..=4)
            .map(|i| PublicCommentRow {
                score: [0, 2, 5, 0][i as usize - 1],
                ..row(i, None, "approved")
            })
            .collect();
        let reactions = vec![
            (Some(3), "👍".to_string(), 5),
            (Some(2), "👍".to_string(), 1),
            (Some(2), "❤️".to_string(), 1),
            (None, "🎉".to_string(), 9),
        ];
        let (post, c, next) = page(
            rows.clone(),
            reactions.clone(),
            Sort::Top,
            Limit::parse("2").unwrap(),
            None,
        );
        assert_eq!(ids(&c), [3, 2]);
        assert_eq!(post.get("🎉"), Some(&9));
        assert_eq!(c[1].reactions.len(), 2);
        let cur = Cursor::parse(next.as_deref().unwrap(), Sort::Top).unwrap();
        let (_, c, _) = page(rows, reactions, Sort::Top, Limit::DEFAULT, Some(cur));
        assert_eq!(ids(&c), [1, 4]);
    }

    #[test]
    fn deleted_comments_stay_only_as_placeholders_of_visible_replies() {
        let rows = vec![
            row(1, None, "deleted"),
            row(2, Some(1), "approved"),
            row(3, None, "deleted"),
            row(4, None, "deleted"),
            row(5, Some(4), "deleted"),
        ];
        let (_, c, _) = page(rows, vec![], Sort::Oldest, Limit::DEFAULT, None);
        assert_eq!(ids(&c), [1, 2]);
        assert_eq!(c[0].status, "deleted");
        assert_eq!(c[0].html, "");
        assert_eq!(c[0].author, None);
    }

    #[test]
    fn replies_to_hidden_comments_are_hidden() {
        // Comment 1 is pending or spam, so not among the rows.
        let rows = vec![row(2, Some(1), "approved"), row(3, None, "approved")];
        let (_, c, _) = page(rows, vec![], Sort::Oldest, Limit::DEFAULT, None);
        assert_eq!(ids(&c), [3]);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.5Z");
    }
}
