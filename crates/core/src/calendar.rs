//! Business-hours calendars: weekly opening hours in a time zone, with holidays closed.
//! Rules ask `open("support_hours")`; the answer depends only on the time passed in.

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
}

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
        let local = self.local(now);
        self.holidays.binary_search(&local.day).is_err()
            && self.hours[local.weekday]
                .iter()
                .any(|(start, end)| (*start..*end).contains(&local.minute))
    }

    /// e.g. `closed (holiday) at sat 10:30 America/New_York`.
    pub fn describe(&self, now: Millis) -> String {
        let local = self.local(now);
        let state = if self.holidays.binary_search(&local.day).is_ok() {
            "closed (holiday)"
        } else if self.is_open(now) {
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
}
