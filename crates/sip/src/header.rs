//! Header names (with RFC 3261's compact forms) and the header values a redirect server
//! reads: Via, CSeq, From and To (and P-Asserted-Identity), and Privacy.

use crate::{ParseError, message::is_token};

/// A header's name, case and compact form resolved.
#[derive(Debug, Clone, Copy)]
pub enum Name<'a> {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    Contact,
    PAssertedIdentity,
    Privacy,
    /// Any other header, by its name as sent.
    Other(&'a str),
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Name::Other(a), Name::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for Name<'_> {}

impl<'a> Name<'a> {
    pub fn parse(name: &'a str) -> Name<'a> {
        const KNOWN: [(&str, Option<&str>, Name<'static>); 10] = [
            ("Via", Some("v"), Name::Via),
            ("From", Some("f"), Name::From),
            ("To", Some("t"), Name::To),
            ("Call-ID", Some("i"), Name::CallId),
            ("CSeq", None, Name::CSeq),
            ("Max-Forwards", None, Name::MaxForwards),
            ("Content-Length", Some("l"), Name::ContentLength),
            ("Contact", Some("m"), Name::Contact),
            ("P-Asserted-Identity", None, Name::PAssertedIdentity),
            ("Privacy", None, Name::Privacy),
        ];
        for (long, short, known) in KNOWN {
            if name.eq_ignore_ascii_case(long)
                || short.is_some_and(|s| name.eq_ignore_ascii_case(s))
            {
                return known;
            }
        }
        Name::Other(name)
    }
}

/// The values of a header that may list several, split at commas outside quotes and
/// angle brackets (Via, P-Asserted-Identity, Contact).
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut angled, mut escaped) = (false, false, false);
        for (at, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '<' if !quoted => angled = true,
                '>' if !quoted => angled = false,
                ',' if !quoted && !angled => {
                    rest = Some(&text[at + 1..]);
                    return Some(text[..at].trim());
                }
                _ => {}
            }
        }
        rest = None;
        Some(text.trim())
    })
    .filter(|v| !v.is_empty())
}

/// The magic cookie that starts an RFC 3261 branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// The top Via of a request: where its responses go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// UDP, TCP, TLS...
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub branch: Option<&'a str>,
    /// The `rport` parameter was present (RFC 3581): answer to the source port.
    pub rport: bool,
}

impl<'a> Via<'a> {
    pub fn parse(value: &'a str) -> Result<Via<'a>, ParseError> {
        let bad = |why| ParseError::BadValue { header: "Via", why };
        // sent-protocol: name / version / transport, with optional spaces by the slashes.
        let mut rest = value;
        let mut parts = [""; 3];
        for (n, part) in parts.iter_mut().enumerate() {
            if n > 0 {
                rest = rest
                    .trim_start_matches([' ', '\t'])
                    .strip_prefix('/')
                    .ok_or(bad("protocol is not SIP/2.0/transport"))?
                    .trim_start_matches([' ', '\t']);
            }
            let end = rest
                .bytes()
                .position(|b| !is_token(b))
                .unwrap_or(rest.len());
            (*part, rest) = rest.split_at(end);
        }
        let [name, version, transport] = parts;
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || transport.is_empty() {
            return Err(bad("protocol is not SIP/2.0/transport"));
        }
        if !rest.starts_with([' ', '\t']) {
            return Err(bad("no sent-by after the protocol"));
        }
        let mut params = rest.trim().split(';').map(str::trim);
        let sent_by = params.next().unwrap_or_default();
        let (host, port) = host_port(sent_by).ok_or(bad("bad sent-by host or port"))?;
        let mut via = Via {
            transport,
            host,
            port,
            branch: None,
            rport: false,
        };
        for param in params {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (param, None),
            };
            if key.eq_ignore_ascii_case("branch") {
                via.branch = Some(value.filter(|v| !v.is_empty()).ok_or(bad("empty branch"))?);
            } else if key.eq_ignore_ascii_case("rport") {
                via.rport = true;
            }
        }
        Ok(via)
    }

    /// The branch, if it is an RFC 3261 one (the magic cookie first) that identifies the
    /// transaction on its own.
    pub fn rfc3261_branch(&self) -> Option<&'a str> {
        self.branch.filter(|b| b.starts_with(BRANCH_COOKIE))
    }
}

/// `host[:port]`, the host a name, an IPv4 address or an IPv6 reference in brackets.
fn host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let close = text.find(']')?;
        let inside = &text[1..close];
        let v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        if inside.is_empty() || !inside.bytes().all(v6) {
            return None;
        }
        let after = &text[close + 1..];
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (&text[..=close], port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let name = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
        if host.is_empty() || !host.bytes().all(name) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    Some((host, port))
}

/// The CSeq header: a sequence number and the method it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub number: u32,
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    pub fn parse(value: &'a str) -> Result<CSeq<'a>, ParseError> {
        let bad = |why| ParseError::BadValue {
            header: "CSeq",
            why,
        };
        let (number, method) = value
            .split_once([' ', '\t'])
            .ok_or(bad("not a number and a method"))?;
        let method = method.trim();
        if number.is_empty() || number.len() > 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("sequence number is not a 32-bit number"));
        }
        let number = number
            .parse()
            .map_err(|_| bad("sequence number is not a 32-bit number"))?;
        if method.is_empty() || !method.bytes().all(is_token) {
            return Err(bad("not a number and a method"));
        }
        Ok(CSeq { number, method })
    }
}

/// A From, To, Contact or P-Asserted-Identity value: an optional display name, a URI,
/// and the header's own parameters (the tag among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    pub uri: &'a str,
    pub tag: Option<&'a str>,
    /// The display name, quotes removed (escapes kept).
    pub display: &'a str,
}

impl<'a> NameAddr<'a> {
    pub fn parse(value: &'a str, header: &'static str) -> Result<NameAddr<'a>, ParseError> {
        let bad = |why| ParseError::BadValue { header, why };
        let value = value.trim();
        let (display, uri, params) = if let Some(open) = angle_open(value) {
            let inside = &value[open + 1..];
            let close = inside.find('>').ok_or(bad("no closing '>'"))?;
            let display = value[..open].trim();
            let display = display
                .strip_prefix('"')
                .and_then(|d| d.strip_suffix('"'))
                .unwrap_or(display);
            let after = inside[close + 1..].trim();
            if !after.is_empty() && !after.starts_with(';') {
                return Err(bad("text after the URI"));
            }
            (display, &inside[..close], after)
        } else {
            // Without angle brackets, parameters belong to the header, not the URI.
            match value.split_once(';') {
                Some((uri, params)) => ("", uri, params),
                None => ("", value, ""),
            }
        };
        let uri = uri.trim();
        if uri.is_empty() || !uri.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("no URI"));
        }
        let tag = params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("tag"))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty());
        Ok(NameAddr { uri, tag, display })
    }
}

/// Where the `<` of a name-addr is, outside a quoted display name.
fn angle_open(value: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (at, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => return Some(at),
            _ => {}
        }
    }
    None
}

/// Whether a Privacy header (RFC 3323, 3325) asks that the caller's identity be kept:
/// any of `id`, `user` or `header`. `none` and `session` do not hide who calls.
pub fn privacy_hides_caller(value: &str) -> bool {
    value.split([';', ',']).map(str::trim).any(|v| {
        ["id", "user", "header"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
    })
}
