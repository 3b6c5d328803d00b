//! The parts of SIP and tel URIs (RFC 3261 section 19.1, RFC 3966) that routing needs:
//! the user (a number, usually) and the host.

use std::fmt::Write;

use crate::ParseError;

/// A `sip:`, `sips:` or `tel:` URI, read for its user and host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme,
    /// The user part, percent-escapes decoded (a tel URI's number); empty when none.
    pub user: String,
    /// The host (empty for tel).
    pub host: &'a str,
    /// `;user=phone` was given: the user part is a telephone number.
    pub user_phone: bool,
    /// The URI's parameters as written (after the host, or the tel number), without the
    /// first `;`.
    pub params: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
}

impl<'a> Uri<'a> {
    pub fn parse(text: &'a str) -> Result<Uri<'a>, ParseError> {
        let bad = |why| ParseError::BadValue { header: "URI", why };
        let (scheme, rest) = text.split_once(':').ok_or(bad("no scheme"))?;
        let scheme = if scheme.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            return Err(bad("scheme is not sip, sips or tel"));
        };
        if scheme == Scheme::Tel {
            let (number, params) = rest.split_once(';').unwrap_or((rest, ""));
            if number.is_empty() {
                return Err(bad("tel URI without a number"));
            }
            return Ok(Uri {
                scheme,
                user: unescape(number).ok_or(bad("bad percent-escape"))?,
                host: "",
                user_phone: true,
                params,
            });
        }
        let rest = rest.split('?').next().unwrap_or_default();
        // The user ends at the last '@' before any URI parameter of the host.
        let (user, host_and_params) = match rest.rfind('@') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => ("", rest),
        };
        // A user may carry a password (user:password); it is not part of the number.
        let user = user.split(':').next().unwrap_or_default();
        let (host_port, params) = host_and_params
            .split_once(';')
            .unwrap_or((host_and_params, ""));
        let host = if host_port.starts_with('[') {
            host_port
                .find(']')
                .map(|close| &host_port[..=close])
                .ok_or(bad("bad IPv6 host"))?
        } else {
            host_port.split(':').next().unwrap_or_default()
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let user_phone = params
            .split(';')
            .any(|p| p.eq_ignore_ascii_case("user=phone"));
        Ok(Uri {
            scheme,
            user: unescape(user).ok_or(bad("bad percent-escape"))?,
            host,
            user_phone,
            params,
        })
    }

    /// The value of parameter `name` (case-insensitive), escapes decoded; `None` when
    /// absent, valueless or badly escaped.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| unescape(v.trim()))
    }
}

/// `text` with its `%XX` escapes decoded; `None` for a broken escape or a result that is
/// not UTF-8.
pub fn unescape(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, after)) = rest.split_first() {
        if b == b'%' {
            let hex = after.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &after[2..];
        } else {
            bytes.push(b);
            rest = after;
        }
    }
    String::from_utf8(bytes).ok()
}

/// `text` escaped for a URI parameter's value (RFC 3261's `paramchar`): anything but
/// unreserved characters and `[]/:&+$` is percent-escaped.
pub fn escape_param(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:&+$".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
