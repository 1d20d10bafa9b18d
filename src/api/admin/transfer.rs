//! `/api/v1/admin/import` and `/api/v1/admin/export`: the command line's `afterword import`
//! and `afterword export` for the admin page. The import's file is the request body, kept
//! in a temporary file while it runs; the export is streamed as it is read.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use utoipa::IntoParams;

use crate::api::extract::QueryParams;
use crate::auth::Moderator;
use crate::config::SiteSettings;
use crate::error::ApiError;
use crate::import::{self, progress::Progress, Format, Options, SlugRule};
use crate::state::AppState;

/// The largest file the page may upload (bigger ones: use the command line).
pub const MAX_UPLOAD: usize = 512 * 1024 * 1024;

/// One import at a time per server: two would only wait for each other's transactions.
#[derive(Default)]
pub struct ImportLock(AtomicBool);

#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ImportQuery {
    /// The site the comments belong to.
    #[param(pattern = r"^[a-z0-9-]{1,64}$")]
    site: String,
    /// `isso`, `disqus`, `wordpress`, `remark42`, `commento`, `artalk`, `waline`, `cusdis` or
    /// `afterword`.
    format: String,
    /// `path` (the default), `url` or `regex:PATTERN=REPLACEMENT`.
    slug_from: Option<String>,
    /// `1`: count and show the slugs, write nothing.
    dry_run: Option<String>,
    /// `1`: write nothing if any record cannot be read.
    strict: Option<String>,
}

#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$")]
    site: String,
    /// `1`: include commenters' email addresses.
    include_emails: Option<String>,
}

fn site<'a>(state: &'a AppState, q: &QueryParams) -> Result<&'a SiteSettings, ApiError> {
    let id = crate::domain::SiteId::parse(q.require("site")?)?;
    state.settings.site(&id).ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_site",
            "There is no such site in the configuration.",
        )
        .with_field("site")
    })
}

fn flag(q: &QueryParams, name: &str) -> bool {
    matches!(q.get(name), Some("1" | "true" | "on"))
}

/// Releases the one-import claim, however the import ends. (The uploaded file, a
/// `NamedTempFile`, removes itself when dropped.)
struct Running(web::Data<ImportLock>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0 .0.store(false, Ordering::Release);
    }
}

/// Imports the file sent as the body; answers the summary (see docs/import.md).
#[utoipa::path(post, path = "/api/v1/admin/import", tag = "admin", params(ImportQuery),
    security(("admin_session" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The export file, as the command line takes it (gzipped or not; for Isso its database)"),
    responses(
        (status = 200, description = "The summary: threads, comments by status, reactions, skipped with reasons"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No or a wrong CSRF token", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Another import is running", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "The file is larger than 512 MiB", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad parameter, or a file that cannot be read as that format or is over a cap of [import]", body = crate::api::openapi::ErrorBody)))]
pub async fn import(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    lock: web::Data<ImportLock>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let site_id = site(&state, &q)?.id.clone();
    let format =
        <Format as clap::ValueEnum>::from_str(q.require("format")?, true).map_err(|_| {
            ApiError::unprocessable(
                "invalid_format",
                "format must be isso, disqus, wordpress, remark42, commento, artalk, waline, cusdis or afterword.",
            )
            .with_field("format")
        })?;
    let slug_from = match q.get("slug_from").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<SlugRule>().map_err(|why| {
            ApiError::unprocessable("invalid_slug_rule", format!("slug_from: {why}."))
                .with_field("slug_from")
        })?),
    };
    let dry_run = flag(&q, "dry_run");
    let strict = flag(&q, "strict");
    if lock
        .0
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(ApiError::conflict(
            "import_running",
            "Another import is running on this server; try again when it has finished.",
        ));
    }
    let running = Running(lock);
    // Created 0600 in the temporary directory, removed when dropped (the upload fails, the
    // import ends, or the task panics).
    let upload = tempfile::Builder::new()
        .prefix("afterword-upload-")
        .tempfile()
        .map_err(ApiError::internal)?;
    let mut file = upload.as_file();
    let mut size = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::unprocessable("upload_failed", format!("The upload broke off: {e}."))
        })?;
        size += chunk.len();
        if size > MAX_UPLOAD {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                "The file is larger than 512 MiB: import it with `afterword import` on the server.",
            ));
        }
        file.write_all(&chunk).map_err(ApiError::internal)?;
    }
    file.flush().map_err(ApiError::internal)?;
    let st = state.clone();
    let summary = web::block(move || {
        let _running = running;
        let path = upload.path();
        let site = st
            .settings
            .site(&site_id)
            .ok_or_else(|| anyhow::anyhow!("the site left the configuration"))?;
        let opts = Options {
            site,
            slug_from,
            dry_run,
            strict,
            key: &st.key,
            caps: &st.settings.import,
        };
        import::import_with(&st.pool, format, path, &opts, &Progress::new(true))
    })
    .await?
    .map_err(import_error)?;
    if !dry_run {
        // The epoch (SQLite) or NOTIFY (PostgreSQL) tells the others; this one at once.
        state.cache.invalidate_all();
        tracing::info!(
            moderator = %moderator.username,
            comments = summary.comments_added(),
            "import from the admin page"
        );
    }
    Ok(HttpResponse::Ok().json(&summary))
}

/// A file that cannot be read is the sender's to fix (422); a database that fails, ours.
fn import_error(e: anyhow::Error) -> ApiError {
    let database = e
        .chain()
        .any(|c| c.is::<diesel::result::Error>() || c.is::<r2d2::Error>());
    if database {
        ApiError::unavailable(e)
    } else {
        ApiError::unprocessable(
            "import_failed",
            format!("The file cannot be imported: {e:#}."),
        )
    }
}

/// Writes what it is given to the response, 64 KiB at a time.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the download was cancelled"))
    }
}

/// The site's export (docs/import.md), streamed as it is read.
#[utoipa::path(get, path = "/api/v1/admin/export", tag = "admin", params(ExportQuery),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The export, JSON Lines (application/x-ndjson)"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "No such site", body = crate::api::openapi::ErrorBody)))]
pub async fn export(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let site = site(&state, &q)?.id.as_str().to_owned();
    let include_emails = flag(&q, "include_emails");
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let st = state.clone();
    let name = format!("attachment; filename=\"afterword-{site}.jsonl\"");
    std::thread::Builder::new()
        .name("afterword-export".into())
        .spawn(move || {
            let mut out = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::new(),
            };
            let result = import::export_with(&st.pool, &site, &st.key, include_emails, &mut out)
                .and_then(|_| Ok(out.flush()?));
            if let Err(e) = result {
                tracing::error!(error = %format!("{e:#}"), "an export from the admin page failed");
                // Breaks the download off: the file must not look complete.
                let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
            }
        })
        .map_err(ApiError::internal)?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson; charset=utf-8")
        .insert_header(("Content-Disposition", name))
        .streaming(stream))
}
