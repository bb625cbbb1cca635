//! The server's opening handshake over a stream (RFC 6455 §4.2), one
//! implementation for [`accept`], [`accept_with`] and the
//! thread-per-connection server ([`crate::server`]).
//!
//! It reads the request until its header section is complete (keeping any
//! bytes after it: the client's first frames), decides whether it is a
//! valid upgrade ([`check_upgrade_request`]), lets the application answer
//! a plain HTTP request, refuse the upgrade or choose a subprotocol, and
//! writes the answer: a `101`, or the refusal's status.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::connection::WebSocket;
use crate::deflate::codec;
use crate::deflate::{DeflateConfig, DeflateParams};
use crate::engine::Engine;
use crate::error::{Error, HandshakeError, UsageError};
use crate::handshake::deflate_negotiation::accept_offer;
use crate::handshake::extensions::{ExtensionOffer, encode_extension, parse_extensions};
use crate::handshake::{HandshakeLimits, Request, RequestParser, Response, check_upgrade_request};
use crate::message::{Limits, Role};
use crate::read_head::read_head;
use crate::trace::{self, Direction};
use crate::transport::{Deadline, Transport};

/// How a server treats its connections: the opening handshake's limits and
/// deadline, the subprotocols it speaks, the limits on frames and messages,
/// and (for [`crate::server`]) its timeouts and logging.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Limits on the opening request.
    pub handshake_limits: HandshakeLimits,
    /// A client must finish its opening request within this time. Default 10 s.
    pub handshake_timeout: Duration,
    /// The subprotocols this server speaks, in order of preference: the
    /// first of them the client offers is chosen (§4.2.2), unless a
    /// [`crate::server::Service`] chooses. Default none.
    pub subprotocols: Vec<String>,
    /// Limits on frames and messages.
    pub limits: Limits,
    /// A write to a client that does not read fails after this long. Default 30 s.
    pub write_timeout: Duration,
    /// How long to wait for the client to close its side after we close ours. Default 2 s.
    pub close_timeout: Duration,
    /// Stack size of each connection's thread. Default 128 KiB.
    pub thread_stack_size: usize,
    /// Log connects, disconnects and refused handshakes to stderr, a line
    /// each (see [`crate::server::ConnectionLog`]). Default true.
    pub log: bool,
    /// With `log`, log each data message too, its start only. Default false.
    pub log_messages: bool,
    /// Print each opening handshake and every frame of every connection to
    /// stderr, annotated (see [`crate::trace`]), each line after the peer's
    /// address. Default false.
    pub trace: bool,
    /// permessage-deflate (RFC 7692) as this server accepts it, or `None` to
    /// decline every offer. Default [`DeflateConfig::for_server`].
    pub deflate: Option<DeflateConfig>,
    /// The most connections `serve` runs at once; the opening handshake of
    /// one more is answered 503 with `Retry-After`. Default `None`: no limit
    /// but the system's (threads, file descriptors).
    pub max_connections: Option<usize>,
    /// A client from which nothing has arrived for this long is sent a Ping
    /// (RFC 6455 §5.5.2: "a means to verify that the remote endpoint is
    /// still responsive"), by the services that keep connections alive
    /// ([`crate::server::echo::Echo`]). Default `None`: never.
    pub ping_interval: Option<Duration>,
    /// A pinged client that sends nothing for this long is closed with 1001.
    /// Default 10 s.
    pub pong_timeout: Duration,
    /// At shutdown ([`crate::server::Server::shutdown`]), how long the
    /// closing handshakes may take before the connections still open are
    /// cut. Default 5 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            subprotocols: Vec::new(),
            limits: Limits::default(),
            write_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(2),
            thread_stack_size: 128 << 10,
            log: true,
            log_messages: false,
            trace: false,
            max_connections: None,
            ping_interval: None,
            pong_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            deflate: Some(DeflateConfig::for_server()),
        }
    }
}

impl ServerConfig {
    /// The protocol engine for a connection this server accepted, with the
    /// permessage-deflate parameters the handshake agreed, if any.
    pub fn engine(&self, agreed: Option<&DeflateParams>) -> Engine {
        codec::engine(Role::Server, self.limits, agreed, self.deflate.as_ref())
    }

    /// The first of [`ServerConfig::subprotocols`] the client offered.
    pub fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        self.subprotocols
            .iter()
            .find(|ours| request.subprotocols().any(|offered| offered == *ours))
            .cloned()
    }
}

/// Performs the server handshake on `stream` with [`ServerConfig`]'s
/// defaults (permessage-deflate accepted) but no subprotocol and no
/// deadline, answering a bad request with its 4xx before returning the
/// error. Returns the connection and the client's request.
pub fn accept<S: Read + Write>(mut stream: S) -> Result<(WebSocket<S>, Request), Error> {
    let config = ServerConfig::default();
    let choose_none = |_: &Request| None;
    let answers = Answers::admit_all(&choose_none, config.deflate.as_ref());
    let opened = respond(&mut stream, config.handshake_limits, &answers, None)
        .map_err(Refusal::into_error)?;
    let engine = config.engine(opened.deflate.as_ref());
    let ws = WebSocket::from_engine(stream, engine, opened.already_read);
    Ok((ws, opened.request))
}

/// Performs the server handshake on `stream` as `config` says: its limits,
/// the handshake deadline (a client that has not sent its whole request by
/// then gets a 408), the write timeout (kept for the connection), the
/// subprotocol choice and tracing. A bad request is answered with its 4xx
/// before the error is returned.
pub fn accept_with<T: Transport>(
    stream: T,
    config: &ServerConfig,
) -> Result<(WebSocket<T>, Request), Error> {
    let trace_prefix = match config.trace {
        true => Some(trace_prefix(&stream)),
        false => None,
    };
    let choose = |request: &Request| config.choose_subprotocol(request);
    let answers = Answers::admit_all(&choose, config.deflate.as_ref());
    let opened = respond_under_deadline(&stream, config, &answers, trace_prefix.as_deref())
        .map_err(Refusal::into_error)?;
    let engine = config.engine(opened.deflate.as_ref());
    let mut ws = WebSocket::from_engine(stream, engine, opened.already_read);
    if let Some(prefix) = trace_prefix {
        ws.set_trace(trace::print_to_stderr(prefix));
    }
    Ok((ws, opened.request))
}

/// What starts each trace line of a connection: the peer's address.
pub(crate) fn trace_prefix<T: Transport>(stream: &T) -> String {
    stream
        .peer_addr()
        .map_or_else(|_| "unknown peer ".to_owned(), |a| format!("{a} "))
}

/// The parts of the handshake that are the application's to answer.
pub(crate) struct Answers<'a> {
    /// The answer to a plain HTTP request (no `Upgrade` at all).
    pub(crate) plain_http: &'a dyn Fn(&Request) -> Response,
    /// Whether a valid upgrade request may open a connection.
    pub(crate) admit: &'a dyn Fn(&Request) -> Result<(), Response>,
    /// The subprotocol, from those the client offered.
    pub(crate) choose_subprotocol: &'a dyn Fn(&Request) -> Option<String>,
    /// permessage-deflate as the server accepts it, if it does.
    pub(crate) deflate: Option<&'a DeflateConfig>,
}

/// A request answered with 101: the request, the bytes that came after it,
/// and the permessage-deflate parameters agreed, if any.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) request: Request,
    pub(crate) already_read: Vec<u8>,
    pub(crate) deflate: Option<DeflateParams>,
}

impl<'a> Answers<'a> {
    /// Every valid upgrade is admitted; a plain HTTP request gets 426.
    fn admit_all(
        choose_subprotocol: &'a dyn Fn(&Request) -> Option<String>,
        deflate: Option<&'a DeflateConfig>,
    ) -> Answers<'a> {
        Answers {
            plain_http: &|_| Response::rejection(&HandshakeError::NotAnUpgrade),
            admit: &|_| Ok(()),
            choose_subprotocol,
            deflate,
        }
    }
}

/// How a handshake ended when it opened no connection.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A plain HTTP request for `path` was answered with `status`.
    Http { path: String, status: u16 },
    /// The application did not admit a valid upgrade request for `path`,
    /// and answered with `status`.
    NotAdmitted { path: String, status: u16 },
    /// The request broke RFC 6455 §4.2.1 (or HTTP) and was answered with
    /// the error's status; `path` is the request's, if it got that far.
    Invalid {
        path: Option<String>,
        error: HandshakeError,
    },
    /// The stream failed, or the server chose wrongly (and answered 500).
    Failed(Error),
}

impl Refusal {
    fn into_error(self) -> Error {
        match self {
            Refusal::Http { .. } => HandshakeError::NotAnUpgrade.into(),
            Refusal::NotAdmitted { status, .. } => Error::Io(io::Error::other(format!(
                "the upgrade request was not admitted (answered {status})"
            ))),
            Refusal::Invalid { error, .. } => Error::Handshake(error),
            Refusal::Failed(error) => error,
        }
    }
}

/// [`respond`] over a transport: the write timeout set for the connection,
/// the request read under the handshake deadline, then no read timeout.
pub(crate) fn respond_under_deadline<T: Transport>(
    stream: &T,
    config: &ServerConfig,
    answers: &Answers<'_>,
    trace_prefix: Option<&str>,
) -> Result<Opened, Refusal> {
    let failed = |e: io::Error| Refusal::Failed(e.into());
    stream
        .set_write_timeout(Some(config.write_timeout))
        .map_err(failed)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let mut io = Deadline::new(stream, deadline);
    let opened = respond(&mut io, config.handshake_limits, answers, trace_prefix)?;
    stream.set_read_timeout(None).map_err(failed)?;
    Ok(opened)
}

/// The server's opening handshake: reads the request from `stream`, answers
/// it, and returns it with the bytes that came after it (RFC 6455 §4.2) and
/// the extension agreed. When tracing, prints the request and the answer
/// after `trace_prefix`.
pub(crate) fn respond<S: Read + Write>(
    stream: &mut S,
    limits: HandshakeLimits,
    answers: &Answers<'_>,
    trace_prefix: Option<&str>,
) -> Result<Opened, Refusal> {
    let (request, already_read) = match read_request(stream, limits) {
        Ok(parts) => parts,
        Err(Error::Handshake(e)) => return Err(reject(stream, e, None, trace_prefix)),
        Err(e) => return Err(Refusal::Failed(e)),
    };
    if let Some(prefix) = trace_prefix {
        let mut wire = Vec::new();
        request.encode(&mut wire);
        log_text!("{}", trace::http_lines(prefix, Direction::Received, &wire));
    }
    let key = match check_upgrade_request(&request) {
        Ok(key) => key,
        Err(HandshakeError::NotAnUpgrade) => {
            let response = (answers.plain_http)(&request);
            // The client may have gone; the answer stands either way.
            let _ = write_response(stream, &response, trace_prefix);
            return Err(Refusal::Http {
                path: request.path,
                status: response.status,
            });
        }
        Err(e) => return Err(reject(stream, e, Some(request.path), trace_prefix)),
    };
    if let Err(response) = (answers.admit)(&request) {
        let _ = write_response(stream, &response, trace_prefix);
        return Err(Refusal::NotAdmitted {
            path: request.path,
            status: response.status,
        });
    }
    let subprotocol = (answers.choose_subprotocol)(&request);
    if let Some(chosen) = &subprotocol {
        // RFC 6455 §4.2.2: the server's subprotocol MUST be one the client
        // offered; choosing another is the server's fault: a 500, and a
        // UsageError for the application.
        if !request.subprotocols().any(|offered| offered == chosen) {
            let response = Response::text(
                500,
                "Internal Server Error",
                "server chose a subprotocol the client did not offer",
            );
            let _ = write_response(stream, &response, trace_prefix);
            let error = UsageError::SubprotocolNotOffered(chosen.clone());
            return Err(Refusal::Failed(error.into()));
        }
    }
    let deflate = answers
        .deflate
        .and_then(|config| accept_deflate(&request, config));
    let mut response = Response::switching_protocols(&key, subprotocol.as_deref());
    if let Some((_, accepted)) = &deflate {
        response.headers.push((
            "Sec-WebSocket-Extensions".to_owned(),
            encode_extension(accepted).into_bytes(),
        ));
    }
    write_response(stream, &response, trace_prefix).map_err(|e| Refusal::Failed(e.into()))?;
    Ok(Opened {
        request,
        already_read,
        deflate: deflate.map(|(params, _)| params),
    })
}

/// The permessage-deflate offer to accept, if any (RFC 7692 §5), with the
/// response element that accepts it. A `Sec-WebSocket-Extensions` field
/// that breaks RFC 6455 §9.1's grammar is declined as a whole: extensions
/// are optional, so the handshake goes on without them.
fn accept_deflate(
    request: &Request,
    config: &DeflateConfig,
) -> Option<(DeflateParams, ExtensionOffer)> {
    let offers = parse_extensions(request.header_values("Sec-WebSocket-Extensions")).ok()?;
    accept_offer(&offers, config)
}

/// Reads an HTTP request from `stream`. Returns it with the bytes that came
/// after its header section (the start of the WebSocket stream, if any).
///
/// A read that times out becomes [`HandshakeError::Timeout`]; a stream that
/// ends first, `UnexpectedEof`.
fn read_request<S: Read>(
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

/// Writes an HTTP response, printing it first when tracing.
fn write_response<S: Write>(
    stream: &mut S,
    response: &Response,
    trace_prefix: Option<&str>,
) -> io::Result<()> {
    let mut wire = Vec::with_capacity(256);
    response.encode(&mut wire);
    if let Some(prefix) = trace_prefix {
        log_text!("{}", trace::http_lines(prefix, Direction::Sent, &wire));
    }
    stream.write_all(&wire)?;
    stream.flush()
}

/// Sends the 4xx for a refused handshake.
fn reject<S: Write>(
    stream: &mut S,
    error: HandshakeError,
    path: Option<String>,
    trace_prefix: Option<&str>,
) -> Refusal {
    // The client may have gone; the refusal stands either way.
    let _ = write_response(stream, &Response::rejection(&error), trace_prefix);
    Refusal::Invalid { path, error }
}
