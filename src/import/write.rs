//! Writes staged records into the database: thread by thread, each in a savepoint of a
//! large transaction, so a thread is imported whole or not at all and a bad one costs only
//! itself. Source ids already in a thread are skipped: the import can run again.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::Connection;
use serde::Serialize;

use super::input::too_big;
use super::progress::Progress;
use super::stage::Stage;
use super::{html, Body, ImportCaps, Item, SlugRule, Source, SourceComment, SourceThread, Status};
use crate::config::SiteSettings;
use crate::db::imports::{ImportStore, ImportedComment};
use crate::db::models::NewThread;
use crate::db::Store;
use crate::domain::{AuthorName, Email, PageUrl, Title, Website};
use crate::security::ServerKey;

/// Comments the reader hands the writer at a time: a few thousand, so little is in memory.
const GROUP_COMMENTS: usize = 2_000;
/// Comments per transaction, at most: commits cost little at this size (on SQLite each
/// commit writes every page it changed, and a random index such as the commenters'
/// addresses changes a page per comment in small ones).
const TXN_COMMENTS: usize = 25_000;
/// How long a transaction may last, at most: a running server's writes wait for it.
const TXN_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// Comments an import adds before it sets the commenters' address index aside, to build
/// it again at its end (SQLite; see [`ImportStore::set_aside_address_index`]): a build
/// from scratch takes about two seconds per million comments, while keeping the index up
/// costs a large import most of its writes. `AFTERWORD_IMPORT_INDEX_AFTER` overrides it
/// (the tests use a small number).
const SET_ASIDE_AFTER: u64 = 50_000;
/// Slug mappings a dry run prints.
const DRY_RUN_SHOWN: usize = 20;
/// Records the summary lists by name when they could not be imported (all are counted).
const PROBLEMS_LISTED: usize = 100;

pub struct Options<'a> {
    pub site: &'a SiteSettings,
    /// `None`: the format's own choice (our export keeps its slugs, others take the path).
    pub slug_from: Option<SlugRule>,
    /// Everything is done, then rolled back.
    pub dry_run: bool,
    /// Nothing is written if any record cannot be read.
    pub strict: bool,
    pub key: &'a ServerKey,
    pub caps: &'a ImportCaps,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    /// Threads that received comments or were created.
    pub threads: u64,
    pub threads_created: u64,
    /// Comments added, by status.
    pub comments: BTreeMap<&'static str, u64>,
    /// Comments whose source id was already here (an earlier run).
    pub already_present: u64,
    pub reactions: u64,
    /// Reaction counts not imported, by kind: the site does not offer that kind.
    pub reactions_not_imported: BTreeMap<String, u64>,
    /// Replies whose parent is not in the file, imported as top-level comments.
    pub orphan_replies: u64,
    /// Records not imported, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Records that could not be imported (unreadable, over a cap, refused), the first
    /// [`PROBLEMS_LISTED`]: where each is in the file and why. Also counted in `skipped`.
    pub problems: Vec<super::Skipped>,
    /// All records that could not be imported, listed or not.
    pub problem_count: u64,
    /// Comments a moderator purged or a privacy request erased here since an earlier
    /// import: not brought back. Also counted in `skipped`.
    pub removed_here: u64,
    /// Thread addresses not on one of the site's `origins`: not kept (the threads are).
    pub addresses_dropped: u64,
    /// `--strict` found records it could not read: nothing was written.
    pub strict_stopped: bool,
    /// Threads and comments read from the file (not counting those that could not be).
    pub records_read: u64,
    /// `(source url or key, slug)` of the first threads (dry run).
    pub slugs: Vec<(String, String)>,
}

/// Why comments removed here are not imported again.
const REMOVED_HERE: &str = "removed here before (purged by a moderator or erased on request)";

impl Summary {
    fn skip(&mut self, reason: impl Into<String>, n: u64) {
        if n > 0 {
            *self.skipped.entry(reason.into()).or_default() += n;
        }
    }

    /// `n` records that could not be imported: counted by reason, and listed.
    fn problem(&mut self, record: impl Into<String>, reason: impl Into<String>, n: u64) {
        let reason = reason.into();
        if n == 0 {
            return;
        }
        if self.problems.len() < PROBLEMS_LISTED {
            self.problems.push(super::Skipped {
                record: record.into(),
                reason: reason.clone(),
            });
        }
        self.problem_count += n;
        self.skip(reason, n);
    }

    pub fn comments_added(&self) -> u64 {
        self.comments.values().sum()
    }

    /// The summary for people.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let verb = if self.dry_run { "would be " } else { "" };
        if self.dry_run {
            let _ = writeln!(s, "Dry run: nothing was written.");
            for (from, to) in &self.slugs {
                let _ = writeln!(s, "  {from} → {to}");
            }
        }
        let _ = writeln!(
            s,
            "threads: {} ({} {verb}new)",
            self.threads, self.threads_created
        );
        let by_status: Vec<String> = self
            .comments
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let _ = writeln!(
            s,
            "comments: {} {verb}added ({}), {} already present",
            self.comments_added(),
            if by_status.is_empty() {
                "none".to_owned()
            } else {
                by_status.join(", ")
            },
            self.already_present
        );
        let _ = writeln!(s, "reactions: {} {verb}added", self.reactions);
        for (kind, n) in &self.reactions_not_imported {
            let _ = writeln!(
                s,
                "  {n} × {kind} not imported: the site does not offer that reaction"
            );
        }
        if self.orphan_replies > 0 {
            let _ = writeln!(
                s,
                "replies to a comment missing from the file, {verb}imported at top level: {}",
                self.orphan_replies
            );
        }
        if self.addresses_dropped > 0 {
            let _ = writeln!(
                s,
                "thread addresses not on the site's origins, not kept: {}",
                self.addresses_dropped
            );
        }
        let skipped: u64 = self.skipped.values().sum();
        let _ = writeln!(s, "skipped: {skipped}");
        for (why, n) in &self.skipped {
            let _ = writeln!(s, "  {n} × {why}");
        }
        if self.problem_count > 0 {
            let _ = writeln!(
                s,
                "records that could not be imported: {}",
                self.problem_count
            );
            for p in &self.problems {
                let _ = writeln!(s, "  {}: {}", p.record, p.reason);
            }
            if self.problem_count > self.problems.len() as u64 {
                let _ = writeln!(s, "  … (the first {} are listed)", self.problems.len());
            }
        }
        if self.records_read == 0 {
            let _ = writeln!(
                s,
                "Nothing could be read: the file holds no record of this format."
            );
        }
        if self.strict_stopped {
            let _ = writeln!(
                s,
                "--strict: nothing was written, since some records could not be read."
            );
        }
        s
    }

    /// `afterword import`'s exit status for an import that ran (see [`super::EXIT_SKIPPED`]).
    pub fn exit_status(&self) -> u8 {
        if self.records_read == 0 {
            super::EXIT_UNREADABLE
        } else if self.problem_count == 0 {
            0
        } else {
            super::EXIT_SKIPPED
        }
    }
}

/// Imports `source`: one thread reads it and works out each comment's fields (see
/// [`prepare`]) while this one writes the batch before. A `grouped` source (each thread's
/// comments right after it, as in WordPress's export and ours) is imported as it is read;
/// any other is read into the scratch file first, and imported from there thread by thread.
pub fn run<C>(
    conn: &mut C,
    source: Source,
    grouped: bool,
    opts: &Options<'_>,
    progress: &Progress,
    file_size: Option<u64>,
) -> anyhow::Result<Summary>
where
    C: Connection + Store + ImportStore,
{
    let mut summary = Summary {
        dry_run: opts.dry_run,
        ..Summary::default()
    };
    // `--strict` reads the whole file before it writes anything.
    let grouped = grouped && !opts.strict;
    let gone = conn.removed_sources(opts.site.id.as_str())?;
    let gone = &gone;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Group>(1);
    let key = opts.key;
    std::thread::scope(|scope| -> anyhow::Result<Summary> {
        // Returns what it skipped, or why it could not read on.
        let reader = scope.spawn(move || -> anyhow::Result<Summary> {
            // `false` once the writer has stopped: reading on would be for nothing.
            let send = |group: Raw| tx.send(prepare(group, key)).is_ok();
            if grouped {
                progress.phase("importing", file_size, "bytes");
                read_grouped(source, opts.caps, send)
            } else {
                read_staged(source, opts.caps, opts.strict, progress, file_size, send)
            }
        });
        let mut done = 0u64;
        let mut failed = None;
        let set_aside_after = std::env::var("AFTERWORD_IMPORT_INDEX_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SET_ASIDE_AFTER);
        // Whether the address index is set aside (committed), to be built again at the end.
        let mut set_aside = false;
        // Each transaction takes groups until it holds TXN_COMMENTS or has lasted TXN_TIME.
        let mut next = rx.recv().ok();
        while let Some(first) = next.take() {
            let mut batch = Batch::default();
            let started = std::time::Instant::now();
            let mut aside_now = false;
            let result = conn.batch_transaction::<_, BatchEnd, _>(|c| {
                let mut group = first;
                let mut size = 0;
                loop {
                    let added = summary.comments_added() + batch.tally.comments_added();
                    if !(set_aside || aside_now || opts.dry_run) && added >= set_aside_after {
                        aside_now = c.set_aside_address_index()?;
                        if aside_now {
                            tracing::info!(
                                comments = added,
                                "address index set aside for a large import: built again at its end"
                            );
                        }
                    }
                    for (_, comments) in &group {
                        size += comments.len().max(1);
                        done += comments.len() as u64;
                    }
                    import_group(c, group, opts, gone, &mut batch);
                    if grouped {
                        progress.set(progress.bytes_read(), "bytes");
                    } else {
                        progress.set(done, "comments");
                    }
                    let left = TXN_TIME.saturating_sub(started.elapsed());
                    if size >= TXN_COMMENTS || left.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(left) {
                        Ok(g) => group = g,
                        // Nothing more in time (or at all): commit what is here.
                        Err(_) => break,
                    }
                }
                if opts.dry_run {
                    return Err(BatchEnd::DryRun);
                }
                c.announce(&batch.changed)?;
                Ok(())
            });
            match result {
                Ok(()) => {
                    set_aside |= aside_now;
                    batch.tally.merge_into(&mut summary);
                    conn.between_transactions();
                }
                Err(BatchEnd::DryRun) => batch.tally.merge_into(&mut summary),
                Err(BatchEnd::Failed(e)) => {
                    failed = Some(e);
                    break;
                }
            }
            next = rx.recv().ok();
        }
        // The reader stops at its next batch.
        drop(rx);
        let read = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        // Whatever stopped the import: the index is built again now (or, if this fails too,
        // at the next start of any afterword command).
        let rebuilt = if set_aside {
            progress.phase("indexing addresses", None, "");
            let started = std::time::Instant::now();
            // The sort that builds it holds as much as the page cache in memory: with the
            // import's large one, twice the import's peak. With the usual, it is as quick.
            let rebuilt = conn
                .import_cache(false)
                .and_then(|()| conn.restore_address_index());
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "address index built"
            );
            if let Err(e) = &rebuilt {
                tracing::warn!(error = %e, "the address index could not be built again");
            }
            rebuilt.map_err(|e| {
                anyhow::Error::new(e).context(
                    "building the index of commenters' addresses again failed; the next \
                     `afterword migrate` or server start builds it",
                )
            })
        } else {
            Ok(())
        };
        progress.finish();
        let stopped = |e: anyhow::Error| {
            e.context(
                "the import stopped; what was committed before stays, and running it again \
                 adds only what is missing",
            )
        };
        if let Some(e) = failed {
            return Err(stopped(e));
        }
        rebuilt?;
        match read {
            Ok(skipped) => skipped.merge_into(&mut summary),
            // A file that cannot be read to its end is found before anything is written,
            // unless it is imported as it is read.
            Err(e) if !grouped => return Err(e.context(super::Unreadable)),
            Err(e) => return Err(stopped(e)),
        }
        Ok(summary)
    })
}

/// Threads with their comments, as read.
type Raw = Vec<(SourceThread, Vec<SourceComment>)>;
/// Threads with their comments, ready to write.
type Group = Vec<(SourceThread, Vec<Prepared>)>;

/// Why a thread over the cap on comments is not imported.
fn thread_too_big(caps: &ImportCaps) -> String {
    format!(
        "thread with more than {} comments (import.max_thread_comments in the config raises \
         the cap)",
        caps.max_thread_comments
    )
}

/// Why a comment cannot be imported before it is even staged: a text over the cap.
fn comment_problem(c: &SourceComment, caps: &ImportCaps) -> Option<String> {
    let len = match &c.body {
        Body::Markdown(t) | Body::Html(t) => t.len() as u64,
    };
    (len > caps.max_body_bytes)
        .then(|| too_big("the comment's text", caps.max_body_bytes, "max_body_bytes"))
}

const NO_THREAD: &str = "comment of a thread the file does not describe";

/// Reads a grouped source, sending about [`GROUP_COMMENTS`] comments' worth of threads at
/// a time; returns what it skipped.
fn read_grouped(
    source: Source,
    caps: &ImportCaps,
    mut send: impl FnMut(Raw) -> bool,
) -> anyhow::Result<Summary> {
    let mut skipped = Summary::default();
    let mut group: Raw = Vec::new();
    let mut size = 0;
    // The thread being read went over the cap: its key, and its comments so far.
    let mut over: Option<(String, u64)> = None;
    for item in source {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                // What was read whole is imported; the thread being read is not.
                group.pop();
                send(group);
                return Err(e);
            }
        };
        match item {
            Item::Thread(t) => {
                if let Some((key, n)) = over.take() {
                    skipped.problem(key, thread_too_big(caps), n);
                }
                if size >= GROUP_COMMENTS {
                    if !send(std::mem::take(&mut group)) {
                        return Ok(skipped);
                    }
                    size = 0;
                }
                skipped.records_read += 1;
                size += 1;
                group.push((t, Vec::new()));
            }
            Item::Comment(c) => {
                skipped.records_read += 1;
                if let Some((key, n)) = &mut over {
                    if *key == c.thread {
                        *n += 1;
                        continue;
                    }
                }
                if let Some(why) = comment_problem(&c, caps) {
                    skipped.problem(c.id, why, 1);
                    continue;
                }
                let full = match group.last_mut() {
                    Some((t, comments)) if t.key == c.thread => {
                        if (comments.len() as u64) < caps.max_thread_comments {
                            size += 1;
                            comments.push(c);
                            false
                        } else {
                            true
                        }
                    }
                    _ => {
                        skipped.problem(c.id, NO_THREAD, 1);
                        false
                    }
                };
                if full {
                    // The whole thread is passed over: it is imported whole or not at all.
                    if let Some((t, comments)) = group.pop() {
                        size = size.saturating_sub(comments.len() + 1);
                        over = Some((t.key, comments.len() as u64 + 1));
                    }
                }
            }
            Item::Skip(why) => skipped.problem(why.record, why.reason, 1),
            Item::Pass(why) => skipped.skip(why, 1),
        }
    }
    if let Some((key, n)) = over.take() {
        skipped.problem(key, thread_too_big(caps), n);
    }
    if !group.is_empty() {
        send(group);
    }
    Ok(skipped)
}

/// Reads the whole source into the scratch file, then sends its threads, about
/// [`GROUP_COMMENTS`] comments' worth at a time; returns what it skipped. `strict`: if
/// any record could not be read, nothing is sent.
fn read_staged(
    source: Source,
    caps: &ImportCaps,
    strict: bool,
    progress: &Progress,
    file_size: Option<u64>,
    mut send: impl FnMut(Raw) -> bool,
) -> anyhow::Result<Summary> {
    let mut skipped = Summary::default();
    let mut stage = Stage::create(caps.max_input_bytes)?;
    progress.phase("reading", file_size, "bytes");
    for item in source {
        match item? {
            Item::Thread(t) => {
                skipped.records_read += 1;
                stage.thread(&t)?
            }
            Item::Comment(c) => {
                skipped.records_read += 1;
                match comment_problem(&c, caps) {
                    Some(why) => skipped.problem(c.id, why, 1),
                    None => stage.comment(&c)?,
                }
            }
            Item::Skip(why) => skipped.problem(why.record, why.reason, 1),
            Item::Pass(why) => skipped.skip(why, 1),
        }
        if (stage.threads + stage.comments) % 1024 == 0 {
            progress.set(progress.bytes_read(), "bytes read");
        }
    }
    stage.seal()?;
    let orphans = stage.orphans()?;
    skipped.problem(format!("{orphans} comment(s)"), NO_THREAD, orphans as u64);
    if strict && skipped.problem_count > 0 {
        skipped.strict_stopped = true;
        return Ok(skipped);
    }
    progress.phase("importing", Some(stage.comments), "comments");
    let mut after = 0;
    let mut group: Raw = Vec::new();
    let mut size = 0;
    loop {
        let threads = stage.threads_after(after, 1_000)?;
        let Some(last) = threads.last() else { break };
        after = last.0;
        for (_, thread) in threads {
            let n = stage.count_of(&thread.key)?;
            if n > caps.max_thread_comments {
                skipped.problem(thread.key, thread_too_big(caps), n);
                continue;
            }
            let comments = stage.comments_of(&thread.key)?;
            size += comments.len().max(1);
            group.push((thread, comments));
            if size >= GROUP_COMMENTS {
                if !send(std::mem::take(&mut group)) {
                    return Ok(skipped);
                }
                size = 0;
            }
        }
    }
    if !group.is_empty() {
        send(group);
    }
    Ok(skipped)
}

/// A comment with its stored fields worked out.
type Prepared = (SourceComment, Fields);

/// Works out every comment's fields (Markdown, HTML, cleaned names), on as many threads as
/// there are cores (up to 4): rendering is most of an import's work.
fn prepare(group: Raw, key: &ServerKey) -> Group {
    let sizes: Vec<usize> = group.iter().map(|g| g.1.len()).collect();
    let (threads, lists): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let all: Vec<SourceComment> = lists.into_iter().flatten().collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = all.len().div_ceil(workers).max(256);
    let fields: Vec<Fields> = std::thread::scope(|s| {
        let parts: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|c| Fields::of(c, key)).collect::<Vec<_>>())
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut pairs = all.into_iter().zip(fields);
    threads
        .into_iter()
        .zip(sizes)
        .map(|(t, n)| (t, pairs.by_ref().take(n).collect()))
        .collect()
}

/// Why a batch transaction ended without committing.
enum BatchEnd {
    DryRun,
    Failed(anyhow::Error),
}

impl From<diesel::result::Error> for BatchEnd {
    fn from(e: diesel::result::Error) -> Self {
        BatchEnd::Failed(e.into())
    }
}

impl From<anyhow::Error> for BatchEnd {
    fn from(e: anyhow::Error) -> Self {
        BatchEnd::Failed(e)
    }
}

#[derive(Default)]
struct Batch {
    changed: Vec<(String, String)>,
    tally: Summary,
}

impl Batch {
    fn absorb(&mut self, other: Batch) {
        self.changed.extend(other.changed);
        other.tally.merge_into(&mut self.tally);
    }
}

impl Summary {
    fn merge_into(self, into: &mut Summary) {
        into.threads += self.threads;
        into.threads_created += self.threads_created;
        for (k, v) in self.comments {
            *into.comments.entry(k).or_default() += v;
        }
        into.already_present += self.already_present;
        into.reactions += self.reactions;
        for (k, v) in self.reactions_not_imported {
            *into.reactions_not_imported.entry(k).or_default() += v;
        }
        into.orphan_replies += self.orphan_replies;
        for (k, v) in self.skipped {
            into.skip(k, v);
        }
        let room = PROBLEMS_LISTED.saturating_sub(into.problems.len());
        into.problems.extend(self.problems.into_iter().take(room));
        into.problem_count += self.problem_count;
        into.removed_here += self.removed_here;
        into.addresses_dropped += self.addresses_dropped;
        into.strict_stopped |= self.strict_stopped;
        into.records_read += self.records_read;
        let room = DRY_RUN_SHOWN.saturating_sub(into.slugs.len());
        into.slugs.extend(self.slugs.into_iter().take(room));
    }
}

/// Imports a group of threads in one savepoint. If the database refuses any of it, the
/// group is rolled back and written again thread by thread, each in a savepoint of its
/// own, so that only the thread refused is skipped. (A savepoint for every thread from the
/// start would have SQLite copy each existing page every thread changes.)
fn import_group<C>(
    conn: &mut C,
    mut group: Group,
    opts: &Options<'_>,
    gone: &HashSet<String>,
    batch: &mut Batch,
) where
    C: Connection + Store + ImportStore,
{
    let mut tried = Batch::default();
    let whole = conn.transaction::<_, diesel::result::Error, _>(|c| {
        for (thread, comments) in &mut group {
            import_thread(c, thread, comments, opts, gone, &mut tried, false)?;
        }
        Ok(())
    });
    match whole {
        Ok(()) => batch.absorb(tried),
        Err(e) => {
            tracing::debug!(error = %e, "a group was refused: importing its threads one by one");
            for (thread, comments) in &mut group {
                // Refusals are tallied: nothing is returned.
                let _ = import_thread(conn, thread, comments, opts, gone, batch, true);
            }
        }
    }
}

/// Imports one thread. `alone`: in a savepoint of its own, skipping the thread whole (and
/// saying so) if the database refuses it; otherwise the refusal is returned.
fn import_thread<C>(
    conn: &mut C,
    thread: &SourceThread,
    comments: &mut Vec<Prepared>,
    opts: &Options<'_>,
    gone: &HashSet<String>,
    batch: &mut Batch,
    alone: bool,
) -> diesel::QueryResult<()>
where
    C: Connection + Store + ImportStore,
{
    // A post whose comments were all unreadable is not created empty (our own export
    // lists every thread, empty ones too: those are kept).
    if comments.is_empty() && thread.slug.is_none() {
        return Ok(());
    }
    let origin = thread.url.clone().unwrap_or_else(|| thread.key.clone());
    let slug = match (&opts.slug_from, &thread.slug) {
        (None, Some(slug)) => crate::domain::Slug::parse(slug).map_err(|e| e.message),
        (rule, _) => rule.as_ref().unwrap_or(&SlugRule::Path).apply(&origin),
    };
    let slug = match slug {
        Ok(s) => s,
        Err(why) => {
            batch.tally.problem(
                &thread.key,
                format!("comment of a thread without a usable slug ({why})"),
                comments.len() as u64,
            );
            return Ok(());
        }
    };
    let mut tally = Summary::default();
    let count = comments.len() as u64;
    let result = if alone {
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            write_thread(c, thread, slug.as_str(), comments, opts, gone, &mut tally)
        })
    } else {
        write_thread(
            conn,
            thread,
            slug.as_str(),
            comments,
            opts,
            gone,
            &mut tally,
        )
    };
    match result {
        Ok(()) => {
            if batch.tally.slugs.len() < DRY_RUN_SHOWN {
                batch.tally.slugs.push((origin, slug.as_str().to_owned()));
            }
            batch
                .changed
                .push((opts.site.id.as_str().to_owned(), slug.as_str().to_owned()));
            tally.merge_into(&mut batch.tally);
        }
        Err(e) if !alone => return Err(e),
        Err(e) => {
            tracing::warn!(thread = %thread.key, error = %e, "thread not imported");
            batch.tally.problem(
                &thread.key,
                "comment of a thread the database refused (see the log)",
                count,
            );
        }
    }
    Ok(())
}

fn write_thread<C>(
    c: &mut C,
    thread: &SourceThread,
    slug: &str,
    comments: &mut Vec<Prepared>,
    opts: &Options<'_>,
    gone: &HashSet<String>,
    tally: &mut Summary,
) -> diesel::QueryResult<()>
where
    C: Connection + Store + ImportStore,
{
    let site = opts.site.id.as_str();
    let existed = c.find_thread(site, slug)?.is_some();
    let created_at = thread
        .created_at
        .or_else(|| comments.iter().map(|c| c.0.created_at).min())
        .unwrap_or_else(crate::view::now_micros);
    let title = thread
        .title
        .as_deref()
        .and_then(|t| Title::parse(t).ok().flatten());
    // The same rule as a moderator's edit: an address off the site's origins is not kept.
    let url = match thread
        .url
        .as_deref()
        .and_then(|u| PageUrl::parse(u).ok().flatten())
    {
        Some(u) if !opts.site.origins.allows_url(u.as_str()) => {
            tally.addresses_dropped += 1;
            None
        }
        u => u,
    };
    let row = c.upsert_thread(
        &NewThread {
            site,
            slug,
            title: title.as_ref().map(Title::as_str),
            url: url.as_ref().map(PageUrl::as_str),
            locked: thread.locked,
            comment_count: 0,
            created_at,
        },
        0,
    )?;
    tally.threads += 1;
    if !existed {
        tally.threads_created += 1;
        for (kind, n) in &thread.reactions {
            add_reactions(c, opts, row.id, 0, kind, *n, tally)?;
        }
    }
    // Source id → (id, root) of what the thread holds already, and of what is added.
    let tag = opts.key.instance_tag();
    let mut known: HashMap<String, (i64, Option<i64>)> = HashMap::new();
    for k in c.known_comments(row.id)? {
        known.insert(format!("afterword:{tag}:{}", k.id), (k.id, k.root_id));
        if let Some(s) = k.source_key {
            known.insert(s, (k.id, k.root_id));
        }
    }
    order_parents_first(comments);
    let with_replies: std::collections::HashSet<String> =
        comments.iter().filter_map(|c| c.0.parent.clone()).collect();
    let mut approved = 0i64;
    // Ids of this installation's own comments (from its export) that are not here any more.
    let own = format!("afterword:{tag}:");
    for (sc, fields) in comments.iter() {
        if known.contains_key(&sc.id) {
            tally.already_present += 1;
            continue;
        }
        if gone.contains(&sc.id) || sc.id.starts_with(&own) {
            tally.removed_here += 1;
            tally.skip(REMOVED_HERE, 1);
            continue;
        }
        if sc.status == Status::Deleted && !with_replies.contains(&sc.id) {
            tally.skip("deleted, without replies (nothing to show)", 1);
            continue;
        }
        let (parent_id, root_id) = match sc.parent.as_deref().map(|p| known.get(p)) {
            None => (None, None),
            Some(Some(&(pid, proot))) => (Some(pid), Some(proot.unwrap_or(pid))),
            Some(None) => {
                tally.orphan_replies += 1;
                (None, None)
            }
        };
        if sc.status != Status::Deleted && fields.body.trim().is_empty() {
            tally.skip("empty comment", 1);
            continue;
        }
        let deleted = sc.status == Status::Deleted;
        let id = c.insert_imported(&ImportedComment {
            thread_id: row.id,
            parent_id,
            root_id,
            status: sc.status.as_str(),
            body: if deleted { "" } else { &fields.body },
            html: if deleted { "" } else { &fields.html },
            author: fields.author.as_deref().filter(|_| !deleted),
            email: fields.email.as_deref().filter(|_| !deleted),
            email_key: fields.email_key.as_deref().filter(|_| !deleted),
            website: fields.website.as_deref().filter(|_| !deleted),
            avatar: &fields.avatar,
            notify_replies: false,
            created_at: sc.created_at,
            edited_at: sc.edited_at,
            deleted_at: deleted.then_some(sc.edited_at.unwrap_or(sc.created_at)),
            deleted_by: deleted.then_some("import"),
            source_key: Some(&sc.id),
        })?;
        *tally.comments.entry(sc.status.as_str()).or_default() += 1;
        if sc.status == Status::Approved {
            approved += 1;
        }
        if !deleted {
            for (kind, n) in &sc.reactions {
                add_reactions(c, opts, row.id, id, kind, *n, tally)?;
            }
        }
        known.insert(sc.id.clone(), (id, root_id));
    }
    if approved > 0 {
        c.add_comment_count(row.id, approved)?;
    }
    c.import_feed_entries(row.id)?;
    Ok(())
}

fn add_reactions<C: Store>(
    c: &mut C,
    opts: &Options<'_>,
    thread_id: i64,
    comment_key: i64,
    kind: &str,
    n: i64,
    tally: &mut Summary,
) -> diesel::QueryResult<()> {
    if n <= 0 {
        return Ok(());
    }
    if opts.site.reactions.iter().any(|k| k == kind) {
        c.add_reaction_count(thread_id, comment_key, kind, n)?;
        tally.reactions += n as u64;
    } else {
        *tally
            .reactions_not_imported
            .entry(kind.to_owned())
            .or_default() += n as u64;
    }
    Ok(())
}

/// A comment's stored fields, cleaned: what does not validate is dropped, not the comment.
struct Fields {
    body: String,
    html: String,
    author: Option<String>,
    email: Option<String>,
    email_key: Option<String>,
    website: Option<String>,
    avatar: String,
}

impl Fields {
    fn of(sc: &SourceComment, key: &ServerKey) -> Fields {
        // A placeholder keeps no text: nothing to render.
        let (body, html) = match &sc.body {
            _ if sc.status == Status::Deleted => (String::new(), String::new()),
            Body::Markdown(m) if m.is_empty() => (String::new(), String::new()),
            Body::Markdown(m) => (m.clone(), crate::markdown::render(m)),
            Body::Html(h) => html::convert(h),
        };
        let author = sc.author.as_deref().and_then(clean_name);
        let email = sc
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok().flatten())
            .map(|e| e.as_str().to_owned());
        let email_key = email.as_ref().map(|e| e.to_lowercase());
        let website = sc
            .website
            .as_deref()
            .and_then(|w| Website::parse(w).ok().flatten())
            .map(|w| w.as_str().to_owned());
        let avatar = match (&email_key, &author) {
            (Some(e), _) => key.avatar(&format!("email:{e}")),
            (None, Some(a)) => key.avatar(&format!("name:{a}")),
            (None, None) => key.avatar(&format!("import:{}", sc.id)),
        };
        Fields {
            body,
            html,
            author,
            email,
            email_key,
            website,
            avatar,
        }
    }
}

/// A name as our form would take it: no control characters, at most 100 characters.
fn clean_name(raw: &str) -> Option<String> {
    let t: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t: String = t.trim().chars().take(AuthorName::MAX_CHARS).collect();
    AuthorName::parse(&t)
        .ok()
        .flatten()
        .map(|a| a.as_str().to_owned())
}

/// File order, except that a reply listed before its parent moves to just after it
/// (sources list them in any order); a parent chain that loops is left as it is.
fn order_parents_first(comments: &mut Vec<Prepared>) {
    let ids: std::collections::HashSet<String> = comments.iter().map(|c| c.0.id.clone()).collect();
    let mut placed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut waiting: HashMap<String, Vec<Prepared>> = HashMap::new();
    let mut out = Vec::with_capacity(comments.len());
    for c in comments.drain(..) {
        match &c.0.parent {
            Some(p) if ids.contains(p) && !placed.contains(p) => {
                waiting.entry(p.clone()).or_default().push(c);
            }
            _ => {
                let mut ready = vec![c];
                while let Some(c) = ready.pop() {
                    placed.insert(c.0.id.clone());
                    if let Some(mut kids) = waiting.remove(&c.0.id) {
                        kids.reverse();
                        ready.extend(kids);
                    }
                    out.push(c);
                }
            }
        }
    }
    out.extend(waiting.into_values().flatten());
    *comments = out;
}
