//! Figures read for `/metrics` and the admin dashboard.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::schema::{outbox, webhook_deliveries};

pub trait StatsStore {
    /// Per outbox status: how many messages, and the oldest one's `created_at`.
    fn outbox_by_status(&mut self) -> QueryResult<Vec<(String, i64, Option<i64>)>>;
    /// The same for webhook deliveries (all endpoints).
    fn deliveries_by_status(&mut self) -> QueryResult<Vec<(String, i64, Option<i64>)>>;
    /// `(day, comments)` for each UTC day (days since 1970) since `since` (Unix
    /// microseconds) with new comments, spam and deleted ones left out.
    fn comments_per_day(&mut self, since: i64) -> QueryResult<Vec<(i64, i64)>>;
}

#[derive(QueryableByName)]
struct Day {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    day: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The same SQL on both backends: integer division, and a number made here, not input.
fn per_day_sql(since: i64) -> String {
    format!(
        "SELECT CAST(created_at / 86400000000 AS BIGINT) AS day, CAST(COUNT(*) AS BIGINT) AS n \
         FROM comments WHERE created_at >= {since} AND status IN ('approved', 'pending') \
         GROUP BY created_at / 86400000000 ORDER BY day"
    )
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

            fn deliveries_by_status(&mut self) -> QueryResult<Vec<(String, i64, Option<i64>)>> {
                webhook_deliveries::table
                    .group_by(webhook_deliveries::status)
                    .select((
                        webhook_deliveries::status,
                        count_star(),
                        min(webhook_deliveries::created_at),
                    ))
                    .load(self)
            }

            fn comments_per_day(&mut self, since: i64) -> QueryResult<Vec<(i64, i64)>> {
                Ok(diesel::sql_query(per_day_sql(since))
                    .load::<Day>(self)?
                    .into_iter()
                    .map(|d| (d.day, d.n))
                    .collect())
            }
        }
    };
}
stats_store!(SqliteConnection);
stats_store!(PgConnection);
