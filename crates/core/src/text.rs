//! Values from outside, shown back in messages: quoted, and cut short when long, so an
//! error about a megabyte of input is a line, not a megabyte.

use std::fmt;

/// Characters of a value shown before it is cut.
pub const SHOWN_CHARS: usize = 40;

/// `value` for a message: quoted and escaped like `{:?}`; past [`SHOWN_CHARS`]
/// characters, its start, an ellipsis and its length (`"aaaa…" (1048576 characters)`).
pub fn shown(value: &str) -> Shown<'_> {
    Shown(value)
}

/// See [`shown`].
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(SHOWN_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => {
                let head = format!("{:?}", &self.0[..cut]);
                let open = &head[..head.len() - 1];
                write!(f, "{open}…\" ({} characters)", self.0.chars().count())
            }
        }
    }
}

/// The first `max` characters of `value` (all of it when shorter): for log fields, which
/// are written before a request is checked.
pub fn prefix(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((cut, _)) => &value[..cut],
        None => value,
    }
}

/// Whether `value` has more than `max` characters (Unicode scalar values, as the API's
/// limits are written), counting only when its length in bytes leaves it in doubt.
pub fn longer_than(value: &str, max: usize) -> bool {
    value.len() > max && (value.len() > max.saturating_mul(4) || value.chars().count() > max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_shown_whole_and_long_ones_cut_with_their_length() {
        assert_eq!(shown("platnum").to_string(), "\"platnum\"");
        assert_eq!(shown("a\"b\n").to_string(), "\"a\\\"b\\n\"");
        let long = "é".repeat(1 << 20);
        let s = shown(&long).to_string();
        assert_eq!(
            s,
            format!("\"{}…\" (1048576 characters)", "é".repeat(SHOWN_CHARS))
        );
        assert_eq!(shown(&"x".repeat(SHOWN_CHARS)).to_string().len(), 42);
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(!longer_than(&"😀".repeat(64), 64));
        assert!(longer_than(&"😀".repeat(65), 64));
        assert!(!longer_than(&"a".repeat(64), 64));
        assert!(longer_than(&"a".repeat(65), 64));
        assert!(!longer_than("", 0));
        assert_eq!(prefix("😀😀😀", 2), "😀😀");
        assert_eq!(prefix("ab", 5), "ab");
    }
}
