//! Moderator accounts and their sessions: rows and queries.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::schema::{admin_sessions, admins};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admins)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub password_changed_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = admins)]
pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub created_at: i64,
    pub password_changed_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SessionRow {
    pub token_hash: String,
    pub admin_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub trait AdminStore: Sized {
    fn insert_admin(&mut self, new: &NewAdmin<'_>) -> QueryResult<AdminRow>;
    fn admin_by_username(&mut self, username: &str) -> QueryResult<Option<AdminRow>>;
    fn admins(&mut self) -> QueryResult<Vec<AdminRow>>;
    /// `(username, display_name)` of every account: names anonymous authors may not take.
    fn admin_names(&mut self) -> QueryResult<Vec<(String, String)>>;
    /// Deletes the account (and, by cascade, its sessions); false if there was none.
    fn delete_admin(&mut self, username: &str) -> QueryResult<bool>;
    /// Sets a new password hash and ends every session of the account.
    fn set_password(&mut self, admin_id: i64, hash: &str, now: i64) -> QueryResult<()>;
    fn insert_session(&mut self, row: &SessionRow) -> QueryResult<()>;
    fn session(&mut self, token_hash: &str) -> QueryResult<Option<(SessionRow, AdminRow)>>;
    fn touch_session(&mut self, token_hash: &str, now: i64) -> QueryResult<()>;
    fn delete_session(&mut self, token_hash: &str) -> QueryResult<()>;
    /// Deletes sessions idle since `idle_before` or started before `started_before`.
    fn delete_expired_sessions(
        &mut self,
        idle_before: i64,
        started_before: i64,
    ) -> QueryResult<usize>;
}

macro_rules! admin_store_fns {
    () => {
        fn insert_admin(&mut self, new: &NewAdmin<'_>) -> QueryResult<AdminRow> {
            diesel::insert_into(admins::table)
                .values(new)
                .returning(AdminRow::as_returning())
                .get_result(self)
        }

        fn admin_by_username(&mut self, username: &str) -> QueryResult<Option<AdminRow>> {
            admins::table
                .filter(admins::username.eq(username))
                .select(AdminRow::as_select())
                .first(self)
                .optional()
        }

        fn admins(&mut self) -> QueryResult<Vec<AdminRow>> {
            admins::table
                .order(admins::username.asc())
                .select(AdminRow::as_select())
                .load(self)
        }

        fn admin_names(&mut self) -> QueryResult<Vec<(String, String)>> {
            admins::table
                .select((admins::username, admins::display_name))
                .load(self)
        }

        fn delete_admin(&mut self, username: &str) -> QueryResult<bool> {
            let id: Option<i64> = admins::table
                .filter(admins::username.eq(username))
                .select(admins::id)
                .first(self)
                .optional()?;
            let Some(id) = id else { return Ok(false) };
            // Explicitly: SQLite connections outside the server may not enforce cascades.
            diesel::delete(admin_sessions::table.filter(admin_sessions::admin_id.eq(id)))
                .execute(self)?;
            diesel::delete(admins::table.find(id)).execute(self)?;
            Ok(true)
        }

        fn set_password(&mut self, admin_id: i64, hash: &str, now: i64) -> QueryResult<()> {
            diesel::update(admins::table.find(admin_id))
                .set((
                    admins::password_hash.eq(hash),
                    admins::password_changed_at.eq(now),
                ))
                .execute(self)?;
            diesel::delete(admin_sessions::table.filter(admin_sessions::admin_id.eq(admin_id)))
                .execute(self)
                .map(|_| ())
        }

        fn insert_session(&mut self, row: &SessionRow) -> QueryResult<()> {
            diesel::insert_into(admin_sessions::table)
                .values((
                    admin_sessions::token_hash.eq(&row.token_hash),
                    admin_sessions::admin_id.eq(row.admin_id),
                    admin_sessions::created_at.eq(row.created_at),
                    admin_sessions::last_seen_at.eq(row.last_seen_at),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn session(&mut self, token_hash: &str) -> QueryResult<Option<(SessionRow, AdminRow)>> {
            admin_sessions::table
                .inner_join(admins::table)
                .filter(admin_sessions::token_hash.eq(token_hash))
                .select((SessionRow::as_select(), AdminRow::as_select()))
                .first(self)
                .optional()
        }

        fn touch_session(&mut self, token_hash: &str, now: i64) -> QueryResult<()> {
            diesel::update(admin_sessions::table.find(token_hash))
                .set(admin_sessions::last_seen_at.eq(now))
                .execute(self)
                .map(|_| ())
        }

        fn delete_session(&mut self, token_hash: &str) -> QueryResult<()> {
            diesel::delete(admin_sessions::table.find(token_hash))
                .execute(self)
                .map(|_| ())
        }

        fn delete_expired_sessions(
            &mut self,
            idle_before: i64,
            started_before: i64,
        ) -> QueryResult<usize> {
            diesel::delete(
                admin_sessions::table.filter(
                    admin_sessions::last_seen_at
                        .lt(idle_before)
                        .or(admin_sessions::created_at.lt(started_before)),
                ),
            )
            .execute(self)
        }
    };
}

impl AdminStore for SqliteConnection {
    admin_store_fns!();
}

impl AdminStore for PgConnection {
    admin_store_fns!();
}
