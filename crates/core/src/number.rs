//! Phone numbers: strict normalization of what switches send into E.164.
//!
//! Switches send caller numbers in every shape: E.164, national format with the trunk
//! prefix, `00` or `011` international prefixes, `tel:` and `sip:` URIs, withheld markers.
//! We accept those and nothing looser. Letters are never turned into digits (a vanity
//! number or an extension `x12` is unparseable), and a number whose length or leading
//! digits do not fit its country's numbering plan is refused rather than guessed at: a
//! wrong normalization would look up the wrong customer.
//!
//! Normalization is on the route path, so it works on a stack buffer and allocates
//! nothing.
//!
//! The numbering table (`number/regions.rs`) covers every calling code and region of
//! libphonenumber's metadata and is generated from it by `tools/numbering/generate.py`;
//! `tests/numbering.rs` normalizes every region's example numbers.

use std::{fmt, num::NonZeroU64, str::FromStr};

/// A phone number in E.164, held as its digits. The leading digit of an E.164 number (the
/// country code's) is never zero, so the integer value is unique per number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(NonZeroU64);

/// E.164 allows at most 15 digits, country code included.
pub const MAX_DIGITS: usize = 15;

impl E164 {
    /// The number's digits as an integer, e.g. `12125550101`.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }

    /// Rebuilds a number from [`E164::as_u64`]; `None` for zero or more than 15 digits.
    pub fn from_u64(digits: u64) -> Option<Self> {
        if digits >= 10u64.pow(MAX_DIGITS as u32) {
            return None;
        }
        NonZeroU64::new(digits).map(E164)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

/// Why a caller number could not be normalized. Routing treats every one of these as an
/// unknown caller; they are reported, never raised as call failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("no number")]
    Empty,
    #[error("number withheld")]
    Withheld,
    #[error("letters in number")]
    Letters,
    #[error("unexpected character {0:?} in number")]
    BadCharacter(char),
    #[error("'+' is only allowed at the start")]
    MisplacedPlus,
    #[error("too many digits")]
    TooLong,
    #[error("too few digits")]
    TooShort,
    #[error("not in E.164 form ('+' and digits)")]
    NotE164,
    #[error("unknown or unsupported country code")]
    UnknownCountry,
    /// An email address or social handle, whose customer (if any) has no number.
    #[error("an email address or social handle, not a number")]
    Address,
    #[error("not a valid {country} number")]
    InvalidForCountry { country: &'static str },
}

/// A country calling code's numbering plan: the lengths of its national significant
/// numbers (the digits after the code) and the digits they may start with, over every
/// region that shares the code. Code 1 (the North American Numbering Plan) is checked
/// more closely (see [`assemble`]).
#[derive(Debug)]
pub(crate) struct CodePlan {
    code: u16,
    /// Used in messages: the code's main region, e.g. "United Kingdom".
    name: &'static str,
    /// Bit n set: a national significant number may have n digits.
    lengths: u32,
    /// Bit d set: a national significant number may start with digit d.
    first: u16,
}

/// A region numbers can be written in national format for (the default country).
#[derive(Debug)]
pub struct Region {
    /// ISO 3166 alpha-2 code (`001` for non-geographic codes such as +800).
    iso: &'static str,
    name: &'static str,
    code: u16,
    /// The national (trunk) prefix dialed before national numbers, e.g. `0`.
    trunk: Option<&'static str>,
    /// The prefix dialed before international numbers, besides the near-universal `00`.
    international: Option<&'static str>,
}

/// The table, generated from libphonenumber's metadata by `tools/numbering/generate.py`:
/// every calling code and every region it lists. A code that is not here is refused
/// rather than guessed at.
mod regions;

use regions::{CODES, REGIONS};

/// The plan of a calling code.
fn code_plan(code: u16) -> Option<&'static CodePlan> {
    CODES
        .binary_search_by_key(&code, |c| c.code)
        .ok()
        .map(|i| &CODES[i])
}

/// `digits` (a digit string such as "011") as digit values on a stack buffer.
fn digit_values(text: &str) -> ([u8; 4], usize) {
    let mut out = [0u8; 4];
    let mut n = 0;
    for b in text.bytes().take(4) {
        out[n] = b.wrapping_sub(b'0');
        n += 1;
    }
    (out, n)
}

/// Markers switches send instead of a number when the caller withheld it.
const WITHHELD: &[&str] = &[
    "anonymous",
    "withheld",
    "private",
    "restricted",
    "unknown",
    "unavailable",
    "blocked",
];

/// Raw digits we are prepared to read, prefixes included (`011` + 15 digits), before the
/// input is refused as too long.
const MAX_RAW_DIGITS: usize = 18;

/// Normalizes numbers for a default country (the one national-format numbers belong to).
#[derive(Clone, Copy, Debug)]
pub struct NumberPlan {
    default: &'static Region,
    plan: &'static CodePlan,
}

/// The default country named in config is not one we have a numbering plan for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported country {iso:?}: expected an ISO 3166 alpha-2 code with a numbering plan, e.g. US, GB, DE, PH ({count} regions known)"
)]
pub struct UnknownCountry {
    pub iso: String,
    pub count: usize,
}

impl NumberPlan {
    /// The plan for an ISO 3166 alpha-2 country code, e.g. `"US"`.
    pub fn for_country(iso: &str) -> Result<Self, UnknownCountry> {
        REGIONS
            .iter()
            .filter(|r| r.iso != "001")
            .find(|r| r.iso.eq_ignore_ascii_case(iso))
            .and_then(|default| {
                Some(NumberPlan {
                    default,
                    plan: code_plan(default.code)?,
                })
            })
            .ok_or_else(|| UnknownCountry {
                iso: iso.to_owned(),
                count: supported_countries().len(),
            })
    }

    /// The default country's ISO code.
    pub fn default_country(&self) -> &'static str {
        self.default.iso
    }

    /// The default country's name.
    pub fn default_country_name(&self) -> &'static str {
        self.default.name
    }

    /// Normalizes a number as a switch or an import file gives it.
    pub fn normalize(&self, raw: &str) -> Result<E164, NumberError> {
        let raw = strip_uri(raw.trim());
        if raw.is_empty() {
            return Err(NumberError::Empty);
        }
        if WITHHELD.iter().any(|w| w.eq_ignore_ascii_case(raw)) {
            return Err(NumberError::Withheld);
        }
        let mut buf = [0u8; MAX_RAW_DIGITS];
        let mut len = 0usize;
        let mut plus = false;
        for (i, ch) in raw.char_indices() {
            match ch {
                '0'..='9' => {
                    if len == MAX_RAW_DIGITS {
                        return Err(NumberError::TooLong);
                    }
                    buf[len] = ch as u8 - b'0';
                    len += 1;
                }
                '+' if i == 0 => plus = true,
                '+' => return Err(NumberError::MisplacedPlus),
                ' ' | '-' | '.' | '(' | ')' | '/' => {}
                c if c.is_alphabetic() => return Err(NumberError::Letters),
                c => return Err(NumberError::BadCharacter(c)),
            }
        }
        let digits = &buf[..len];
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        if plus {
            return international(digits);
        }
        if let Some(rest) = digits.strip_prefix(&[0, 0]) {
            return international(rest);
        }
        if let Some(prefix) = self.default.international {
            let (prefix, n) = digit_values(prefix);
            if let Some(rest) = digits.strip_prefix(&prefix[..n]) {
                return international(rest);
            }
        }
        self.national(digits)
    }

    fn national(&self, digits: &[u8]) -> Result<E164, NumberError> {
        let nsn = match self.default.trunk.map(digit_values) {
            // NANP numbers are dialed with the trunk 1 only as 11 digits; ten digits
            // starting with 1 are simply invalid.
            Some((t, 1)) if self.plan.code == 1 => {
                if digits.len() == 11 && digits[0] == t[0] {
                    &digits[1..]
                } else {
                    digits
                }
            }
            Some((t, n)) => digits.strip_prefix(&t[..n]).unwrap_or(digits),
            None => digits,
        };
        assemble(self.plan, nsn)
    }
}

/// ISO codes of every region with a numbering plan (non-geographic codes aside).
pub fn supported_countries() -> Vec<&'static str> {
    REGIONS
        .iter()
        .map(|r| r.iso)
        .filter(|iso| *iso != "001")
        .collect()
}

/// `tel:+1-212-555-0101;ext=1` and `sip:+12125550101@pbx.example;user=phone` carry the
/// number as the URI's user part.
fn strip_uri(raw: &str) -> &str {
    let lower_starts = |p: &str| {
        raw.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let rest = if lower_starts("tel:") {
        &raw[4..]
    } else if lower_starts("sips:") {
        &raw[5..]
    } else if lower_starts("sip:") {
        &raw[4..]
    } else {
        return raw;
    };
    let end = rest.find(['@', ';']).unwrap_or(rest.len());
    rest[..end].trim()
}

fn international(digits: &[u8]) -> Result<E164, NumberError> {
    if digits.len() > MAX_DIGITS {
        return Err(NumberError::TooLong);
    }
    if digits.len() < 4 {
        return Err(NumberError::TooShort);
    }
    // Country codes are prefix-free, so at most one length can match.
    for cc_len in 1..=3 {
        let code = digits[..cc_len]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(*d));
        if let Some(plan) = code_plan(code) {
            return assemble(plan, &digits[cc_len..]);
        }
    }
    Err(NumberError::UnknownCountry)
}

fn assemble(country: &'static CodePlan, nsn: &[u8]) -> Result<E164, NumberError> {
    let invalid = NumberError::InvalidForCountry {
        country: country.name,
    };
    let valid = if country.code == 1 {
        // NPA-NXX-XXXX with N = 2-9, no N11 codes and no N9X area codes (reserved for
        // expansion).
        nsn.len() == 10
            && nsn[0] >= 2
            && !(nsn[1] == 1 && nsn[2] == 1)
            && nsn[1] != 9
            && nsn[3] >= 2
            && !(nsn[4] == 1 && nsn[5] == 1)
    } else {
        nsn.len() < 32
            && country.lengths & (1 << nsn.len()) != 0
            && nsn.first().is_some_and(|d| country.first & (1 << d) != 0)
    };
    if !valid {
        if nsn.len() < 4 {
            return Err(NumberError::TooShort);
        }
        return Err(invalid);
    }
    let mut value = u64::from(country.code);
    for d in nsn {
        value = value * 10 + u64::from(*d);
    }
    let cc_digits = if country.code >= 100 {
        3
    } else if country.code >= 10 {
        2
    } else {
        1
    };
    if cc_digits + nsn.len() > MAX_DIGITS {
        return Err(NumberError::TooLong);
    }
    E164::from_u64(value).ok_or(invalid)
}

/// Parses strictly E.164 text (`+` and digits only), as stored numbers are written.
impl FromStr for E164 {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('+').ok_or(NumberError::NotE164)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::NotE164);
        }
        let mut buf = [0u8; MAX_DIGITS];
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooLong);
        }
        for (slot, b) in buf.iter_mut().zip(digits.bytes()) {
            *slot = b - b'0';
        }
        international(&buf[..digits.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> NumberPlan {
        NumberPlan::for_country("US").unwrap()
    }

    fn norm(plan: NumberPlan, raw: &str) -> Result<String, NumberError> {
        plan.normalize(raw).map(|n| n.to_string())
    }

    #[test]
    fn every_common_us_format_normalizes_to_the_same_number() {
        for raw in [
            "+12125550101",
            "+1 212 555 0101",
            "+1 (212) 555-0101",
            "(212) 555-0101",
            "212.555.0101",
            "2125550101",
            "12125550101",
            "1-212-555-0101",
            "011 1 212 555 0101",
            "0012125550101",
            "  +1 212 555 0101  ",
            "tel:+1-212-555-0101",
            "tel:+1-212-555-0101;phone-context=example",
            "sip:+12125550101@pbx.example.com;user=phone",
            "SIP:2125550101@10.0.0.1",
        ] {
            assert_eq!(norm(us(), raw).as_deref(), Ok("+12125550101"), "{raw}");
        }
    }

    #[test]
    fn national_numbers_use_the_default_country_and_its_trunk_prefix() {
        let gb = NumberPlan::for_country("gb").unwrap();
        assert_eq!(norm(gb, "07700 900123").as_deref(), Ok("+447700900123"));
        assert_eq!(norm(gb, "020 7946 0018").as_deref(), Ok("+442079460018"));
        let de = NumberPlan::for_country("DE").unwrap();
        assert_eq!(norm(de, "030 123456").as_deref(), Ok("+4930123456"));
        // International input ignores the default country.
        assert_eq!(norm(gb, "+1 212 555 0101").as_deref(), Ok("+12125550101"));
        assert_eq!(
            norm(us(), "00 44 7700 900123").as_deref(),
            Ok("+447700900123")
        );
    }

    #[test]
    fn withheld_markers_are_reported_as_withheld() {
        for raw in [
            "anonymous",
            "Anonymous",
            "WITHHELD",
            "private",
            "restricted",
            "unknown",
        ] {
            assert_eq!(us().normalize(raw), Err(NumberError::Withheld), "{raw}");
        }
        assert_eq!(
            us().normalize("sip:anonymous@anonymous.invalid"),
            Err(NumberError::Withheld)
        );
        assert_eq!(us().normalize(""), Err(NumberError::Empty));
        assert_eq!(us().normalize("   "), Err(NumberError::Empty));
        assert_eq!(us().normalize("()--"), Err(NumberError::Empty));
    }

    #[test]
    fn letters_are_never_turned_into_digits() {
        assert_eq!(us().normalize("1-800-FLOWERS"), Err(NumberError::Letters));
        assert_eq!(
            us().normalize("+1 212 555 0101 x12"),
            Err(NumberError::Letters)
        );
        assert_eq!(us().normalize("212555O101"), Err(NumberError::Letters));
        // Non-ASCII digits are not digits either, and multi-byte text never panics.
        assert_eq!(us().normalize("té:123"), Err(NumberError::Letters));
        assert_eq!(us().normalize("٢"), Err(NumberError::BadCharacter('٢')));
        assert_eq!(
            us().normalize("٢١٢٥٥٥٠١٠١"),
            Err(NumberError::BadCharacter('٢'))
        );
    }

    #[test]
    fn stray_characters_and_misplaced_plus_are_refused() {
        assert_eq!(
            us().normalize("212*555*0101"),
            Err(NumberError::BadCharacter('*'))
        );
        assert_eq!(
            us().normalize("212555#0101"),
            Err(NumberError::BadCharacter('#'))
        );
        assert_eq!(
            us().normalize("1+2125550101"),
            Err(NumberError::MisplacedPlus)
        );
        assert_eq!(
            us().normalize("++12125550101"),
            Err(NumberError::MisplacedPlus)
        );
    }

    #[test]
    fn numbers_invalid_for_their_country_are_refused() {
        let nanp = NumberError::InvalidForCountry {
            country: "North American",
        };
        // Area codes and exchanges cannot start with 0 or 1, N11 codes are services.
        assert_eq!(us().normalize("+1 112 555 0101"), Err(nanp));
        assert_eq!(us().normalize("+1 212 155 0101"), Err(nanp));
        assert_eq!(us().normalize("+1 411 555 0101"), Err(nanp));
        assert_eq!(us().normalize("+1 212 911 0101"), Err(nanp));
        // Ten digits starting with the trunk 1 are not a number.
        assert_eq!(us().normalize("1212555010"), Err(nanp));
        // Wrong lengths.
        assert_eq!(us().normalize("+1 212 555 01011"), Err(nanp));
        assert_eq!(us().normalize("555 0101"), Err(nanp));
        assert_eq!(
            us().normalize("+44 4700 900123"),
            Err(NumberError::InvalidForCountry {
                country: "United Kingdom"
            })
        );
        assert_eq!(us().normalize("+33 1 23"), Err(NumberError::TooShort));
    }

    #[test]
    fn unknown_country_codes_and_overlong_numbers_are_refused() {
        // +999 is not an assigned country code.
        assert_eq!(
            us().normalize("+999 1234 5678"),
            Err(NumberError::UnknownCountry)
        );
        assert_eq!(
            us().normalize("+1 212 555 0101 0101 01"),
            Err(NumberError::TooLong)
        );
        assert_eq!(us().normalize(&"9".repeat(40)), Err(NumberError::TooLong));
        assert_eq!(us().normalize("+12"), Err(NumberError::TooShort));
    }

    #[test]
    fn e164_text_round_trips() {
        let n = us().normalize("212-555-0101").unwrap();
        assert_eq!("+12125550101".parse::<E164>(), Ok(n));
        assert_eq!(E164::from_u64(n.as_u64()), Some(n));
        assert_eq!("12125550101".parse::<E164>(), Err(NumberError::NotE164));
        assert_eq!("+1212555010a".parse::<E164>(), Err(NumberError::NotE164));
    }

    #[test]
    fn unsupported_default_country_is_named_in_the_error() {
        let err = NumberPlan::for_country("XX").unwrap_err();
        assert_eq!(err.iso, "XX");
        assert!(err.to_string().contains("e.g. US, GB"), "{err}");
        assert!(err.count > 240, "{err}");
        // Non-geographic codes are no one's default country.
        assert!(NumberPlan::for_country("001").is_err());
    }
}
