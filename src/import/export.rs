//! `afterword export`: a site's threads and comments as versioned JSON Lines, written as
//! read (a page of threads at a time), so any size fits in little memory.
//!
//! The format (version 1) is described in docs/import.md. Comments are named by a key that
//! outlives databases: the source id they were imported with, else
//! `afterword:INSTANCE:ID`. Importing the file again (here or elsewhere) keeps those keys,
//! so the round trip export → import into an empty database → export gives the same file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::db::imports::ImportStore;
use crate::db::Store;
use crate::security::ServerKey;

pub const FORMAT: &str = "afterword-export";
pub const VERSION: u32 = 1;

/// Threads read per query.
const THREAD_PAGE: i64 = 500;

#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub site: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ThreadLine {
    pub slug: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub locked: bool,
    pub created_at: String,
    pub reactions: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CommentLine {
    pub id: String,
    pub parent: Option<String>,
    pub status: String,
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub website: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub body: String,
    pub reactions: BTreeMap<String, i64>,
}

/// One line of the file after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    Thread(ThreadLine),
    Comment(CommentLine),
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub threads: u64,
    pub comments: u64,
}

/// Writes the export of `site` to `out`.
pub fn export<C: Store + ImportStore>(
    c: &mut C,
    site: &str,
    key: &ServerKey,
    include_emails: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Written> {
    let tag = key.instance_tag();
    let mut written = Written::default();
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        site: site.into(),
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    let mut after = 0;
    loop {
        let threads = c.threads_after(site, after, THREAD_PAGE)?;
        let Some(last) = threads.last() else { break };
        after = last.id;
        for t in threads {
            let mut reactions: HashMap<i64, BTreeMap<String, i64>> = HashMap::new();
            for (comment, kind, n) in c.reaction_counts(t.id)? {
                reactions
                    .entry(comment.unwrap_or(0))
                    .or_default()
                    .insert(kind, n);
            }
            let line = Line::Thread(ThreadLine {
                slug: t.slug,
                title: t.title,
                url: t.url,
                locked: t.locked,
                created_at: crate::view::rfc3339(t.created_at),
                reactions: reactions.remove(&0).unwrap_or_default(),
            });
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
            written.threads += 1;
            let rows = c.export_comments(t.id)?;
            let keys: HashMap<i64, String> = rows
                .iter()
                .map(|r| {
                    let k = r
                        .source_key
                        .clone()
                        .unwrap_or_else(|| format!("afterword:{tag}:{}", r.id));
                    (r.id, k)
                })
                .collect();
            // A deleted comment is kept only as the placeholder of its replies (as an
            // import keeps it): replies come after their parent, so walk backwards.
            let mut kept: HashSet<i64> = HashSet::new();
            for r in rows.iter().rev() {
                let has_kept_reply = kept.contains(&-r.id);
                if r.status != "deleted" || has_kept_reply {
                    kept.insert(r.id);
                    if let Some(p) = r.parent_id {
                        kept.insert(-p);
                    }
                }
            }
            for r in rows {
                if !kept.contains(&r.id) {
                    continue;
                }
                let deleted = r.status == "deleted";
                let line = Line::Comment(CommentLine {
                    id: keys[&r.id].clone(),
                    parent: r.parent_id.and_then(|p| keys.get(&p).cloned()),
                    author: r.author.filter(|_| !deleted),
                    email: r.email.filter(|_| include_emails && !deleted),
                    website: r.website.filter(|_| !deleted),
                    created_at: crate::view::rfc3339(r.created_at),
                    edited_at: r.edited_at.map(crate::view::rfc3339),
                    body: if deleted { String::new() } else { r.body },
                    reactions: if deleted {
                        BTreeMap::new()
                    } else {
                        reactions.remove(&r.id).unwrap_or_default()
                    },
                    status: r.status,
                });
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
                written.comments += 1;
            }
        }
    }
    out.flush()?;
    Ok(written)
}
