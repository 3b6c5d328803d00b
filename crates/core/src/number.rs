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
    #[error("not a valid {country} number")]
    InvalidForCountry { country: &'static str },
}

/// How a country's national significant numbers (the digits after the country code) are
/// checked.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// The North American Numbering Plan: NPA-NXX-XXXX with N = 2-9, no N11 codes and no
    /// N9X area codes (reserved for expansion).
    Nanp,
    /// Allowed lengths and allowed leading digits (bit d set = may start with digit d).
    Digits { min: u8, max: u8, first: u16 },
}

/// A country (or shared numbering plan) that numbers can be normalized for.
#[derive(Debug)]
pub struct Country {
    /// ISO 3166 alpha-2 codes that select this plan as the default country.
    iso: &'static [&'static str],
    /// Name used in messages.
    name: &'static str,
    /// Country calling code.
    code: u16,
    /// The digit dialed before national numbers within the country, if any.
    trunk_prefix: Option<u8>,
    /// The prefix dialed before international numbers, besides the near-universal `00`.
    international_prefix: &'static [u8],
    plan: Plan,
}

const fn leading(digits: &[u8]) -> u16 {
    let mut mask = 0u16;
    let mut i = 0;
    while i < digits.len() {
        mask |= 1 << digits[i];
        i += 1;
    }
    mask
}

const ANY_BUT_ZERO: u16 = leading(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);

macro_rules! country {
    ($iso:expr, $name:expr, $code:expr, $trunk:expr, $min:expr, $max:expr, $first:expr) => {
        Country {
            iso: $iso,
            name: $name,
            code: $code,
            trunk_prefix: $trunk,
            international_prefix: &[0, 0],
            plan: Plan::Digits {
                min: $min,
                max: $max,
                first: $first,
            },
        }
    };
}

/// Supported numbering plans: national significant number lengths and leading digits as
/// published in each regulator's national numbering plan (ITU-T E.164 annex). A country
/// that is not listed is refused rather than guessed at; add it here with its plan.
static COUNTRIES: &[Country] = &[
    Country {
        iso: &["US", "CA", "PR"],
        name: "North American",
        code: 1,
        trunk_prefix: Some(1),
        international_prefix: &[0, 1, 1],
        plan: Plan::Nanp,
    },
    country!(
        &["RU", "KZ"],
        "Russian or Kazakh",
        7,
        Some(8),
        10,
        10,
        leading(&[3, 4, 7, 8, 9])
    ),
    country!(
        &["ZA"],
        "South African",
        27,
        Some(0),
        9,
        9,
        leading(&[1, 2, 3, 4, 5, 6, 7, 8])
    ),
    country!(&["GR"], "Greek", 30, None, 10, 10, leading(&[2, 6, 7, 8])),
    country!(&["NL"], "Dutch", 31, Some(0), 9, 9, ANY_BUT_ZERO),
    country!(&["BE"], "Belgian", 32, Some(0), 8, 9, ANY_BUT_ZERO),
    country!(&["FR"], "French", 33, Some(0), 9, 9, ANY_BUT_ZERO),
    country!(&["ES"], "Spanish", 34, None, 9, 9, leading(&[6, 7, 8, 9])),
    country!(&["IT"], "Italian", 39, None, 6, 11, leading(&[0, 3, 8])),
    country!(&["CH"], "Swiss", 41, Some(0), 9, 9, ANY_BUT_ZERO),
    country!(&["AT"], "Austrian", 43, Some(0), 4, 13, ANY_BUT_ZERO),
    country!(
        &["GB"],
        "UK",
        44,
        Some(0),
        9,
        10,
        leading(&[1, 2, 3, 5, 7, 8, 9])
    ),
    country!(&["DK"], "Danish", 45, None, 8, 8, ANY_BUT_ZERO),
    country!(&["SE"], "Swedish", 46, Some(0), 7, 9, ANY_BUT_ZERO),
    country!(&["NO"], "Norwegian", 47, None, 8, 8, ANY_BUT_ZERO),
    country!(&["PL"], "Polish", 48, None, 9, 9, ANY_BUT_ZERO),
    country!(&["DE"], "German", 49, Some(0), 6, 13, ANY_BUT_ZERO),
    country!(&["MX"], "Mexican", 52, None, 10, 10, ANY_BUT_ZERO),
    country!(&["AR"], "Argentine", 54, Some(0), 10, 11, ANY_BUT_ZERO),
    country!(&["BR"], "Brazilian", 55, Some(0), 10, 11, ANY_BUT_ZERO),
    country!(
        &["AU"],
        "Australian",
        61,
        Some(0),
        9,
        9,
        leading(&[1, 2, 3, 4, 7, 8])
    ),
    country!(&["NZ"], "New Zealand", 64, Some(0), 8, 10, ANY_BUT_ZERO),
    country!(&["SG"], "Singapore", 65, None, 8, 8, leading(&[3, 6, 8, 9])),
    country!(&["JP"], "Japanese", 81, Some(0), 9, 10, ANY_BUT_ZERO),
    country!(&["KR"], "Korean", 82, Some(0), 8, 10, ANY_BUT_ZERO),
    country!(&["CN"], "Chinese", 86, Some(0), 7, 11, ANY_BUT_ZERO),
    country!(&["IN"], "Indian", 91, Some(0), 10, 10, ANY_BUT_ZERO),
    country!(
        &["PT"],
        "Portuguese",
        351,
        None,
        9,
        9,
        leading(&[2, 3, 7, 8, 9])
    ),
    country!(&["IE"], "Irish", 353, Some(0), 7, 9, ANY_BUT_ZERO),
    country!(&["FI"], "Finnish", 358, Some(0), 5, 12, ANY_BUT_ZERO),
    country!(&["AE"], "Emirati", 971, Some(0), 8, 9, ANY_BUT_ZERO),
    country!(&["IL"], "Israeli", 972, Some(0), 8, 9, ANY_BUT_ZERO),
];

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
    default: &'static Country,
}

/// The default country named in config is not one we have a numbering plan for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported country {iso:?} (supported: {supported})")]
pub struct UnknownCountry {
    pub iso: String,
    pub supported: String,
}

impl NumberPlan {
    /// The plan for an ISO 3166 alpha-2 country code, e.g. `"US"`.
    pub fn for_country(iso: &str) -> Result<Self, UnknownCountry> {
        COUNTRIES
            .iter()
            .find(|c| c.iso.iter().any(|i| i.eq_ignore_ascii_case(iso)))
            .map(|default| NumberPlan { default })
            .ok_or_else(|| UnknownCountry {
                iso: iso.to_owned(),
                supported: supported_countries().join(", "),
            })
    }

    /// The default country's first ISO code.
    pub fn default_country(&self) -> &'static str {
        self.default.iso[0]
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
        if let Some(rest) = digits.strip_prefix(self.default.international_prefix) {
            return international(rest);
        }
        self.national(digits)
    }

    fn national(&self, digits: &[u8]) -> Result<E164, NumberError> {
        let country = self.default;
        let nsn = match (country.trunk_prefix, country.plan) {
            // NANP numbers are dialed with the trunk 1 only as 11 digits; ten digits
            // starting with 1 are simply invalid.
            (Some(t), Plan::Nanp) if digits.len() == 11 && digits[0] == t => &digits[1..],
            (Some(t), Plan::Digits { .. }) if digits.first() == Some(&t) => &digits[1..],
            _ => digits,
        };
        assemble(country, nsn)
    }
}

/// ISO codes of every supported country, for messages.
pub fn supported_countries() -> Vec<&'static str> {
    COUNTRIES
        .iter()
        .flat_map(|c| c.iso.iter().copied())
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
        if let Some(country) = COUNTRIES.iter().find(|c| c.code == code) {
            return assemble(country, &digits[cc_len..]);
        }
    }
    Err(NumberError::UnknownCountry)
}

fn assemble(country: &'static Country, nsn: &[u8]) -> Result<E164, NumberError> {
    let invalid = NumberError::InvalidForCountry {
        country: country.name,
    };
    let valid = match country.plan {
        Plan::Nanp => {
            nsn.len() == 10
                && nsn[0] >= 2
                && !(nsn[1] == 1 && nsn[2] == 1)
                && nsn[1] != 9
                && nsn[3] >= 2
                && !(nsn[4] == 1 && nsn[5] == 1)
        }
        Plan::Digits { min, max, first } => {
            (usize::from(min)..=usize::from(max)).contains(&nsn.len()) && first & (1 << nsn[0]) != 0
        }
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
            Err(NumberError::InvalidForCountry { country: "UK" })
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
        assert!(err.to_string().contains("supported: US, CA"), "{err}");
    }
}
