//! Email addresses and social handles: how customers who write rather than call are
//! known. Normalized strictly, so that one address has one spelling in the directory:
//! - an email address is `local@domain`, lowercased; the local part is 1 to 64 of the
//!   characters RFC 5322 allows unquoted (no leading, trailing or double dot), the domain
//!   two or more labels of letters, digits and inner hyphens (each 1 to 63), at most 254
//!   characters in all;
//! - a social handle is `network:name`, lowercased: the network 1 to 24 letters, digits,
//!   `_` or `-` (e.g. `x`, `instagram`, `facebook`), the name 1 to 64 letters, digits,
//!   `_`, `.` or `-`, a leading `@` dropped (`x:@Acme` is `x:acme`).
//!
//! Neither form can be the other: an email has an `@` and no `:`, a handle the reverse.

/// What kind of address a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Email,
    Social,
}

/// Why a text is not an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not an email address: {0}")]
    Email(&'static str),
    #[error("not a social handle: {0}")]
    Social(&'static str),
}

pub const MAX_EMAIL: usize = 254;
pub const MAX_LOCAL: usize = 64;
pub const MAX_LABEL: usize = 63;
pub const MAX_NETWORK: usize = 24;
pub const MAX_HANDLE_NAME: usize = 64;

/// The kind a text claims to be by its shape: `@` without `:` an email, a `network:`
/// prefix a handle (`sip:` and `tel:` URIs are phone numbers, neither).
pub fn kind_of(text: &str) -> Option<Kind> {
    let lower = text.get(..4).map(str::to_ascii_lowercase);
    if matches!(lower.as_deref(), Some("sip:" | "tel:")) {
        return None;
    }
    match (text.contains('@'), text.contains(':')) {
        (true, false) => Some(Kind::Email),
        (_, true) => Some(Kind::Social),
        _ => None,
    }
}

/// An address in its one spelling, by the kind its shape claims.
pub fn normalize(text: &str) -> Result<(Kind, Box<str>), AddressError> {
    match kind_of(text) {
        Some(Kind::Email) => email(text).map(|a| (Kind::Email, a)),
        Some(Kind::Social) => handle(text).map(|a| (Kind::Social, a)),
        None => Err(AddressError::Email("expected local@domain or network:name")),
    }
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b)
}

/// An email address, lowercased.
pub fn email(text: &str) -> Result<Box<str>, AddressError> {
    let bad = AddressError::Email;
    if text.len() > MAX_EMAIL {
        return Err(bad("longer than 254 characters"));
    }
    let (local, domain) = text.split_once('@').ok_or(bad("no @"))?;
    if local.is_empty() || local.len() > MAX_LOCAL {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    if !local.bytes().all(is_atext) {
        return Err(bad("a character not allowed before @"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad(
            "a dot at the start or end of the part before @, or two in a row",
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain needs a dot (example.com)"));
    }
    for label in labels {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err(bad("each part of the domain must be 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(bad(
                "the domain takes letters, digits and inner hyphens only",
            ));
        }
    }
    Ok(text.to_ascii_lowercase().into_boxed_str())
}

/// A social handle `network:name`, lowercased, a leading `@` of the name dropped.
pub fn handle(text: &str) -> Result<Box<str>, AddressError> {
    let bad = AddressError::Social;
    let (network, name) = text.split_once(':').ok_or(bad("expected network:name"))?;
    if network.is_empty() || network.len() > MAX_NETWORK {
        return Err(bad("the network must be 1 to 24 characters"));
    }
    if !network
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad("the network takes letters, digits, _ and - only"));
    }
    let name = name.strip_prefix('@').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_HANDLE_NAME {
        return Err(bad("the name must be 1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(bad("the name takes letters, digits, _, . and - only"));
    }
    Ok(format!(
        "{}:{}",
        network.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
    .into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_have_one_spelling_and_bad_ones_say_why() {
        assert_eq!(
            &*email("Jane.Doe+Orders@Example.COM").unwrap(),
            "jane.doe+orders@example.com"
        );
        for (text, why) in [
            ("jane", "no @"),
            (
                "@example.com",
                "the part before @ must be 1 to 64 characters",
            ),
            ("jane@localhost", "the domain needs a dot (example.com)"),
            ("ja ne@example.com", "a character not allowed before @"),
            (
                "jane.@example.com",
                "a dot at the start or end of the part before @, or two in a row",
            ),
            (
                "jane@exa_mple.com",
                "the domain takes letters, digits and inner hyphens only",
            ),
            (
                "jane@-example.com",
                "the domain takes letters, digits and inner hyphens only",
            ),
            (
                "jane@example..com",
                "each part of the domain must be 1 to 63 characters",
            ),
            ("jané@example.com", "a character not allowed before @"),
        ] {
            assert_eq!(email(text), Err(AddressError::Email(why)), "{text}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(email(&long).is_err());
        assert!(email(&format!("a@{}.com", "b".repeat(250))).is_err());
    }

    #[test]
    fn social_handles_have_one_spelling_and_bad_ones_say_why() {
        assert_eq!(&*handle("X:@AcmeSupport").unwrap(), "x:acmesupport");
        assert_eq!(
            &*handle("instagram:jane.doe_2").unwrap(),
            "instagram:jane.doe_2"
        );
        for (text, why) in [
            (":jane", "the network must be 1 to 24 characters"),
            ("x:", "the name must be 1 to 64 characters"),
            ("x:@", "the name must be 1 to 64 characters"),
            (
                "x y:jane",
                "the network takes letters, digits, _ and - only",
            ),
            (
                "x:jane doe",
                "the name takes letters, digits, _, . and - only",
            ),
            (
                "x:jane:doe",
                "the name takes letters, digits, _, . and - only",
            ),
        ] {
            assert_eq!(handle(text), Err(AddressError::Social(why)), "{text}");
        }
    }

    #[test]
    fn the_shape_of_a_text_tells_email_from_handle_from_phone_number() {
        assert_eq!(kind_of("jane@example.com"), Some(Kind::Email));
        assert_eq!(kind_of("x:@jane"), Some(Kind::Social));
        assert_eq!(kind_of("sip:+12125550101@pbx.example"), None);
        assert_eq!(kind_of("TEL:+12125550101"), None);
        assert_eq!(kind_of("+12125550101"), None);
        assert_eq!(
            normalize("Jane@Example.com").unwrap(),
            (Kind::Email, "jane@example.com".into())
        );
    }
}
