//! What the reaction endpoints do: toggle one reaction, read a thread's, total them per post.
//!
//! `toggle` runs on the writer inside its savepoint (see `db::writer`), so the reaction and
//! its counter change together or not at all. Counts are read from the counters only.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::SiteSettings;
use crate::db::models::{NewReaction, NewThread};
use crate::db::Store;
use crate::domain::{CommentId, ReactionKind, SiteId, Slug};
use crate::error::ApiError;
use crate::view;

/// The reactions of one target (the post or a comment), and which are this visitor's.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TargetReactions {
    /// Count per kind; kinds nobody gave are left out.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub reactions: BTreeMap<String, i64>,
    /// This visitor's kinds, in the site's order.
    pub mine: Vec<String>,
}

/// Every reaction of a thread: the post's and each visible comment's.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ThreadReactions {
    pub post: TargetReactions,
    /// By comment id; comments without reactions are left out.
    #[schema(value_type = BTreeMap<String, TargetReactions>)]
    pub comments: BTreeMap<i64, TargetReactions>,
}

/// One visitor turning one reaction on or off.
pub struct Toggle {
    pub slug: Slug,
    pub comment_id: Option<CommentId>,
    pub kind: ReactionKind,
    /// The keyed hash of the visitor id.
    pub visitor_hash: String,
    pub active: bool,
}

fn comment_not_found() -> ApiError {
    ApiError::not_found(
        "comment_not_found",
        "There is no visible comment with this id in this thread.",
    )
}

/// Sets the visitor's reaction as asked (idempotent) and answers the target's new state.
/// The first reaction creates the thread.
pub fn toggle<C: crate::db::Db>(
    c: &mut C,
    site: &SiteSettings,
    t: &Toggle,
) -> Result<TargetReactions, ApiError> {
    let thread = c.upsert_thread(
        &NewThread {
            site: site.id.as_str(),
            slug: t.slug.as_str(),
            title: None,
            url: None,
            locked: false,
            comment_count: 0,
            created_at: view::now_micros(),
        },
        0,
    )?;
    if thread.locked {
        return Err(ApiError::conflict(
            "thread_locked",
            "This thread is locked: its reactions can no longer change.",
        ));
    }
    let key = match t.comment_id {
        None => 0,
        Some(id) => match c.comment_in_thread(id.0, thread.id)? {
            Some((status, _)) if status == "approved" => id.0,
            _ => return Err(comment_not_found()),
        },
    };
    let comment_id = (key != 0).then_some(key);
    let kind = t.kind.as_str();
    let changed = if t.active {
        c.add_reaction(&NewReaction {
            thread_id: thread.id,
            comment_id,
            kind,
            visitor_hash: &t.visitor_hash,
            created_at: view::now_micros(),
        })?
    } else {
        c.remove_reaction(thread.id, comment_id, kind, &t.visitor_hash)?
    };
    if changed {
        c.add_reaction_count(thread.id, key, kind, if t.active { 1 } else { -1 })?;
    }
    if changed && t.active {
        super::events::record(
            c,
            crate::domain::EventKind::ReactionAdded,
            site.id.as_str(),
            Some(thread.id),
            comment_id,
            &serde_json::json!({ "reaction": kind }),
            view::now_micros(),
        )?;
    }
    let reactions = c
        .target_reaction_counts(thread.id, key)?
        .into_iter()
        .collect();
    let mine = c
        .visitor_reactions(thread.id, &t.visitor_hash)?
        .into_iter()
        .filter(|(cid, _)| *cid == comment_id)
        .map(|(_, k)| k)
        .collect();
    Ok(TargetReactions {
        reactions,
        mine: in_site_order(mine, &site.reactions),
    })
}

/// Kinds in the order the site lists them; kinds it no longer lists go last.
fn in_site_order(mut kinds: Vec<String>, order: &[String]) -> Vec<String> {
    let pos = |k: &String| order.iter().position(|o| o == k).unwrap_or(usize::MAX);
    kinds.sort_by(|a, b| pos(a).cmp(&pos(b)).then(a.cmp(b)));
    kinds
}

/// The thread's reactions, with `visitor_hash`'s own marked. Unknown thread: none.
pub fn thread_reactions<C: Store>(
    c: &mut C,
    site: &SiteSettings,
    slug: &Slug,
    visitor_hash: Option<&str>,
) -> Result<ThreadReactions, ApiError> {
    let Some(thread) = c.find_thread(site.id.as_str(), slug.as_str())? else {
        return Ok(ThreadReactions::default());
    };
    let mut by_target: HashMap<Option<i64>, TargetReactions> = HashMap::new();
    for (comment, kind, n) in c.reaction_counts(thread.id)? {
        by_target
            .entry(comment)
            .or_default()
            .reactions
            .insert(kind, n);
    }
    if let Some(hash) = visitor_hash {
        for (comment, kind) in c.visitor_reactions(thread.id, hash)? {
            by_target.entry(comment).or_default().mine.push(kind);
        }
    }
    let ids: Vec<i64> = by_target.keys().filter_map(|k| *k).collect();
    let visible: std::collections::HashSet<i64> = c.approved_ids(&ids)?.into_iter().collect();
    let mut out = ThreadReactions::default();
    for (comment, mut target) in by_target {
        target.mine = in_site_order(target.mine, &site.reactions);
        match comment {
            None => out.post = target,
            Some(id) if visible.contains(&id) => {
                out.comments.insert(id, target);
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

/// Reactions on each post (not its comments) per slug asked: unknown ones with 0.
pub fn reaction_totals<C: Store>(
    c: &mut C,
    site: &SiteId,
    slugs: &[(String, Slug)],
) -> Result<BTreeMap<String, i64>, ApiError> {
    let wanted: Vec<&str> = slugs.iter().map(|(_, s)| s.as_str()).collect();
    let mut found: HashMap<String, i64> = HashMap::new();
    for (slug, n) in c.post_reaction_counts(site.as_str(), &wanted)? {
        *found.entry(slug).or_insert(0) += n;
    }
    Ok(slugs
        .iter()
        .map(|(asked, s)| (asked.clone(), found.get(s.as_str()).copied().unwrap_or(0)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mine_follows_the_site_order() {
        let order: Vec<String> = ["👍", "❤️", "😂"].iter().map(|s| s.to_string()).collect();
        let got = in_site_order(vec!["gone".into(), "😂".into(), "👍".into()], &order);
        assert_eq!(got, ["👍", "😂", "gone"]);
    }
}
