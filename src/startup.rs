//! Builds the application: database, migrations, cache, listener, HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::cache::{self, ThreadCache};
use crate::config::Settings;
use crate::db::Pool;
use crate::ratelimit::RateLimiter;
use crate::state::AppState;

/// Memory given to rendered thread pages, their compressed forms included: some 30 pages
/// of 200 comments, or thousands of short threads (see `cache` for the other budgets).
const CACHE_BYTES: u64 = 2 * 1024 * 1024;

pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    background: Background,
    /// `/metrics` on `[metrics] listen`, stopped with the main server.
    metrics_server: Option<Server>,
}

/// What runs beside the server, stopped after it.
struct Background {
    pool: Pool,
    /// Stops the mail worker and the privacy purge.
    mail_stop: crate::email::worker::Stop,
    mail_worker: Option<std::thread::JoinHandle<()>>,
    /// The event dispatcher and the webhook workers (stopped with `mail_stop`).
    event_threads: Vec<std::thread::JoinHandle<()>>,
    /// Polls linked posts elsewhere and verifies webmentions (stopped by `mail_stop`).
    poller: Option<std::thread::JoinHandle<()>>,
    /// Stops the PostgreSQL listener.
    listener_stop: Arc<std::sync::atomic::AtomicBool>,
    pg_listener: Option<std::thread::JoinHandle<()>>,
}

/// How long in-flight requests may take to finish once the server is told to stop.
const GRACE: std::time::Duration = std::time::Duration::from_secs(30);
/// Then how long the writer's queue, the mail being sent and the listener may take, all
/// told: the whole stop stays within what service managers wait (40 s is usual).
const WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(10);

impl Application {
    /// Opens (and migrates) the database and binds the listener; `listen` port 0 picks a free port.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        // Reads only (cache misses: most reads are answered from memory); the writer has
        // a connection of its own.
        let pool_size = if settings.database_url.is_postgres() {
            16
        } else {
            6
        };
        let pool = Pool::for_server(
            &settings.database_url,
            settings.sqlite_synchronous,
            pool_size,
            &settings.database,
        )?;
        let ran = pool.migrate().context("database migration failed")?;
        if ran > 0 {
            tracing::info!(migrations = ran, "database migrated");
        }
        let key = pool.server_key()?;
        let hashed = pool
            .hash_clear_ips(&key)
            .context("cannot hash the client addresses stored in clear")?;
        if hashed > 0 {
            tracing::info!(
                comments = hashed,
                "client addresses now stored as keyed hashes"
            );
        }
        let cache = Arc::new(if pool.is_postgres() {
            ThreadCache::for_listener(CACHE_BYTES)
        } else {
            ThreadCache::new(CACHE_BYTES, true)
        });
        // The writer drops changed threads once their commit is known, before it answers.
        let invalidate = Arc::clone(&cache);
        pool.on_commit(Box::new(move |threads| {
            for t in threads {
                invalidate.invalidate(t);
            }
        }));
        let listener_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pg_listener = if let Some(url) = pool.postgres_url() {
            cache::listen_postgres(
                url.to_owned(),
                Arc::downgrade(&cache),
                Arc::clone(&listener_stop),
            )
        } else {
            watch_change_epoch(&pool, Arc::downgrade(&cache))?;
            None
        };
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = listener.local_addr()?;
        for site in settings.sites.values() {
            if matches!(&site.origins, crate::config::Origins::List(l) if l.is_empty()) {
                tracing::warn!(
                    site = site.id.as_str(),
                    "site lists no origins: browsers cannot post to it; set `origins`"
                );
            }
        }
        let mail_stop = crate::email::worker::Stop::default();
        start_trimming(&mail_stop);
        start_privacy_purge(&settings, &pool, &mail_stop)?;
        let (mailer, smtp, mail_worker) = match start_mail(&settings, &pool, &key, &mail_stop)? {
            Some((m, t, w)) => (Some(m), Some(t), Some(w)),
            None => (None, None, None),
        };
        // Links in webhook messages point at the address actually bound when there is no
        // public_url (the configured port may be 0).
        let mut event_settings = settings.clone();
        event_settings.listen = addr;
        // The moderators' mail and reply mail are made from the events (see
        // crate::events): the dispatcher holds the mailer.
        let event_threads = crate::events::dispatch::start(
            &Arc::new(event_settings),
            &pool,
            &key,
            mailer.clone(),
            &mail_stop,
        )
        .context("cannot start the event dispatcher")?;
        let poller = start_federation(&settings, &pool, &key, &mail_stop)?;
        let state = web::Data::new(AppState {
            mailer,
            smtp,
            comment_limiter: RateLimiter::new(settings.limits.comments_per_ip_per_minute),
            recent_texts: Arc::default(),
            webmention_limiter: Default::default(),
            edit_limiter: RateLimiter::new(settings.limits.edits_per_ip_per_minute),
            hasher: Default::default(),
            login_limiter: Default::default(),
            reaction_limiter: RateLimiter::new(settings.limits.reactions_per_ip_per_minute),
            settings: Arc::new(settings),
            pool: pool.clone(),
            cache,
            key,
        });
        if state.settings.metrics.enabled {
            crate::metrics::enable()?;
        }
        let metrics_server = metrics_listener(&state)?;
        let import_lock = web::Data::new(crate::api::admin::transfer::ImportLock::default());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(import_lock.clone())
                .wrap(from_fn(crate::api::cors))
                .wrap(from_fn(crate::api::hardening))
                .wrap(from_fn(crate::telemetry::request_id))
                .wrap(from_fn(crate::api::metrics::record))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                .configure(crate::api::routes)
        })
        // Slow clients: a request's head must arrive within 5 s, an idle keep-alive
        // connection closes after 15 s, and each worker holds at most 5,000 connections.
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(2))
        .keep_alive(std::time::Duration::from_secs(15))
        .max_connections(5_000)
        .shutdown_timeout(GRACE.as_secs())
        // Our own: Ctrl-C stops as gently as SIGTERM (see `stop_on_signals`).
        .disable_signals()
        .listen(listener)?
        .run();
        tracing::info!(%addr, "Afterword is listening");
        Ok(Application {
            port: addr.port(),
            server,
            background: Background {
                pool: pool.clone(),
                mail_stop,
                mail_worker,
                event_threads,
                poller,
                listener_stop,
                pg_listener,
            },
            pool,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The writer's fault injection, for tests.
    pub fn faults(&self) -> Arc<crate::db::Faults> {
        Arc::clone(self.pool.faults())
    }

    /// Serves until stopped. SIGTERM or Ctrl-C (SIGINT) stop it cleanly: no new
    /// connection is taken, requests in flight finish (up to 30 s), the writer runs the
    /// writes queued and answers them, the mail worker finishes or gives back the message
    /// it holds, the PostgreSQL listener closes; then it returns `Ok`. SIGQUIT, or a
    /// second signal, stops at once.
    /// If the database writer dies, stops at once and returns an error: every write would
    /// fail, so the process should exit and be restarted.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        use futures_util::future::{select, Either};
        let handle = self.server.handle();
        let signals = tokio::spawn(stop_on_signals(
            handle.clone(),
            self.background.mail_stop.clone(),
        ));
        let writer_stopped = std::pin::pin!(self.pool.writer_stopped());
        let mut server = self.server;
        let _stop_metrics = self.metrics_server.map(|s| {
            let handle = s.handle();
            tokio::spawn(s);
            StopServerOnDrop(handle)
        });
        let result = match select(&mut server, writer_stopped).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => {
                // Not gracefully: every write would fail meanwhile, and a restart is quick.
                tracing::error!("the database writer has stopped; shutting down");
                // The command is sent at once; the server future does the stopping.
                drop(handle.stop(false));
                let _ = server.await;
                Err(std::io::Error::other("the database writer stopped"))
            }
        };
        signals.abort();
        self.background.shut_down().await;
        result
    }
}

/// `/metrics` alone on `[metrics] listen`, for a scraper on a private network.
fn metrics_listener(state: &web::Data<AppState>) -> anyhow::Result<Option<Server>> {
    let m = &state.settings.metrics;
    let Some(addr) = m.listen.filter(|_| m.enabled) else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
    let state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(crate::api::metrics::render))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    // Not as an `addr` field: that one names the main listener.
    tracing::info!("metrics are served at http://{addr}/metrics");
    Ok(Some(server))
}

struct StopServerOnDrop(ServerHandle);

impl Drop for StopServerOnDrop {
    fn drop(&mut self) {
        // The command is sent at once; the returned future only waits for it to finish.
        drop(self.0.stop(true));
    }
}

impl Background {
    /// Once the server has stopped: drains the writer, stops the mail worker and the
    /// listener, each within a bound.
    async fn shut_down(mut self) {
        self.mail_stop.stop();
        self.pool.close_writer();
        let deadline = tokio::time::Instant::now() + WIND_DOWN;
        if tokio::time::timeout_at(deadline, self.pool.writer_stopped())
            .await
            .is_err()
        {
            tracing::warn!("the database writer did not finish its queue in time");
        }
        self.listener_stop
            .store(true, std::sync::atomic::Ordering::Release);
        let mut threads: Vec<_> = [
            self.mail_worker.take(),
            self.pg_listener.take(),
            self.poller.take(),
        ]
        .into_iter()
        .flatten()
        .collect();
        threads.append(&mut self.event_threads);
        // Joined on a thread of its own, not the runtime's blocking pool: a runtime waits
        // for its blocking tasks when it is dropped, so a thread stuck past the deadline (in
        // a connect to a database that is gone, say) would hold the process's exit too.
        let (done, joined) = tokio::sync::oneshot::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("afterword-stop".into())
            .spawn(move || {
                for t in threads {
                    let _ = t.join();
                }
                let _ = done.send(());
            });
        if spawned.is_err() || tokio::time::timeout_at(deadline, joined).await.is_err() {
            // A send still running is cut off: its claim runs out and it is sent again.
            tracing::warn!("the mail worker or the listener did not stop in time");
        }
    }
}

/// The first SIGTERM or SIGINT stops the server gracefully (and the mail worker at once:
/// it takes no new message); SIGQUIT, or a second signal, at once.
async fn stop_on_signals(handle: ServerHandle, mail: crate::email::worker::Stop) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        tracing::warn!("cannot listen for signals; stop the server with SIGKILL");
        return;
    };
    let graceful = tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => true,
        _ = quit.recv() => false,
    };
    tracing::info!(graceful, "stopping");
    mail.stop();
    drop(handle.stop(graceful));
    if graceful {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = quit.recv() => {}
        }
        tracing::info!("stopping at once");
        drop(handle.stop(false));
    }
}

/// How often a server on SQLite looks whether another process (an import) changed data.
const EPOCH_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// On SQLite, `afterword import` runs in another process: each batch it commits moves
/// `change_epoch`, and this thread, seeing it move, drops every cached page. One tiny read
/// five times a second; the cache stays off while the epoch cannot be read.
fn watch_change_epoch(pool: &Pool, cache: std::sync::Weak<ThreadCache>) -> anyhow::Result<()> {
    use crate::db::imports::ImportStore;
    let pool = pool.clone();
    let read = move |pool: &Pool| -> anyhow::Result<i64> {
        let mut conn = pool.get()?;
        Ok(crate::with_conn!(conn, |c| c.change_epoch())?)
    };
    let mut seen = read(&pool)?;
    std::thread::Builder::new()
        .name("afterword-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_POLL);
            let Some(cache) = cache.upgrade() else { return };
            match read(&pool) {
                Ok(epoch) if epoch == seen => {}
                Ok(epoch) => {
                    seen = epoch;
                    cache.invalidate_all();
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the change epoch");
                    cache.invalidate_all();
                }
            }
        })
        .context("cannot start the change watcher")?;
    Ok(())
}

/// How often freed memory goes back to the system (see [`start_trimming`]).
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// glibc's allocator keeps what is freed inside its heaps for the next allocation, and
/// gives back only the top of a heap: after a burst (pages rebuilt while a thread is
/// written to, a flood of cache misses) the holes stay resident. `malloc_trim` gives
/// their pages back; measured with load.sh, 2.7 MiB after thread-mixed and 1.3 MiB after
/// the churn, out of 13.7 and 18.2 MiB. A walk of the free lists every two seconds, on a
/// thread of its own, stopped with the mail worker.
fn start_trimming(stop: &crate::email::worker::Stop) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("afterword-trim".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let tick = std::time::Duration::from_millis(200);
                let mut waited = std::time::Duration::ZERO;
                while !stop.stopped() {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited >= TRIM_EVERY {
                        waited = std::time::Duration::ZERO;
                        // SAFETY: malloc_trim only returns free pages to the system.
                        unsafe {
                            libc::malloc_trim(0);
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the memory trimmer; memory is not given back");
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = stop;
}

/// Drops old client data (`[privacy] client_data_days`) now, then every hour until the
/// server stops. On its own connection: one short UPDATE, not worth the writer's queue.
fn start_privacy_purge(
    settings: &Settings,
    pool: &Pool,
    stop: &crate::email::worker::Stop,
) -> anyhow::Result<()> {
    let days = settings.client_data_days;
    if days == 0 {
        return Ok(());
    }
    let purge = move |pool: &Pool| match pool.forget_client_data(days) {
        Ok(0) => {}
        Ok(n) => tracing::info!(comments = n, days, "dropped old IP hashes and user agents"),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot drop old client data"),
    };
    purge(pool);
    let (pool, stop) = (pool.clone(), stop.clone());
    std::thread::Builder::new()
        .name("afterword-privacy".into())
        .spawn(move || loop {
            for _ in 0..3600 {
                if stop.stopped() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            purge(&pool);
        })
        .context("cannot start the privacy purge")?;
    Ok(())
}

/// The background worker for replies from elsewhere (crate::federation): polls linked
/// posts, verifies webmentions. Fetches only through the guarded client.
fn start_federation(
    settings: &Settings,
    pool: &Pool,
    key: &crate::security::ServerKey,
    stop: &crate::email::worker::Stop,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    let agent = match &settings.public_url {
        Some(u) => format!("Afterword/{} (+{u})", env!("CARGO_PKG_VERSION")),
        None => format!("Afterword/{}", env!("CARGO_PKG_VERSION")),
    };
    let poller = crate::federation::PollerConfig {
        pool: pool.clone(),
        settings: Arc::new(settings.clone()),
        key: key.clone(),
        stop: stop.clone(),
        agent,
    }
    .start()
    .context("cannot start the federation worker")?;
    Ok(Some(poller))
}

/// What email needs once on: the mailer requests queue mail with, the transport the
/// admin page's test mail goes through, and the worker's thread.
type Mail = (
    Arc<crate::email::Mailer>,
    lettre::SmtpTransport,
    std::thread::JoinHandle<()>,
);

/// Email is on with `[smtp]`: starts the outbox worker. Says once at start which it is.
fn start_mail(
    settings: &Settings,
    pool: &Pool,
    key: &crate::security::ServerKey,
    stop: &crate::email::worker::Stop,
) -> anyhow::Result<Option<Mail>> {
    let Some(smtp) = &settings.smtp else {
        tracing::info!("email is off (no [smtp] section): no mail is queued or sent");
        return Ok(None);
    };
    let mailer = crate::email::Mailer::from_settings(settings, key)?
        .context("smtp settings without a mailer")?;
    if settings.public_url.is_none() {
        tracing::warn!(
            base = %mailer.base,
            "public_url is not set: links in mail point at the listen address; set public_url"
        );
    }
    let transport = crate::email::transport(smtp)?;
    let mailer = Arc::new(mailer);
    let worker = crate::email::worker::Worker {
        pool: pool.clone(),
        transport: transport.clone(),
        retry_after: smtp.retry_after,
        timeout: smtp.timeout,
        stop: stop.clone(),
        mailer: Arc::clone(&mailer),
        settings: Arc::new(settings.clone()),
        reply_delay: smtp.reply_delay,
    }
    .start()
    .context("cannot start the mail worker")?;
    tracing::info!(smtp = %crate::email::describe(smtp), from = %mailer.from, "email is on");
    Ok(Some((mailer, transport, worker)))
}
