//! `afterword backup FILE`: a consistent copy of a SQLite database while the server runs.

use std::path::Path;

use anyhow::{bail, Context};
use diesel::prelude::*;
use diesel::SqliteConnection;

use crate::config::DatabaseUrl;

/// Writes a consistent copy of the database to `target` (which must not exist yet) and
/// returns its size. `VACUUM INTO` reads one snapshot, so writes may go on meanwhile; the
/// copy is written beside the target and renamed into place, so a crash never leaves a
/// half-written file under the target's name.
pub fn backup(url: &DatabaseUrl, target: &Path) -> anyhow::Result<u64> {
    let source = match url {
        DatabaseUrl::Sqlite(path) => path,
        DatabaseUrl::Postgres(_) => bail!(
            "this database is PostgreSQL: back it up with pg_dump (for example \
             `pg_dump --format=custom --file=afterword.dump DBNAME`) and restore with \
             pg_restore; see docs/operations.md"
        ),
    };
    if !source.exists() {
        bail!("there is no database at {}", source.display());
    }
    if target.exists() {
        bail!(
            "{} already exists: choose a new file name",
            target.display()
        );
    }
    let partial = target.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut conn = SqliteConnection::establish(&source.to_string_lossy())
        .with_context(|| format!("cannot open {}", source.display()))?;
    diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(partial.to_string_lossy())
        .execute(&mut conn)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, target).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            target.display()
        )
    })?;
    Ok(std::fs::metadata(target)?.len())
}
