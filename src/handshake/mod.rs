//! The opening handshake (RFC 6455 §4), without I/O.
//!
//! A client opens with an HTTP/1.1 GET carrying `Upgrade: websocket`,
//! `Connection: Upgrade`, a random `Sec-WebSocket-Key` and
//! `Sec-WebSocket-Version: 13`. The server proves it read the key by
//! answering `101 Switching Protocols` with `Sec-WebSocket-Accept`: the
//! base64 of the SHA-1 of the key followed by a fixed GUID (§4.2.2 item 5.4).
//!
//! The server's side (§4.2): [`RequestParser`] reads the request,
//! [`check_upgrade_request`] checks it, and the answer is a
//! [`Response::switching_protocols`](crate::Response::switching_protocols)
//! or a refusal with the [`RequestError`]'s status. The client's side
//! (§4.1): [`ClientHandshake`] builds the request and checks the answer,
//! which [`ResponseParser`] reads. Both parsers find
//! the end of the header section by scanning each received byte once, and
//! only then hand the section to httparse, so a head trickling in byte by
//! byte costs linear time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

pub(crate) mod client;
pub(crate) mod extensions;
pub(crate) mod http;
pub(crate) mod server;
pub(crate) mod uri;

pub use client::{Agreed, ClientHandshake, ResponseError, ResponseParser};
pub use extensions::{
    ExtensionOffer, ExtensionSyntaxError, SyntaxProblem, TokenRole, encode_extension,
    parse_extensions,
};
pub use server::{RequestError, RequestParser, check_upgrade_request};
pub use uri::{Host, UriError, WsUri};

/// The GUID appended to the client's key (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The one protocol version this crate speaks (RFC 6455 §4.1, §11.6).
pub const WEBSOCKET_VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`
/// (RFC 6455 §4.2.2 item 5.4): base64(SHA-1(key ++ GUID)).
pub fn accept_key(key: &[u8]) -> String {
    BASE64.encode(accept_key_sha1(key))
}

/// The SHA-1 digest inside the Accept value, for showing the steps.
fn accept_key_sha1(key: &[u8]) -> [u8; 20] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    sha1.finalize().into()
}

/// Limits on an opening request or response head (RFC 6455 §10.4 applies to them too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeLimits {
    /// The largest header section accepted, in bytes. Default 16 KiB.
    pub max_header_bytes: usize,
    /// The most header fields accepted. Default 64.
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> HandshakeLimits {
        HandshakeLimits {
            max_header_bytes: 16 << 10,
            max_headers: 64,
        }
    }
}

impl HandshakeLimits {
    /// Sets [`HandshakeLimits::max_header_bytes`].
    pub fn max_header_bytes(mut self, bytes: usize) -> HandshakeLimits {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`HandshakeLimits::max_headers`].
    pub fn max_headers(mut self, count: usize) -> HandshakeLimits {
        self.max_headers = count;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_1_3_example_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
