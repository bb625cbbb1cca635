//! HTTP/1.1 heads as the opening handshake uses them (RFC 6455 §4.1,
//! §4.2; RFC 9112): a request or a response, its header fields looked up
//! by name without regard to case, and one parser for both, which finds
//! where a head ends while its bytes arrive. The checks of what a WebSocket
//! handshake requires of them are in `server.rs` and `client.rs`.

use crate::handshake::HandshakeLimits;
use crate::proto::{Decoded, UsageError};

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

/// Checks header fields an application adds to a handshake: each name a
/// token and each value free of control characters, and none that the
/// handshake writes itself (`reserved`).
pub(crate) fn check_extra_headers(
    headers: &[(String, Vec<u8>)],
    reserved: &[&str],
) -> Result<(), UsageError> {
    for (name, value) in headers {
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(UsageError::ReservedHeader(name.clone()));
        }
        if !is_token(name) || value.iter().any(|&b| b != b'\t' && b.is_ascii_control()) {
            return Err(UsageError::InvalidHeader(name.clone()));
        }
    }
    Ok(())
}

/// An RFC 9110 token: one or more printable ASCII characters, no separators.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
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

/// Why a head could not be read, whichever end sent it. Each end's error
/// says it in its own terms (`RequestError`, `ResponseError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Not valid HTTP/1.1 (httparse's reason).
    Malformed(&'static str),
    /// The header section is larger than the limit, in bytes.
    TooLarge { max: usize },
    /// More header fields than the limit.
    TooManyHeaders { max: usize },
}

/// Parses an HTTP/1.1 head, a request's or a response's, as it arrives:
/// each call is given everything received so far. The end of the head is
/// found by looking at each byte once, and only then is the head handed to
/// httparse, so a head trickling in byte by byte costs linear time.
#[derive(Debug)]
pub(crate) struct HeadParser {
    limits: HandshakeLimits,
    /// How many bytes have already been searched for the head's end.
    scanned: usize,
}

impl HeadParser {
    pub(crate) fn new(limits: HandshakeLimits) -> HeadParser {
        HeadParser { limits, scanned: 0 }
    }

    /// A request head and its length, once `buf` holds all of it.
    pub(crate) fn parse_request(&mut self, buf: &[u8]) -> Result<Decoded<Request>, HeadError> {
        let Some(end) = self.end_of_head(buf)? else {
            return Ok(Decoded::NeedMore);
        };
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut request = httparse::Request::new(&mut headers);
        self.check(request.parse(&buf[..end]))?;
        let parsed = Request {
            method: request.method.unwrap_or_default().to_owned(),
            path: request.path.unwrap_or_default().to_owned(),
            minor_version: request.version.unwrap_or_default(),
            headers: owned(request.headers),
        };
        Ok(Decoded::Complete(parsed, end))
    }

    /// A response head (its `body` left empty) and its length, once `buf`
    /// holds all of it.
    pub(crate) fn parse_response(&mut self, buf: &[u8]) -> Result<Decoded<Response>, HeadError> {
        let Some(end) = self.end_of_head(buf)? else {
            return Ok(Decoded::NeedMore);
        };
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut response = httparse::Response::new(&mut headers);
        self.check(response.parse(&buf[..end]))?;
        // RFC 9110 §15: a status code is a three-digit integer from 100 to
        // 599; httparse accepts any three digits.
        let status = response.code.unwrap_or_default();
        if !(100..=599).contains(&status) {
            return Err(HeadError::Malformed("status code outside 100-599"));
        }
        let parsed = Response {
            status,
            reason: response.reason.unwrap_or_default().to_owned(),
            headers: owned(response.headers),
            body: Vec::new(),
        };
        Ok(Decoded::Complete(parsed, end))
    }

    /// The length of the head in `buf`, through its blank line; `None` if it
    /// has not ended yet. Fails once the head is longer than the limit.
    fn end_of_head(&mut self, buf: &[u8]) -> Result<Option<usize>, HeadError> {
        let max = self.limits.max_header_bytes;
        // The terminator may straddle the previous end: back up by its length less one.
        let end = find_end_of_headers(buf, self.scanned.saturating_sub(3));
        match end {
            None if buf.len() > max => Err(HeadError::TooLarge { max }),
            None => {
                self.scanned = buf.len();
                Ok(None)
            }
            Some(end) if end > max => Err(HeadError::TooLarge { max }),
            Some(end) => Ok(Some(end)),
        }
    }

    /// What httparse made of a whole head.
    fn check(&self, parsed: httparse::Result<usize>) -> Result<(), HeadError> {
        match parsed {
            Ok(httparse::Status::Complete(_)) => Ok(()),
            Ok(httparse::Status::Partial) => Err(HeadError::Malformed("header section ends early")),
            Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders {
                max: self.limits.max_headers,
            }),
            Err(e) => Err(HeadError::Malformed(httparse_reason(e))),
        }
    }
}

/// httparse's header fields, owned.
fn owned(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
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

fn httparse_reason(e: httparse::Error) -> &'static str {
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
