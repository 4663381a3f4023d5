//! An agent that hit its usage limit, read from its screen: the line that
//! says so and when the limit resets, as the agents print it.
//!
//! Claude Code 2.1 writes `You've hit your session limit · resets 3pm
//! (Europe/Berlin)` (a date first when the reset is more than a day away:
//! `resets Dec 9, 10am (UTC)`; `resets in 5m 30s` for short limits);
//! earlier versions printed the API's `Claude AI usage limit reached|<unix
//! time>`. Codex writes `… try again in 1 hour 5 minutes` or `try again at
//! 3:04 PM`. A time with no zone is the supervisor's local time; a named
//! zone jiff does not know is read the same way.
//!
//! Pure: the caller gives the screen's last lines and the time now.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use regex::Regex;
use std::sync::LazyLock;

/// A usage limit an agent reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// When the agent may go on.
    pub resets_at: Timestamp,
    /// The line that said so, as the screen shows it.
    pub line: String,
}

/// A line that says a limit was hit (not one that only warns it is close).
static HIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(usage limit reached|you've hit your [^·•∙.]*limit|hit your usage limit|limit reached\s*[·•∙|])",
    )
    .expect("valid regex")
});

/// `…limit reached|1749924000`: the reset as a unix time.
static EPOCH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)limit reached\|(\d{9,11})\b").expect("valid regex"));

/// `resets in 2h 5m`, `try again in 1 hour 5 minutes`.
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:resets?|try again)\s+in\s+((?:\d+\s*(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b[\s,and]*)+)",
    )
    .expect("valid regex")
});

static RELATIVE_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(\d+)\s*([a-z]+)").expect("valid regex"));

/// `resets 3pm (Europe/Berlin)`, `resets Dec 9, 10:30am`, `reset at
/// 15:00`, `try again at 3:04 PM`.
static AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?:resets?(?:\s+at)?|try\ again\ at)\s+
        (?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?(?:at\s+)?)?
        (\d{1,2})(?::(\d{2}))?\s*([ap])?\.?m?\.?
        (?:\s*\(([^)]+)\))?",
    )
    .expect("valid regex")
});

/// The limit the screen's last lines report, the lowest one first; `None`
/// when no line says a limit was hit or none says when it resets.
pub fn find(lines: &[String], now: &ZonedDateTime) -> Option<Limit> {
    lines.iter().rev().find_map(|line| {
        if !HIT.is_match(line) {
            return None;
        }
        let resets_at = resets_at(line, now)?;
        Some(Limit {
            resets_at,
            line: line.trim().to_owned(),
        })
    })
}

/// When the limit that `line` reports resets.
pub fn resets_at(line: &str, now: &ZonedDateTime) -> Option<Timestamp> {
    if let Some(caps) = EPOCH.captures(line) {
        let seconds: i64 = caps[1].parse().ok()?;
        return Timestamp::from_second(seconds).ok();
    }
    if let Some(caps) = RELATIVE.captures(line) {
        let mut total = 0i64;
        for part in RELATIVE_PART.captures_iter(&caps[1]) {
            let n: i64 = part[1].parse().ok()?;
            let unit = part[2].to_ascii_lowercase();
            let seconds = match unit.chars().next()? {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => continue,
            };
            total = total.checked_add(n.checked_mul(seconds)?)?;
        }
        return now
            .timestamp()
            .checked_add(SignedDuration::from_secs(total))
            .ok();
    }
    let caps = AT.captures(line)?;
    let mut hour: i8 = caps[4].parse().ok()?;
    let minute: i8 = caps.get(5).map_or(Some(0), |m| m.as_str().parse().ok())?;
    match caps.get(6).map(|m| m.as_str().to_ascii_lowercase()) {
        Some(half) => {
            // A bare "at 3" with no minutes and no am/pm is not a time.
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour %= 12;
            if half == "p" {
                hour += 12;
            }
        }
        None if caps.get(5).is_none() => return None,
        None => {}
    }
    let time = Time::new(hour, minute, 0, 0).ok()?;
    let tz = caps
        .get(7)
        .and_then(|name| TimeZone::get(name.as_str().trim()).ok())
        .unwrap_or_else(|| now.time_zone().clone());
    let here = now.with_time_zone(tz.clone());
    match caps.get(1) {
        Some(month) => {
            let month = month_number(month.as_str())?;
            let day: i8 = caps[2].parse().ok()?;
            let year = match caps.get(3) {
                Some(year) => year.as_str().parse().ok()?,
                None => here.year(),
            };
            let at = Date::new(year, month, day).ok()?.to_datetime(time);
            let mut zoned = at.to_zoned_datetime(tz.clone()).ok()?;
            // "Jan 2" seen on Dec 30 is next year's.
            if caps.get(3).is_none()
                && zoned.timestamp() < here.timestamp() - SignedDuration::from_hours(24)
            {
                zoned = Date::new(year + 1, month, day)
                    .ok()?
                    .to_datetime(time)
                    .to_zoned_datetime(tz)
                    .ok()?;
            }
            Some(zoned.timestamp())
        }
        None => {
            let today = here
                .date()
                .to_datetime(time)
                .to_zoned_datetime(tz.clone())
                .ok()?;
            // A time that passed more than a minute ago is tomorrow's.
            if today.timestamp() < here.timestamp() - SignedDuration::from_mins(1) {
                let tomorrow = here.date().tomorrow().ok()?.to_datetime(time);
                return Some(tomorrow.to_zoned_datetime(tz).ok()?.timestamp());
            }
            Some(today.timestamp())
        }
    }
}

fn month_number(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = name.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .and_then(|i| i8::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> ZonedDateTime {
        // 2026-12-06 22:30:00 in Berlin (21:30 UTC).
        "2026-12-06T22:30:00+01:00[Europe/Berlin]"
            .parse()
            .expect("valid time")
    }

    fn at(line: &str) -> Option<String> {
        find(&[line.to_owned()], &now()).map(|l| l.resets_at.to_string())
    }

    #[test]
    fn claude_code_lines_reset_at_the_next_such_time_in_their_zone() {
        assert_eq!(
            at("You've hit your session limit · resets 11pm (Europe/Berlin)").as_deref(),
            Some("2026-12-06T22:00:00Z")
        );
        // 3pm has passed in Berlin: tomorrow's.
        assert_eq!(
            at("You've hit your session limit · resets 3pm (Europe/Berlin)").as_deref(),
            Some("2026-12-07T14:00:00Z")
        );
        assert_eq!(
            at("⎿ You've hit your usage limit · resets 11:45pm (UTC) · /upgrade").as_deref(),
            Some("2026-12-06T23:45:00Z")
        );
        assert_eq!(
            at("You've hit your weekly limit · resets Dec 9, 10am (America/New_York)").as_deref(),
            Some("2026-12-09T15:00:00Z")
        );
        assert_eq!(
            at("You've hit your weekly limit · resets Jan 2, 2027, 9:30am (UTC)").as_deref(),
            Some("2027-01-02T09:30:00Z")
        );
        assert_eq!(
            at("You've hit your fast limit · resets in 5m 30s").as_deref(),
            Some("2026-12-06T21:35:30Z")
        );
        // No zone: the supervisor's (here, the test's Berlin).
        assert_eq!(
            at("Claude usage limit reached. Your limit will reset at 11pm.").as_deref(),
            Some("2026-12-06T22:00:00Z")
        );
    }

    #[test]
    fn the_apis_unix_time_and_codex_lines_are_read_too() {
        assert_eq!(
            at("Claude AI usage limit reached|1765060800").as_deref(),
            Some("2025-12-06T22:40:00Z")
        );
        assert_eq!(
            at("■ You've hit your usage limit. Upgrade to Pro or try again in 1 hour 5 minutes.")
                .as_deref(),
            Some("2026-12-06T22:35:00Z")
        );
        assert_eq!(
            at("You've hit your usage limit. Try again at 11:04 PM.").as_deref(),
            Some("2026-12-06T22:04:00Z")
        );
        // A reset on another day: Codex writes the date with an ordinal.
        assert_eq!(
            at("You've hit your usage limit. Try again at Dec 9th, 2026 1:47 AM.").as_deref(),
            Some("2026-12-09T00:47:00Z")
        );
    }

    #[test]
    fn warnings_and_lines_without_a_reset_are_not_limits() {
        assert_eq!(at("You're close to your session limit · resets 3pm"), None);
        assert_eq!(at("You've hit your monthly spend limit."), None);
        assert_eq!(at("the rate limit resets at 3 each day"), None);
        assert_eq!(
            at("Now using usage credits · Your session limit resets 3pm"),
            None
        );
    }

    #[test]
    fn the_lowest_limit_line_counts() {
        let lines = [
            "You've hit your session limit · resets 3pm (UTC)".to_owned(),
            "> continue".to_owned(),
            "You've hit your session limit · resets 11pm (UTC)".to_owned(),
        ];
        let limit = find(&lines, &now()).expect("a limit");
        assert_eq!(limit.resets_at.to_string(), "2026-12-06T23:00:00Z");
    }
}
