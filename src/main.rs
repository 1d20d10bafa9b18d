use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use afterword::config::Settings;
use afterword::db::Pool;
use afterword::startup::Application;

/// Self-hosted comments and reactions for static blogs.
#[derive(Parser)]
#[command(name = "afterword", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (with no config: 127.0.0.1:8080, ./afterword.db, site `default`).
    Serve {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Ask the running server's /healthz (at its listen address); exit 0 if it is well.
    /// The container image's HEALTHCHECK.
    Healthcheck {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a setup as the server would use it: config, database, sites, reverse proxy,
    /// SMTP, server key. Says what is wrong and how to fix it. Exits 0 when all is well,
    /// 1 when something is wrong, 2 when there are only warnings.
    Doctor {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
        /// Also load this blog page and check its embed script against the config
        /// (may be given several times).
        #[arg(long, value_name = "URL")]
        fetch: Vec<String>,
        /// Also send a test message to this address through [smtp].
        #[arg(long, value_name = "ADDRESS")]
        send_to: Option<String>,
        /// The address your reverse proxy connects from: checks that `trusted_proxies`
        /// lets its X-Forwarded-For (or Forwarded) header through.
        #[arg(long, value_name = "IP")]
        proxy_from: Option<std::net::IpAddr>,
        /// What that proxy sends in the header (default: a sample client address).
        #[arg(long, value_name = "VALUE", requires = "proxy_from")]
        forwarded: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply database migrations, then exit.
    Migrate {
        /// List what would be applied; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Write a consistent copy of the SQLite database to FILE while the server runs
    /// (for PostgreSQL, use pg_dump).
    Backup {
        /// Where to write the copy; it must not exist yet.
        file: PathBuf,
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Import comments from Isso, Disqus, WordPress, Remark42, Commento/Comentario, Artalk,
    /// Waline, Cusdis or an Afterword export (see docs/import.md). Safe to run again: what
    /// is already here is not added twice.
    ///
    /// Exit status: 0 when everything was imported; 3 when some records could not be
    /// (the summary lists them); 4 when nothing could be read; 1 when the import failed
    /// or stopped (the message says why and what was kept).
    Import {
        format: afterword::import::Format,
        /// The export file (for Isso and Cusdis: their SQLite database). Gzipped files are
        /// read as such.
        file: PathBuf,
        /// The site (from the config) the comments belong to.
        #[arg(long)]
        site: String,
        /// Where thread slugs come from: `path` (the post URL's path; the default),
        /// `url`, or `regex:PATTERN=REPLACEMENT` applied to the URL.
        #[arg(long)]
        slug_from: Option<afterword::import::SlugRule>,
        /// Show the slugs and counts, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write nothing if any record cannot be read (the whole file is read first).
        #[arg(long)]
        strict: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Export a site's threads and comments as JSON Lines (see docs/import.md).
    Export {
        #[arg(long)]
        site: String,
        /// Where to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Include commenters' email addresses.
        #[arg(long)]
        include_emails: bool,
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage moderator accounts (they log in at /admin).
    Admin {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Privacy requests: everything stored about an email address, or its erasure.
    Privacy {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Email: check that mail gets through.
    Email {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: EmailCommand,
    },
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// Prints everything stored about the address as JSON.
    Export { email: String },
    /// Erases the address: its comments become anonymous or are deleted; mail to or about
    /// it is dropped. Bans on it are kept.
    Erase {
        email: String,
        /// What becomes of the person's comments.
        #[arg(long, value_enum)]
        comments: ErasedComments,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ErasedComments {
    /// Kept without name, address, website or client data.
    Anonymize,
    /// Deleted for good (an empty placeholder where others replied).
    Delete,
}

#[derive(Subcommand)]
enum EmailCommand {
    /// Send a test message to ADDRESS through the [smtp] server now (not through the
    /// outbox) and print the server's answer; fails with the reason if it is not taken.
    Test { address: String },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account. Asks for the password twice on a terminal; otherwise reads
    /// one line from standard input.
    Create {
        username: String,
        /// The name shown on this moderator's comments (default: the username).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a new password (read like `create`); ends every session of the account.
    Passwd { username: String },
    /// List the accounts.
    List,
    /// Delete an account and end its sessions.
    Delete { username: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    keep_errors_without_backtraces();
    // An import renders on several threads at once: it keeps glibc's arenas, one per
    // thread, rather than have them wait on each other's lock.
    if !matches!(cli.command, Command::Import { .. }) {
        limit_malloc_arenas();
    }
    // The server logs as its config says; other commands log as text.
    if !matches!(cli.command, Command::Serve { .. }) {
        afterword::telemetry::init(Default::default());
    }
    let result = match cli.command {
        Command::Serve { config } => serve(config),
        Command::Migrate { config, dry_run } => migrate(config, dry_run),
        Command::Doctor {
            config,
            fetch,
            send_to,
            proxy_from,
            forwarded,
            json,
        } => {
            let options = afterword::doctor::Options {
                config,
                fetch,
                send_to,
                proxy_from,
                forwarded,
            };
            return doctor(&options, json);
        }
        Command::Healthcheck { config } => Settings::load(config.as_deref())
            .map_err(Into::into)
            .and_then(|s| afterword::doctor::healthcheck(&s)),
        Command::Admin { config, command } => admin(config, command),
        Command::Backup { file, config } => backup(config, &file),
        Command::Privacy { config, command } => privacy(config, command),
        Command::Email { config, command } => email(config, command),
        Command::Import {
            format,
            file,
            site,
            slug_from,
            dry_run,
            strict,
            json,
            config,
        } => {
            return import(
                config, format, &file, &site, slug_from, dry_run, strict, json,
            )
        }
        Command::Export {
            site,
            output,
            include_emails,
            config,
        } => export(config, &site, output.as_deref(), include_emails),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("afterword: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the report; the exit status says how it went (see `Report::exit_code`).
fn doctor(options: &afterword::doctor::Options, json: bool) -> ExitCode {
    let report = afterword::doctor::run(options);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code())
}

/// glibc gives each thread that allocates its own arena, up to 8 per core, and keeps
/// what they free: with many short blocking tasks that is most of the memory we use.
/// Two arenas keep the footprint small at no measurable cost in speed.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// With `RUST_BACKTRACE=1` in the environment, every `anyhow` error captures a backtrace,
/// and the first one printed in full (a warning's `{:?}`) loads the program's debug info:
/// measured, 150 MiB more memory for good. Panics still print theirs as `RUST_BACKTRACE`
/// says; `RUST_LIB_BACKTRACE=1` turns error backtraces back on for debugging.
fn keep_errors_without_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Before any thread starts, so nothing reads the environment meanwhile.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    afterword::telemetry::init(settings.log_format);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn migrate(config: Option<PathBuf>, dry_run: bool) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    if dry_run {
        if let afterword::config::DatabaseUrl::Sqlite(path) = &settings.database_url {
            if !path.exists() {
                println!(
                    "{} does not exist yet: every migration would run, creating it",
                    path.display()
                );
                return Ok(());
            }
        }
    }
    let pool = Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1)?;
    if dry_run {
        let (repairs, pending) = pool.pending_migrations()?;
        for r in &repairs {
            println!("repair: {r}");
        }
        for name in &pending {
            println!("pending: {name}");
        }
        if repairs.is_empty() && pending.is_empty() {
            println!("the database is up to date: nothing to apply");
        } else {
            println!(
                "{} migration(s) would be applied; back up the database first (docs/operations.md)",
                pending.len()
            );
        }
        return Ok(());
    }
    let ran = pool.migrate()?;
    println!("{ran} migration(s) applied");
    Ok(())
}

fn backup(config: Option<PathBuf>, file: &std::path::Path) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    let bytes = afterword::db::backup::backup(&settings.database_url, file)?;
    println!("backed up to {} ({bytes} bytes)", file.display());
    Ok(())
}

fn email(config: Option<PathBuf>, command: EmailCommand) -> anyhow::Result<()> {
    let EmailCommand::Test { address } = command;
    let settings = Settings::load(config.as_deref())?;
    let Some(smtp) = &settings.smtp else {
        anyhow::bail!("email is off: the configuration has no [smtp] section");
    };
    // A test message has no signed links: a throwaway key will do, and no database.
    let key = afterword::security::ServerKey::generate();
    let mailer = afterword::email::Mailer::from_settings(&settings, &key)?
        .ok_or_else(|| anyhow::anyhow!("email is off"))?;
    let transport = afterword::email::transport(smtp)?;
    println!(
        "sending a test message to {address} through {} …",
        afterword::email::describe(smtp)
    );
    match afterword::email::send_test(&transport, &mailer, &address) {
        Ok(answer) => {
            println!("accepted by the SMTP server: {answer}");
            Ok(())
        }
        Err(e) => anyhow::bail!("the SMTP server did not take the message: {e}"),
    }
}

/// Runs `afterword import`; its exit status tells scripts how it went (see its help).
#[allow(clippy::too_many_arguments)]
fn import(
    config: Option<PathBuf>,
    format: afterword::import::Format,
    file: &std::path::Path,
    site: &str,
    slug_from: Option<afterword::import::SlugRule>,
    dry_run: bool,
    strict: bool,
    json: bool,
) -> ExitCode {
    let run = || -> anyhow::Result<u8> {
        let settings = Settings::load(config.as_deref())?;
        let progress = afterword::import::progress::Progress::new(json);
        let choices = afterword::import::Choices {
            slug_from,
            dry_run,
            strict,
        };
        let summary =
            afterword::import::import_file(&settings, format, file, site, choices, &progress)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{}", summary.render());
        }
        Ok(summary.exit_status())
    };
    match run() {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("afterword: {e:#}");
            if e.downcast_ref::<afterword::import::Unreadable>().is_some() {
                ExitCode::from(afterword::import::EXIT_UNREADABLE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn export(
    config: Option<PathBuf>,
    site: &str,
    output: Option<&std::path::Path>,
    include_emails: bool,
) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    let written = afterword::import::export_site(&settings, site, include_emails, output)?;
    if let Some(path) = output {
        eprintln!(
            "exported {} threads, {} comments to {}",
            written.threads,
            written.comments,
            path.display()
        );
    }
    Ok(())
}

fn admin(config: Option<PathBuf>, command: AdminCommand) -> anyhow::Result<()> {
    use afterword::auth::accounts::{parse_display_name, Accounts, Username};
    let settings = Settings::load(config.as_deref())?;
    let pool = Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1)?;
    pool.migrate()?;
    let accounts = Accounts::new(pool);
    let user = |name: &str| Username::parse(name).map_err(|e| anyhow::anyhow!("{}", e.message));
    match command {
        AdminCommand::Create { username, name } => {
            let username = user(&username)?;
            let display = parse_display_name(name.as_deref().unwrap_or(username.as_str()))
                .map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
            let password = read_new_password()?;
            accounts.create(&username, &display, &password)?;
            println!(
                "created moderator {} (shown as \"{display}\"); log in at /admin",
                username.as_str()
            );
        }
        AdminCommand::Passwd { username } => {
            let username = user(&username)?;
            let password = read_new_password()?;
            accounts.set_password(&username, &password)?;
            println!(
                "password changed for {}; its sessions have ended",
                username.as_str()
            );
        }
        AdminCommand::List => {
            for a in accounts.list()? {
                println!("{}\t{}", a.username, a.display_name);
            }
        }
        AdminCommand::Delete { username } => {
            let username = user(&username)?;
            if !accounts.delete(&username)? {
                anyhow::bail!("there is no account named {}", username.as_str());
            }
            println!("deleted moderator {}", username.as_str());
        }
    }
    Ok(())
}

/// On a terminal: asked twice, not echoed. Otherwise: the first line of standard input.
fn privacy(config: Option<PathBuf>, command: PrivacyCommand) -> anyhow::Result<()> {
    use afterword::service::privacy::{self, CommentsTo};
    use afterword::{on_conn, with_conn};
    let settings = Settings::load(config.as_deref())?;
    let pool = Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1)?;
    pool.migrate()?;
    let key = pool.server_key()?;
    let refused = |e: afterword::error::ApiError| anyhow::anyhow!("{}", e.message);
    match command {
        PrivacyCommand::Export { email } => {
            let email = privacy::email_key(&email).map_err(refused)?;
            let mut conn = pool.get()?;
            let data = with_conn!(conn, |c| privacy::export(c, &key, &email)).map_err(refused)?;
            println!("{}", serde_json::to_string_pretty(&data)?);
        }
        PrivacyCommand::Erase { email, comments } => {
            let email = privacy::email_key(&email).map_err(refused)?;
            let to = match comments {
                ErasedComments::Anonymize => CommentsTo::Anonymize,
                ErasedComments::Delete => CommentsTo::Delete,
            };
            // Through the writer, in one transaction that also announces it: a server on
            // SQLite learns of another process's changes from the change epoch (on
            // PostgreSQL the writer notifies the threads it changed at commit).
            let done = actix_web::rt::System::new()
                .block_on(pool.write_changing(None, move |conn| {
                    on_conn!(conn, |c| {
                        use afterword::db::imports::ImportStore;
                        let done = privacy::erase(c, &key, &email, to)?;
                        c.announce(&[])?;
                        Ok(done)
                    })
                }))
                .map_err(refused)?;
            let mut conn = pool.get()?;
            if !with_conn!(conn, |c| {
                use afterword::db::PrivacyStore;
                c.forget_old_versions()
            })? {
                eprintln!(
                    "note: the server was busy reading; the database's write-ahead log may \
                     hold the erased data until its next checkpoint"
                );
            }
            println!("{}", serde_json::to_string_pretty(&done)?);
        }
    }
    Ok(())
}

fn read_new_password() -> anyhow::Result<afterword::auth::password::Password> {
    use afterword::auth::password::Password;
    use std::io::{BufRead, IsTerminal};
    let typed = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Password::new_choice(typed).map_err(|e| anyhow::anyhow!("{}", e.message))
}
