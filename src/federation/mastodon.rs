//! Mastodon-compatible instances: `GET /api/v1/statuses/{id}` (the announcement's counts)
//! and `GET /api/v1/statuses/{id}/context` (its public replies), both without an account.

use serde::Deserialize;

use super::{get_json, FetchError, Poller};
use crate::db::federation::RemotePostRow;
use crate::db::FederationStore;
use crate::service::federation::{Fetched, RemoteReply};
use crate::view::Origin;
use crate::with_conn;

/// A context holds a whole conversation: a few MB at most.
const CONTEXT_CAP: usize = 4 << 20;
const STATUS_CAP: usize = 256 << 10;
/// Stored replies missing from a context are looked up one by one (a context may leave
/// some out); at most this many per poll.
const CHECKS_PER_POLL: usize = 10;

#[derive(Debug, Deserialize)]
pub struct Account {
    pub username: String,
    /// `name` for the instance's own accounts, `name@domain` for others.
    pub acct: String,
    #[serde(default)]
    pub display_name: String,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    pub id: String,
    pub uri: Option<String>,
    pub url: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub in_reply_to_id: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub spoiler_text: String,
    pub visibility: Option<String>,
    pub account: Account,
    #[serde(default)]
    pub favourites_count: i64,
    #[serde(default)]
    pub reblogs_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub descendants: Vec<Status>,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// RFC 3339 to microseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
}

/// The prefix of the keys of the replies to one status.
pub fn prefix(post: &RemotePostRow) -> String {
    format!("mastodon:{}/{}#", post.api_base, post.remote_id)
}

/// A status as a reply to store.
pub fn reply(post: &RemotePostRow, s: &Status, now: i64) -> RemoteReply {
    let instance = host_of(&post.api_base);
    let acct = if s.account.acct.contains('@') {
        s.account.acct.clone()
    } else {
        format!("{}@{instance}", s.account.acct)
    };
    let domain = acct
        .rsplit_once('@')
        .map_or(instance.clone(), |(_, d)| d.to_lowercase());
    let prefix = prefix(post);
    let parent_key = s
        .in_reply_to_id
        .as_ref()
        .filter(|p| **p != post.remote_id)
        .map(|p| format!("{prefix}{p}"));
    let mut html = String::new();
    if !s.spoiler_text.trim().is_empty() {
        html.push_str("<p><strong>");
        html.push_str(&html_escape::encode_text(s.spoiler_text.trim()));
        html.push_str("</strong></p>");
    }
    html.push_str(&s.content);
    let url = s
        .url
        .clone()
        .or_else(|| s.uri.clone())
        .unwrap_or_else(|| format!("{}/@{}/{}", post.api_base, s.account.acct, s.id));
    let (body, html) = super::richtext::from_html(&html, &url);
    let name = s.account.display_name.trim();
    RemoteReply {
        key: format!("{prefix}{}", s.id),
        parent_key,
        account: format!("mastodon:{}", acct.to_lowercase()),
        domain,
        author: Some(if name.is_empty() {
            s.account.username.clone()
        } else {
            name.chars().take(100).collect()
        }),
        body,
        html,
        origin: Origin {
            kind: "mastodon".into(),
            label: acct
                .rsplit_once('@')
                .map_or(instance.clone(), |(_, d)| d.to_owned()),
            handle: Some(format!("@{acct}")),
            author_url: s.account.url.clone().filter(|u| is_http(u)),
            reply_url: Some(url.clone()).filter(|u| is_http(u)),
            url,
        },
        created_at: parse_time(&s.created_at).unwrap_or(now),
        edited_at: s.edited_at.as_deref().and_then(parse_time),
    }
}

fn is_http(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

pub fn fetch(p: &Poller, post: &RemotePostRow) -> Result<Fetched, FetchError> {
    let now = crate::view::now_micros();
    let status_url = format!("{}/api/v1/statuses/{}", post.api_base, post.remote_id);
    let (code, status) = get_json::<Status>(&p.outbound, &status_url, STATUS_CAP)?;
    let Some(status) = status else {
        return Err(FetchError::Status {
            url: status_url,
            status: code,
        });
    };
    let context_url = format!("{status_url}/context");
    let (code, context) = get_json::<Context>(&p.outbound, &context_url, CONTEXT_CAP)?;
    let Some(context) = context else {
        return Err(FetchError::Status {
            url: context_url,
            status: code,
        });
    };
    let replies: Vec<RemoteReply> = context
        .descendants
        .iter()
        .filter(|s| {
            matches!(
                s.visibility.as_deref(),
                None | Some("public") | Some("unlisted")
            )
        })
        .map(|s| reply(post, s, now))
        .collect();
    // Stored replies the context left out: gone only if their instance says so.
    let prefix = prefix(post);
    let stored = p
        .pool
        .get()
        .map_err(|e| FetchError::Shape {
            url: context_url.clone(),
            reason: format!("database: {e}"),
        })
        .and_then(|mut conn| {
            with_conn!(conn, |c| c.remote_comments(post.thread_id, &prefix)).map_err(|e| {
                FetchError::Shape {
                    url: context_url.clone(),
                    reason: format!("database: {e}"),
                }
            })
        })?;
    let mut gone = Vec::new();
    let missing = stored
        .iter()
        .filter(|r| r.status != "deleted")
        .filter_map(|r| r.source_key.as_deref())
        .filter(|k| !replies.iter().any(|r| r.key == *k))
        .take(CHECKS_PER_POLL);
    for key in missing {
        let Some(id) = key.strip_prefix(&prefix) else {
            continue;
        };
        let url = format!("{}/api/v1/statuses/{id}", post.api_base);
        if let (404 | 410, None) = get_json::<Status>(&p.outbound, &url, STATUS_CAP)? {
            gone.push(key.to_owned());
        }
    }
    Ok(Fetched {
        remote_id: post.remote_id.clone(),
        replies,
        gone,
        complete: false,
        prefix,
        likes: status.favourites_count,
        reposts: status.reblogs_count,
        posted_at: parse_time(&status.created_at),
    })
}
