//! Figures read for `/metrics` and the admin dashboard.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::schema::outbox;

pub trait StatsStore {
    /// Per outbox status: how many messages, and the oldest one's `created_at`.
    fn outbox_by_status(&mut self) -> QueryResult<Vec<(String, i64, Option<i64>)>>;
}

macro_rules! stats_store {
    ($conn:ty) => {
        impl StatsStore for $conn {
            fn outbox_by_status(&mut self) -> QueryResult<Vec<(String, i64, Option<i64>)>> {
                outbox::table
                    .group_by(outbox::status)
                    .select((outbox::status, count_star(), min(outbox::created_at)))
                    .load(self)
            }
        }
    };
}
stats_store!(SqliteConnection);
stats_store!(PgConnection);
