//! The opening handshake, client side (RFC 6455 §4.1), without I/O.
//!
//! [`ClientHandshake`] builds the request for a [`WsUri`] with a fresh
//! random key and remembers what the answer must contain; [`ResponseParser`]
//! reads the server's answer as it arrives; [`ClientHandshake::check_response`]
//! validates it the way §4.1 lists, and gives the subprotocol in use.

use std::{fmt, io};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::deflate::config::{DeflateConfig, DeflateParams};
use crate::deflate::negotiation::{
    DeflateResponseError, PERMESSAGE_DEFLATE, check_response as check_deflate_response,
    client_offer,
};
use crate::handshake::extensions::{ExtensionSyntaxError, encode_extension, parse_extensions};
use crate::handshake::http::{
    HeadError, HeadParser, Request, Response, check_extra_headers, is_token, tokens,
};
use crate::handshake::uri::WsUri;
use crate::handshake::{HandshakeLimits, WEBSOCKET_VERSION, accept_key};
use crate::proto::{Decoded, UsageError};

/// Header fields the handshake writes itself, which extra headers may not
/// replace. `Sec-WebSocket-Extensions` is the handshake's to write too: an
/// extension offered behind its back would be one the connection cannot
/// speak (§9.1); permessage-deflate is offered with [`ClientHandshake::with_deflate`].
const HANDSHAKE_HEADERS: [&str; 7] = [
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

/// A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes. RFC 6455 §4.1
/// item 7: "The nonce MUST be selected randomly for each connection."
/// Without the operating system's generator there is no acceptable source,
/// so its failure is an error.
pub(crate) fn random_key() -> io::Result<String> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(format!("no random key: {e}")))?;
    Ok(BASE64.encode(nonce))
}

/// A client's opening handshake: the request to send, and what the server's
/// answer must contain to be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    request: Request,
    key: String,
    subprotocols: Vec<String>,
    /// What permessage-deflate was offered with, if it was.
    deflate: Option<DeflateConfig>,
}

/// What the server's answer agreed to: for a client, once
/// [`ClientHandshake::check_response`] accepts it; for a server whose
/// requests another HTTP server reads, in the answer of
/// [`answer_upgrade`](crate::answer_upgrade).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Agreed {
    /// The subprotocol in use, if the server chose one (§4.1 item 6).
    pub subprotocol: Option<String>,
    /// permessage-deflate's parameters, if the server accepted the client's offer.
    pub deflate: Option<DeflateParams>,
}

impl ClientHandshake {
    /// The handshake for `uri` with `key` (base64 of 16 random bytes, fresh
    /// for every connection: §4.1 item 7), offering `subprotocols` (in order of preference) and
    /// sending `extra_headers` after the required ones (e.g. `Origin`,
    /// `Authorization`, cookies).
    pub fn with_key(
        uri: &WsUri,
        subprotocols: &[String],
        extra_headers: &[(String, Vec<u8>)],
        key: String,
    ) -> Result<ClientHandshake, UsageError> {
        check_subprotocols(subprotocols)?;
        check_extra_headers(extra_headers, &HANDSHAKE_HEADERS)?;
        // §4.1 items 4–7 and 9: Host, Upgrade, Connection, the key, the version.
        let mut headers = vec![
            ("Host".to_owned(), uri.host_header().into_bytes()),
            ("Upgrade".to_owned(), b"websocket".to_vec()),
            ("Connection".to_owned(), b"Upgrade".to_vec()),
            ("Sec-WebSocket-Key".to_owned(), key.clone().into_bytes()),
            (
                "Sec-WebSocket-Version".to_owned(),
                WEBSOCKET_VERSION.as_bytes().to_vec(),
            ),
        ];
        if !subprotocols.is_empty() {
            headers.push((
                "Sec-WebSocket-Protocol".to_owned(),
                subprotocols.join(", ").into_bytes(),
            ));
        }
        headers.extend(extra_headers.iter().cloned());
        // §4.1 items 2–3: "The method of the request MUST be GET, and the
        // HTTP version MUST be at least 1.1", for the /resource name/.
        let request = Request {
            method: "GET".to_owned(),
            path: uri.resource_name().to_owned(),
            minor_version: 1,
            headers,
        };
        Ok(ClientHandshake {
            request,
            key,
            subprotocols: subprotocols.to_vec(),
            deflate: None,
        })
    }

    /// Offers permessage-deflate as `config` asks (RFC 7692 §5), or nothing
    /// with `None`.
    pub fn with_deflate(mut self, config: Option<DeflateConfig>) -> ClientHandshake {
        self.request
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"));
        if let Some(config) = &config {
            let offer = encode_extension(&client_offer(config));
            self.request
                .headers
                .push(("Sec-WebSocket-Extensions".to_owned(), offer.into_bytes()));
        }
        self.deflate = config;
        self
    }

    /// The request to send.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Validates the server's answer as RFC 6455 §4.1 lists, and returns
    /// what it agreed to: the subprotocol and permessage-deflate, if any.
    pub fn check_response(&self, response: &Response) -> Result<Agreed, ResponseError> {
        // §4.1 item 1: "If the status code received from the server is not
        // 101, the client handles the response per HTTP [RFC2616] procedures."
        // We report it; a redirect is reported with its target, not followed.
        if response.status != 101 {
            let reason = response.reason.clone();
            let location = response.header("Location").map(lossy);
            return Err(match location {
                Some(location) if (300..400).contains(&response.status) => {
                    ResponseError::Redirect {
                        status: response.status,
                        reason,
                        location,
                    }
                }
                _ => ResponseError::NotSwitchingProtocols {
                    status: response.status,
                    reason,
                },
            });
        }
        // §4.1 item 2: "If the response lacks an |Upgrade| header field or the
        // |Upgrade| header field contains a value that is not an ASCII
        // case-insensitive match for the value "websocket", the client MUST
        // _Fail the WebSocket Connection_."
        let upgrade = response
            .header("Upgrade")
            .ok_or(ResponseError::MissingUpgrade)?;
        if !upgrade.trim_ascii().eq_ignore_ascii_case(b"websocket") {
            return Err(ResponseError::UpgradeNotWebSocket(lossy(upgrade)));
        }
        // §4.1 item 3: "If the response lacks a |Connection| header field or
        // the |Connection| header field doesn't contain a token that is an
        // ASCII case-insensitive match for the value "Upgrade", the client
        // MUST _Fail the WebSocket Connection_."
        let connection_upgrade = response
            .header_values("Connection")
            .any(|v| tokens(v).any(|t| t.eq_ignore_ascii_case("Upgrade")));
        if !connection_upgrade {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        // §4.1 item 4: "If the response lacks a |Sec-WebSocket-Accept| header
        // field or the |Sec-WebSocket-Accept| contains a value other than the
        // base64-encoded SHA-1 of [the key and the GUID] but ignoring any
        // leading and trailing whitespace, the client MUST _Fail the WebSocket
        // Connection_." §11.3.3: it "MUST NOT appear more than once".
        let accept =
            single_header(response, "Sec-WebSocket-Accept")?.ok_or(ResponseError::MissingAccept)?;
        let expected = accept_key(self.key.as_bytes());
        if accept.trim_ascii() != expected.as_bytes() {
            return Err(ResponseError::WrongAccept {
                expected,
                received: lossy(accept),
            });
        }
        // §4.1 item 5: an extension "that was not present in the client's
        // handshake" fails the connection. (§11.3.2: the field MUST NOT
        // appear more than once in a response.)
        let answered = match single_header(response, "Sec-WebSocket-Extensions")? {
            Some(value) => parse_extensions([value]).map_err(ResponseError::MalformedExtensions)?,
            None => Vec::new(),
        };
        // RFC 6455 §4.1: an extension "that was not present in the client's
        // handshake (the server has indicated an extension not requested by
        // the client), the client MUST _Fail the WebSocket Connection_."
        let offered =
            |name: &str| self.deflate.is_some() && name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE);
        if let Some(extension) = answered.iter().find(|e| !offered(&e.name)) {
            return Err(ResponseError::UnrequestedExtension(extension.name.clone()));
        }
        let deflate = match &self.deflate {
            Some(config) => check_deflate_response(config, &answered)?,
            None => None,
        };
        // §4.1 item 6: a subprotocol "that was not present in the client's
        // handshake" fails the connection. §4.2.2: the server sends one value,
        // and §11.3.4: the field "MUST NOT appear more than once".
        let subprotocol = match single_header(response, "Sec-WebSocket-Protocol")? {
            None => None,
            Some(chosen) => {
                let chosen = lossy(chosen).trim().to_owned();
                if !self.subprotocols.contains(&chosen) {
                    return Err(ResponseError::UnrequestedSubprotocol(chosen));
                }
                Some(chosen)
            }
        };
        Ok(Agreed {
            subprotocol,
            deflate,
        })
    }
}

/// The value of header `name` if it appears at most once.
fn single_header<'a>(
    response: &'a Response,
    name: &'static str,
) -> Result<Option<&'a [u8]>, ResponseError> {
    let mut values = response.header_values(name);
    match (values.next(), values.next()) {
        (_, Some(_)) => Err(ResponseError::RepeatedHeader(name)),
        (value, None) => Ok(value),
    }
}

fn lossy(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// RFC 6455 §4.1 item 10: the subprotocols "MUST be non-empty strings with
/// characters in the range U+0021 to U+007E not including separator
/// characters as defined in [RFC2616] and MUST all be unique strings."
fn check_subprotocols(subprotocols: &[String]) -> Result<(), UsageError> {
    for (i, protocol) in subprotocols.iter().enumerate() {
        if !is_token(protocol) {
            return Err(UsageError::InvalidSubprotocol(protocol.clone()));
        }
        if subprotocols[..i].contains(protocol) {
            return Err(UsageError::DuplicateSubprotocol(protocol.clone()));
        }
    }
    Ok(())
}

/// Parses the server's response head as it arrives, in time linear in its
/// length, with the same parser as [`RequestParser`](crate::handshake::RequestParser).
#[derive(Debug)]
pub struct ResponseParser(HeadParser);

impl ResponseParser {
    /// A parser at the start of a response.
    pub fn new(limits: HandshakeLimits) -> ResponseParser {
        ResponseParser(HeadParser::new(limits))
    }

    /// Parses `buf`, everything received so far (each call with the previous
    /// bytes plus new ones). `Complete` gives the response head (its `body`
    /// left empty) and its length; after a 101, the bytes after it are the
    /// server's first frames.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Decoded<Response>, ResponseError> {
        self.0.parse_response(buf).map_err(ResponseError::from)
    }
}

impl From<HeadError> for ResponseError {
    fn from(e: HeadError) -> ResponseError {
        match e {
            HeadError::Malformed(why) => ResponseError::Malformed(why),
            HeadError::TooLarge { max } => ResponseError::HeadersTooLarge { max },
            HeadError::TooManyHeaders { max } => ResponseError::TooManyHeaders { max },
        }
    }
}

/// Why a client fails the connection on the server's answer to its opening
/// handshake (RFC 6455 §4.1: "The client MUST validate the server's response").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The response is not valid HTTP/1.1 (httparse's reason).
    Malformed(&'static str),
    /// The response head is larger than the configured limit.
    HeadersTooLarge {
        /// The configured limit in bytes.
        max: usize,
    },
    /// More header fields than the configured limit.
    TooManyHeaders {
        /// The configured limit.
        max: usize,
    },
    /// The server did not answer within the handshake timeout.
    Timeout,
    /// §4.1 item 1: the status is not 101, so this is not a WebSocket.
    NotSwitchingProtocols {
        /// The status code, e.g. 404.
        status: u16,
        /// The reason phrase, e.g. `Not Found`.
        reason: String,
    },
    /// §4.1 item 1: a 3xx with a `Location`. Redirects are reported, not followed.
    Redirect {
        /// The status code, e.g. 301.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// Where the server says to go instead.
        location: String,
    },
    /// §4.1 item 2: no `Upgrade` header field.
    MissingUpgrade,
    /// §4.1 item 2: `Upgrade` is not `websocket`; the value received.
    UpgradeNotWebSocket(String),
    /// §4.1 item 3: `Connection` lacks the token `Upgrade`.
    MissingConnectionUpgrade,
    /// §4.1 item 4: no `Sec-WebSocket-Accept` header field.
    MissingAccept,
    /// §4.1 item 4: `Sec-WebSocket-Accept` does not prove the server read our key.
    WrongAccept {
        /// The value our key requires.
        expected: String,
        /// The value received.
        received: String,
    },
    /// §11.3.2–§11.3.4: this header field MUST NOT appear more than once in a response.
    RepeatedHeader(&'static str),
    /// §4.1 item 6: the server chose a subprotocol we did not offer.
    UnrequestedSubprotocol(String),
    /// §4.1 item 5: the server answered with an extension we did not ask for
    /// (we ask for none).
    UnrequestedExtension(String),
    /// RFC 6455 §9.1: the response's `Sec-WebSocket-Extensions` breaks its grammar.
    MalformedExtensions(ExtensionSyntaxError),
    /// RFC 7692 §7: the server's permessage-deflate answer is not one the
    /// client may accept ("A client MUST _Fail the WebSocket Connection_").
    InvalidDeflateResponse(DeflateResponseError),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Malformed(why) => write!(f, "malformed HTTP response: {why}"),
            ResponseError::HeadersTooLarge { max } => {
                write!(f, "response header section larger than {max} bytes")
            }
            ResponseError::TooManyHeaders { max } => {
                write!(f, "more than {max} response header fields")
            }
            ResponseError::Timeout => {
                f.write_str("the server did not answer the opening handshake in time")
            }
            ResponseError::NotSwitchingProtocols { status, reason } => {
                write!(
                    f,
                    "the server answered {status} {reason}, not 101 Switching Protocols (RFC 6455 §4.1)"
                )
            }
            ResponseError::Redirect {
                status,
                reason,
                location,
            } => write!(
                f,
                "the server answered {status} {reason}, redirecting to {location} (redirects are not followed; RFC 6455 §4.1)"
            ),
            ResponseError::MissingUpgrade => {
                f.write_str("the response has no Upgrade header (RFC 6455 §4.1)")
            }
            ResponseError::UpgradeNotWebSocket(value) => write!(
                f,
                "the response's Upgrade is {value:?}, not \"websocket\" (RFC 6455 §4.1)"
            ),
            ResponseError::MissingConnectionUpgrade => f.write_str(
                "the response's Connection header lacks the token \"Upgrade\" (RFC 6455 §4.1)",
            ),
            ResponseError::MissingAccept => {
                f.write_str("the response has no Sec-WebSocket-Accept header (RFC 6455 §4.1)")
            }
            ResponseError::WrongAccept { expected, received } => write!(
                f,
                "Sec-WebSocket-Accept is {received:?} but our key requires {expected:?} (RFC 6455 §4.1)"
            ),
            ResponseError::RepeatedHeader(name) => {
                write!(
                    f,
                    "{name} appears more than once in the response (RFC 6455 §11.3)"
                )
            }
            ResponseError::UnrequestedSubprotocol(protocol) => write!(
                f,
                "the server chose subprotocol {protocol:?}, which we did not offer (RFC 6455 §4.1)"
            ),
            ResponseError::UnrequestedExtension(extensions) => write!(
                f,
                "the server chose extensions {extensions:?}, which we did not offer (RFC 6455 §4.1)"
            ),
            ResponseError::MalformedExtensions(e) => {
                write!(
                    f,
                    "the response's Sec-WebSocket-Extensions is malformed: {e}"
                )
            }
            ResponseError::InvalidDeflateResponse(e) => {
                write!(
                    f,
                    "the server's permessage-deflate answer is not acceptable: {e}"
                )
            }
        }
    }
}

impl std::error::Error for ResponseError {}

impl From<DeflateResponseError> for ResponseError {
    fn from(e: DeflateResponseError) -> ResponseError {
        ResponseError::InvalidDeflateResponse(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_header_error_in_a_response_fails_the_handshake() {
        let e = parse_extensions([b"permessage-deflate;".as_slice()]).unwrap_err();
        assert_eq!(
            ResponseError::MalformedExtensions(e).to_string(),
            "the response's Sec-WebSocket-Extensions is malformed: Sec-WebSocket-Extensions \
             field 1, byte 19: expected a parameter name (a token), found the end of the field \
             (RFC 6455 §9.1)"
        );
    }

    #[test]
    fn client_fails_on_an_extension_it_did_not_offer() {
        // RFC 6455 §4.1 item 5.
        let uri = WsUri::parse("ws://example.com/").unwrap();
        for (deflate, answer) in [
            (Some(DeflateConfig::for_client()), "mux"),
            (
                Some(DeflateConfig::for_client()),
                "x-webkit-deflate-frame, permessage-deflate",
            ),
            (
                Some(DeflateConfig::for_client()),
                "permessage-deflate, x-webkit-deflate-frame",
            ),
            (Some(DeflateConfig::for_client()), "deflate-stream"),
            (None, "permessage-deflate"),
        ] {
            let handshake =
                ClientHandshake::with_key(&uri, &[], &[], "dGhlIHNhbXBsZSBub25jZQ==".to_owned())
                    .unwrap()
                    .with_deflate(deflate);
            let mut response = Response::switching_protocols("dGhlIHNhbXBsZSBub25jZQ==", None);
            response.headers.push((
                "Sec-WebSocket-Extensions".to_owned(),
                answer.as_bytes().to_vec(),
            ));
            let unrequested = answer
                .split(", ")
                .find(|name| deflate.is_none() || *name != "permessage-deflate")
                .unwrap();
            assert_eq!(
                handshake.check_response(&response),
                Err(ResponseError::UnrequestedExtension(unrequested.to_owned())),
                "{answer}"
            );
        }
    }

    #[test]
    fn a_refused_deflate_answer_says_so() {
        assert_eq!(
            ResponseError::from(DeflateResponseError::AcceptedTwice).to_string(),
            format!(
                "the server's permessage-deflate answer is not acceptable: {}",
                DeflateResponseError::AcceptedTwice
            )
        );
    }

    #[test]
    fn response_status_outside_100_to_599_is_malformed() {
        // Found by the handshake_response fuzz target: "050" parsed as 50
        // and re-encoded as an unparsable "50".
        for head in [
            &b"HTTP/1.1 050 X\r\n\r\n"[..],
            b"HTTP/1.1 600 X\r\n\r\n",
            b"HTTP/1.1 000 X\r\n\r\n",
        ] {
            let parsed = ResponseParser::new(HandshakeLimits::default()).parse(head);
            assert_eq!(
                parsed,
                Err(ResponseError::Malformed("status code outside 100-599"))
            );
        }
        let head = b"HTTP/1.1 599 X\r\n\r\n";
        let parsed = ResponseParser::new(HandshakeLimits::default()).parse(head);
        assert!(matches!(parsed, Ok(Decoded::Complete(r, _)) if r.status == 599));
    }

    fn fresh_handshake(
        uri: &WsUri,
        subprotocols: &[String],
        extra_headers: &[(String, Vec<u8>)],
    ) -> Result<ClientHandshake, UsageError> {
        ClientHandshake::with_key(uri, subprotocols, extra_headers, random_key().unwrap())
    }
    use crate::handshake::server::RequestParser;
    use crate::handshake::server::check_upgrade_request;
    use proptest::prelude::*;

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\r\n";

    fn rfc_handshake() -> ClientHandshake {
        let uri = WsUri::parse("ws://server.example.com/chat").unwrap();
        let offered = ["chat".to_owned(), "superchat".to_owned()];
        ClientHandshake::with_key(&uri, &offered, &[], RFC_KEY.to_owned()).unwrap()
    }

    fn parse(buf: &[u8]) -> Result<Decoded<Response>, ResponseError> {
        ResponseParser::new(HandshakeLimits::default()).parse(buf)
    }

    fn parsed(buf: &[u8]) -> Response {
        match parse(buf) {
            Ok(Decoded::Complete(r, _)) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// The RFC's example response with header `name` removed and, if given,
    /// `value` added in its place.
    fn with_header(name: &str, value: Option<&str>) -> Response {
        let mut response = parsed(RFC_RESPONSE);
        response
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            response
                .headers
                .push((name.to_owned(), v.as_bytes().to_vec()));
        }
        response
    }

    #[test]
    fn rfc6455_1_2_example_request_from_the_client() {
        let mut wire = Vec::new();
        rfc_handshake().request().encode(&mut wire);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n"
        );
    }

    #[test]
    fn rfc6455_1_2_example_response_is_accepted() {
        let response = parsed(RFC_RESPONSE);
        assert_eq!(
            (response.status, &*response.reason),
            (101, "Switching Protocols")
        );
        assert_eq!(
            rfc_handshake().check_response(&response),
            Ok(Agreed {
                subprotocol: Some("chat".to_owned()),
                deflate: None
            })
        );
    }

    #[test]
    fn rfc6455_4_1_host_has_port_only_when_not_default() {
        let host = |uri: &str| {
            let uri = WsUri::parse(uri).unwrap();
            let handshake = fresh_handshake(&uri, &[], &[]).unwrap();
            handshake.request().header("Host").unwrap().to_vec()
        };
        assert_eq!(host("ws://example.com/"), b"example.com");
        assert_eq!(host("ws://example.com:9001/"), b"example.com:9001");
        assert_eq!(host("ws://[::1]:9001/"), b"[::1]:9001");
    }

    #[test]
    fn rfc6455_4_1_key_is_a_fresh_16_byte_nonce_per_connection() {
        let uri = WsUri::parse("ws://h/").unwrap();
        let keys: Vec<String> = (0..32)
            .map(|_| fresh_handshake(&uri, &[], &[]).unwrap().key().to_owned())
            .collect();
        for key in &keys {
            assert_eq!(BASE64.decode(key).unwrap().len(), 16, "{key}");
        }
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
    }

    #[test]
    fn rfc6455_4_1_subprotocols_must_be_unique_tokens() {
        let uri = WsUri::parse("ws://h/").unwrap();
        let offer = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            fresh_handshake(&uri, &list, &[]).map(|_| ())
        };
        assert_eq!(offer(&["chat", "v2.chat"]), Ok(()));
        for bad in ["", "a b", "a,b", "é", "a/b"] {
            assert_eq!(
                offer(&[bad]),
                Err(UsageError::InvalidSubprotocol(bad.to_owned()))
            );
        }
        assert_eq!(
            offer(&["chat", "chat"]),
            Err(UsageError::DuplicateSubprotocol("chat".to_owned()))
        );
    }

    #[test]
    fn extra_headers_follow_and_may_not_replace_the_handshake_fields() {
        let uri = WsUri::parse("ws://h/").unwrap();
        let with = |name: &str, value: &[u8]| {
            fresh_handshake(&uri, &[], &[(name.to_owned(), value.to_vec())])
        };
        let handshake = with("Origin", b"http://example.com").unwrap();
        assert_eq!(
            handshake.request().headers.last(),
            Some(&("Origin".to_owned(), b"http://example.com".to_vec()))
        );
        for reserved in ["host", "Sec-WebSocket-Key", "Sec-WebSocket-Extensions"] {
            assert_eq!(
                with(reserved, b"x"),
                Err(UsageError::ReservedHeader(reserved.to_owned()))
            );
        }
        assert_eq!(
            with("X-Evil", b"a\r\nHost: elsewhere"),
            Err(UsageError::InvalidHeader("X-Evil".to_owned()))
        );
        assert_eq!(
            with("Bad Name", b"x"),
            Err(UsageError::InvalidHeader("Bad Name".to_owned()))
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_on_status_other_than_101() {
        let mut response = parsed(RFC_RESPONSE);
        response.status = 404;
        response.reason = "Not Found".to_owned();
        assert_eq!(
            rfc_handshake().check_response(&response),
            Err(ResponseError::NotSwitchingProtocols {
                status: 404,
                reason: "Not Found".to_owned()
            })
        );
        response.status = 200;
        response.reason = "OK".to_owned();
        assert!(
            rfc_handshake()
                .check_response(&response)
                .unwrap_err()
                .to_string()
                .contains("200 OK")
        );
    }

    #[test]
    fn rfc6455_4_1_client_reports_a_redirect_without_following_it() {
        let mut response = with_header("Location", Some("ws://elsewhere/chat"));
        response.status = 301;
        response.reason = "Moved Permanently".to_owned();
        assert_eq!(
            rfc_handshake().check_response(&response),
            Err(ResponseError::Redirect {
                status: 301,
                reason: "Moved Permanently".to_owned(),
                location: "ws://elsewhere/chat".to_owned()
            })
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_without_upgrade_websocket() {
        let handshake = rfc_handshake();
        assert_eq!(
            handshake.check_response(&with_header("Upgrade", None)),
            Err(ResponseError::MissingUpgrade)
        );
        assert_eq!(
            handshake.check_response(&with_header("Upgrade", Some("h2c"))),
            Err(ResponseError::UpgradeNotWebSocket("h2c".to_owned()))
        );
        assert!(
            handshake
                .check_response(&with_header("Upgrade", Some("WebSocket")))
                .is_ok()
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_without_connection_upgrade() {
        let handshake = rfc_handshake();
        for connection in [None, Some("keep-alive"), Some("Upgraded")] {
            assert_eq!(
                handshake.check_response(&with_header("Connection", connection)),
                Err(ResponseError::MissingConnectionUpgrade),
                "{connection:?}"
            );
        }
        assert!(
            handshake
                .check_response(&with_header("Connection", Some("keep-alive, upgrade")))
                .is_ok()
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_on_wrong_accept() {
        let handshake = rfc_handshake();
        assert_eq!(
            handshake.check_response(&with_header("Sec-WebSocket-Accept", None)),
            Err(ResponseError::MissingAccept)
        );
        assert_eq!(
            handshake.check_response(&with_header(
                "Sec-WebSocket-Accept",
                Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            )),
            Err(ResponseError::WrongAccept {
                expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(),
                received: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned()
            })
        );
        // Whitespace around the value is ignored; case is not.
        assert!(
            handshake
                .check_response(&with_header(
                    "Sec-WebSocket-Accept",
                    Some(" s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ")
                ))
                .is_ok()
        );
        assert!(
            handshake
                .check_response(&with_header(
                    "Sec-WebSocket-Accept",
                    Some("S3PPLMBITXAQ9KYGZZHZRBK+XOO=")
                ))
                .is_err()
        );
    }

    #[test]
    fn rfc6455_11_3_3_accept_must_not_repeat() {
        let mut response = parsed(RFC_RESPONSE);
        response.headers.push((
            "Sec-WebSocket-Accept".to_owned(),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_vec(),
        ));
        assert_eq!(
            rfc_handshake().check_response(&response),
            Err(ResponseError::RepeatedHeader("Sec-WebSocket-Accept"))
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_on_unrequested_subprotocol() {
        let handshake = rfc_handshake();
        assert_eq!(
            handshake.check_response(&with_header("Sec-WebSocket-Protocol", Some("mqtt"))),
            Err(ResponseError::UnrequestedSubprotocol("mqtt".to_owned()))
        );
        assert_eq!(
            handshake.check_response(&with_header(
                "Sec-WebSocket-Protocol",
                Some("chat, superchat")
            )),
            Err(ResponseError::UnrequestedSubprotocol(
                "chat, superchat".to_owned()
            ))
        );
        assert_eq!(
            handshake
                .check_response(&with_header("Sec-WebSocket-Protocol", None))
                .map(|agreed| agreed.subprotocol),
            Ok(None)
        );
        let mut repeated = parsed(RFC_RESPONSE);
        repeated
            .headers
            .push(("Sec-WebSocket-Protocol".to_owned(), b"chat".to_vec()));
        assert_eq!(
            handshake.check_response(&repeated),
            Err(ResponseError::RepeatedHeader("Sec-WebSocket-Protocol"))
        );
    }

    #[test]
    fn rfc6455_4_1_client_fails_on_unrequested_extension() {
        assert_eq!(
            rfc_handshake().check_response(&with_header(
                "Sec-WebSocket-Extensions",
                Some("permessage-deflate")
            )),
            Err(ResponseError::UnrequestedExtension(
                "permessage-deflate".to_owned()
            ))
        );
    }

    #[test]
    fn every_prefix_of_a_valid_response_needs_more() {
        for len in 0..RFC_RESPONSE.len() {
            assert_eq!(
                parse(&RFC_RESPONSE[..len]),
                Ok(Decoded::NeedMore),
                "prefix of {len}"
            );
        }
    }

    #[test]
    fn response_head_ends_where_the_frames_begin() {
        let mut wire = RFC_RESPONSE.to_vec();
        wire.extend_from_slice(&[0x81, 0x05]);
        assert_eq!(
            parse(&wire),
            Ok(Decoded::Complete(parsed(RFC_RESPONSE), RFC_RESPONSE.len()))
        );
    }

    #[test]
    fn rfc6455_10_4_response_head_over_limit_is_refused() {
        let limits = HandshakeLimits {
            max_header_bytes: 64,
            max_headers: 64,
        };
        assert_eq!(
            ResponseParser::new(limits).parse(&[b'a'; 100]),
            Err(ResponseError::HeadersTooLarge { max: 64 })
        );
        let limits = HandshakeLimits {
            max_header_bytes: 16 << 10,
            max_headers: 2,
        };
        assert_eq!(
            ResponseParser::new(limits).parse(RFC_RESPONSE),
            Err(ResponseError::TooManyHeaders { max: 2 })
        );
    }

    #[test]
    fn malformed_response_is_an_error() {
        assert_eq!(
            parse(b"HTTP/1.1 abc Nope\r\n\r\n"),
            Err(ResponseError::Malformed("invalid status"))
        );
        assert_eq!(
            parse(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(ResponseError::Malformed("invalid HTTP version"))
        );
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
    }

    fn any_uri() -> impl Strategy<Value = WsUri> {
        (
            "[a-z]{1,10}",
            1u16..,
            "(/[a-z0-9]{0,6}){0,3}(\\?[a-z0-9=&]{1,8})?",
        )
            .prop_map(|(host, port, resource)| {
                WsUri::parse(&format!("ws://{host}:{port}{resource}")).unwrap()
            })
    }

    proptest! {
        #[test]
        fn client_request_round_trips_through_the_server_parser(
            uri in any_uri(),
            subprotocols in proptest::collection::hash_set(token(), 0..4),
            extra in proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[ -~]{0,20}"), 0..4),
        ) {
            let subprotocols: Vec<String> = subprotocols.into_iter().collect();
            let extra: Vec<(String, Vec<u8>)> = extra
                .into_iter()
                .map(|(n, v)| (n, v.trim().as_bytes().to_vec()))
                .collect();
            let handshake = fresh_handshake(&uri, &subprotocols, &extra).unwrap();
            let mut wire = Vec::new();
            handshake.request().encode(&mut wire);
            let parsed = RequestParser::new(HandshakeLimits::default()).parse(&wire);
            prop_assert_eq!(parsed, Ok(Decoded::Complete(handshake.request().clone(), wire.len())));
            prop_assert_eq!(check_upgrade_request(handshake.request()), Ok(handshake.key().to_owned()));
            prop_assert_eq!(handshake.request().subprotocols().collect::<Vec<_>>(), subprotocols.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn server_answer_is_accepted_by_the_client(
            subprotocols in proptest::collection::hash_set(token(), 0..4),
            pick in any::<prop::sample::Index>(),
        ) {
            let subprotocols: Vec<String> = subprotocols.into_iter().collect();
            let uri = WsUri::parse("ws://h/").unwrap();
            let handshake = fresh_handshake(&uri, &subprotocols, &[]).unwrap();
            let chosen = (!subprotocols.is_empty()).then(|| subprotocols[pick.index(subprotocols.len())].clone());
            let mut wire = Vec::new();
            Response::switching_protocols(handshake.key(), chosen.as_deref()).encode(&mut wire);
            let Ok(Decoded::Complete(response, used)) = parse(&wire) else {
                panic!("the server's answer does not parse");
            };
            prop_assert_eq!(used, wire.len());
            prop_assert_eq!(handshake.check_response(&response).map(|a| a.subprotocol), Ok(chosen));
        }

        #[test]
        fn response_round_trip(status in 100u16..600, reason in "[A-Za-z][A-Za-z ]{0,20}[A-Za-z]",
                               headers in proptest::collection::vec((token(), "[ -~]{0,20}"), 0..10)) {
            let headers: Vec<(String, Vec<u8>)> = headers
                .into_iter()
                .map(|(n, v)| (n, v.trim().as_bytes().to_vec()))
                .collect();
            let response = Response { status, reason, headers, body: Vec::new() };
            let mut wire = Vec::new();
            response.encode(&mut wire);
            prop_assert_eq!(parse(&wire), Ok(Decoded::Complete(response, wire.len())));
        }

        #[test]
        fn parser_never_panics_and_agrees_however_split(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                                        cut in 0usize..300) {
            let whole = parse(&bytes);
            let cut = cut.min(bytes.len());
            let mut parser = ResponseParser::new(HandshakeLimits::default());
            let first = parser.parse(&bytes[..cut]);
            if first == Ok(Decoded::NeedMore) {
                prop_assert_eq!(parser.parse(&bytes), whole);
            }
        }
    }
}
