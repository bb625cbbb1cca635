//! The opening handshake (RFC 6455 §4), without I/O.
//!
//! A client opens with an HTTP/1.1 GET carrying `Upgrade: websocket`,
//! `Connection: Upgrade`, a random `Sec-WebSocket-Key` and
//! `Sec-WebSocket-Version: 13`. The server proves it read the key by
//! answering `101 Switching Protocols` with `Sec-WebSocket-Accept`: the
//! base64 of the SHA-1 of the key followed by a fixed GUID (§4.2.2 item 5.4).
//!
//! The server's side (§4.2) is in [`server`]: it parses and checks the
//! request and builds the answer. The client's side (§4.1) is in [`client`]:
//! it builds the request and parses and checks the answer. Both parsers find
//! the end of the header section by scanning each received byte once, and
//! only then hand the section to httparse, so a head trickling in byte by
//! byte costs linear time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

pub mod client;
pub mod deflate_negotiation;
pub mod extensions;
pub mod server;

pub use server::{RequestParser, check_upgrade_request};

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
pub fn accept_key_sha1(key: &[u8]) -> [u8; 20] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    sha1.finalize().into()
}

/// Limits on an opening request or response head (RFC 6455 §10.4 applies to them too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// A parsed HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/chat?room=1`.
    pub path: String,
    /// The HTTP minor version: 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    /// The values of every header field called `name` (case-insensitive).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        values_of(&self.headers, name)
    }

    /// The first value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        first_value_of(&self.headers, name)
    }

    /// Whether the comma-separated header `name` holds `token` (case-insensitive),
    /// across all of its fields.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header_values(name)
            .any(|v| tokens(v).any(|t| t.eq_ignore_ascii_case(token)))
    }

    /// The subprotocols the client offered in `Sec-WebSocket-Protocol`, in order.
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values("Sec-WebSocket-Protocol")
            .flat_map(tokens)
    }

    /// Appends the request as it goes on the wire.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(
            format!(
                "{} {} HTTP/1.{}\r\n",
                self.method, self.path, self.minor_version
            )
            .as_bytes(),
        );
        encode_headers(&self.headers, dst);
    }
}

/// The non-empty, trimmed items of a comma-separated header value.
pub(crate) fn tokens(value: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(value)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The values of every field called `name` (header names are case-insensitive).
fn values_of<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The first value of the field called `name`, if any.
fn first_value_of<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

fn encode_headers(headers: &[(String, Vec<u8>)], dst: &mut Vec<u8>) {
    for (name, value) in headers {
        dst.extend_from_slice(name.as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
}

/// Finds where an HTTP head (start line and header section) ends while its
/// bytes arrive, looking at each byte once.
#[derive(Debug, Default)]
pub(crate) struct HeadScanner {
    /// How many bytes have already been searched.
    scanned: usize,
}

impl HeadScanner {
    /// The length of the head in `buf` (everything received so far, each
    /// call with the previous bytes plus new ones), through its blank line;
    /// `None` if it has not ended yet.
    pub(crate) fn end_of_head(&mut self, buf: &[u8]) -> Option<usize> {
        // The terminator may straddle the previous end: back up by its length less one.
        let end = find_end_of_headers(buf, self.scanned.saturating_sub(3));
        if end.is_none() {
            self.scanned = buf.len();
        }
        end
    }
}

/// The index just past the blank line ending an HTTP header section
/// (`\r\n\r\n`, or the bare `\n\n` that httparse also accepts), searching
/// line ends from `from`.
fn find_end_of_headers(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match buf.get(i + 1..i + 3) {
                Some([b'\n', _]) => return Some(i + 2),
                Some([b'\r', b'\n']) => return Some(i + 3),
                None if buf.get(i + 1) == Some(&b'\n') => return Some(i + 2),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

pub(crate) fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase, e.g. `Switching Protocols`.
    pub reason: String,
    /// The header fields in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (sent with a `Content-Length` the caller puts in `headers`).
    pub body: Vec<u8>,
}

impl Response {
    /// The values of every header field called `name` (case-insensitive).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        values_of(&self.headers, name)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        first_value_of(&self.headers, name)
    }

    /// Appends the response as it goes on the wire.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", self.status, self.reason).as_bytes());
        encode_headers(&self.headers, dst);
        dst.extend_from_slice(&self.body);
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
