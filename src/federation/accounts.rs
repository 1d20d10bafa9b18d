//! The blogger's own accounts (`[[site]] fediverse_accounts`): their latest public posts
//! that link to a page of the site are linked to that page's thread by themselves, as if a
//! moderator had pasted the post's address. A thread linked already keeps its link.

use serde::Deserialize;

use super::bluesky::PostView;
use super::mastodon::Status;
use super::{get_json, FetchError, Poller};
use crate::cache::ThreadKey;
use crate::config::{Origins, SiteSettings};
use crate::domain::{RemoteAccount, RemoteKind, RemotePost, Slug};
use crate::on_conn;
use crate::service::federation as service;

const CAP: usize = 4 << 20;

#[derive(Debug, Deserialize)]
struct Found {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Card {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusWithCard {
    #[serde(flatten)]
    status: Status,
    card: Option<Card>,
}

#[derive(Debug, Deserialize)]
struct FeedItem {
    post: PostView,
    /// Set on reposts: not the account's own post.
    reason: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Feed {
    #[serde(default)]
    feed: Vec<FeedItem>,
}

/// A post of the account and the addresses it links to.
struct Candidate {
    post: RemotePost,
    links: Vec<String>,
}

fn mastodon(p: &Poller, a: &RemoteAccount) -> Result<Vec<Candidate>, FetchError> {
    let lookup = format!("{}/api/v1/accounts/lookup?acct={}", a.base, a.name);
    let (status, found) = get_json::<Found>(&p.outbound, &lookup, CAP)?;
    let found = found.ok_or(FetchError::Status {
        url: lookup,
        status,
    })?;
    let url = format!(
        "{}/api/v1/accounts/{}/statuses?exclude_replies=true&exclude_reblogs=true&limit=40",
        a.base, found.id
    );
    let (status, list) = get_json::<Vec<StatusWithCard>>(&p.outbound, &url, CAP)?;
    let list = list.ok_or(FetchError::Status { url, status })?;
    Ok(list
        .into_iter()
        .filter(|s| matches!(s.status.visibility.as_deref(), None | Some("public")))
        .map(|s| {
            let base = url::Url::parse(&a.base).ok();
            let mut links: Vec<String> = base
                .map(|b| super::mf2::links(&s.status.content, &b))
                .unwrap_or_default();
            links.extend(s.card.and_then(|c| c.url));
            let original = s
                .status
                .url
                .clone()
                .unwrap_or_else(|| format!("{}/@{}/{}", a.base, a.name, s.status.id));
            Candidate {
                post: RemotePost {
                    kind: RemoteKind::Mastodon,
                    url: original,
                    api_base: a.base.clone(),
                    remote_id: s.status.id,
                },
                links,
            }
        })
        .collect())
}

fn bluesky(p: &Poller, a: &RemoteAccount) -> Result<Vec<Candidate>, FetchError> {
    let mut url = p.settings.federation.bluesky_appview.clone();
    url.set_path(&format!(
        "{}/xrpc/app.bsky.feed.getAuthorFeed",
        url.path().trim_end_matches('/')
    ));
    url.query_pairs_mut()
        .append_pair("actor", &a.name)
        .append_pair("filter", "posts_no_replies")
        .append_pair("limit", "50");
    let url = url.to_string();
    let (status, feed) = get_json::<Feed>(&p.outbound, &url, CAP)?;
    let feed = feed.ok_or(FetchError::Status { url, status })?;
    Ok(feed
        .feed
        .into_iter()
        .filter(|i| i.reason.is_none())
        .map(|i| {
            let mut links: Vec<String> = i
                .post
                .record
                .facets
                .iter()
                .flat_map(|f| f.features.iter())
                .filter(|f| {
                    f.get("$type").and_then(|t| t.as_str()) == Some("app.bsky.richtext.facet#link")
                })
                .filter_map(|f| f.get("uri").and_then(|u| u.as_str()).map(str::to_owned))
                .collect();
            links.extend(i.post.record.external_uri());
            let rkey = i.post.uri.rsplit('/').next().unwrap_or_default().to_owned();
            Candidate {
                post: RemotePost {
                    kind: RemoteKind::Bluesky,
                    url: format!("{}/profile/{}/post/{rkey}", a.base, i.post.author.handle),
                    api_base: a.base.clone(),
                    remote_id: i.post.uri.clone(),
                },
                links,
            }
        })
        .collect())
}

/// The thread a link names, when it is a page of the site.
fn page_of(site: &SiteSettings, link: &str) -> Option<Slug> {
    let url = url::Url::parse(link).ok()?;
    let origin = url.origin().ascii_serialization();
    match &site.origins {
        Origins::List(l) if l.contains(&origin) => Slug::parse(url.path()).ok(),
        _ => None,
    }
}

/// Looks at every site's own accounts once: links the threads their posts announce.
pub fn scan(p: &Poller, runtime: &tokio::runtime::Runtime) {
    for site in p.settings.sites.values() {
        for account in &site.fediverse_accounts {
            let found = match account.kind {
                RemoteKind::Mastodon => mastodon(p, account),
                RemoteKind::Bluesky => bluesky(p, account),
            };
            let candidates = match found {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(site = site.id.as_str(), account = %account.name, error = %e,
                        "federation: cannot read the account's posts; trying again later");
                    continue;
                }
            };
            // Oldest first: a page announced twice keeps its first announcement.
            for c in candidates.into_iter().rev() {
                let Some(slug) = c.links.iter().find_map(|l| page_of(site, l)) else {
                    continue;
                };
                let key = ThreadKey {
                    site: site.id.as_str().to_owned(),
                    slug: slug.as_str().to_owned(),
                };
                let (site2, post) = (site.clone(), c.post);
                let linked = runtime.block_on(p.pool.write(key, move |conn| {
                    on_conn!(conn, |c| service::link_if_unlinked(
                        c,
                        &site2,
                        &slug,
                        &post,
                        crate::view::now_micros()
                    ))
                }));
                if let Err(e) = linked {
                    tracing::warn!(error = %e, "federation: cannot link a thread to its announcement");
                }
            }
        }
    }
}
