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
    /// Apply database migrations, then exit.
    Migrate {
        /// A TOML config file.
        #[arg(long, env = "AFTERWORD_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    afterword::telemetry::init();
    let result = match cli.command {
        Command::Serve { config } => serve(config),
        Command::Migrate { config } => migrate(config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("afterword: {e:#}");
            ExitCode::FAILURE
        }
    }
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

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn migrate(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    let pool = Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1)?;
    let ran = pool.migrate()?;
    println!("{ran} migration(s) applied");
    Ok(())
}
