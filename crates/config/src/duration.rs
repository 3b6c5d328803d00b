//! Durations as ops write them: `50ms`, `20s`, `5m`, `4h`, `7d`, or combined like `1h30m`
//! or `1h 30m`.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration (write e.g. \"20s\", \"5m\", \"4h\" or \"7d\")")]
    Empty,
    #[error("expected a number before {0:?}")]
    MissingNumber(String),
    #[error("missing unit after {0} (use ms, s, m, h or d)")]
    MissingUnit(u64),
    #[error("unknown unit {0:?} (use ms, s, m, h or d)")]
    UnknownUnit(String),
    #[error("too long")]
    Overflow,
}

pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    // In milliseconds, so that `ms` adds up with the rest.
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::MissingNumber(rest.to_owned()));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Overflow)?;
        // Spaces may stand between a number and its unit, and between parts:
        // "1h 30m", "20 s".
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(value));
        }
        let millis = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        rest = rest[unit_len..].trim_start();
        total = value
            .checked_mul(millis)
            .and_then(|s| total.checked_add(s))
            .ok_or(DurationError::Overflow)?;
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration(" 1h  30m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("20 s"), Ok(Duration::from_secs(20)));
    }

    #[test]
    fn malformed_durations_say_what_is_wrong() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("20"), Err(DurationError::MissingUnit(20)));
        assert_eq!(parse_duration("1h 30"), Err(DurationError::MissingUnit(30)));
        assert_eq!(
            parse_duration("5w"),
            Err(DurationError::UnknownUnit("w".into()))
        );
        assert_eq!(
            parse_duration("s"),
            Err(DurationError::MissingNumber("s".into()))
        );
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::Overflow)
        );
    }
}
