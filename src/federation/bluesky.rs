//! Bluesky, through a public AppView (`[federation] bluesky_appview`):
//! `app.bsky.feed.getPostThread` for a post's replies and counts, `app.bsky.feed.getPosts`
//! to tell a deleted reply from one the thread view left out, and
//! `com.atproto.identity.resolveHandle` once, when the post was linked by handle.

use serde::Deserialize;

use super::richtext::{facets_to_html, from_html, Facet};
use super::{get_json, FetchError, Poller};
use crate::db::federation::RemotePostRow;
use crate::db::FederationStore;
use crate::service::federation::{Fetched, RemoteReply};
use crate::view::Origin;
use crate::with_conn;

const THREAD_CAP: usize = 8 << 20;
const SMALL_CAP: usize = 1 << 20;
/// How deep the thread view goes (the AppView's most).
const DEPTH: u32 = 1000;
/// Replies kept per poll, at most.
const MAX_REPLIES: usize = 5000;
/// Stored replies missing from the thread view are looked up, at most this many per poll.
const CHECKS_PER_POLL: usize = 100;
/// `getPosts` takes this many URIs at once.
const POSTS_PER_CALL: usize = 25;

#[derive(Debug, Deserialize)]
pub struct Author {
    pub did: String,
    pub handle: String,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub facets: Vec<Facet>,
    pub created_at: Option<String>,
    pub embed: Option<serde_json::Value>,
}

impl Record {
    /// The address of a link card (`app.bsky.embed.external`).
    pub fn external_uri(&self) -> Option<String> {
        let e = self.embed.as_ref()?;
        let external = match e.get("$type").and_then(|t| t.as_str()) {
            Some("app.bsky.embed.external") => e.get("external"),
            Some("app.bsky.embed.recordWithMedia") => e.get("media")?.get("external"),
            _ => None,
        }?;
        external.get("uri")?.as_str().map(str::to_owned)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub uri: String,
    pub author: Author,
    pub record: Record,
    #[serde(default)]
    pub like_count: i64,
    #[serde(default)]
    pub repost_count: i64,
}

/// A node of the thread view: a post with its replies, or a post not found or blocked
/// (no `post`).
#[derive(Debug, Deserialize)]
pub struct Node {
    pub post: Option<PostView>,
    #[serde(default)]
    pub replies: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct ThreadAnswer {
    thread: Node,
}

#[derive(Debug, Deserialize)]
struct Resolved {
    did: String,
}

#[derive(Debug, Deserialize)]
struct Posts {
    #[serde(default)]
    posts: Vec<serde_json::Value>,
}

fn xrpc(p: &Poller, method: &str, query: &[(&str, &str)]) -> String {
    let mut url = p.settings.federation.bluesky_appview.clone();
    url.set_path(&format!(
        "{}/xrpc/{method}",
        url.path().trim_end_matches('/')
    ));
    url.query_pairs_mut().extend_pairs(query);
    url.to_string()
}

pub fn prefix(root_uri: &str) -> String {
    format!("bluesky:{root_uri}#")
}

fn rkey(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// A post of the thread as a reply to store.
pub fn reply(
    web: &str,
    root_uri: &str,
    parent_uri: &str,
    post: &PostView,
    now: i64,
) -> RemoteReply {
    let prefix = prefix(root_uri);
    let handle = post.author.handle.to_lowercase();
    let url = format!(
        "{web}/profile/{}/post/{}",
        post.author.handle,
        rkey(&post.uri)
    );
    let html = facets_to_html(&post.record.text, &post.record.facets, web);
    let (body, html) = from_html(&html, &url);
    let name = post
        .author
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&post.author.handle);
    RemoteReply {
        key: format!("{prefix}{}", post.uri),
        parent_key: (parent_uri != root_uri).then(|| format!("{prefix}{parent_uri}")),
        account: format!("bluesky:{}", post.author.did),
        domain: handle.clone(),
        author: Some(name.chars().take(100).collect()),
        body,
        html,
        origin: Origin {
            kind: "bluesky".into(),
            label: "Bluesky".into(),
            handle: Some(format!("@{handle}")),
            author_url: Some(format!("{web}/profile/{}", post.author.did)),
            reply_url: Some(url.clone()),
            url,
        },
        created_at: post
            .record
            .created_at
            .as_deref()
            .and_then(super::mastodon::parse_time)
            .unwrap_or(now),
        edited_at: None,
    }
}

/// The replies under `node`, parents first.
fn walk(
    web: &str,
    root_uri: &str,
    parent_uri: &str,
    node: &Node,
    now: i64,
    out: &mut Vec<RemoteReply>,
) {
    for child in &node.replies {
        if out.len() >= MAX_REPLIES {
            return;
        }
        let Some(post) = &child.post else { continue };
        out.push(reply(web, root_uri, parent_uri, post, now));
        walk(web, root_uri, &post.uri, child, now, out);
    }
}

pub fn fetch(p: &Poller, post: &RemotePostRow) -> Result<Fetched, FetchError> {
    let now = crate::view::now_micros();
    let mut uri = post.remote_id.clone();
    // Linked by handle: the DID is what stays when the handle changes.
    if let Some(rest) = uri.strip_prefix("at://").filter(|r| !r.starts_with("did:")) {
        let (handle, path) = rest.split_once('/').unwrap_or((rest, ""));
        let url = xrpc(
            p,
            "com.atproto.identity.resolveHandle",
            &[("handle", handle)],
        );
        let (status, resolved) = get_json::<Resolved>(&p.outbound, &url, SMALL_CAP)?;
        let resolved = resolved.ok_or(FetchError::Status { url, status })?;
        uri = format!("at://{}/{path}", resolved.did);
    }
    let url = xrpc(
        p,
        "app.bsky.feed.getPostThread",
        &[
            ("uri", &uri),
            ("depth", &DEPTH.to_string()),
            ("parentHeight", "0"),
        ],
    );
    let (status, answer) = get_json::<ThreadAnswer>(&p.outbound, &url, THREAD_CAP)?;
    let answer = answer.ok_or(FetchError::Status {
        url: url.clone(),
        status,
    })?;
    let root = answer
        .thread
        .post
        .as_ref()
        .ok_or_else(|| FetchError::Shape {
            url: url.clone(),
            reason: "the post is not found or blocked".into(),
        })?;
    let mut replies = Vec::new();
    walk(
        &post.api_base,
        &uri,
        &uri,
        &answer.thread,
        now,
        &mut replies,
    );
    // Stored replies the thread view left out are gone only if getPosts no longer has them.
    let prefix = prefix(&uri);
    let stored = p
        .pool
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            with_conn!(conn, |c| c.remote_comments(post.thread_id, &prefix))
                .map_err(|e| e.to_string())
        })
        .map_err(|reason| FetchError::Shape {
            url: url.clone(),
            reason: format!("database: {reason}"),
        })?;
    let missing: Vec<String> = stored
        .iter()
        .filter(|r| r.status != "deleted")
        .filter_map(|r| r.source_key.as_deref())
        .filter(|k| !replies.iter().any(|r| r.key == *k))
        .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
        .take(CHECKS_PER_POLL)
        .collect();
    let mut gone = Vec::new();
    for chunk in missing.chunks(POSTS_PER_CALL) {
        let query: Vec<(&str, &str)> = chunk.iter().map(|u| ("uris", u.as_str())).collect();
        let url = xrpc(p, "app.bsky.feed.getPosts", &query);
        let (status, found) = get_json::<Posts>(&p.outbound, &url, THREAD_CAP)?;
        let found = found.ok_or(FetchError::Status { url, status })?;
        let present: Vec<&str> = found
            .posts
            .iter()
            .filter_map(|v| v.get("uri").and_then(|u| u.as_str()))
            .collect();
        gone.extend(
            chunk
                .iter()
                .filter(|u| !present.contains(&u.as_str()))
                .map(|u| format!("{prefix}{u}")),
        );
    }
    Ok(Fetched {
        remote_id: uri,
        likes: root.like_count,
        reposts: root.repost_count,
        posted_at: root
            .record
            .created_at
            .as_deref()
            .and_then(super::mastodon::parse_time),
        replies,
        gone,
        complete: false,
        prefix,
    })
}
