//! Which web pages may open a WebSocket to the servers: the `Origin` check
//! of RFC 6455 §10.2.
//!
//! A browser names the page that opens a WebSocket in the request's
//! `Origin` field (RFC 6455 §4.1, item 8), as RFC 6454 §6.2 serializes an
//! origin: `scheme://host`, with `:port` only when it is not the scheme's
//! default, or `null` for a page that has no origin (a sandboxed frame, a
//! local file). A browser lets any page open a WebSocket to any server, with
//! the user's cookies and from the user's network; so RFC 6455 §10.2:
//! "Servers that are not intended to process input from any web page but
//! only for certain sites SHOULD verify the |Origin| field is an origin
//! they expect. If the origin indicated is unacceptable to the server,
//! then it SHOULD respond to the WebSocket handshake with a reply
//! containing HTTP 403 Forbidden status code."
//!
//! [`OriginPolicy::check`] decides, in this order:
//! - with `*` (`--allowed-origin '*'`), every request is admitted;
//! - a request with no `Origin` is admitted: it comes from a program, not
//!   from a page in a browser, and §10.2 protects browsers' users ("A
//!   connection attempt lacking this header field SHOULD NOT be interpreted
//!   as coming from a browser client", §4.2.1 item 7);
//! - an origin in the allowed list is admitted, compared as RFC 6454 §5
//!   compares origins: the scheme and the host ignoring ASCII case, the
//!   port once the scheme's default is left out (a browser never writes it);
//! - for the chat, so is its own page: an `http` or `https` origin whose
//!   host and port are those of the request's `Host`;
//! - `null` is refused (any site can make a page whose origin is `null`),
//!   and so is a value that is not one origin.
//!
//! A refused handshake gets 403 Forbidden with a one-line body that names
//! the origin (escaped, and cut after [`MAX_SHOWN`] bytes) and the flag
//! that would admit it; the server's log line for the refusal repeats it.
//! [`OriginChecked`] puts the check in front of a service's own
//! [`Service::admit`].

use std::fmt;
use std::net::Ipv6Addr;

use ws6455::server::{Service, Upgraded};
use ws6455::{Error, Request, Response, Transport};

/// The most bytes of a refused `Origin` that a refusal repeats; the rest is
/// shown as `…`.
pub const MAX_SHOWN: usize = 100;

/// The longest host an origin may name: a DNS name has at most 253
/// characters, and a bracketed IPv6 address fewer.
const MAX_HOST_LEN: usize = 253;

/// An origin as RFC 6454 §6.2 serializes it, `scheme://host[:port]`,
/// normalized so that equal origins are equal values: scheme and host in
/// lower case, an IPv6 address in its shortest form, and no port when it is
/// the scheme's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// In lower case.
    scheme: String,
    /// In lower case; an IPv6 address in brackets and its shortest form.
    host: String,
    /// The port, unless it is the scheme's default (or none was given).
    port: Option<u16>,
}

/// Why a text is not an origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginError {
    /// No `://` after a scheme.
    NotAnOrigin,
    /// The scheme is not a letter followed by letters, digits, `+`, `-`
    /// or `.` (RFC 3986 §3.1).
    Scheme,
    /// The host is not a name, an IPv4 address or a bracketed IPv6 address.
    Host,
    /// The port is not a number from 0 to 65535.
    Port,
    /// Something follows the host and port: a path, a query or a fragment.
    Path,
    /// `null`, the origin of a page that has none, which any site can make.
    Null,
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OriginError::NotAnOrigin => {
                "not an origin: expected SCHEME://HOST or SCHEME://HOST:PORT, \
                 e.g. https://example.com, or '*' for any"
            }
            OriginError::Scheme => {
                "the scheme must be a letter followed by letters, digits, '+', '-' or '.'"
            }
            OriginError::Host => {
                "the host must be a name (letters, digits, '-', '.', '_'), an IPv4 address \
                 or an IPv6 address in brackets"
            }
            OriginError::Port => "the port must be a number from 0 to 65535",
            OriginError::Path => {
                "an origin ends after the host and port: no path, query or fragment \
                 (https://example.com, not https://example.com/)"
            }
            OriginError::Null => {
                "'null' is the origin of pages that have none (sandboxed frames, local files), \
                 which any site can make; only '*' admits it"
            }
        })
    }
}

impl std::error::Error for OriginError {}

/// A host and an optional port: the authority of an origin, or a request's
/// `Host` (RFC 7230 §5.4: `uri-host [ ":" port ]`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Authority {
    /// In lower case; an IPv6 address in brackets and its shortest form.
    host: String,
    port: Option<u16>,
}

impl Authority {
    /// Parses `host`, `host:port`, `[IPv6]` or `[IPv6]:port`; a host is a
    /// DNS name or an IPv4 address, in ASCII (a browser sends an
    /// internationalized name in its `xn--` form).
    fn parse(text: &str) -> Result<Authority, OriginError> {
        let (host, port) = match text.strip_prefix('[') {
            Some(bracketed) => {
                let (address, after) = bracketed.split_once(']').ok_or(OriginError::Host)?;
                let address: Ipv6Addr = address.parse().map_err(|_| OriginError::Host)?;
                let port = match after {
                    "" => None,
                    after => Some(after.strip_prefix(':').ok_or(OriginError::Host)?),
                };
                (format!("[{address}]"), port)
            }
            None => {
                let (host, port) = match text.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (text, None),
                };
                let is_host_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
                if host.is_empty() || host.len() > MAX_HOST_LEN || !host.bytes().all(is_host_byte) {
                    return Err(OriginError::Host);
                }
                (host.to_ascii_lowercase(), port)
            }
        };
        let port = match port {
            None => None,
            Some(digits)
                if (1..=5).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(digits.parse().map_err(|_| OriginError::Port)?)
            }
            Some(_) => return Err(OriginError::Port),
        };
        Ok(Authority { host, port })
    }
}

/// The port a scheme's URLs use when they name none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

impl Origin {
    /// Parses an origin serialized as RFC 6454 §6.2 does (`null` aside),
    /// e.g. `https://example.com` or `http://127.0.0.1:9000`. Case, and a
    /// default port written out, do not matter.
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        if text.eq_ignore_ascii_case("null") {
            return Err(OriginError::Null);
        }
        let (scheme, authority) = text.split_once("://").ok_or(OriginError::NotAnOrigin)?;
        let mut scheme_bytes = scheme.bytes();
        let is_scheme = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !is_scheme {
            return Err(OriginError::Scheme);
        }
        if authority.contains(['/', '?', '#']) {
            return Err(OriginError::Path);
        }
        let scheme = scheme.to_ascii_lowercase();
        let Authority { host, port } = Authority::parse(authority)?;
        let port = port.filter(|&port| Some(port) != default_port(&scheme));
        Ok(Origin { scheme, host, port })
    }

    /// Whether this is the origin of a page fetched over http or https from
    /// `host`, the `Host` of a request: the same host, and the same port,
    /// `Host` leaving out the default port of the scheme the page was
    /// fetched with, as the origin does.
    fn is_page_at(&self, host: &Authority) -> bool {
        let default = match self.scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        self.host == host.host && self.port.unwrap_or(default) == host.port.unwrap_or(default)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// One `--allowed-origin` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `*`: every page, whatever its origin.
    Any,
    /// Pages of this origin.
    Origin(Origin),
}

/// Parses an `--allowed-origin` value: `*`, or an origin (not `null`).
pub fn parse_allowed_origin(text: &str) -> Result<AllowedOrigin, OriginError> {
    match text {
        "*" => Ok(AllowedOrigin::Any),
        _ => Origin::parse(text).map(AllowedOrigin::Origin),
    }
}

/// Which pages may open a WebSocket; see the module documentation.
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    /// `*` was given: every request is admitted, whatever its `Origin`.
    any: bool,
    /// The origins given.
    allowed: Vec<Origin>,
    /// Whether the server's own pages are admitted: an origin that names
    /// the request's `Host`, over http or https.
    own_pages: bool,
}

impl OriginPolicy {
    /// The echo server's: with no `allowed` origins, any page (it is a test
    /// server, for pages from anywhere); with some, only pages of those
    /// origins, and programs.
    pub fn for_echo(allowed: Vec<AllowedOrigin>) -> OriginPolicy {
        match allowed.is_empty() {
            true => OriginPolicy::new(vec![AllowedOrigin::Any], false),
            false => OriginPolicy::new(allowed, false),
        }
    }

    /// The chat's: its own page (the origin that names the `Host` it was
    /// reached at, over http or https), programs, and pages of the
    /// `allowed` origins too. The list adds to the own page rather than
    /// replacing it: behind a proxy, the `Host` the chat sees may not be the
    /// one the browser used, and the page's origin is then given here.
    pub fn for_chat(allowed: Vec<AllowedOrigin>) -> OriginPolicy {
        OriginPolicy::new(allowed, true)
    }

    /// Admits the `allowed` origins, every one if `*` is among them, and
    /// the server's own pages too if `own_pages`.
    fn new(allowed: Vec<AllowedOrigin>, own_pages: bool) -> OriginPolicy {
        let any = allowed.contains(&AllowedOrigin::Any);
        let allowed = allowed
            .into_iter()
            .filter_map(|allowed| match allowed {
                AllowedOrigin::Any => None,
                AllowedOrigin::Origin(origin) => Some(origin),
            })
            .collect();
        OriginPolicy {
            any,
            allowed,
            own_pages,
        }
    }

    /// Admits `request`, or says why its `Origin` is refused.
    pub fn check(&self, request: &Request) -> Result<(), RefusedOrigin> {
        if self.any {
            return Ok(());
        }
        let mut fields = request.header_values("Origin");
        // RFC 6455 §4.2.1 item 7: no Origin, no browser.
        let Some(value) = fields.next() else {
            return Ok(());
        };
        let refused = |why| RefusedOrigin {
            shown: shown(value),
            why,
        };
        if fields.next().is_some() {
            return Err(refused(Why::Several));
        }
        let origin = match std::str::from_utf8(value).map(Origin::parse) {
            Ok(Ok(origin)) => origin,
            Ok(Err(OriginError::Null)) => return Err(refused(Why::Null)),
            Ok(Err(_)) | Err(_) => return Err(refused(Why::NotAnOrigin)),
        };
        let own_page = || {
            let host = request
                .header("Host")
                .and_then(|host| std::str::from_utf8(host).ok());
            host.and_then(|host| Authority::parse(host).ok())
                .is_some_and(|host| origin.is_page_at(&host))
        };
        match self.allowed.contains(&origin) || (self.own_pages && own_page()) {
            true => Ok(()),
            false => Err(refused(Why::NotAllowed(origin))),
        }
    }
}

/// A request whose `Origin` the policy refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedOrigin {
    /// The `Origin` as sent, quoted, escaped and cut ([`shown`]).
    shown: String,
    /// What is wrong with it.
    why: Why,
}

/// Why an `Origin` is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Why {
    /// An origin neither listed nor the server's own.
    NotAllowed(Origin),
    /// `null`.
    Null,
    /// Not one origin.
    NotAnOrigin,
    /// More than one `Origin` field (a browser sends one).
    Several,
}

impl RefusedOrigin {
    /// The 403 Forbidden, whose one-line body names the origin and what
    /// would admit it.
    pub fn response(&self) -> Response {
        Response::text(403, "Forbidden", &self.to_string())
    }
}

impl fmt::Display for RefusedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.shown;
        match &self.why {
            Why::NotAllowed(origin) => {
                let origin = origin.to_string();
                let flag_value = match origin.len() <= MAX_SHOWN {
                    true => origin.as_str(),
                    false => "ORIGIN",
                };
                write!(
                    f,
                    "pages from origin {shown} may not connect here (RFC 6455 §10.2); \
                     the server admits them when started with --allowed-origin {flag_value}"
                )
            }
            Why::Null => write!(
                f,
                "pages with origin {shown} (sandboxed frames, local files) may not connect here \
                 (RFC 6455 §10.2); only --allowed-origin '*' admits them"
            ),
            Why::NotAnOrigin => write!(
                f,
                "Origin {shown} is not an origin (SCHEME://HOST[:PORT]); \
                 only --allowed-origin '*' admits it"
            ),
            Why::Several => write!(
                f,
                "the request has more than one Origin field (the first: {shown}); \
                 only --allowed-origin '*' admits it"
            ),
        }
    }
}

/// `value` in double quotes, for one line of text: printable ASCII as it
/// is, `"` and `\` escaped with `\`, any other byte as `\xNN`; after
/// [`MAX_SHOWN`] bytes, `…`.
fn shown(value: &[u8]) -> String {
    let mut shown = String::from("\"");
    for &byte in value.iter().take(MAX_SHOWN) {
        match byte {
            b'"' | b'\\' => {
                shown.push('\\');
                shown.push(char::from(byte));
            }
            b' '..=b'~' => shown.push(char::from(byte)),
            _ => shown.push_str(&format!("\\x{byte:02x}")),
        }
    }
    if value.len() > MAX_SHOWN {
        shown.push('…');
    }
    shown.push('"');
    shown
}

/// `service`, with every upgrade request's `Origin` checked against
/// `policy` before the service's own [`Service::admit`] is asked: a refused
/// one gets [`RefusedOrigin::response`]. Everything else is the service's.
#[derive(Debug)]
pub struct OriginChecked<S> {
    policy: OriginPolicy,
    service: S,
}

impl<S> OriginChecked<S> {
    /// `service` behind `policy`.
    pub fn new(policy: OriginPolicy, service: S) -> OriginChecked<S> {
        OriginChecked { policy, service }
    }
}

impl<T: Transport, S: Service<T>> Service<T> for OriginChecked<S> {
    fn plain_http(&self, request: &Request) -> Response {
        self.service.plain_http(request)
    }

    fn admit(&self, request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        self.policy
            .check(request)
            .map_err(|refused| refused.response())?;
        self.service.admit(request)
    }

    fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        self.service.choose_subprotocol(request)
    }

    fn session(&self, connection: Upgraded<'_, T>, request: &Request) -> Result<(), Error> {
        self.service.session(connection, request)
    }

    fn shutting_down(&self) {
        self.service.shutting_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upgrade request's head with these header fields (the upgrade's
    /// own fields do not matter to the policy).
    fn request(headers: &[(&str, &[u8])]) -> Request {
        Request {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
                .collect(),
        }
    }

    fn from(host: &str, origin: &str) -> Request {
        request(&[("Host", host.as_bytes()), ("Origin", origin.as_bytes())])
    }

    fn allowed(origins: &[&str]) -> Vec<AllowedOrigin> {
        origins
            .iter()
            .map(|origin| parse_allowed_origin(origin).unwrap())
            .collect()
    }

    fn admits(policy: &OriginPolicy, request: &Request) -> bool {
        policy.check(request).is_ok()
    }

    #[test]
    fn origins_are_normalized_as_rfc6454_serializes_them() {
        let origin = |text| Origin::parse(text).map(|origin| origin.to_string());
        assert_eq!(
            origin("https://example.com"),
            Ok("https://example.com".into())
        );
        assert_eq!(
            origin("HTTPS://Example.COM"),
            Ok("https://example.com".into())
        );
        assert_eq!(
            origin("https://example.com:443"),
            Ok("https://example.com".into())
        );
        assert_eq!(
            origin("http://example.com:80"),
            Ok("http://example.com".into())
        );
        assert_eq!(
            origin("http://example.com:443"),
            Ok("http://example.com:443".into())
        );
        assert_eq!(
            origin("http://127.0.0.1:9000"),
            Ok("http://127.0.0.1:9000".into())
        );
        assert_eq!(
            origin("http://[0:0::1]:9000"),
            Ok("http://[::1]:9000".into())
        );
        assert_eq!(
            origin("http://[::FFFF:1.2.3.4]"),
            Ok("http://[::ffff:1.2.3.4]".into())
        );
        assert_eq!(
            origin("chrome-extension://abc"),
            Ok("chrome-extension://abc".into())
        );
        assert_eq!(origin("app+x.y-z://h:1"), Ok("app+x.y-z://h:1".into()));
    }

    #[test]
    fn what_is_not_an_origin_says_why() {
        for (text, error) in [
            ("example.com", OriginError::NotAnOrigin),
            ("", OriginError::NotAnOrigin),
            ("null", OriginError::Null),
            ("NULL", OriginError::Null),
            ("://example.com", OriginError::Scheme),
            ("1http://example.com", OriginError::Scheme),
            ("ht tp://example.com", OriginError::Scheme),
            ("https://", OriginError::Host),
            ("https://:443", OriginError::Host),
            ("https://user@example.com", OriginError::Host),
            ("https://exa mple.com", OriginError::Host),
            ("https://ex%41mple.com", OriginError::Host),
            ("https://[::1", OriginError::Host),
            ("https://[nope]", OriginError::Host),
            ("https://[::1]x", OriginError::Host),
            ("https://::1", OriginError::Host),
            (&format!("https://{}", "a".repeat(254)), OriginError::Host),
            ("https://example.com:", OriginError::Port),
            ("https://example.com:65536", OriginError::Port),
            ("https://example.com:+80", OriginError::Port),
            ("https://example.com:000080", OriginError::Port),
            ("https://example.com:80:80", OriginError::Port),
            ("https://example.com/", OriginError::Path),
            ("https://example.com/chat", OriginError::Path),
            ("https://example.com?x", OriginError::Path),
            ("https://example.com#x", OriginError::Path),
        ] {
            assert_eq!(Origin::parse(text), Err(error), "{text:?}");
            let message = error.to_string();
            assert!(!message.contains('\n') && !message.is_empty(), "{message}");
        }
        assert_eq!(parse_allowed_origin("*"), Ok(AllowedOrigin::Any));
        assert_eq!(parse_allowed_origin("null"), Err(OriginError::Null));
        assert_eq!(parse_allowed_origin("**"), Err(OriginError::NotAnOrigin));
    }

    #[test]
    fn listed_origins_match_ignoring_case_and_the_default_port() {
        let policy =
            OriginPolicy::for_echo(allowed(&["https://Example.com", "http://localhost:8080"]));
        for admitted in [
            "https://example.com",
            "HTTPS://EXAMPLE.COM",
            "https://example.com:443",
            "http://localhost:8080",
            "http://LOCALHOST:8080",
        ] {
            assert!(admits(&policy, &from("echo.test", admitted)), "{admitted}");
        }
        for refused in [
            "http://example.com",
            "https://example.com:8443",
            "https://www.example.com",
            "https://example.com.evil.test",
            "http://localhost",
            "http://localhost:8081",
            "ws://localhost:8080",
        ] {
            assert!(!admits(&policy, &from("echo.test", refused)), "{refused}");
        }
    }

    #[test]
    fn a_request_without_origin_is_a_program_and_is_admitted() {
        let restricted = OriginPolicy::for_echo(allowed(&["https://example.com"]));
        assert!(admits(&restricted, &request(&[("Host", b"echo.test")])));
        assert!(admits(&restricted, &request(&[])));
        let chat = OriginPolicy::for_chat(Vec::new());
        assert!(admits(&chat, &request(&[("Host", b"chat.test")])));
    }

    #[test]
    fn the_echo_admits_any_origin_by_default_and_only_the_listed_ones_when_told() {
        let open = OriginPolicy::for_echo(Vec::new());
        for origin in [
            "http://evil.example",
            "null",
            "garbage",
            "https://echo.test",
        ] {
            assert!(admits(&open, &from("echo.test", origin)), "{origin}");
        }
        assert!(admits(
            &open,
            &request(&[("Origin", b"a"), ("Origin", b"b")])
        ));
        // Restricted, the echo has no page of its own: its Host is no pass.
        let restricted = OriginPolicy::for_echo(allowed(&["https://example.com"]));
        assert!(!admits(&restricted, &from("echo.test", "http://echo.test")));
    }

    #[test]
    fn star_admits_everything_even_null() {
        for policy in [
            OriginPolicy::for_echo(allowed(&["https://example.com", "*"])),
            OriginPolicy::for_chat(allowed(&["*"])),
        ] {
            for origin in ["http://evil.example", "null", "not an origin"] {
                assert!(admits(&policy, &from("chat.test", origin)), "{origin}");
            }
        }
    }

    #[test]
    fn the_chat_admits_its_own_page_over_http_or_https() {
        let chat = OriginPolicy::for_chat(Vec::new());
        for (host, origin) in [
            ("127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("chat.example", "http://chat.example"),
            ("chat.example", "https://chat.example"),
            ("Chat.Example", "https://chat.example"),
            ("chat.example:443", "https://chat.example"),
            ("chat.example:80", "http://chat.example"),
            ("chat.example:8443", "https://chat.example:8443"),
            ("chat.example:8443", "http://chat.example:8443"),
            ("[::1]:9000", "http://[0::1]:9000"),
        ] {
            assert!(
                admits(&chat, &from(host, origin)),
                "Host {host}, Origin {origin}"
            );
        }
        for (host, origin) in [
            ("127.0.0.1:9000", "http://127.0.0.1:9001"),
            ("127.0.0.1:9000", "http://localhost:9000"),
            ("127.0.0.1:9000", "http://127.0.0.1"),
            ("chat.example", "https://chat.example:8443"),
            ("chat.example:443", "http://chat.example"),
            ("chat.example:80", "https://chat.example"),
            ("chat.example", "ws://chat.example"),
            ("chat.example", "chrome-extension://chat.example"),
            ("chat.example", "http://evil.example"),
            ("chat.example", "null"),
            ("not a host", "http://not a host"),
        ] {
            assert!(
                !admits(&chat, &from(host, origin)),
                "Host {host}, Origin {origin}"
            );
        }
        // With no Host, there is no own page to match.
        assert!(!admits(
            &chat,
            &request(&[("Origin", b"http://chat.example")])
        ));
    }

    #[test]
    fn the_chats_list_adds_to_its_own_page() {
        let chat = OriginPolicy::for_chat(allowed(&["https://chat.example"]));
        // Behind a proxy: the Host the chat sees is not the browser's.
        assert!(admits(
            &chat,
            &from("127.0.0.1:9000", "https://chat.example")
        ));
        assert!(admits(
            &chat,
            &from("127.0.0.1:9000", "http://127.0.0.1:9000")
        ));
        assert!(!admits(
            &chat,
            &from("127.0.0.1:9000", "http://evil.example")
        ));
    }

    #[test]
    fn a_refusal_is_one_line_naming_the_origin_and_how_to_admit_it() {
        let chat = OriginPolicy::for_chat(Vec::new());
        let refusal = |origin: &[u8]| {
            let refused = chat
                .check(&request(&[("Host", b"chat.test"), ("Origin", origin)]))
                .unwrap_err();
            let response = refused.response();
            assert_eq!(
                (response.status, response.reason.as_str()),
                (403, "Forbidden")
            );
            let body = String::from_utf8(response.body).unwrap();
            let line = body.strip_suffix('\n').unwrap().to_owned();
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            line
        };
        assert_eq!(
            refusal(b"HTTP://Evil.Example:80"),
            "pages from origin \"HTTP://Evil.Example:80\" may not connect here (RFC 6455 §10.2); \
             the server admits them when started with --allowed-origin http://evil.example"
        );
        assert_eq!(
            refusal(b"null"),
            "pages with origin \"null\" (sandboxed frames, local files) may not connect here \
             (RFC 6455 §10.2); only --allowed-origin '*' admits them"
        );
        assert_eq!(
            refusal(b"x\"\\\r\n\x00\xff"),
            "Origin \"x\\\"\\\\\\x0d\\x0a\\x00\\xff\" is not an origin (SCHEME://HOST[:PORT]); \
             only --allowed-origin '*' admits it"
        );
        let long = format!("http://{}.example", "a".repeat(200));
        let line = refusal(long.as_bytes());
        let cut = format!("\"{}…\"", &long[..MAX_SHOWN]);
        assert!(line.contains(&cut), "{line}");
        assert!(line.ends_with("--allowed-origin ORIGIN"), "{line}");
        assert!(line.len() < 400, "{line}");
        let several = chat
            .check(&request(&[
                ("Origin", b"http://a.test"),
                ("Origin", b"http://b.test"),
            ]))
            .unwrap_err();
        assert_eq!(
            several.to_string(),
            "the request has more than one Origin field (the first: \"http://a.test\"); \
             only --allowed-origin '*' admits it"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_an_origin_or_refused_and_an_origin_reads_back_as_itself(
            text in "\\PC{0,40}|[a-zA-Z][a-zA-Z0-9+.-]{0,6}://[a-zA-Z0-9.:_\\[\\]-]{0,24}"
        ) {
            if let Ok(origin) = Origin::parse(&text) {
                proptest::prop_assert_eq!(Origin::parse(&origin.to_string()), Ok(origin));
            }
        }

        #[test]
        fn any_origin_and_host_fields_get_an_answer_not_a_panic(
            origin in proptest::collection::vec(proptest::num::u8::ANY, 0..60),
            host in proptest::collection::vec(proptest::num::u8::ANY, 0..60),
        ) {
            let request = request(&[("Host", &host), ("Origin", &origin)]);
            for policy in [OriginPolicy::for_echo(Vec::new()), OriginPolicy::for_chat(Vec::new())] {
                if let Err(refused) = policy.check(&request) {
                    let response = refused.response();
                    proptest::prop_assert_eq!(response.status, 403);
                    proptest::prop_assert!(!response.body.contains(&b'\r'));
                }
            }
        }
    }
}
