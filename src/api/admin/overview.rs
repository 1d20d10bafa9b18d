//! The queue tab's overview: comments per day (a chart drawn here as SVG), the queue, mail
//! and webhook health, and what `afterword doctor` would warn about in the settings.

use actix_web::web;

use crate::db::stats::StatsStore;
use crate::doctor::{Check, Status};
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_conn;

/// Days the chart covers, today included.
const DAYS: i64 = 30;
const DAY_MICROS: i64 = 86_400_000_000;

pub struct Overview {
    /// An inline `<svg>`, made here from numbers only.
    pub chart: String,
    pub comments: i64,
    pub email_on: bool,
    pub queued: i64,
    pub failed: i64,
    /// How long the oldest queued message has waited, for people ("3 min").
    pub oldest_queued: Option<String>,
    /// Webhook endpoints configured on any site.
    pub webhooks: usize,
    pub hooks_queued: i64,
    pub hooks_failed: i64,
    pub oldest_hook: Option<String>,
    pub warnings: Vec<Check>,
}

pub async fn load(state: &web::Data<AppState>) -> Result<Overview, ApiError> {
    let now = crate::view::now_micros();
    let today = now.div_euclid(DAY_MICROS);
    let since = (today - DAYS + 1) * DAY_MICROS;
    let st = state.clone();
    let (days, outbox, hooks) = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| (
            c.comments_per_day(since)?,
            c.outbox_by_status()?,
            c.deliveries_by_status()?
        )))
    })
    .await??;
    let of = |status: &str| outbox.iter().find(|(s, ..)| s == status);
    let hook = |status: &str| hooks.iter().find(|(s, ..)| s == status);
    let warnings = crate::doctor::settings_report(&state.settings)
        .checks
        .into_iter()
        .filter(|c| c.status >= Status::Warn)
        .collect();
    Ok(Overview {
        chart: chart(&days, today),
        comments: days.iter().map(|(_, n)| n).sum(),
        email_on: state.settings.smtp.is_some(),
        queued: of("queued").map_or(0, |(_, n, _)| *n),
        failed: of("failed").map_or(0, |(_, n, _)| *n),
        oldest_queued: of("queued")
            .and_then(|(_, _, at)| *at)
            .map(|at| human_age((now - at).max(0) / 1_000_000)),
        webhooks: state
            .settings
            .sites
            .values()
            .map(|s| s.webhooks.len())
            .sum(),
        hooks_queued: hook("queued").map_or(0, |(_, n, _)| *n),
        hooks_failed: hook("failed").map_or(0, |(_, n, _)| *n),
        oldest_hook: hook("queued")
            .and_then(|(_, _, at)| *at)
            .map(|at| human_age((now - at).max(0) / 1_000_000)),
        warnings,
    })
}

fn human_age(secs: i64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86400),
    }
}

/// A bar per day, the last one today; each bar's title says the date and the count.
fn chart(days: &[(i64, i64)], today: i64) -> String {
    const BAR: i64 = 10;
    const HEIGHT: i64 = 60;
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" \
         aria-label=\"Comments per day, the last {DAYS} days\">",
        DAYS * BAR,
        HEIGHT + 1,
        DAYS * BAR * 2,
        (HEIGHT + 1) * 2
    );
    for i in 0..DAYS {
        let day = today - DAYS + 1 + i;
        let n = days.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
        let h = if n == 0 { 0 } else { (n * HEIGHT / max).max(2) };
        let date = time::Date::from_julian_day(i32::try_from(day + 2_440_588).unwrap_or(0))
            .map(|d| d.to_string())
            .unwrap_or_default();
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" data-day=\"{date}\" data-count=\"{n}\">\
             <title>{date}: {n}</title></rect>",
            i * BAR + 1,
            HEIGHT - h,
            BAR - 2,
        ));
    }
    svg.push_str(&format!(
        "<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{}\" y2=\"{HEIGHT}\"/></svg>",
        DAYS * BAR
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_day_scaled_to_the_busiest() {
        let today = 20_000; // 2024-10-04
        let svg = chart(&[(today, 4), (today - 2, 2)], today);
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(
            svg.contains("data-day=\"2024-10-04\" data-count=\"4\""),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"60\" data-day=\"2024-10-04\""),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"30\" data-day=\"2024-10-02\""),
            "{svg}"
        );
        assert!(svg.contains("<title>2024-09-05: 0</title>"), "{svg}");
        assert_eq!(human_age(125), "2 min");
    }
}
