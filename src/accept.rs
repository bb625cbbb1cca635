//! The server's opening handshake over a stream (RFC 6455 §4.2).
//!
//! [`read_request`] reads until the header section is complete and keeps any
//! bytes after it; [`check_upgrade_request`] decides whether it is a valid
//! upgrade; the application chooses a subprotocol; [`write_response`] sends
//! the answer. [`accept`] does all of it with defaults.

use std::io::{self, Read, Write};

use crate::connection::WebSocket;
use crate::error::{Error, HandshakeError, UsageError};
use crate::handshake::{HandshakeLimits, Request, RequestParser, Response, check_upgrade_request};
use crate::message::{Limits, Role};
use crate::read_head::read_head;

/// Reads an HTTP request from `stream`. Returns it with the bytes that came
/// after its header section (the start of the WebSocket stream, if any).
///
/// A read that times out (the caller sets the stream's timeout) becomes
/// [`HandshakeError::Timeout`]; a stream that ends first, `UnexpectedEof`.
pub fn read_request<S: Read>(
    stream: &mut S,
    limits: HandshakeLimits,
) -> Result<(Request, Vec<u8>), Error> {
    let mut parser = RequestParser::new(limits);
    read_head(
        stream,
        limits.max_header_bytes,
        |buf| Ok(parser.parse(buf)?),
        || HandshakeError::Timeout.into(),
    )
}

/// Writes an HTTP response.
pub fn write_response<S: Write>(stream: &mut S, response: &Response) -> io::Result<()> {
    let mut wire = Vec::with_capacity(256);
    response.encode(&mut wire);
    stream.write_all(&wire)?;
    stream.flush()
}

/// Answers a valid upgrade request with 101 and the chosen subprotocol.
///
/// RFC 6455 §4.2.2: the server's subprotocol MUST be one the client offered;
/// choosing another is refused here as a [`UsageError`] (and the client gets a
/// 500, since the failure is the server's).
pub fn answer_upgrade<S: Write>(
    stream: &mut S,
    request: &Request,
    key: &str,
    subprotocol: Option<&str>,
) -> Result<(), Error> {
    if let Some(chosen) = subprotocol {
        if !request.subprotocols().any(|offered| offered == chosen) {
            let response = Response::text(
                500,
                "Internal Server Error",
                "server chose a subprotocol the client did not offer",
            );
            let _ = write_response(stream, &response);
            return Err(UsageError::SubprotocolNotOffered(chosen.to_owned()).into());
        }
    }
    write_response(stream, &Response::switching_protocols(key, subprotocol))?;
    Ok(())
}

/// Performs the server handshake on `stream` with default limits and no
/// subprotocol, answering a bad request with its 4xx before returning the
/// error. Returns the connection and the client's request.
pub fn accept<S: Read + Write>(mut stream: S) -> Result<(WebSocket<S>, Request), Error> {
    let (request, already_read) = match read_request(&mut stream, HandshakeLimits::default()) {
        Err(Error::Handshake(e)) => return Err(reject(&mut stream, e)),
        other => other?,
    };
    let key = match check_upgrade_request(&request) {
        Ok(key) => key,
        Err(e) => return Err(reject(&mut stream, e)),
    };
    answer_upgrade(&mut stream, &request, &key, None)?;
    let ws = WebSocket::from_raw(stream, Role::Server, Limits::default(), already_read);
    Ok((ws, request))
}

/// Sends the 4xx for a refused handshake and returns the error.
pub fn reject<S: Write>(stream: &mut S, error: HandshakeError) -> Error {
    // The client may have gone; the refusal stands either way.
    let _ = write_response(stream, &Response::rejection(&error));
    Error::Handshake(error)
}
