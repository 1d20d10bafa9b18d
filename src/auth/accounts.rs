//! Moderator accounts: names, and the commands that manage them (`afterword admin …`).

use crate::db::admins::{AdminRow, NewAdmin};
use crate::db::{AdminStore, Pool};
use crate::error::ApiError;
use crate::with_conn;

use super::password::{self, Password};

/// A login name: 1 to 64 of `a-z 0-9 . _ -`, case-insensitive (stored lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, ApiError> {
        let lower = s.trim().to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= 64
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Username(lower))
        } else {
            Err(ApiError::unprocessable(
                "invalid_username",
                "A username has 1 to 64 letters, digits, dots, dashes or underscores.",
            )
            .with_field("username"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name shown on a moderator's comments.
pub fn parse_display_name(s: &str) -> Result<String, ApiError> {
    crate::domain::AuthorName::parse(s)?
        .map(|n| n.as_str().to_owned())
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_display_name", "The display name is empty.")
                .with_field("display_name")
        })
}

/// Account management outside the server (the CLI); it writes straight to the database.
pub struct Accounts {
    pool: Pool,
}

impl Accounts {
    pub fn new(pool: Pool) -> Self {
        Accounts { pool }
    }

    pub fn create(
        &self,
        username: &Username,
        display_name: &str,
        password: &Password,
    ) -> anyhow::Result<AdminRow> {
        let hash = password::hash_blocking(password)?;
        let now = crate::view::now_micros();
        let mut conn = self.pool.get()?;
        let existing = with_conn!(conn, |c| c.admin_by_username(username.as_str()))?;
        if existing.is_some() {
            anyhow::bail!("there is already an account named {}", username.as_str());
        }
        let row = with_conn!(conn, |c| c.insert_admin(&NewAdmin {
            username: username.as_str(),
            display_name,
            password_hash: &hash,
            created_at: now,
            password_changed_at: now,
        }))?;
        Ok(row)
    }

    /// Sets a new password and logs the account out everywhere.
    pub fn set_password(&self, username: &Username, password: &Password) -> anyhow::Result<()> {
        let hash = password::hash_blocking(password)?;
        let now = crate::view::now_micros();
        let mut conn = self.pool.get()?;
        let row = with_conn!(conn, |c| c.admin_by_username(username.as_str()))?
            .ok_or_else(|| anyhow::anyhow!("there is no account named {}", username.as_str()))?;
        with_conn!(conn, |c| c.set_password(row.id, &hash, now))?;
        Ok(())
    }

    pub fn list(&self) -> anyhow::Result<Vec<AdminRow>> {
        let mut conn = self.pool.get()?;
        Ok(with_conn!(conn, |c| c.admins())?)
    }

    /// Deletes the account and its sessions; false if there was none.
    pub fn delete(&self, username: &Username) -> anyhow::Result<bool> {
        let mut conn = self.pool.get()?;
        Ok(with_conn!(conn, |c| c.delete_admin(username.as_str()))?)
    }
}
