//! Another system's SQLite database (Isso, Cusdis), opened as a file from elsewhere
//! should be: read-only, in defensive mode, without trusting its schema (views and
//! triggers cannot call functions with side effects), and unable to attach any other
//! file. Values are read whatever their stored type, since SQLite does not enforce one.

use std::path::Path;

use anyhow::Context;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// Opens `path` read-only with every safety on; `what` names the system for errors.
pub fn open(path: &Path, what: &str) -> anyhow::Result<Connection> {
    anyhow::ensure!(path.is_file(), "there is no file {}", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the {what} database {}", path.display()))?;
    use rusqlite::config::DbConfig;
    use rusqlite::limits::Limit;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0);
    conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA query_only = ON")?;
    // Only reading, whatever a view in the file says.
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Select | AuthAction::Read { .. } | AuthAction::Function { .. } => {
            Authorization::Allow
        }
        AuthAction::Pragma {
            pragma_name: "table_info",
            ..
        } => Authorization::Allow,
        _ => Authorization::Deny,
    }));
    Ok(conn)
}

/// A page of records read after the rowid given, and the last rowid read (`None`: no more).
pub type Page = rusqlite::Result<(Vec<super::Item>, Option<i64>)>;
/// Reads a page: the connection, the rowid to read after, the cap on one text.
pub type PageFn = fn(&Connection, i64, i64) -> Page;

/// The records of a database read a page at a time: every page of `threads`, then every
/// page of `comments`; `what` names the system in errors.
pub fn paged(
    conn: Connection,
    threads: PageFn,
    comments: PageFn,
    max_text: i64,
    what: &'static str,
) -> super::Source {
    let mut reading_threads = true;
    let mut after = i64::MIN;
    let mut page: Vec<super::Item> = Vec::new();
    let mut failed = false;
    Box::new(std::iter::from_fn(move || loop {
        if let Some(item) = page.pop() {
            return Some(Ok(item));
        }
        if failed {
            return None;
        }
        let read = if reading_threads { threads } else { comments };
        match read(&conn, after, max_text) {
            Ok((items, last)) => {
                page = items;
                // Popped from the end: file order.
                page.reverse();
                match last {
                    Some(last) => after = last,
                    None if reading_threads => {
                        reading_threads = false;
                        after = i64::MIN;
                    }
                    None => return None,
                }
            }
            Err(e) => {
                failed = true;
                return Some(Err(
                    anyhow::Error::from(e).context(format!("cannot read the {what} database"))
                ));
            }
        }
    }))
}

/// Rows read per query.
const PAGE_ROWS: i64 = 2_000;

/// The page of `table` after the rowid `after`: `SELECT rowid, {columns}` (which may use
/// `?2`, the cap on one text), each row made a record by `f`.
pub fn page_of(
    conn: &Connection,
    table: &str,
    columns: &str,
    after: i64,
    max_text: i64,
    mut f: impl FnMut(&rusqlite::Row<'_>, i64) -> rusqlite::Result<super::Item>,
) -> Page {
    let sql =
        format!("SELECT rowid, {columns} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params![after, max_text, PAGE_ROWS])?;
    let mut items = Vec::new();
    let mut last = None;
    while let Some(r) = rows.next()? {
        let rowid: i64 = r.get(0)?;
        last = Some(rowid);
        items.push(f(r, rowid)?);
    }
    Ok((items, last))
}

/// Opens `path` (see [`open`]) and checks it has these tables with these columns; `what`
/// names the system: `an Isso database`.
pub fn open_checked(
    path: &Path,
    system: &str,
    what: &str,
    tables: &[(&str, &[&str])],
) -> anyhow::Result<Connection> {
    let conn = open(path, system)?;
    if !tables.iter().all(|(t, cols)| has_columns(&conn, t, cols)) {
        let expected: Vec<String> = tables
            .iter()
            .map(|(t, cols)| format!("{t} ({})", cols.join(", ")))
            .collect();
        anyhow::bail!(
            "this is not {what}: expected the tables {}",
            expected.join(" and ")
        );
    }
    Ok(conn)
}

/// A text column as read: NULL when it is over the cap (`?2`), so it is never loaded.
pub fn capped(col: &str) -> String {
    format!("CASE WHEN length(CAST({col} AS BLOB)) > ?2 THEN NULL ELSE {col} END")
}

/// Whether `table` has every one of `columns`.
pub fn has_columns(conn: &Connection, table: &str, columns: &[&str]) -> bool {
    let Ok(mut stmt) = conn.prepare("SELECT name FROM pragma_table_info(?1)") else {
        return false;
    };
    let Ok(names) = stmt
        .query_map([table], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
    else {
        return false;
    };
    columns.iter().all(|c| names.iter().any(|n| n == c))
}

/// Text, whatever SQLite stored (invalid UTF-8 is replaced, not refused).
pub fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    }
}

/// A number, whatever SQLite stored; `None` for text that is not one.
pub fn number(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(n) => Some(n as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// An integer id, whatever SQLite stored.
pub fn integer(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_from_elsewhere_can_only_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let other = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE t (a, b); INSERT INTO t VALUES (1, 'x');
                 CREATE VIEW v AS SELECT a, b FROM t;",
            )
            .unwrap();
        }
        let c = open(&path, "test").unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM v", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(has_columns(&c, "t", &["a", "b"]));
        assert!(!has_columns(&c, "t", &["a", "c"]));
        let attach = format!("ATTACH '{}' AS o", other.display());
        assert!(c.execute_batch(&attach).is_err());
        assert!(!other.exists(), "ATTACH created a file");
        for sql in [
            "INSERT INTO t VALUES (2, 'y')",
            "CREATE TABLE u (a)",
            "PRAGMA query_only = OFF",
            "PRAGMA writable_schema = ON",
        ] {
            assert!(c.execute_batch(sql).is_err(), "{sql}");
        }
        let still: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(still, 1);
        assert!(open(&dir.path().join("none.db"), "test").is_err());
    }

    #[test]
    fn values_are_read_whatever_their_type() {
        let c = Connection::open_in_memory().unwrap();
        let row = |sql: &str| -> (Option<String>, Option<f64>, Option<i64>) {
            c.query_row(sql, [], |r| {
                Ok((
                    text(r.get_ref(0)?),
                    number(r.get_ref(0)?),
                    integer(r.get_ref(0)?),
                ))
            })
            .unwrap()
        };
        assert_eq!(
            row("SELECT x'ff41'"),
            (Some("\u{fffd}A".into()), None, None)
        );
        assert_eq!(
            row("SELECT ' 12 '"),
            (Some(" 12 ".into()), Some(12.0), Some(12))
        );
        assert_eq!(row("SELECT 2.5"), (Some("2.5".into()), Some(2.5), None));
        assert_eq!(row("SELECT NULL"), (None, None, None));
    }
}
