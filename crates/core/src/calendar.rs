//! Business-hours calendars: weekly opening hours in a time zone, with holidays closed.
//! Rules ask `open("support_hours")`; the answer depends only on the time passed in.
//!
//! Opening hours change on whole local minutes, so a calendar remembers its answer for
//! the UTC minute it last worked out ([`OpenMemo`]): every rule asking within that minute
//! gets it without converting the time again.

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{Timestamp, tz::TimeZone};

use crate::clock::{Millis, days_from_civil};

/// Days of the week, Monday first, as config writes them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar: opening hours per weekday (minutes from local midnight, end exclusive)
/// and closed dates, all in the calendar's time zone.
#[derive(Clone, Debug)]
pub struct Calendar {
    pub name: String,
    pub time_zone: TimeZone,
    /// The time zone's name as configured, for messages.
    pub time_zone_name: String,
    /// Monday first; each day's open intervals in minutes, sorted.
    pub hours: [Vec<(u16, u16)>; 7],
    /// Local dates (days since 1970-01-01) on which the calendar is closed, sorted.
    pub holidays: Vec<i64>,
    pub memo: OpenMemo,
}

/// The answer of [`Calendar::is_open`] for one UTC minute: the minute's number shifted
/// left by one, the answer in the low bit; zero when nothing is remembered. One word, so
/// threads asking at once read either the old minute or the new one, never a mix.
#[derive(Debug, Default)]
pub struct OpenMemo(AtomicU64);

impl Clone for OpenMemo {
    /// A copy starts empty: the memo is a cache of answers, not part of the calendar.
    fn clone(&self) -> Self {
        OpenMemo::default()
    }
}

/// Minutes since 1970 beyond which the memo is not used (it keeps one bit for the answer).
const MEMO_MINUTES: u64 = u64::MAX >> 2;

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.time_zone_name == other.time_zone_name
            && self.hours == other.hours
            && self.holidays == other.holidays
    }
}

/// Local time at one instant: weekday (Monday 0), minute of the day, date as a day number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: usize,
    pub minute: u16,
    pub day: i64,
}

impl Calendar {
    pub fn local(&self, now: Millis) -> LocalTime {
        let ms = i64::try_from(now.0).unwrap_or(i64::MAX);
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX);
        let dt = self.time_zone.to_datetime(ts);
        let date = dt.date();
        LocalTime {
            weekday: usize::try_from(dt.weekday().to_monday_zero_offset()).unwrap_or(0),
            minute: u16::try_from(i32::from(dt.hour()) * 60 + i32::from(dt.minute())).unwrap_or(0),
            day: days_from_civil(
                i64::from(date.year()),
                u32::try_from(date.month()).unwrap_or(1),
                u32::try_from(date.day()).unwrap_or(1),
            ),
        }
    }

    pub fn is_open(&self, now: Millis) -> bool {
        let minute = now.0 / 60_000;
        let remembered = self.memo.0.load(Ordering::Relaxed);
        // Minute numbers start at one here, so zero stays "nothing remembered".
        let key = (minute + 1) << 1;
        if minute < MEMO_MINUTES && remembered & !1 == key {
            return remembered & 1 == 1;
        }
        let open = self.work_out(now);
        if minute < MEMO_MINUTES && self.whole_minute_offset(now) {
            self.memo.0.store(key | u64::from(open), Ordering::Relaxed);
        }
        open
    }

    /// Whether the zone's offset from UTC at `now` is whole minutes (every zone's today;
    /// only old local mean times have seconds), so local minutes start on UTC minutes.
    fn whole_minute_offset(&self, now: Millis) -> bool {
        let ms = i64::try_from(now.0).unwrap_or(i64::MAX);
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX);
        self.time_zone.to_offset(ts).seconds() % 60 == 0
    }

    fn work_out(&self, now: Millis) -> bool {
        let local = self.local(now);
        self.holidays.binary_search(&local.day).is_err()
            && self.hours[local.weekday]
                .iter()
                .any(|(start, end)| (*start..*end).contains(&local.minute))
    }

    /// A calendar in UTC open the same hours every day, no holidays: for tests.
    #[cfg(test)]
    pub(crate) fn daily_utc(name: &str, hours: Vec<(u16, u16)>) -> Calendar {
        Calendar {
            name: name.into(),
            time_zone: TimeZone::UTC,
            time_zone_name: "UTC".into(),
            hours: std::array::from_fn(|_| hours.clone()),
            holidays: vec![],
            memo: OpenMemo::default(),
        }
    }

    /// e.g. `closed (holiday) at sat 10:30 America/New_York`.
    pub fn describe(&self, now: Millis) -> String {
        let local = self.local(now);
        let state = if self.holidays.binary_search(&local.day).is_ok() {
            "closed (holiday)"
        } else if self.work_out(now) {
            "open"
        } else {
            "closed"
        };
        format!(
            "{state} at {} {:02}:{:02} {}",
            WEEKDAYS[local.weekday],
            local.minute / 60,
            local.minute % 60,
            self.time_zone_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;

    fn support_hours() -> Calendar {
        let weekday = vec![(8 * 60, 20 * 60)];
        Calendar {
            name: "support_hours".into(),
            time_zone: TimeZone::get("America/New_York").unwrap(),
            time_zone_name: "America/New_York".into(),
            hours: [
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday,
                vec![(9 * 60, 13 * 60)],
                vec![],
            ],
            holidays: vec![parse_date("2026-12-25").unwrap()],
            memo: OpenMemo::default(),
        }
    }

    fn at(utc: &str) -> Millis {
        let ts: Timestamp = utc.parse().unwrap();
        Millis(ts.as_millisecond() as u64)
    }

    #[test]
    fn opening_hours_are_read_in_the_calendars_time_zone() {
        let c = support_hours();
        // Monday 2026-11-23 12:30 UTC is 07:30 in New York: not open yet.
        assert!(!c.is_open(at("2026-11-23T12:30:00Z")));
        assert!(c.is_open(at("2026-11-23T13:00:00Z")));
        // 19:59 local is open, 20:00 is closed (end exclusive).
        assert!(c.is_open(at("2026-11-24T00:59:00Z")));
        assert!(!c.is_open(at("2026-11-24T01:00:00Z")));
        // Saturday morning only, Sunday closed.
        assert!(c.is_open(at("2026-11-28T15:00:00Z")));
        assert!(!c.is_open(at("2026-11-29T15:00:00Z")));
    }

    #[test]
    fn daylight_saving_moves_the_utc_hours() {
        let c = support_hours();
        // In July New York is UTC-4: 08:00 local is 12:00 UTC.
        assert!(c.is_open(at("2026-07-06T12:00:00Z")));
        assert!(!c.is_open(at("2026-12-07T12:00:00Z")));
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let c = support_hours();
        // Friday 2026-12-25 at noon local.
        let noon = at("2026-12-25T17:00:00Z");
        assert!(!c.is_open(noon));
        assert_eq!(
            c.describe(noon),
            "closed (holiday) at fri 12:00 America/New_York"
        );
    }

    #[test]
    fn a_remembered_answer_is_the_answer_worked_out_afresh() {
        let c = support_hours();
        // Every 7 minutes over the week of the autumn clock change, then back in time
        // over the same week, the memo agrees with the long way round.
        let start = at("2026-10-30T00:00:00Z").0;
        let steps = (0..7 * 24 * 60 / 7).map(|i| start + i * 7 * 60_000);
        for t in steps.clone().chain(steps.rev()) {
            for ms in [t, t + 59_999] {
                assert_eq!(c.is_open(Millis(ms)), c.work_out(Millis(ms)), "{ms}");
            }
        }
        // A copy remembers nothing, and answers the same.
        let noon = at("2026-11-23T17:00:00Z");
        assert!(c.is_open(noon));
        assert!(c.clone().is_open(noon));
    }
}
