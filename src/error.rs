//! Errors, split by who is at fault (see STYLE.md): the peer broke the
//! protocol or one of our limits ([`ProtocolError`], which maps to the close
//! code sent before the TCP connection is closed), a client's opening
//! handshake was refused by us ([`HandshakeError`], which maps to the HTTP
//! status we answer), the server's answer to our opening handshake fails it
//! ([`ResponseError`]), or the caller misused the API ([`UsageError`], and
//! [`UriError`] for a URI we cannot connect to).

use std::{fmt, io};

use crate::handshake::deflate_negotiation::DeflateResponseError;
use crate::handshake::extensions::ExtensionSyntaxError;
pub use crate::protocol_error::ProtocolError;
use crate::ws_uri::UriError;

/// Why a server refused an opening handshake. Each maps to the HTTP status
/// it answers with ([`HandshakeError::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
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
}

impl HandshakeError {
    /// The HTTP status code and reason phrase the server answers with.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            HandshakeError::HeadersTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => {
                (431, "Request Header Fields Too Large")
            }
            HandshakeError::MethodNotGet(_) => (405, "Method Not Allowed"),
            HandshakeError::UnsupportedVersion | HandshakeError::NotAnUpgrade => {
                (426, "Upgrade Required")
            }
            HandshakeError::Timeout => (408, "Request Timeout"),
            HandshakeError::MalformedRequest(_)
            | HandshakeError::HttpVersionTooOld
            | HandshakeError::MissingHost
            | HandshakeError::UpgradeNotWebSocket
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::DuplicateKey
            | HandshakeError::InvalidKey => (400, "Bad Request"),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::MalformedRequest(why) => write!(f, "malformed HTTP request: {why}"),
            HandshakeError::HeadersTooLarge { max } => {
                write!(f, "request header section larger than {max} bytes")
            }
            HandshakeError::TooManyHeaders { max } => {
                write!(f, "more than {max} request header fields")
            }
            HandshakeError::MethodNotGet(method) => {
                write!(f, "method {method} is not GET (RFC 6455 §4.2.1)")
            }
            HandshakeError::HttpVersionTooOld => {
                f.write_str("HTTP version below 1.1 (RFC 6455 §4.2.1)")
            }
            HandshakeError::MissingHost => f.write_str("missing Host header (RFC 6455 §4.2.1)"),
            HandshakeError::NotAnUpgrade => {
                f.write_str("this is a WebSocket endpoint; send a WebSocket upgrade request")
            }
            HandshakeError::UpgradeNotWebSocket => {
                f.write_str("Upgrade header lacks the token \"websocket\" (RFC 6455 §4.2.1)")
            }
            HandshakeError::MissingConnectionUpgrade => {
                f.write_str("Connection header lacks the token \"Upgrade\" (RFC 6455 §4.2.1)")
            }
            HandshakeError::MissingKey => {
                f.write_str("missing Sec-WebSocket-Key header (RFC 6455 §4.2.1)")
            }
            HandshakeError::DuplicateKey => {
                f.write_str("Sec-WebSocket-Key appears more than once (RFC 6455 §11.3.1)")
            }
            HandshakeError::InvalidKey => {
                f.write_str("Sec-WebSocket-Key is not base64 of 16 bytes (RFC 6455 §4.2.1)")
            }
            HandshakeError::UnsupportedVersion => {
                f.write_str("Sec-WebSocket-Version must be 13 (RFC 6455 §4.2.1)")
            }
            HandshakeError::Timeout => f.write_str("opening handshake timed out"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Why a client fails the connection on the server's answer to its opening
/// handshake (RFC 6455 §4.1: "The client MUST validate the server's response").
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The caller asked for something the protocol does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// §5.5: a ping, pong or close payload over 125 bytes.
    ControlPayloadTooLong(usize),
    /// §7.4.1: the caller tried to send a code that is not valid on the wire.
    InvalidCloseCode(u16),
    /// §5.5.1: after sending a Close frame, no more data frames may be sent.
    SendAfterClose,
    /// §4.2.2: the server chose a subprotocol the client did not offer.
    SubprotocolNotOffered(String),
    /// §4.1 item 10: a subprotocol to offer must be a token (printable ASCII,
    /// no separators).
    InvalidSubprotocol(String),
    /// §4.1 item 10: the subprotocols offered "MUST all be unique strings".
    DuplicateSubprotocol(String),
    /// An extra header field whose name is not a token or whose value holds
    /// control characters.
    InvalidHeader(String),
    /// An extra header field that the opening handshake sets itself (or, for
    /// `Sec-WebSocket-Extensions`, one for extensions this crate lacks).
    ReservedHeader(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::ControlPayloadTooLong(len) => {
                write!(
                    f,
                    "control frame payload of {len} bytes exceeds 125 (RFC 6455 §5.5)"
                )
            }
            UsageError::InvalidCloseCode(code) => {
                write!(f, "close code {code} may not be sent (RFC 6455 §7.4.1)")
            }
            UsageError::SendAfterClose => {
                f.write_str("cannot send after a Close frame (RFC 6455 §5.5.1)")
            }
            UsageError::SubprotocolNotOffered(p) => {
                write!(
                    f,
                    "subprotocol {p:?} was not offered by the client (RFC 6455 §4.2.2)"
                )
            }
            UsageError::InvalidSubprotocol(p) => write!(
                f,
                "subprotocol {p:?} is not a token: printable ASCII without separators (RFC 6455 §4.1)"
            ),
            UsageError::DuplicateSubprotocol(p) => {
                write!(f, "subprotocol {p:?} is offered twice (RFC 6455 §4.1)")
            }
            UsageError::InvalidHeader(name) => write!(
                f,
                "header {name:?} is not a valid HTTP header field (a token name, a value without control characters)"
            ),
            UsageError::ReservedHeader(name) => {
                write!(f, "header {name:?} is set by the opening handshake itself")
            }
        }
    }
}

impl std::error::Error for UsageError {}

/// Everything that can end or refuse a WebSocket operation.
#[derive(Debug)]
pub enum Error {
    /// The stream failed. A peer that drops the connection without a Close
    /// frame shows up as [`io::ErrorKind::UnexpectedEof`].
    Io(io::Error),
    /// The opening handshake was refused; the HTTP answer has been sent.
    Handshake(HandshakeError),
    /// The peer broke the protocol; the Close frame with
    /// [`ProtocolError::close_code`] has been sent.
    Protocol(ProtocolError),
    /// The server's answer to our opening handshake fails the connection (client side).
    Response(ResponseError),
    /// The caller misused the API; nothing was sent.
    Usage(UsageError),
    /// The URI to connect to is not a `ws://` URI we can use; nothing was sent.
    Uri(UriError),
    /// The connection is closed: the close handshake finished or the
    /// connection failed, and nothing more can be read or written.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Handshake(e) => write!(f, "handshake refused: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Response(e) => write!(f, "opening handshake failed: {e}"),
            Error::Usage(e) => write!(f, "usage error: {e}"),
            Error::Uri(e) => write!(f, "invalid URI: {e}"),
            Error::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Response(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::Uri(e) => Some(e),
            Error::Closed => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Error {
        Error::Handshake(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Error {
        Error::Response(e)
    }
}

impl From<UriError> for Error {
    fn from(e: UriError) -> Error {
        Error::Uri(e)
    }
}
