//! The opening handshake, server side (RFC 6455 §4.2), without I/O.
//!
//! [`RequestParser`] reads the client's request as it arrives;
//! [`check_upgrade_request`] checks it against §4.2.1; the `Response`
//! constructors here build the answer of §4.2.2, or the refusal.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::handshake::http::{HeadError, HeadParser, Request, Response};
use crate::handshake::{HandshakeLimits, WEBSOCKET_VERSION, accept_key};
use crate::proto::Decoded;

/// Why a server refused an opening handshake. Each maps to the HTTP status
/// it answers with ([`RequestError::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The request is not valid HTTP/1.1 (httparse's reason).
    MalformedRequest(&'static str),
    /// The header section is larger than the configured limit.
    HeadersTooLarge {
        /// The configured limit in bytes.
        max: usize,
    },
    /// More header fields than the configured limit.
    TooManyHeaders {
        /// The configured limit.
        max: usize,
    },
    /// §4.2.1 item 1: the method MUST be GET.
    MethodNotGet(String),
    /// §4.2.1 item 1: HTTP/1.1 or higher.
    HttpVersionTooOld,
    /// §4.2.1 item 2: a Host header field.
    MissingHost,
    /// §4.2.1 item 3: no `Upgrade` header field at all: a plain HTTP request.
    NotAnUpgrade,
    /// §4.2.1 item 3: an `Upgrade` header without the `websocket` token.
    UpgradeNotWebSocket,
    /// §4.2.1 item 4: `Connection` lacks the `Upgrade` token.
    MissingConnectionUpgrade,
    /// §4.2.1 item 5: no `Sec-WebSocket-Key`.
    MissingKey,
    /// §11.3.1: `Sec-WebSocket-Key` MUST NOT appear more than once.
    DuplicateKey,
    /// §4.2.1 item 5: the key is not base64 of exactly 16 bytes.
    InvalidKey,
    /// §4.2.1 item 6 and §4.4: the version is not 13 (or is missing).
    UnsupportedVersion,
    /// The client did not finish its request before the handshake timeout.
    Timeout,
    /// A valid upgrade request that the application refused before the
    /// 101 ([`accept_hdr`](crate::accept_hdr)'s callback,
    /// [`Service::admit`](crate::server::Service::admit)), answering with
    /// its own response.
    Refused {
        /// The status of the application's response, e.g. 403.
        status: u16,
    },
}

impl RequestError {
    /// The HTTP status code the server answers with.
    pub fn status(&self) -> u16 {
        self.status_line().0
    }

    /// The status code and its reason phrase.
    fn status_line(&self) -> (u16, &'static str) {
        match self {
            RequestError::HeadersTooLarge { .. } | RequestError::TooManyHeaders { .. } => {
                (431, "Request Header Fields Too Large")
            }
            RequestError::MethodNotGet(_) => (405, "Method Not Allowed"),
            RequestError::UnsupportedVersion | RequestError::NotAnUpgrade => {
                (426, "Upgrade Required")
            }
            RequestError::Timeout => (408, "Request Timeout"),
            RequestError::MalformedRequest(_)
            | RequestError::HttpVersionTooOld
            | RequestError::MissingHost
            | RequestError::UpgradeNotWebSocket
            | RequestError::MissingConnectionUpgrade
            | RequestError::MissingKey
            | RequestError::DuplicateKey
            | RequestError::InvalidKey => (400, "Bad Request"),
            RequestError::Refused { status } => (*status, ""),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::MalformedRequest(why) => write!(f, "malformed HTTP request: {why}"),
            RequestError::HeadersTooLarge { max } => {
                write!(f, "request header section larger than {max} bytes")
            }
            RequestError::TooManyHeaders { max } => {
                write!(f, "more than {max} request header fields")
            }
            RequestError::MethodNotGet(method) => {
                write!(f, "method {method} is not GET (RFC 6455 §4.2.1)")
            }
            RequestError::HttpVersionTooOld => {
                f.write_str("HTTP version below 1.1 (RFC 6455 §4.2.1)")
            }
            RequestError::MissingHost => f.write_str("missing Host header (RFC 6455 §4.2.1)"),
            RequestError::NotAnUpgrade => {
                f.write_str("this is a WebSocket endpoint; send a WebSocket upgrade request")
            }
            RequestError::UpgradeNotWebSocket => {
                f.write_str("Upgrade header lacks the token \"websocket\" (RFC 6455 §4.2.1)")
            }
            RequestError::MissingConnectionUpgrade => {
                f.write_str("Connection header lacks the token \"Upgrade\" (RFC 6455 §4.2.1)")
            }
            RequestError::MissingKey => {
                f.write_str("missing Sec-WebSocket-Key header (RFC 6455 §4.2.1)")
            }
            RequestError::DuplicateKey => {
                f.write_str("Sec-WebSocket-Key appears more than once (RFC 6455 §11.3.1)")
            }
            RequestError::InvalidKey => {
                f.write_str("Sec-WebSocket-Key is not base64 of 16 bytes (RFC 6455 §4.2.1)")
            }
            RequestError::UnsupportedVersion => {
                f.write_str("Sec-WebSocket-Version must be 13 (RFC 6455 §4.2.1)")
            }
            RequestError::Timeout => f.write_str("opening handshake timed out"),
            RequestError::Refused { status } => {
                write!(
                    f,
                    "the application refused the upgrade request with {status}"
                )
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// Parses a client's opening request as it arrives, in time linear in its
/// length (see [`ResponseParser`](crate::handshake::ResponseParser) for the
/// other end's).
#[derive(Debug)]
pub struct RequestParser(HeadParser);

impl RequestParser {
    /// A parser at the start of a request.
    pub fn new(limits: HandshakeLimits) -> RequestParser {
        RequestParser(HeadParser::new(limits))
    }

    /// Parses `buf`, everything received so far (each call with the previous
    /// bytes plus new ones). `Complete` gives the request and the length of
    /// its header section; bytes after it belong to the WebSocket stream.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Decoded<Request>, RequestError> {
        self.0.parse_request(buf).map_err(RequestError::from)
    }
}

impl From<HeadError> for RequestError {
    fn from(e: HeadError) -> RequestError {
        match e {
            HeadError::Malformed(why) => RequestError::MalformedRequest(why),
            HeadError::TooLarge { max } => RequestError::HeadersTooLarge { max },
            HeadError::TooManyHeaders { max } => RequestError::TooManyHeaders { max },
        }
    }
}

/// Checks an opening request against RFC 6455 §4.2.1 and returns the client's
/// `Sec-WebSocket-Key`, trimmed.
pub fn check_upgrade_request(request: &Request) -> Result<String, RequestError> {
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if request.method != "GET" {
        return Err(RequestError::MethodNotGet(request.method.clone()));
    }
    if request.minor_version < 1 {
        return Err(RequestError::HttpVersionTooOld);
    }
    // §4.2.1 item 2: "A |Host| header field containing the server's authority."
    if request.header("Host").is_none() {
        return Err(RequestError::MissingHost);
    }
    // §4.2.1 item 3: "An |Upgrade| header field containing the value
    // "websocket", treated as an ASCII case-insensitive value."
    if request.header("Upgrade").is_none() {
        return Err(RequestError::NotAnUpgrade);
    }
    if !request.header_has_token("Upgrade", "websocket") {
        return Err(RequestError::UpgradeNotWebSocket);
    }
    // §4.2.1 item 4: "A |Connection| header field that includes the token
    // "Upgrade", treated as an ASCII case-insensitive value."
    if !request.header_has_token("Connection", "Upgrade") {
        return Err(RequestError::MissingConnectionUpgrade);
    }
    // §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded
    // value that, when decoded, is 16 bytes in length." §11.3.1: it "MUST NOT
    // appear more than once in an HTTP request."
    let mut keys = request.header_values("Sec-WebSocket-Key");
    let key = keys.next().ok_or(RequestError::MissingKey)?;
    if keys.next().is_some() {
        return Err(RequestError::DuplicateKey);
    }
    let key = std::str::from_utf8(key)
        .map_err(|_| RequestError::InvalidKey)?
        .trim();
    match BASE64.decode(key) {
        Ok(bytes) if bytes.len() == 16 => {}
        _ => return Err(RequestError::InvalidKey),
    }
    // §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
    let mut versions = request.header_values("Sec-WebSocket-Version");
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.trim_ascii() == WEBSOCKET_VERSION.as_bytes() => {}
        _ => return Err(RequestError::UnsupportedVersion),
    }
    Ok(key.to_owned())
}

impl Response {
    /// The server's `101 Switching Protocols` (RFC 6455 §4.2.2 item 5).
    pub fn switching_protocols(key: &str, subprotocol: Option<&str>) -> Response {
        let mut headers = vec![
            ("Upgrade".to_owned(), b"websocket".to_vec()),
            ("Connection".to_owned(), b"Upgrade".to_vec()),
            (
                "Sec-WebSocket-Accept".to_owned(),
                accept_key(key.as_bytes()).into_bytes(),
            ),
        ];
        if let Some(protocol) = subprotocol {
            headers.push((
                "Sec-WebSocket-Protocol".to_owned(),
                protocol.as_bytes().to_vec(),
            ));
        }
        Response {
            status: 101,
            reason: "Switching Protocols".to_owned(),
            headers,
            body: Vec::new(),
        }
    }

    /// A plain-text response that closes the connection.
    pub fn text(status: u16, reason: &str, body: &str) -> Response {
        let body = format!("{body}\n").into_bytes();
        let headers = vec![
            (
                "Content-Type".to_owned(),
                b"text/plain; charset=utf-8".to_vec(),
            ),
            (
                "Content-Length".to_owned(),
                body.len().to_string().into_bytes(),
            ),
            ("Connection".to_owned(), b"close".to_vec()),
        ];
        Response {
            status,
            reason: reason.to_owned(),
            headers,
            body,
        }
    }

    /// The answer to a refused handshake: its status and a one-line reason.
    /// A version we do not speak gets `Sec-WebSocket-Version: 13` (§4.2.2,
    /// §4.4), and a plain HTTP request gets told to upgrade.
    pub fn rejection(error: &RequestError) -> Response {
        let (status, reason) = error.status_line();
        let mut response = Response::text(status, reason, &error.to_string());
        match error {
            RequestError::UnsupportedVersion | RequestError::NotAnUpgrade => {
                response.headers.push((
                    "Sec-WebSocket-Version".to_owned(),
                    WEBSOCKET_VERSION.as_bytes().to_vec(),
                ));
                response
                    .headers
                    .push(("Upgrade".to_owned(), b"websocket".to_vec()));
            }
            RequestError::MethodNotGet(_) => {
                response.headers.push(("Allow".to_owned(), b"GET".to_vec()));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn parse(buf: &[u8]) -> Result<Decoded<Request>, RequestError> {
        RequestParser::new(HandshakeLimits::default()).parse(buf)
    }

    fn parsed(buf: &[u8]) -> Request {
        match parse(buf) {
            Ok(Decoded::Complete(r, _)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn with_header(name: &str, value: Option<&str>) -> Request {
        let mut request = parsed(RFC_REQUEST);
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            request
                .headers
                .push((name.to_owned(), v.as_bytes().to_vec()));
        }
        request
    }

    #[test]
    fn rfc6455_1_2_example_request_is_accepted() {
        let request = parsed(RFC_REQUEST);
        assert_eq!(request.path, "/chat");
        assert_eq!(
            check_upgrade_request(&request).as_deref(),
            Ok("dGhlIHNhbXBsZSBub25jZQ==")
        );
        assert_eq!(
            request.subprotocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
    }

    #[test]
    fn every_prefix_of_a_valid_request_needs_more() {
        for len in 0..RFC_REQUEST.len() {
            assert_eq!(
                parse(&RFC_REQUEST[..len]),
                Ok(Decoded::NeedMore),
                "prefix of {len}"
            );
        }
    }

    #[test]
    fn request_fed_byte_by_byte_parses_and_keeps_following_bytes() {
        let mut wire = RFC_REQUEST.to_vec();
        wire.extend_from_slice(&[0x81, 0x80]);
        let mut parser = RequestParser::new(HandshakeLimits::default());
        for len in 0..=wire.len() {
            if let Decoded::Complete(_, used) = parser.parse(&wire[..len]).unwrap() {
                assert_eq!(len, RFC_REQUEST.len());
                assert_eq!(used, RFC_REQUEST.len());
                return;
            }
        }
        panic!("never completed");
    }

    #[test]
    fn rfc6455_10_4_header_section_over_limit_is_refused() {
        let limits = HandshakeLimits {
            max_header_bytes: 64,
            max_headers: 64,
        };
        let long = vec![b'a'; 100];
        let result = RequestParser::new(limits).parse(&long);
        assert_eq!(result, Err(RequestError::HeadersTooLarge { max: 64 }));
        assert_eq!(RequestError::HeadersTooLarge { max: 64 }.status(), 431);
    }

    #[test]
    fn too_many_headers_is_431() {
        let limits = HandshakeLimits {
            max_header_bytes: 16 << 10,
            max_headers: 4,
        };
        assert_eq!(
            RequestParser::new(limits).parse(RFC_REQUEST),
            Err(RequestError::TooManyHeaders { max: 4 })
        );
    }

    #[test]
    fn rfc6455_4_2_1_method_must_be_get() {
        let mut request = parsed(RFC_REQUEST);
        request.method = "POST".to_owned();
        let err = check_upgrade_request(&request).unwrap_err();
        assert_eq!(
            (err.status(), err),
            (405, RequestError::MethodNotGet("POST".into()))
        );
    }

    #[test]
    fn rfc6455_4_2_1_http_1_1_or_higher() {
        let mut request = parsed(RFC_REQUEST);
        request.minor_version = 0;
        assert_eq!(
            check_upgrade_request(&request),
            Err(RequestError::HttpVersionTooOld)
        );
    }

    #[test]
    fn rfc6455_4_2_1_host_required() {
        assert_eq!(
            check_upgrade_request(&with_header("Host", None)),
            Err(RequestError::MissingHost)
        );
    }

    #[test]
    fn rfc6455_4_2_1_upgrade_websocket_case_insensitive() {
        assert!(check_upgrade_request(&with_header("Upgrade", Some("WebSocket"))).is_ok());
        assert_eq!(
            check_upgrade_request(&with_header("Upgrade", Some("h2c"))),
            Err(RequestError::UpgradeNotWebSocket)
        );
        assert_eq!(
            check_upgrade_request(&with_header("Upgrade", None)),
            Err(RequestError::NotAnUpgrade)
        );
    }

    #[test]
    fn rfc6455_4_2_1_connection_token_list_contains_upgrade() {
        assert!(
            check_upgrade_request(&with_header("Connection", Some("keep-alive, upgrade"))).is_ok()
        );
        assert_eq!(
            check_upgrade_request(&with_header("Connection", Some("keep-alive"))),
            Err(RequestError::MissingConnectionUpgrade)
        );
        assert_eq!(
            check_upgrade_request(&with_header("Connection", Some("Upgraded"))),
            Err(RequestError::MissingConnectionUpgrade)
        );
    }

    #[test]
    fn rfc6455_4_2_1_key_is_base64_of_16_bytes() {
        for bad in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZXM=",
            "!!!!",
        ] {
            assert_eq!(
                check_upgrade_request(&with_header("Sec-WebSocket-Key", Some(bad))),
                Err(RequestError::InvalidKey),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_upgrade_request(&with_header("Sec-WebSocket-Key", None)),
            Err(RequestError::MissingKey)
        );
    }

    #[test]
    fn rfc6455_11_3_1_key_must_not_repeat() {
        let mut request = parsed(RFC_REQUEST);
        request.headers.push((
            "Sec-WebSocket-Key".to_owned(),
            b"AAAAAAAAAAAAAAAAAAAAAA==".to_vec(),
        ));
        assert_eq!(
            check_upgrade_request(&request),
            Err(RequestError::DuplicateKey)
        );
    }

    #[test]
    fn rfc6455_4_2_2_unsupported_version_is_426_with_version_header() {
        let err =
            check_upgrade_request(&with_header("Sec-WebSocket-Version", Some("8"))).unwrap_err();
        assert_eq!(err, RequestError::UnsupportedVersion);
        let response = Response::rejection(&err);
        assert_eq!(response.status, 426);
        assert_eq!(response.header("Sec-WebSocket-Version"), Some(&b"13"[..]));
    }

    #[test]
    fn rfc6455_4_2_2_switching_protocols_response() {
        let response = Response::switching_protocols("dGhlIHNhbXBsZSBub25jZQ==", Some("chat"));
        let mut wire = Vec::new();
        response.encode(&mut wire);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9-]{1,12}"
    }

    proptest! {
        #[test]
        fn request_round_trip(path in "/[a-z0-9/?=&]{0,20}",
                              headers in proptest::collection::vec((token(), "[ -~]{0,20}"), 0..10)) {
            let headers: Vec<(String, Vec<u8>)> = headers
                .into_iter()
                .map(|(n, v)| (n, v.trim().as_bytes().to_vec()))
                .collect();
            let request = Request { method: "GET".into(), path, minor_version: 1, headers };
            let mut wire = Vec::new();
            request.encode(&mut wire);
            prop_assert_eq!(parse(&wire), Ok(Decoded::Complete(request, wire.len())));
        }

        #[test]
        fn parser_never_panics_and_agrees_however_split(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                                        cut in 0usize..300) {
            let whole = parse(&bytes);
            let cut = cut.min(bytes.len());
            let mut parser = RequestParser::new(HandshakeLimits::default());
            let first = parser.parse(&bytes[..cut]);
            if first == Ok(Decoded::NeedMore) {
                prop_assert_eq!(parser.parse(&bytes), whole);
            }
        }
    }
}
