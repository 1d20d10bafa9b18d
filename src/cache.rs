//! Rendered thread pages, kept as ready JSON bytes and dropped the moment their thread changes.
//!
//! Every write to a thread bumps its generation, locally at once and on other instances
//! through PostgreSQL `NOTIFY`. A reader notes the generation before it queries and stores
//! its page only if no change arrived meanwhile, so a stale page is never cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use diesel::prelude::*;
use diesel::PgConnection;
use parking_lot::Mutex;

use crate::compress::{Compressed, Effort};
use crate::domain::{Cursor, Limit, SiteId, Slug, Sort};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadKey {
    pub site: String,
    pub slug: String,
}

impl ThreadKey {
    /// Not a thread: what changes a site's own answers (its feeds, its counts) and no
    /// thread page. Invalidating it moves the site's generation only.
    pub fn site_wide(site: &str) -> Self {
        ThreadKey {
            site: site.to_owned(),
            slug: String::new(),
        }
    }

    pub fn new(site: &SiteId, slug: &Slug) -> Self {
        ThreadKey {
            site: site.as_str().to_owned(),
            slug: slug.as_str().to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub thread: ThreadKey,
    pub sort: Sort,
    pub limit: Limit,
    pub after: Option<Cursor>,
    pub format: PageFormat,
}

/// What a cached page is: the JSON answer, or the HTML fragment (`api::fragment`) in one
/// language, with or without its form, for one page address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageFormat {
    Json,
    Html {
        lang: &'static str,
        form: bool,
        /// The options that shape the markup (`url`, `title`), as given.
        options: String,
    },
}

pub struct CachedPage {
    generation: u64,
    /// The JSON, and its gzip and brotli forms once a reader has asked for them.
    pub content: Compressed,
}

// The budgets below add up to 5 MiB with the pages' (`startup::CACHE_BYTES`): sized for a
// small server whose whole process stays within 30 MiB (benches/README.md), a flood of
// unknown keys included. A cache that is full forgets its least used entries, so a
// busy thread's page stays while one-off keys come and go.

/// Memory for per-thread comment counts (an unknown slug asked for is kept as a 0 too),
/// and as much again for the reaction totals: some 3,000 threads each.
const COUNT_BYTES: u64 = 512 * 1024;
/// Memory for whole counts answers (an index page's answer is a few KB).
const COUNT_ANSWER_BYTES: u64 = 512 * 1024;
/// Memory for Atom feeds (a feed of 50 comments is some tens of KB, with its encodings).
const FEED_BYTES: u64 = 1024 * 1024;
/// Memory for the generations of threads that changed since the last reset (some 3,000
/// threads; past that every page is dropped once and the count starts again).
const GENERATION_BYTES: usize = 512 * 1024;
/// What a small map or cache entry costs beyond its key's text: the entry itself and the
/// allocator's share of its strings. Weights are meant to be near the real memory.
const ENTRY_OVERHEAD: usize = 128;
/// The same for a page or a counts answer, which hold more (an Arc, tags, encodings).
const PAGE_OVERHEAD: usize = 384;

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<PageKey, Arc<CachedPage>> for ByBytes {
    fn weight(&self, key: &PageKey, val: &Arc<CachedPage>) -> u64 {
        let options = match &key.format {
            PageFormat::Json => 0,
            PageFormat::Html { options, .. } => options.len(),
        };
        (val.content.weight()
            + key.thread.site.len()
            + key.thread.slug.len()
            + options
            + PAGE_OVERHEAD) as u64
    }
}

#[derive(Clone)]
struct ByKeyBytes;

impl quick_cache::Weighter<ThreadKey, (u64, i64)> for ByKeyBytes {
    fn weight(&self, key: &ThreadKey, _: &(u64, i64)) -> u64 {
        (key.site.len() + key.slug.len() + ENTRY_OVERHEAD) as u64
    }
}

#[derive(Default)]
struct Generations {
    counter: u64,
    /// Pages older than this are stale everywhere (after a missed notification, or after
    /// `per_thread` grew too big and was emptied).
    floor: u64,
    per_thread: HashMap<ThreadKey, u64>,
    /// What `per_thread` holds, roughly, in bytes.
    per_thread_bytes: usize,
    /// The last change to any thread of a site.
    per_site: HashMap<String, u64>,
}

impl Generations {
    fn of_thread(&self, thread: &ThreadKey) -> u64 {
        self.per_thread
            .get(thread)
            .copied()
            .unwrap_or(0)
            .max(self.floor)
    }

    fn of_site(&self, site: &str) -> u64 {
        self.per_site
            .get(site)
            .copied()
            .unwrap_or(0)
            .max(self.floor)
    }
}

/// A whole counts answer, valid while no thread of its site changes.
pub struct CachedCountsAnswer {
    site: String,
    generation: u64,
    pub content: Compressed,
    /// When what it shows last changed, in microseconds (a feed's `Last-Modified`); 0
    /// when unknown.
    pub updated: i64,
}

#[derive(Clone)]
struct ByAnswerBytes;

impl quick_cache::Weighter<String, Arc<CachedCountsAnswer>> for ByAnswerBytes {
    fn weight(&self, key: &String, val: &Arc<CachedCountsAnswer>) -> u64 {
        (key.len() + val.site.len() + val.content.weight() + PAGE_OVERHEAD) as u64
    }
}

pub struct ThreadCache {
    pages: quick_cache::sync::Cache<PageKey, Arc<CachedPage>, ByBytes>,
    /// Pages being built right now: readers of the same page wait for that build rather
    /// than each querying the database (a change to a busy thread would otherwise send
    /// every waiting reader to rebuild the same page at once). Each with when its build
    /// began.
    building: Mutex<HashMap<PageKey, (tokio::sync::watch::Sender<()>, Instant)>>,
    /// Approved-comment counts per thread, with the generation they were read at.
    counts: quick_cache::sync::Cache<ThreadKey, (u64, i64), ByKeyBytes>,
    /// Reactions on each post, kept like `counts` (for `?reactions=1`).
    reaction_totals: quick_cache::sync::Cache<ThreadKey, (u64, i64), ByKeyBytes>,
    /// Whole counts answers by query string: an index page asks the same question each time.
    count_answers: quick_cache::sync::Cache<String, Arc<CachedCountsAnswer>, ByAnswerBytes>,
    /// Atom feeds, kept like counts answers: valid while no thread of their site changes.
    feeds: quick_cache::sync::Cache<String, Arc<CachedCountsAnswer>, ByAnswerBytes>,
    generations: Mutex<Generations>,
    /// False while changes from other instances could go unseen (listener down).
    enabled: AtomicBool,
    /// With other instances (PostgreSQL): when the listener last proved it was listening,
    /// in milliseconds since `started`. Older than [`LISTENER_TRUST`] turns the cache off
    /// by itself, even if the listener is stuck somewhere and cannot say so.
    confirmed_ms: Option<AtomicU64>,
    /// With other instances: false from the moment the listener knows it lost PostgreSQL
    /// until it listens again (what was kept stays, for stale answers; see `get_stale`).
    listening: AtomicBool,
    started: Instant,
}

/// How long the cache trusts a listener that has not confirmed it still listens.
pub const LISTENER_TRUST: Duration = Duration::from_secs(3);
/// While the database cannot be reached, pages and counts answers kept from before are
/// served as they were (marked stale) for at most this long after the listener last heard
/// PostgreSQL: no other instance can write meanwhile unless only this one is cut off, and
/// a load balancer takes a degraded instance out within seconds.
pub const STALE_FOR: Duration = Duration::from_secs(600);
/// How often the listener confirms, with a round trip to PostgreSQL.
const LISTENER_PING: Duration = Duration::from_millis(750);

/// The PostgreSQL NOTIFY payload for a thread; slugs hold no control characters.
pub fn notify_payload(site: &str, slug: &str) -> String {
    format!("{site}\n{slug}")
}

impl ThreadCache {
    /// A cache for an instance that shares its database with no one (SQLite).
    pub fn new(max_bytes: u64, enabled: bool) -> Self {
        Self::build(max_bytes, enabled, false)
    }

    /// A cache that serves only while a listener confirms it hears other instances'
    /// changes (see [`listen_postgres`]); off until the listener first connects.
    pub fn for_listener(max_bytes: u64) -> Self {
        Self::build(max_bytes, false, true)
    }

    fn build(max_bytes: u64, enabled: bool, listened: bool) -> Self {
        ThreadCache {
            pages: quick_cache::sync::Cache::with_weighter(
                (max_bytes / 16_384).max(16) as usize,
                max_bytes,
                ByBytes,
            ),
            counts: quick_cache::sync::Cache::with_weighter(
                (COUNT_BYTES / 128) as usize,
                COUNT_BYTES,
                ByKeyBytes,
            ),
            reaction_totals: quick_cache::sync::Cache::with_weighter(
                (COUNT_BYTES / 128) as usize,
                COUNT_BYTES,
                ByKeyBytes,
            ),
            count_answers: quick_cache::sync::Cache::with_weighter(
                1024,
                COUNT_ANSWER_BYTES,
                ByAnswerBytes,
            ),
            feeds: quick_cache::sync::Cache::with_weighter(256, FEED_BYTES, ByAnswerBytes),
            building: Mutex::new(HashMap::new()),
            generations: Mutex::new(Generations::default()),
            enabled: AtomicBool::new(enabled),
            confirmed_ms: listened.then(|| AtomicU64::new(0)),
            listening: AtomicBool::new(!listened),
            started: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Has the listener (if this cache needs one) confirmed recently enough?
    fn listener_trusted(&self) -> bool {
        match &self.confirmed_ms {
            None => true,
            Some(at) => {
                let at = at.load(Ordering::Acquire);
                self.listening.load(Ordering::Acquire)
                    && at > 0
                    && self.now_ms().saturating_sub(at) < LISTENER_TRUST.as_millis() as u64
            }
        }
    }

    /// May what was kept before the listener went quiet still be served, marked stale,
    /// while the database cannot answer? Only for a cache that is on by configuration,
    /// and only within [`STALE_FOR`] of the listener's last confirmation.
    fn stale_allowed(&self) -> bool {
        if !self.enabled.load(Ordering::Acquire) {
            return false;
        }
        match &self.confirmed_ms {
            None => true,
            Some(at) => {
                let at = at.load(Ordering::Acquire);
                at > 0 && self.now_ms().saturating_sub(at) < STALE_FOR.as_millis() as u64
            }
        }
    }

    /// A page kept from before, for when the database cannot answer: current as far as
    /// this instance knows (no change made through it since), possibly missing changes
    /// other instances made while the listener could not hear them.
    pub fn get_stale(&self, key: &PageKey) -> Option<Arc<CachedPage>> {
        if !self.stale_allowed() {
            return None;
        }
        self.pages
            .get(key)
            .filter(|page| page.generation == self.generation(&key.thread))
    }

    /// [`ThreadCache::get_stale`] for a counts answer.
    pub fn counts_answer_stale(&self, key: &str) -> Option<Arc<CachedCountsAnswer>> {
        if !self.stale_allowed() {
            return None;
        }
        let a = self.count_answers.get(key)?;
        (a.generation == self.site_generation(&a.site)).then_some(a)
    }

    /// The listener is listening: keep the cache on. After a lapse, changes may have gone
    /// unheard meanwhile, so everything kept from before is dropped first.
    fn confirm_listening(&self) {
        let Some(at) = &self.confirmed_ms else { return };
        if !self.listener_trusted() {
            self.invalidate_all();
        }
        at.store(self.now_ms().max(1), Ordering::Release);
    }

    /// Claims the building of a page, or tells whom to wait for.
    pub fn begin_build(self: &Arc<Self>, key: &PageKey) -> Build {
        let mut building = self.building.lock();
        match building.get(key) {
            Some((tx, began)) => Build::Wait(tx.subscribe(), *began),
            None => {
                building.insert(
                    key.clone(),
                    (tokio::sync::watch::channel(()).0, Instant::now()),
                );
                Build::Mine(BuildGuard {
                    cache: Arc::clone(self),
                    key: key.clone(),
                })
            }
        }
    }

    /// For each thread, its cached count, or the generation to store a fresh count under.
    pub fn cached_counts(&self, threads: &[ThreadKey]) -> Vec<Result<i64, u64>> {
        self.cached_tallies(Tally::Comments, threads)
    }

    fn tallies(
        &self,
        tally: Tally,
    ) -> &quick_cache::sync::Cache<ThreadKey, (u64, i64), ByKeyBytes> {
        match tally {
            Tally::Comments => &self.counts,
            Tally::Reactions => &self.reaction_totals,
        }
    }

    /// [`ThreadCache::cached_counts`] for either tally.
    pub fn cached_tallies(&self, tally: Tally, threads: &[ThreadKey]) -> Vec<Result<i64, u64>> {
        let enabled = self.is_enabled();
        let g = self.generations.lock();
        threads
            .iter()
            .map(|t| {
                let current = g.of_thread(t);
                match self.tallies(tally).get(t) {
                    Some((gen, n)) if enabled && gen == current => Ok(n),
                    _ => Err(current),
                }
            })
            .collect()
    }

    /// Stores a count read at `generation`, unless the thread changed since.
    pub fn insert_count(&self, thread: ThreadKey, generation: u64, count: i64) {
        self.insert_tally(Tally::Comments, thread, generation, count)
    }

    /// [`ThreadCache::insert_count`] for either tally.
    pub fn insert_tally(&self, tally: Tally, thread: ThreadKey, generation: u64, n: i64) {
        if self.is_enabled() && self.generation(&thread) == generation {
            self.tallies(tally).insert(thread, (generation, n));
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire) && self.listener_trusted()
    }

    /// The thread's current generation; pass it back to [`ThreadCache::insert`].
    pub fn generation(&self, thread: &ThreadKey) -> u64 {
        self.generations.lock().of_thread(thread)
    }

    /// What the cached pages, counts and answers hold, roughly, in bytes.
    pub fn bytes(&self) -> u64 {
        self.pages.weight()
            + self.counts.weight()
            + self.reaction_totals.weight()
            + self.count_answers.weight()
    }

    pub fn get(&self, key: &PageKey) -> Option<Arc<CachedPage>> {
        if !self.is_enabled() {
            return None;
        }
        let page = self
            .pages
            .get(key)
            .filter(|page| page.generation == self.generation(&key.thread));
        crate::metrics::cache_lookup(page.is_some());
        page
    }

    /// The page as it was last built, current or not: what readers get while another
    /// request rebuilds it after a change (see `api::comments::cached_page`).
    pub fn previous(&self, key: &PageKey) -> Option<Arc<CachedPage>> {
        if !self.is_enabled() {
            return None;
        }
        self.pages.get(key)
    }

    /// Stores a page built from data read at `generation`, unless the thread changed since.
    pub fn insert(&self, key: PageKey, generation: u64, body: Bytes) -> Arc<CachedPage> {
        let etag = etag_of(&body);
        let page = Arc::new(CachedPage {
            generation,
            content: Compressed::new(body, etag, Effort::Fast),
        });
        if self.is_enabled() && self.generation(&key.thread) == generation {
            self.pages.insert(key, page.clone());
        }
        page
    }

    pub fn invalidate(&self, thread: &ThreadKey) {
        let mut g = self.generations.lock();
        g.counter += 1;
        let next = g.counter;
        if g.per_thread.insert(thread.clone(), next).is_none() {
            g.per_thread_bytes += thread.site.len() + thread.slug.len() + ENTRY_OVERHEAD;
        }
        g.per_site.insert(thread.site.clone(), next);
        if g.per_thread_bytes > GENERATION_BYTES {
            // Forgetting one thread's generation could make a page read before its change
            // look current again, so forget them all and raise the floor instead: every
            // page and count is stale once, and memory stays bounded however many
            // threads change.
            g.floor = g.counter;
            g.per_thread.clear();
            g.per_thread.shrink_to(1024);
            g.per_thread_bytes = 0;
        }
    }

    /// The generation of a site: it moves whenever any of its threads changes.
    pub fn site_generation(&self, site: &str) -> u64 {
        self.generations.lock().of_site(site)
    }

    /// A counts answer stored under `key`, if no thread of its site changed since.
    pub fn counts_answer(&self, key: &str) -> Option<Arc<CachedCountsAnswer>> {
        self.site_answer(&self.count_answers, key)
    }

    /// A feed stored under `key`, if no thread of its site changed since.
    pub fn feed(&self, key: &str) -> Option<Arc<CachedCountsAnswer>> {
        self.site_answer(&self.feeds, key)
    }

    fn site_answer(
        &self,
        answers: &quick_cache::sync::Cache<String, Arc<CachedCountsAnswer>, ByAnswerBytes>,
        key: &str,
    ) -> Option<Arc<CachedCountsAnswer>> {
        if !self.is_enabled() {
            return None;
        }
        let a = answers.get(key)?;
        (a.generation == self.site_generation(&a.site)).then_some(a)
    }

    /// Keeps a counts answer computed at `generation` (unless the site changed since) and
    /// returns it ready to send.
    pub fn insert_counts_answer(
        &self,
        key: String,
        site: &str,
        generation: u64,
        body: Bytes,
    ) -> Arc<CachedCountsAnswer> {
        self.insert_site_answer(&self.count_answers, key, site, generation, (body, 0))
    }

    /// Keeps a feed written at `generation` (unless the site changed since) and returns it
    /// ready to send.
    pub fn insert_feed(
        &self,
        key: String,
        site: &str,
        generation: u64,
        body: Bytes,
        updated: i64,
    ) -> Arc<CachedCountsAnswer> {
        self.insert_site_answer(&self.feeds, key, site, generation, (body, updated))
    }

    fn insert_site_answer(
        &self,
        answers: &quick_cache::sync::Cache<String, Arc<CachedCountsAnswer>, ByAnswerBytes>,
        key: String,
        site: &str,
        generation: u64,
        (body, updated): (Bytes, i64),
    ) -> Arc<CachedCountsAnswer> {
        let etag = etag_of(&body);
        let answer = Arc::new(CachedCountsAnswer {
            site: site.to_owned(),
            generation,
            content: Compressed::new(body, etag, Effort::Fast),
            updated,
        });
        if self.is_enabled() && self.site_generation(site) == generation {
            answers.insert(key, answer.clone());
        }
        answer
    }

    pub fn invalidate_all(&self) {
        {
            let mut g = self.generations.lock();
            g.counter += 1;
            g.floor = g.counter;
            g.per_thread.clear();
            g.per_thread_bytes = 0;
            g.per_site.clear();
        }
        self.pages.clear();
        self.counts.clear();
        self.reaction_totals.clear();
        self.count_answers.clear();
        self.feeds.clear();
    }

    /// Both ways the slate is wiped: pages read while changes went unseen must not survive.
    fn set_enabled(&self, on: bool) {
        self.invalidate_all();
        if let (true, Some(at)) = (on, &self.confirmed_ms) {
            at.store(self.now_ms().max(1), Ordering::Release);
        }
        self.listening.store(on, Ordering::Release);
        self.enabled.store(on, Ordering::Release);
    }

    /// The listener lost PostgreSQL: nothing is answered from memory as current any more,
    /// but what was kept stays for stale answers until the listener is back (which wipes it).
    fn lost_listener(&self) {
        self.listening.store(false, Ordering::Release);
    }
}

/// What the counts endpoint tallies per thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    /// Approved comments.
    Comments,
    /// Reactions on the post itself.
    Reactions,
}

pub enum Build {
    /// Build the page; dropping the guard (after inserting it, or on failure) wakes waiters.
    Mine(BuildGuard),
    /// Another request is building it (since the instant given): wait, then look in the
    /// cache again, or answer with [`ThreadCache::previous`] meanwhile.
    Wait(tokio::sync::watch::Receiver<()>, Instant),
}

pub struct BuildGuard {
    cache: Arc<ThreadCache>,
    key: PageKey,
}

impl Drop for BuildGuard {
    fn drop(&mut self) {
        // Dropping the sender closes the channel, which wakes every waiter.
        self.cache.building.lock().remove(&self.key);
    }
}

/// A strong ETag from the page bytes.
pub fn etag_of(body: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// Listens for thread changes announced by other instances on PostgreSQL and drops their
/// pages. While the listener is down the cache is off (every read goes to the database),
/// and on reconnect everything cached is dropped, since notifications may have been missed.
///
/// A connection that dies quietly (a peer gone without a word, a stuck network) must not
/// leave the cache on: TCP keepalives and timeouts bound every call, the listener proves
/// it still listens with a round trip every [`LISTENER_PING`], and the cache turns itself
/// off when no proof came for [`LISTENER_TRUST`], whatever the listener is stuck in.
///
/// Setting `stop` ends it (its connection closed) within a few milliseconds, unless it is
/// waiting on the network, which its timeouts bound.
pub fn listen_postgres(
    url: String,
    cache: Weak<ThreadCache>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let url = listener_url(&url);
    let stopped = move || stop.load(Ordering::Acquire);
    let spawned = std::thread::Builder::new()
        .name("afterword-pg-listen".into())
        .spawn(move || {
            let poll = Duration::from_millis(10);
            loop {
                if stopped() {
                    return;
                }
                let Some(c) = cache.upgrade() else { return };
                c.lost_listener();
                drop(c);
                let mut conn = match PgConnection::establish(&url) {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "cache listener cannot connect to PostgreSQL; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                let listen = format!("LISTEN {}", crate::db::NOTIFY_CHANNEL);
                if let Err(e) = diesel::sql_query(listen).execute(&mut conn) {
                    tracing::warn!(error = %e, "cache listener cannot LISTEN; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                match cache.upgrade() {
                    Some(c) => c.set_enabled(true),
                    None => return,
                }
                tracing::debug!("cache listener connected");
                let mut last_ping = Instant::now();
                'connected: loop {
                    std::thread::sleep(poll);
                    if stopped() {
                        tracing::debug!("cache listener closed");
                        return;
                    }
                    let Some(c) = cache.upgrade() else { return };
                    if let Err(e) = apply_notifications(&mut conn, &c) {
                        tracing::warn!(error = %e, "cache listener lost PostgreSQL; reconnecting");
                        break 'connected;
                    }
                    if last_ping.elapsed() >= LISTENER_PING {
                        last_ping = Instant::now();
                        if let Err(e) = diesel::sql_query("SELECT 1").execute(&mut conn) {
                            tracing::warn!(error = %e, "cache listener lost PostgreSQL; reconnecting");
                            break 'connected;
                        }
                        // Notifications that came with the answer are read before the
                        // proof counts, so a confirmation never vouches for a missed change.
                        if apply_notifications(&mut conn, &c).is_err() {
                            break 'connected;
                        }
                        c.confirm_listening();
                    }
                }
            }
        });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the cache listener; caching stays off");
            None
        }
    }
}

/// Drops what the notifications received so far say changed.
fn apply_notifications(conn: &mut PgConnection, c: &ThreadCache) -> QueryResult<()> {
    for n in conn.notifications_iter() {
        let n = n?;
        match n.payload.split_once('\n') {
            Some((site, slug)) => c.invalidate(&ThreadKey {
                site: site.to_owned(),
                slug: slug.to_owned(),
            }),
            None => c.invalidate_all(),
        }
    }
    Ok(())
}

/// The listener's connection string: the pool's, with keepalives and timeouts so that a
/// dead peer is noticed in seconds, and a name that shows in `pg_stat_activity`. Settings
/// already in the URL win.
fn listener_url(url: &str) -> String {
    let wanted = [
        ("application_name", "afterword-listener"),
        ("connect_timeout", "5"),
        ("keepalives", "1"),
        ("keepalives_idle", "5"),
        ("keepalives_interval", "2"),
        ("keepalives_count", "2"),
        // Unacknowledged data for this long breaks the connection (Linux).
        ("tcp_user_timeout", "5000"),
        ("options", "-c statement_timeout=5000"),
    ];
    let wanted: Vec<(&str, String)> = wanted.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    crate::db::with_params(url, &wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(slug: &str) -> PageKey {
        PageKey {
            thread: ThreadKey {
                site: "s".into(),
                slug: slug.into(),
            },
            sort: Sort::Oldest,
            limit: Limit::DEFAULT,
            after: None,
            format: PageFormat::Json,
        }
    }

    #[test]
    fn pages_live_until_their_thread_changes() {
        let c = ThreadCache::new(1 << 20, true);
        let k = key("/a/");
        let g = c.generation(&k.thread);
        c.insert(k.clone(), g, Bytes::from_static(b"one"));
        assert_eq!(&c.get(&k).unwrap().content.identity()[..], b"one");
        c.invalidate(&key("/b/").thread);
        assert!(
            c.get(&k).is_some(),
            "another thread's change keeps this page"
        );
        c.invalidate(&k.thread);
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn a_page_read_before_a_change_is_not_stored() {
        let c = ThreadCache::new(1 << 20, true);
        let k = key("/a/");
        let g = c.generation(&k.thread);
        c.invalidate(&k.thread); // a write lands while the reader queries
        c.insert(k.clone(), g, Bytes::from_static(b"stale"));
        assert!(c.get(&k).is_none());
        c.invalidate_all();
        let g = c.generation(&k.thread);
        c.insert(k.clone(), g, Bytes::from_static(b"fresh"));
        assert!(c.get(&k).is_some());
        c.invalidate_all();
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn counts_are_cached_until_their_thread_changes() {
        let c = ThreadCache::new(1 << 20, true);
        let (a, b) = (key("/a/").thread, key("/b/").thread);
        let gens: Vec<u64> = c
            .cached_counts(&[a.clone(), b.clone()])
            .into_iter()
            .map(|r| r.unwrap_err())
            .collect();
        c.insert_count(a.clone(), gens[0], 3);
        c.invalidate(&b); // b changed while it was read: its count must not be kept
        c.insert_count(b.clone(), gens[1], 5);
        let got = c.cached_counts(&[a.clone(), b.clone()]);
        assert_eq!(got[0], Ok(3));
        assert!(got[1].is_err());
        c.invalidate(&a);
        assert!(c.cached_counts(&[a])[0].is_err());
    }

    #[test]
    fn counts_answers_live_until_any_thread_of_their_site_changes() {
        let c = ThreadCache::new(1 << 20, true);
        let g = c.site_generation("s");
        c.insert_counts_answer("q".into(), "s", g, Bytes::from_static(b"{}"));
        assert!(c.counts_answer("q").is_some());
        c.invalidate(&ThreadKey {
            site: "other".into(),
            slug: "/x/".into(),
        });
        assert!(c.counts_answer("q").is_some());
        c.invalidate(&key("/x/").thread);
        assert!(c.counts_answer("q").is_none());
        // An answer computed before the change is not stored.
        c.insert_counts_answer("q".into(), "s", g, Bytes::from_static(b"{}"));
        assert!(c.counts_answer("q").is_none());
    }

    #[tokio::test]
    async fn one_build_per_page_at_a_time() {
        let c = Arc::new(ThreadCache::new(1 << 20, true));
        let k = key("/a/");
        let Build::Mine(guard) = c.begin_build(&k) else {
            panic!("first claim builds")
        };
        let Build::Wait(mut rx, _) = c.begin_build(&k) else {
            panic!("second claim waits")
        };
        assert!(
            matches!(c.begin_build(&key("/b/")), Build::Mine(_)),
            "other pages are free"
        );
        let waiter = tokio::spawn(async move { rx.changed().await.is_err() });
        c.insert(
            k.clone(),
            c.generation(&k.thread),
            Bytes::from_static(b"page"),
        );
        drop(guard);
        assert!(
            waiter.await.unwrap(),
            "the waiter is woken when the build ends"
        );
        assert!(c.get(&k).is_some());
        assert!(
            matches!(c.begin_build(&k), Build::Mine(_)),
            "the claim is released"
        );
    }

    #[test]
    fn generations_stay_bounded_and_never_revive_a_stale_page() {
        let c = ThreadCache::new(1 << 20, true);
        let hot = key("/hot/");
        c.insert(
            hot.clone(),
            c.generation(&hot.thread),
            Bytes::from_static(b"v1"),
        );
        // A reader of /hot/ notes its generation, then a write lands, then a flood of
        // changes to other threads empties the generation map while the reader works.
        let noted = c.generation(&hot.thread);
        c.invalidate(&hot.thread);
        for i in 0..100_000 {
            c.invalidate(&key(&format!("/flood/{i}/")).thread);
        }
        let g = c.generations.lock();
        assert!(g.per_thread_bytes <= GENERATION_BYTES);
        assert!(g.per_thread.len() * ENTRY_OVERHEAD <= GENERATION_BYTES);
        drop(g);
        c.insert(hot.clone(), noted, Bytes::from_static(b"stale"));
        assert!(
            c.get(&hot).is_none(),
            "a page read before its change stays out"
        );
        c.insert(
            hot.clone(),
            c.generation(&hot.thread),
            Bytes::from_static(b"v2"),
        );
        assert_eq!(&c.get(&hot).unwrap().content.identity()[..], b"v2");
    }

    #[test]
    fn counts_are_bounded_in_bytes() {
        let c = ThreadCache::new(1 << 20, true);
        let long = "x".repeat(500);
        for i in 0..50_000 {
            let t = key(&format!("/{long}/{i}/")).thread;
            c.insert_count(t.clone(), c.generation(&t), 0);
        }
        assert!(c.counts.weight() <= COUNT_BYTES, "{}", c.counts.weight());
    }

    #[test]
    fn the_listener_url_adds_keepalives_and_keeps_what_is_set() {
        let u =
            listener_url("postgres://u:p@db.example:5432/blog?sslmode=require&keepalives_idle=30");
        assert!(u.starts_with(
            "postgres://u:p@db.example:5432/blog?sslmode=require&keepalives_idle=30&"
        ));
        assert!(u.contains("application_name=afterword%2Dlistener"), "{u}");
        assert!(
            u.contains("options=%2Dc%20statement%5Ftimeout%3D5000"),
            "{u}"
        );
        assert!(u.contains("tcp_user_timeout=5000"));
        assert_eq!(u.matches("keepalives_idle").count(), 1);
    }

    #[test]
    fn a_listened_cache_serves_only_while_the_listener_confirms() {
        let mut c = ThreadCache::for_listener(1 << 20);
        let k = key("/a/");
        c.insert(k.clone(), 0, Bytes::from_static(b"x"));
        assert!(c.get(&k).is_none(), "off until the listener connects");
        c.set_enabled(true);
        let g = c.generation(&k.thread);
        c.insert(k.clone(), g, Bytes::from_static(b"x"));
        assert!(c.get(&k).is_some());
        // No confirmation for longer than the trust: off by itself, and what it held is
        // dropped when the listener confirms again.
        c.started -= LISTENER_TRUST * 2;
        assert!(!c.is_enabled());
        assert!(c.get(&k).is_none());
        c.confirm_listening();
        assert!(c.is_enabled());
        assert!(c.get(&k).is_none(), "pages from before the lapse are gone");
    }

    #[test]
    fn kept_pages_are_served_stale_while_the_listener_is_lost_and_never_after_it_is_back() {
        let c = ThreadCache::for_listener(1 << 20);
        let k = key("/a/");
        c.insert(k.clone(), 0, Bytes::from_static(b"x"));
        assert!(
            c.get_stale(&k).is_none(),
            "nothing before the listener ever connected"
        );
        c.set_enabled(true);
        for k in [key("/a/"), key("/c/")] {
            let g = c.generation(&k.thread);
            c.insert(k, g, Bytes::from_static(b"x"));
        }
        let g = c.site_generation("s");
        c.insert_counts_answer("q".into(), "s", g, Bytes::from_static(b"{}"));
        c.lost_listener();
        assert!(
            !c.is_enabled(),
            "a lost listener turns the cache off at once"
        );
        assert!(c.get(&k).is_none());
        assert!(c.counts_answer("q").is_none());
        assert!(c.get_stale(&k).is_some());
        assert!(c.counts_answer_stale("q").is_some());
        // A change made through this instance still makes its pages stale for good.
        c.invalidate(&k.thread);
        assert!(c.get_stale(&k).is_none());
        assert!(c.counts_answer_stale("q").is_none());
        assert!(c.get_stale(&key("/c/")).is_some());
        // Back: what was kept from before is gone, stale or not.
        c.set_enabled(true);
        assert!(c.get(&key("/c/")).is_none());
        assert!(c.get_stale(&key("/c/")).is_none());
    }

    #[test]
    fn stale_pages_are_not_served_past_their_bound() {
        let mut c = ThreadCache::for_listener(1 << 20);
        c.set_enabled(true);
        let k = key("/a/");
        let g = c.generation(&k.thread);
        c.insert(k.clone(), g, Bytes::from_static(b"x"));
        c.lost_listener();
        assert!(c.get_stale(&k).is_some());
        c.started -= STALE_FOR + Duration::from_secs(1);
        assert!(c.get_stale(&k).is_none());
    }

    #[test]
    fn a_disabled_cache_serves_nothing() {
        let c = ThreadCache::new(1 << 20, false);
        let k = key("/a/");
        c.insert(k.clone(), 0, Bytes::from_static(b"x"));
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn etags_follow_the_bytes() {
        assert_eq!(etag_of(b"a"), etag_of(b"a"));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert!(etag_of(b"a").starts_with('"'));
    }
}
