//! WebSocket URIs (RFC 6455 §3), parsed by hand.
//!
//! ```text
//! ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
//! wss-URI = "wss:" "//" host [ ":" port ] path [ "?" query ]
//! ```
//!
//! `host`, `port`, `path` (path-abempty) and `query` are RFC 3986's. A client
//! connects to host and port (80 by default, 443 for `wss`) and asks for the
//! *resource name*: the path, or `/` if it is empty, followed by `?` and the
//! query if the query is not empty. `wss:` is the same over TLS.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The default port of the `ws` scheme (RFC 6455 §3).
pub(crate) const DEFAULT_PORT: u16 = 80;

/// The default port of the `wss` scheme (RFC 6455 §3).
pub(crate) const DEFAULT_SECURE_PORT: u16 = 443;

/// The host of a WebSocket URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A registered name, resolved when connecting, e.g. `example.com`.
    Name(String),
    /// An IPv4 literal, e.g. `127.0.0.1`.
    V4(Ipv4Addr),
    /// An IPv6 literal, written in brackets in the URI: `[::1]`.
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    /// The host as it appears in a URI or a `Host` header field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::V4(ip) => write!(f, "{ip}"),
            Host::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A parsed `ws://` or `wss://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUri {
    /// `wss`: the connection runs over TLS.
    secure: bool,
    host: Host,
    port: u16,
    resource_name: String,
}

impl WsUri {
    /// Parses a `ws://` or `wss://` URI. RFC 6455 §4.1 item 1: the components "MUST be
    /// valid according to the specification of WebSocket URIs specified in
    /// Section 3. If any of the components are invalid, the client MUST _Fail
    /// the WebSocket Connection_", so this is strict.
    pub fn parse(uri: &str) -> Result<WsUri, UriError> {
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::NotAbsolute)?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(UriError::UnsupportedScheme(scheme.to_owned())),
        };
        // RFC 6455 §3: "Fragment identifiers are meaningless in the context of
        // WebSocket URIs and MUST NOT be used on these URIs."
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        let default_port = if secure {
            DEFAULT_SECURE_PORT
        } else {
            DEFAULT_PORT
        };
        let (host, port) = parse_authority(authority, default_port)?;
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        check_characters(path, "path", |c| c == '/' || is_pchar(c))?;
        check_characters(query, "query", |c| c == '/' || c == '?' || is_pchar(c))?;
        // RFC 6455 §3: the resource name is "/" if the path component is
        // empty, the path, "?" if the query component is non-empty, the query.
        let mut resource_name = if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        if !query.is_empty() {
            resource_name.push('?');
            resource_name.push_str(query);
        }
        Ok(WsUri {
            secure,
            host,
            port,
            resource_name,
        })
    }

    /// Whether this is a `wss://` URI: the connection runs over TLS
    /// (RFC 6455 §4.1 item 5).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port to connect to: the URI's, or 80 (443 for `wss`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resource name sent in the request line, e.g. `/chat?room=1`.
    pub fn resource_name(&self) -> &str {
        &self.resource_name
    }

    /// The value of the request's `Host` header field. RFC 6455 §4.1 item 4:
    /// "/host/ plus optionally ":" followed by /port/ (when not using the
    /// default port)".
    pub fn host_header(&self) -> String {
        let default_port = if self.secure {
            DEFAULT_SECURE_PORT
        } else {
            DEFAULT_PORT
        };
        if self.port == default_port {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for WsUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.resource_name)
    }
}

impl FromStr for WsUri {
    type Err = UriError;

    fn from_str(uri: &str) -> Result<WsUri, UriError> {
        WsUri::parse(uri)
    }
}

/// Splits `host[:port]` (RFC 3986 §3.2).
fn parse_authority(authority: &str, default_port: u16) -> Result<(Host, u16), UriError> {
    if authority.contains('@') {
        return Err(UriError::UserInfo);
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed
            .split_once(']')
            .ok_or_else(|| UriError::InvalidHost(authority.to_owned()))?;
        let ip = Ipv6Addr::from_str(literal)
            .map_err(|_| UriError::InvalidHost(format!("[{literal}]")))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| UriError::InvalidHost(authority.to_owned()))?,
            ),
        };
        (Host::V6(ip), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if name.is_empty() {
            return Err(UriError::MissingHost);
        }
        let host = match Ipv4Addr::from_str(name) {
            Ok(ip) => Host::V4(ip),
            Err(_) if is_reg_name(name) => Host::Name(name.to_owned()),
            Err(_) => return Err(UriError::InvalidHost(name.to_owned())),
        };
        (host, port)
    };
    let port = match port {
        // RFC 3986 §3.2.3: an empty port means the scheme's default.
        None | Some("") => default_port,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port != 0 && digits.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err(UriError::InvalidPort(digits.to_owned())),
        },
    };
    Ok((host, port))
}

/// RFC 3986 §3.2.2: `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(name: &str) -> bool {
    check_characters(name, "host", |c| is_unreserved(c) || is_sub_delim(c)).is_ok()
}

/// Checks that every character of `component` is allowed or percent-encoded.
fn check_characters(
    component: &str,
    name: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), UriError> {
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hex: String = chars.by_ref().take(2).collect();
            if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(UriError::BadPercentEncoding(name));
            }
        } else if !allowed(c) {
            return Err(UriError::InvalidCharacter {
                character: c,
                component: name,
            });
        }
    }
    Ok(())
}

/// RFC 3986 §3.3: `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`.
fn is_pchar(c: char) -> bool {
    is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@'
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

fn is_sub_delim(c: char) -> bool {
    matches!(
        c,
        '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '='
    )
}

/// Why a string is not a `ws://` URI we can connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme://` at the start.
    NotAbsolute,
    /// A scheme other than `ws` or `wss`.
    UnsupportedScheme(String),
    /// Nothing between `ws://` and the port or path.
    MissingHost,
    /// `user@host`: the ws-URI grammar has no user information.
    UserInfo,
    /// A host that is neither a registered name nor an IP literal.
    InvalidHost(String),
    /// A port that is not a number from 1 to 65535.
    InvalidPort(String),
    /// A character that must be percent-encoded, and the component it is in.
    InvalidCharacter {
        /// The character.
        character: char,
        /// `host`, `path` or `query`.
        component: &'static str,
    },
    /// A `%` not followed by two hex digits, in this component.
    BadPercentEncoding(&'static str),
    /// §3: a fragment (`#...`) MUST NOT be used on a WebSocket URI.
    Fragment,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::NotAbsolute => {
                f.write_str("not a WebSocket URI: expected ws://host[:port][/path][?query]")
            }
            UriError::UnsupportedScheme(scheme) => write!(
                f,
                "scheme {scheme:?} is not a WebSocket scheme: use ws:// or wss:// (RFC 6455 §3)"
            ),
            UriError::MissingHost => f.write_str("the URI has no host (RFC 6455 §3)"),
            UriError::UserInfo => f.write_str(
                "user information (user@) is not allowed in a WebSocket URI (RFC 6455 §3)",
            ),
            UriError::InvalidHost(host) => write!(
                f,
                "invalid host {host:?}: expected a name, an IPv4 address or an [IPv6] address \
                 (RFC 3986 §3.2.2; non-ASCII names must be punycode)"
            ),
            UriError::InvalidPort(port) => {
                write!(
                    f,
                    "invalid port {port:?}: expected a number from 1 to 65535"
                )
            }
            UriError::InvalidCharacter {
                character,
                component,
            } => write!(
                f,
                "character {character:?} is not allowed in the {component}: percent-encode it (RFC 3986)"
            ),
            UriError::BadPercentEncoding(component) => write!(
                f,
                "'%' in the {component} must be followed by two hex digits (RFC 3986 §2.1)"
            ),
            UriError::Fragment => f.write_str(
                "a WebSocket URI MUST NOT have a fragment (#...); escape '#' as %23 (RFC 6455 §3)",
            ),
        }
    }
}

impl std::error::Error for UriError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(uri: &str) -> WsUri {
        WsUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }

    #[test]
    fn rfc6455_3_host_port_and_resource_name() {
        let uri = parse("ws://example.com:9001/chat?room=1");
        assert_eq!(uri.host(), &Host::Name("example.com".into()));
        assert_eq!(uri.port(), 9001);
        assert_eq!(uri.resource_name(), "/chat?room=1");
        assert_eq!(uri.host_header(), "example.com:9001");
    }

    #[test]
    fn rfc6455_3_default_port_is_80_and_left_out_of_host() {
        let uri = parse("ws://example.com/chat");
        assert_eq!(uri.port(), 80);
        assert_eq!(uri.host_header(), "example.com");
        assert_eq!(parse("ws://example.com:80/").host_header(), "example.com");
        assert_eq!(parse("ws://example.com:/").port(), 80);
    }

    #[test]
    fn rfc6455_3_empty_path_is_slash_and_empty_query_is_dropped() {
        assert_eq!(parse("ws://h").resource_name(), "/");
        assert_eq!(parse("ws://h?x=1").resource_name(), "/?x=1");
        assert_eq!(parse("ws://h/a/b?").resource_name(), "/a/b");
        assert_eq!(parse("ws://h/a?b?c/d").resource_name(), "/a?b?c/d");
    }

    #[test]
    fn ip_literals() {
        let v4 = parse("ws://127.0.0.1:9001/");
        assert_eq!(v4.host(), &Host::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(v4.host_header(), "127.0.0.1:9001");
        let v6 = parse("ws://[::1]:9001/x");
        assert_eq!(v6.host(), &Host::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(v6.host_header(), "[::1]:9001");
        assert_eq!(parse("ws://[fe80::1]").host_header(), "[fe80::1]");
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse("WS://h/").to_string(), "ws://h/");
    }

    #[test]
    fn rfc6455_3_wss_is_ws_over_tls_with_port_443_by_default() {
        let uri = parse("wss://example.com/chat?x=1");
        assert!(uri.is_secure());
        assert_eq!(uri.port(), 443);
        assert_eq!(uri.host_header(), "example.com");
        assert_eq!(uri.to_string(), "wss://example.com/chat?x=1");
        let uri = parse("WSS://example.com:80/");
        assert!(uri.is_secure());
        assert_eq!(uri.host_header(), "example.com:80");
        assert!(!parse("ws://example.com:443/").is_secure());
        assert_eq!(
            parse("ws://example.com:443/").host_header(),
            "example.com:443"
        );
    }

    #[test]
    fn rfc6455_3_fragment_must_not_be_used() {
        assert_eq!(WsUri::parse("ws://h/#top"), Err(UriError::Fragment));
        assert_eq!(parse("ws://h/%23top").resource_name(), "/%23top");
    }

    #[test]
    fn rfc6455_4_1_invalid_uris_are_refused() {
        let cases: &[(&str, UriError)] = &[
            ("localhost:9001", UriError::NotAbsolute),
            ("http://h/", UriError::UnsupportedScheme("http".into())),
            ("ws:///path", UriError::MissingHost),
            ("ws://:9001/", UriError::MissingHost),
            ("ws://user@h/", UriError::UserInfo),
            ("ws://h:0/", UriError::InvalidPort("0".into())),
            ("ws://h:65536/", UriError::InvalidPort("65536".into())),
            ("ws://h:+80/", UriError::InvalidPort("+80".into())),
            ("ws://h:x/", UriError::InvalidPort("x".into())),
            ("ws://[::1/", UriError::InvalidHost("[::1".into())),
            ("ws://[nope]/", UriError::InvalidHost("[nope]".into())),
            ("ws://[::1]x/", UriError::InvalidHost("[::1]x".into())),
            ("ws://ex ample/", UriError::InvalidHost("ex ample".into())),
            ("ws://exämple/", UriError::InvalidHost("exämple".into())),
            (
                "ws://h/a b",
                UriError::InvalidCharacter {
                    character: ' ',
                    component: "path",
                },
            ),
            (
                "ws://h/?q=\"",
                UriError::InvalidCharacter {
                    character: '"',
                    component: "query",
                },
            ),
            ("ws://h/%zz", UriError::BadPercentEncoding("path")),
            ("ws://h/?%4", UriError::BadPercentEncoding("query")),
        ];
        for (uri, error) in cases {
            assert_eq!(WsUri::parse(uri).as_ref(), Err(error), "{uri}");
        }
    }

    fn any_host() -> impl Strategy<Value = Host> {
        prop_oneof![
            "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}".prop_map(Host::Name),
            any::<[u8; 4]>().prop_map(|b| Host::V4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| Host::V6(Ipv6Addr::from(b))),
        ]
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(host in any_host(), port in 1u16..,
                                    path in "(/[a-zA-Z0-9._~!$&'()*+,;=:@%-]{0,8}){0,3}",
                                    query in proptest::option::of("[a-zA-Z0-9/?=&]{1,12}")) {
            let path = path.replace('%', "%25");
            let written = match &query {
                Some(q) => format!("ws://{host}:{port}{path}?{q}"),
                None => format!("ws://{host}:{port}{path}"),
            };
            let uri = WsUri::parse(&written).unwrap();
            prop_assert_eq!(uri.host(), &host);
            prop_assert_eq!(uri.port(), port);
            prop_assert_eq!(WsUri::parse(&uri.to_string()), Ok(uri));
        }

        #[test]
        fn parse_never_panics(uri in "\\PC{0,40}") {
            let _ = WsUri::parse(&uri);
        }
    }
}
