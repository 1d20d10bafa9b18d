//! The checks of `afterword doctor`, each adding its findings to the report.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::{Options, Report, Status};
use crate::config::{DatabaseUrl, Origins, ProxyHeader, Settings};

pub(super) fn config(report: &mut Report, options: &Options) -> Option<Settings> {
    let source = match &options.config {
        Some(p) => p.display().to_string(),
        None => "no config file (the built-in defaults and AFTERWORD_* variables)".to_owned(),
    };
    match Settings::load(options.config.as_deref()) {
        Ok(s) => {
            let db = match &s.database_url {
                DatabaseUrl::Sqlite(p) => format!("SQLite file {}", p.display()),
                DatabaseUrl::Postgres(_) => "PostgreSQL".to_owned(),
            };
            report.ok(
                "config",
                format!(
                    "{source}: {} site(s), {db}, listening on {}",
                    s.sites.len(),
                    s.listen
                ),
            );
            Some(s)
        }
        Err(e) => {
            report.fail(
                "config",
                format!("{source}: `{}`: {}", e.key, e.message),
                format!(
                    "correct `{}` (or remove it); every key is described in docs/configuration.md",
                    e.key
                ),
            );
            None
        }
    }
}

pub(super) fn database(report: &mut Report, settings: &Settings) {
    match &settings.database_url {
        DatabaseUrl::Sqlite(path) => {
            if !sqlite_files(report, path) {
                return;
            }
            match SqliteConnection::establish(&path.to_string_lossy()) {
                Ok(mut c) => sqlite_contents(report, &mut c),
                Err(e) => report.fail(
                    "database",
                    format!("cannot open {}: {e}", path.display()),
                    "check that the file is an SQLite database (restore it from a backup if not)",
                ),
            }
        }
        DatabaseUrl::Postgres(url) => match PgConnection::establish(url.expose()) {
            Ok(mut c) => {
                report.ok("database", "PostgreSQL answers");
                migrations_and_key(report, &mut c);
            }
            Err(e) => {
                let said = e.to_string();
                let fix = if said.contains("password authentication failed") {
                    "the user name or password in database_url is wrong"
                } else if said.contains("does not exist") {
                    "create the database (createdb) or correct its name in database_url"
                } else if said.contains("Connection refused") || said.contains("could not connect")
                {
                    "is PostgreSQL running, and listening on the host and port of database_url?"
                } else {
                    "check database_url and that PostgreSQL accepts this user from this machine (pg_hba.conf)"
                };
                report.fail(
                    "database",
                    format!("cannot connect to PostgreSQL: {}", said.trim()),
                    fix,
                );
                report.add(
                    "migrations",
                    Status::Skipped,
                    "the database must answer first",
                );
                report.add(
                    "server key",
                    Status::Skipped,
                    "the database must answer first",
                );
            }
        },
    }
}

/// The file, its WAL companions and its folder, as the server's user must find them.
/// False when there is nothing more to look at (no file yet, or one that cannot be used).
fn sqlite_files(report: &mut Report, path: &Path) -> bool {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let me = euid();
    let Ok(meta) = std::fs::metadata(path) else {
        match std::fs::metadata(&dir) {
            Ok(d) if d.is_dir() && writable(&dir) => report.ok(
                "database",
                format!(
                    "{} does not exist yet: the server creates it when it first starts",
                    path.display()
                ),
            ),
            Ok(d) if d.is_dir() => report.fail(
                "database",
                format!(
                    "{} does not exist, and its folder {} is not writable by uid {me}",
                    path.display(),
                    dir.display()
                ),
                format!(
                    "let the server's user own the folder: chown USER {}",
                    dir.display()
                ),
            ),
            Ok(_) => report.fail(
                "database",
                format!("{} is not a folder", dir.display()),
                "point database_url at a file in a folder",
            ),
            Err(_) => report.ok(
                "database",
                format!(
                    "{} does not exist yet: the server creates it and its folder when it first starts",
                    path.display()
                ),
            ),
        }
        return false;
    };
    if !meta.is_file() {
        report.fail(
            "database",
            format!("{} is not a file", path.display()),
            "point database_url at the database file itself",
        );
        return false;
    }
    let owner = meta.uid();
    let mut ok = true;
    if meta.mode() & 0o200 == 0 {
        report.fail(
            "database",
            format!(
                "{} is read-only (mode {:o})",
                path.display(),
                meta.mode() & 0o777
            ),
            format!("chmod u+w {}", path.display()),
        );
        ok = false;
    }
    // A command run as root leaves root's WAL files beside a database the server's user
    // owns: the server then cannot write.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(m) = std::fs::metadata(&side) {
            if m.uid() != owner {
                report.fail(
                    "database",
                    format!(
                        "{} belongs to uid {}, but the database to uid {owner}: a server running as its owner cannot write it (a command was run as another user, often root)",
                        side.display(),
                        m.uid()
                    ),
                    format!("stop the server, then: chown {owner} {}", side.display()),
                );
                ok = false;
            }
        }
    }
    match std::fs::metadata(&dir) {
        Ok(d) if d.uid() != owner && d.mode() & 0o022 == 0 => {
            report.fail(
                "database",
                format!(
                    "the folder {} belongs to uid {}, but the database to uid {owner}: SQLite must create its -wal and -shm files there",
                    dir.display(),
                    d.uid()
                ),
                format!("chown {owner} {}", dir.display()),
            );
            ok = false;
        }
        Ok(d) if d.mode() & 0o200 == 0 => {
            report.fail(
                "database",
                format!(
                    "the folder {} is read-only: SQLite must create its -wal and -shm files there",
                    dir.display()
                ),
                format!("chmod u+w {}", dir.display()),
            );
            ok = false;
        }
        _ => {}
    }
    if me != 0 && me != owner {
        report.fail(
            "database",
            format!(
                "you run as uid {me}, but {} belongs to uid {owner}",
                path.display()
            ),
            "run afterword (and this check) as the user that owns the database",
        );
        ok = false;
    }
    ok
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access only reads the NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

fn sqlite_contents(report: &mut Report, c: &mut SqliteConnection) {
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    match diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(c) {
        Ok(m) if m.journal_mode.eq_ignore_ascii_case("wal") => {
            report.ok("database", "SQLite answers, in WAL mode")
        }
        Ok(m) => report.ok(
            "database",
            format!(
                "SQLite answers; journal mode {} (the server switches it to WAL when it starts)",
                m.journal_mode
            ),
        ),
        Err(e) => {
            report.fail(
                "database",
                format!("SQLite does not answer: {e}"),
                "the file may be damaged or locked by another program; restore it from a backup if it is damaged",
            );
            return;
        }
    }
    migrations_and_key(report, c);
}

fn migrations_and_key<C>(report: &mut Report, c: &mut C)
where
    C: crate::db::Store + crate::db::upgrade::Repairs + MigrationsOf,
{
    let pending = match (c.needed_repairs(), c.pending()) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) => {
            report.fail(
                "migrations",
                format!("cannot read the schema: {e}"),
                "is this an Afterword database?",
            );
            return;
        }
        (_, Err(e)) => {
            report.fail(
                "migrations",
                format!("cannot read which migrations are applied: {e}"),
                "is this an Afterword database?",
            );
            return;
        }
    };
    let fresh = pending.1.len() == c.all_migrations();
    match (&pending.0[..], &pending.1[..]) {
        ([], []) => report.ok("migrations", "all applied"),
        _ if fresh => report.ok(
            "migrations",
            "none applied yet: an empty database, which the server sets up when it starts",
        ),
        (repairs, names) => report.warn(
            "migrations",
            format!(
                "{} pending: {}",
                names.len() + repairs.len(),
                repairs
                    .iter()
                    .map(|r| r.to_string())
                    .chain(names.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "back up the database (docs/operations.md#upgrading); the server applies them when it starts, or run `afterword migrate`",
        ),
    }
    if fresh {
        report.ok("server key", "created when the server first starts");
        return;
    }
    match c.secret("server_key") {
        Ok(None) => report.ok("server key", "created when the server first starts"),
        Ok(Some(hex)) if crate::security::ServerKey::from_hex(&hex).is_some() => {
            report.ok("server key", "present")
        }
        Ok(Some(_)) => report.fail(
            "server key",
            "the stored server key is damaged (table server_secrets, name server_key)",
            "restore server_secrets from a backup; deleting the row makes a new key at start, which ends every edit token handed out so far",
        ),
        Err(e) => report.fail(
            "server key",
            format!("cannot read it: {e}"),
            "is this an Afterword database?",
        ),
    }
}

/// The embedded migrations of a connection's backend.
pub(super) trait MigrationsOf {
    fn pending(&mut self) -> anyhow::Result<Vec<String>>;
    fn all_migrations(&self) -> usize;
}

macro_rules! migrations_of {
    ($conn:ty, $backend:ty, $source:expr) => {
        impl MigrationsOf for $conn {
            fn pending(&mut self) -> anyhow::Result<Vec<String>> {
                use diesel_migrations::MigrationHarness;
                Ok(self
                    .pending_migrations($source)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect())
            }
            fn all_migrations(&self) -> usize {
                diesel::migration::MigrationSource::<$backend>::migrations(&$source)
                    .map(|m| m.len())
                    .unwrap_or(0)
            }
        }
    };
}
migrations_of!(
    SqliteConnection,
    diesel::sqlite::Sqlite,
    crate::db::SQLITE_MIGRATIONS
);
migrations_of!(PgConnection, diesel::pg::Pg, crate::db::POSTGRES_MIGRATIONS);

pub(super) fn sites(report: &mut Report, settings: &Settings, has_file: bool) {
    for site in settings.sites.values() {
        let what = format!("site {}", site.id.as_str());
        match &site.origins {
            Origins::List(list) if list.is_empty() => report.fail(
                what,
                "lists no origins: browsers cannot post comments to it",
                "set origins = [\"https://your-blog.example\"] (where your blog's pages are served from)",
            ),
            Origins::List(list) => {
                let mut list: Vec<&String> = list.iter().collect();
                list.sort();
                let list: Vec<&str> = list.into_iter().map(String::as_str).collect();
                report.ok(what, format!("accepts comments from {}", list.join(", ")))
            }
            Origins::Any if !has_file || site.id.as_str() == "default" => report.ok(
                what,
                "accepts comments from any page (the built-in site, for trying Afterword out)",
            ),
            Origins::Any => report.warn(
                what,
                "origins = [\"*\"]: any web page can post comments as this site",
                "list your blog's origins instead, e.g. origins = [\"https://blog.example.com\"]",
            ),
        }
    }
}

pub(super) fn proxy(report: &mut Report, settings: &Settings, options: &Options) {
    let limits = &settings.limits;
    let header = match limits.proxy_header {
        ProxyHeader::XForwardedFor => "X-Forwarded-For",
        ProxyHeader::Forwarded => "Forwarded",
    };
    let nets: Vec<String> = limits
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    if limits.trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
        report.warn(
            "reverse proxy",
            format!("trusted_proxies = {nets:?} trusts every address: any client can pick the address it is counted under, and escape the rate limit"),
            "list only your proxies' addresses in [limits] trusted_proxies",
        );
        return;
    }
    let Some(from) = options.proxy_from else {
        report.ok(
            "reverse proxy",
            format!("{header} is believed from {}; check your proxy with --proxy-from ADDRESS (the address it connects from)", nets.join(", ")),
        );
        return;
    };
    let sample = options
        .forwarded
        .clone()
        .unwrap_or_else(|| match limits.proxy_header {
            ProxyHeader::XForwardedFor => "203.0.113.7".to_owned(),
            ProxyHeader::Forwarded => "for=203.0.113.7".to_owned(),
        });
    let seen = crate::proxy::from_chain(from, std::iter::once(sample.as_str()), limits);
    if seen == from.to_canonical() {
        report.fail(
            "reverse proxy",
            format!("a request from {from} with `{header}: {sample}` counts as coming from {from} itself: every reader behind that proxy shares one address, and one rate limit"),
            if limits.is_trusted_proxy(from) {
                format!("{from} is trusted, but `{sample}` holds no address in the {header} format; is [limits] proxy_header right for your proxy?")
            } else {
                let net = if from.to_canonical().is_ipv4() { 32 } else { 128 };
                format!("add \"{}/{net}\" to [limits] trusted_proxies", from.to_canonical())
            },
        );
    } else {
        report.ok(
            "reverse proxy",
            format!("a request from {from} with `{header}: {sample}` counts as coming from {seen}"),
        );
    }
}

pub(super) fn smtp(report: &mut Report, settings: &Settings, send_to: Option<&str>) {
    let Some(smtp) = &settings.smtp else {
        report.ok("smtp", "email is off (no [smtp] section)");
        if send_to.is_some() {
            report.fail(
                "smtp send",
                "--send-to needs an [smtp] section",
                "add [smtp] (docs/configuration.md#smtp)",
            );
        }
        return;
    };
    let server = crate::email::describe(smtp);
    let transport = match crate::email::transport(smtp) {
        Ok(t) => t,
        Err(e) => {
            report.fail("smtp", format!("{server}: {e:#}"), "check [smtp] url");
            return;
        }
    };
    match transport.test_connection() {
        Ok(true) => report.ok(
            "smtp",
            format!(
                "{server}: connected{}",
                if smtp.password.is_some() {
                    ", logged in"
                } else {
                    ""
                }
            ),
        ),
        Ok(false) => report.fail(
            "smtp",
            format!("{server}: the connection closed at once"),
            "check the host and port of [smtp] url",
        ),
        Err(e) => {
            let said = format!("{e}");
            let fix = if said.contains("authentication")
                || said.contains("535")
                || said.contains("credentials")
            {
                "the user name (in [smtp] url) or the password (AFTERWORD_SMTP_PASSWORD) is refused"
            } else if said.contains("certificate")
                || said.contains("tls")
                || said.contains("TLS")
                || said.contains("ssl")
            {
                "the TLS handshake failed: smtps:// wants implicit TLS (port 465), smtp+starttls:// STARTTLS (587); a private CA goes in [smtp] tls_ca_file"
            } else {
                "is the mail server reachable from here on that port (firewall, host name)?"
            };
            report.fail("smtp", format!("{server}: {said}"), fix);
            if send_to.is_some() {
                report.add(
                    "smtp send",
                    Status::Skipped,
                    "the SMTP server must answer first",
                );
            }
            return;
        }
    }
    if settings.public_url.is_none() {
        report.warn(
            "smtp",
            "public_url is not set: links in mail point at the listen address",
            "set public_url to the address readers reach Afterword at",
        );
    }
    let Some(to) = send_to else { return };
    let key = crate::security::ServerKey::generate();
    let mailer = match crate::email::Mailer::from_settings(settings, &key) {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            report.fail("smtp send", format!("{e:#}"), "check [smtp] from");
            return;
        }
    };
    match crate::email::send_test(&transport, &mailer, to) {
        Ok(answer) => report.ok("smtp send", format!("a test message to {to} was accepted: {answer}")),
        Err(e) => report.fail("smtp send", format!("the message to {to} was not taken: {e}"), "the server's answer says why; check [smtp] from (some servers only take their own addresses)"),
    }
}
