//! The server's opening handshake over a stream (RFC 6455 §4.2), one
//! implementation for [`accept`], [`accept_hdr`], [`accept_with`] and the
//! thread-per-connection server ([`crate::server`]).
//!
//! It reads the request until its header section is complete (keeping any
//! bytes after it: the client's first frames), decides whether it is a
//! valid upgrade (`check_upgrade_request`), lets the application answer a
//! plain HTTP request, look at the request before the 101 (refuse it, or
//! add header fields to the 101) and choose a subprotocol, and writes the
//! answer: a `101`, or the refusal.

use std::io::{self, Read, Write};
use std::time::Instant;

use crate::deflate::config::{DeflateConfig, DeflateParams};
use crate::deflate::negotiation::accept_offer;
use crate::error::Error;
use crate::handshake::HandshakeLimits;
use crate::handshake::client::Agreed;
use crate::handshake::extensions::{ExtensionOffer, encode_extension, parse_extensions};
use crate::handshake::http::{Request, Response, check_extra_headers};
use crate::handshake::server::{RequestError, RequestParser, check_upgrade_request};
use crate::io::read_head::read_head;
use crate::io::transport::{Deadline, Transport};
use crate::io::websocket::WebSocket;
use crate::proto::engine::Engine;
use crate::proto::{Direction, UsageError};
use crate::server::config::ServerConfig;
use crate::trace;

/// Header fields the server's 101 carries by the handshake's own rules
/// (§4.2.2 item 5), which an application may not add.
const HANDSHAKE_HEADERS: [&str; 5] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

/// What the application answers to a valid upgrade request before the 101:
/// the header fields to add to the 101, or the response to send instead.
pub(crate) type Admission = Result<Vec<(String, Vec<u8>)>, Response>;

/// Performs the server handshake on `stream` with [`ServerConfig`]'s
/// defaults (permessage-deflate accepted, no subprotocol) and no deadline,
/// answering a bad request with its 4xx before returning the error.
/// Returns the connection and the client's request.
pub fn accept<S: Read + Write>(stream: S) -> Result<(WebSocket<S>, Request), Error> {
    accept_hdr(stream, &ServerConfig::default(), |_| Ok(Vec::new()))
}

/// Performs the server handshake on `stream` as `config` says (its limits,
/// subprotocols and permessage-deflate), and lets `admit` look at a valid
/// upgrade request before the 101 is sent: its method, path and query, and
/// every header field (`Origin`, RFC 6455 §10.2; `Cookie`;
/// `Authorization`). `admit` returns the header fields to add to the 101
/// (none: `Ok(Vec::new())`), or the response to send instead, such as a 403;
/// the handshake then fails with [`RequestError::Refused`]. A request that
/// is not a valid upgrade is answered with its 4xx before `admit` is asked.
///
/// Any `Read + Write` stream will do; its own timeouts apply (for a
/// [`Transport`], [`accept_with`] applies the configured deadline).
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// use ws6455::{Error, Response, ServerConfig, accept_hdr};
/// use ws6455::handshake::RequestError;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let browser = std::thread::spawn(move || -> std::io::Result<String> {
///     let mut tcp = TcpStream::connect(addr)?;
///     tcp.write_all(
///         b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
///           Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///           Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n",
///     )?;
///     let mut answer = String::new();
///     tcp.read_to_string(&mut answer)?;
///     Ok(answer)
/// });
/// let (stream, _) = listener.accept()?;
/// let result = accept_hdr(stream, &ServerConfig::default(), |request| {
///     match request.header("Origin") {
///         Some(b"http://localhost") | None => Ok(Vec::new()),
///         Some(_) => Err(Response::text(403, "Forbidden", "this origin may not connect")),
///     }
/// });
/// assert!(matches!(result, Err(Error::Request(RequestError::Refused { status: 403 }))));
/// let answer = browser.join().unwrap()?;
/// assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn accept_hdr<S, F>(
    mut stream: S,
    config: &ServerConfig,
    admit: F,
) -> Result<(WebSocket<S>, Request), Error>
where
    S: Read + Write,
    F: FnOnce(&Request) -> Result<Vec<(String, Vec<u8>)>, Response>,
{
    let prefix = trace::enabled().then(String::new);
    let answers = Answers {
        plain_http: |_: &Request| Response::rejection(&RequestError::NotAnUpgrade),
        admit,
        choose_subprotocol: |request: &Request| config.choose_subprotocol(request),
    };
    let opened =
        respond(&mut stream, config, answers, prefix.as_deref()).map_err(Refusal::into_error)?;
    Ok(opened.into_websocket(stream, config, prefix))
}

/// Performs the server handshake on `stream` as `config` says: its limits,
/// the handshake deadline (a client that has not sent its whole request by
/// then gets a 408), the write timeout (kept for the connection), the
/// subprotocol choice and permessage-deflate. A bad request is answered
/// with its 4xx before the error is returned.
pub fn accept_with<T: Transport>(
    stream: T,
    config: &ServerConfig,
) -> Result<(WebSocket<T>, Request), Error> {
    let prefix = trace::enabled().then(|| trace_prefix(&stream));
    let answers = Answers {
        plain_http: |_: &Request| Response::rejection(&RequestError::NotAnUpgrade),
        admit: |_: &Request| Ok(Vec::new()),
        choose_subprotocol: |request: &Request| config.choose_subprotocol(request),
    };
    let opened = respond_under_deadline(&stream, config, answers, prefix.as_deref())
        .map_err(Refusal::into_error)?;
    Ok(opened.into_websocket(stream, config, prefix))
}

/// The server's answer to an opening request that another HTTP server read
/// (hyper, axum, ...): what [`answer_upgrade`] decided.
#[derive(Debug)]
#[non_exhaustive]
pub struct UpgradeAnswer {
    /// The response to send, whatever the outcome: a `101 Switching
    /// Protocols` with the fields of RFC 6455 §4.2.2 (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, the subprotocol chosen and
    /// permessage-deflate's answer), or the refusal, a 4xx with a one-line
    /// reason (§4.2.1: a 426 with `Sec-WebSocket-Version: 13` for a version
    /// this server does not speak, §4.4, or for a request with no `Upgrade`).
    pub response: Response,
    /// For a 101, what it agreed to, which the connection is built with once
    /// the HTTP server hands the upgraded stream over (on tokio,
    /// `WebSocketStream::from_agreed`); for a refusal, why
    /// ([`Error::Request`]).
    pub agreed: Result<Agreed, Error>,
}

/// Answers an opening request that another HTTP server has read and will
/// answer, as [`accept_with`] answers one it reads itself: every check of
/// RFC 6455 §4.2.1 made by the same code, the subprotocol chosen from
/// `config.subprotocols`, and permessage-deflate accepted as
/// `config.deflate` says. Send [`UpgradeAnswer::response`] as it is; on a
/// 101 the connection starts once the server has sent it.
///
/// `request` is built from the host's request head: the method, the target,
/// the HTTP minor version and every header field, each value apart (a field
/// sent twice is two pairs, so that a second `Sec-WebSocket-Key` is seen,
/// §11.3.1). The host has bounded the head already (for ws6455's own
/// servers, [`ServerConfig::handshake_limits`]). An application that looks
/// at the request before the 101 (`Origin`, RFC 6455 §10.2; cookies) does
/// so first, and answers with its own response to refuse it. Only an
/// HTTP/1.1 upgrade opens a connection: HTTP/2's extended CONNECT (RFC
/// 8441) is refused as a method that is not GET.
///
/// ```
/// use ws6455::{Request, ServerConfig, answer_upgrade};
///
/// // The head as an HTTP server hands it over (hyper: `req.method()`,
/// // `req.uri()`, `req.version()`, `req.headers()`).
/// let fields = [
///     ("host", "server.example.com"),
///     ("upgrade", "websocket"),
///     ("connection", "Upgrade"),
///     ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
///     ("sec-websocket-version", "13"),
///     ("sec-websocket-protocol", "chat, superchat"),
/// ];
/// let request = Request {
///     method: "GET".to_owned(),
///     path: "/chat".to_owned(),
///     minor_version: 1,
///     headers: fields
///         .iter()
///         .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
///         .collect(),
/// };
/// let config = ServerConfig::default().subprotocols(["superchat"]);
/// let answer = answer_upgrade(request, &config);
/// assert_eq!(answer.response.status, 101);
/// assert_eq!(
///     answer.response.header("Sec-WebSocket-Accept"),
///     Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..])
/// );
/// let agreed = answer.agreed?;
/// assert_eq!(agreed.subprotocol.as_deref(), Some("superchat"));
/// # Ok::<(), ws6455::Error>(())
/// ```
pub fn answer_upgrade(request: Request, config: &ServerConfig) -> UpgradeAnswer {
    let answers = Answers {
        plain_http: |_: &Request| Response::rejection(&RequestError::NotAnUpgrade),
        admit: |_: &Request| Ok(Vec::new()),
        choose_subprotocol: |request: &Request| config.choose_subprotocol(request),
    };
    let (response, decided) = decide(request, config, answers);
    let agreed = match decided {
        // The subprotocol is the one the 101 names (§4.2.2 item 5.5).
        Ok((_, deflate)) => Ok(Agreed {
            subprotocol: response
                .header("Sec-WebSocket-Protocol")
                .map(|chosen| String::from_utf8_lossy(chosen).into_owned()),
            deflate,
        }),
        Err(refusal) => Err(refusal.into_error()),
    };
    UpgradeAnswer { response, agreed }
}

/// What starts each trace line of a connection: the peer's address.
pub(crate) fn trace_prefix<T: Transport>(stream: &T) -> String {
    stream
        .peer_addr()
        .map_or_else(|_| "unknown peer ".to_owned(), |a| format!("{a} "))
}

/// The parts of the handshake that are the application's to answer, each
/// asked at most once.
pub(crate) struct Answers<P, A, C> {
    /// The answer to a plain HTTP request (no `Upgrade` at all).
    pub(crate) plain_http: P,
    /// Whether a valid upgrade request may open a connection, and what the
    /// 101 carries besides the handshake's own fields.
    pub(crate) admit: A,
    /// The subprotocol, from those the client offered.
    pub(crate) choose_subprotocol: C,
}

/// A request answered with 101: the request, the bytes that came after it,
/// and the permessage-deflate parameters agreed, if any.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) request: Request,
    pub(crate) already_read: Vec<u8>,
    pub(crate) deflate: Option<DeflateParams>,
}

impl Opened {
    /// The connection over `stream` and the request it answered.
    fn into_websocket<S: Read + Write>(
        self,
        stream: S,
        config: &ServerConfig,
        trace_prefix: Option<String>,
    ) -> (WebSocket<S>, Request) {
        let ws = *server_websocket(
            stream,
            config,
            self.deflate.as_ref(),
            self.already_read,
            trace_prefix,
        );
        (ws, self.request)
    }
}

/// A server's connection over `stream` once it answered 101: the engine
/// `config` and the agreed permessage-deflate make, the bytes that came
/// after the request, traced after `trace_prefix` if given.
///
/// On the heap, built by a call of its own: the server's sessions keep it
/// there, and the copies it is built from are in a frame that is gone
/// before they read (see `benches/idle_stack.rs`).
#[inline(never)]
pub(crate) fn server_websocket<S: Read + Write>(
    stream: S,
    config: &ServerConfig,
    agreed: Option<&DeflateParams>,
    already_read: Vec<u8>,
    trace_prefix: Option<String>,
) -> Box<WebSocket<S>> {
    let engine = server_engine(config, agreed, trace_prefix);
    Box::new(WebSocket::from_engine(stream, engine, already_read))
}

/// A server's engine once it answered 101, blocking or async: the limits
/// `config` sets and the agreed permessage-deflate, traced after
/// `trace_prefix` if given.
pub(crate) fn server_engine(
    config: &ServerConfig,
    agreed: Option<&DeflateParams>,
    trace_prefix: Option<String>,
) -> Engine {
    let mut engine = config.engine(agreed);
    if let Some(prefix) = trace_prefix {
        engine.set_trace(trace::to_log(prefix));
    }
    engine
}

/// How a handshake ended when it opened no connection.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A plain HTTP request for `path` was answered with `status`.
    Http { path: String, status: u16 },
    /// The application did not admit a valid upgrade request for `path`,
    /// and answered with `status`; `reason` is the first line of its
    /// answer's body, as the log shows it ([`logged_reason`]).
    NotAdmitted {
        path: String,
        status: u16,
        reason: String,
    },
    /// The request broke RFC 6455 §4.2.1 (or HTTP) and was answered with
    /// the error's status; `path` is the request's, if it got that far.
    Invalid {
        path: Option<String>,
        error: RequestError,
    },
    /// The stream failed, or the server chose wrongly (and answered 500).
    Failed(Error),
}

impl Refusal {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Refusal::Http { .. } => RequestError::NotAnUpgrade.into(),
            Refusal::NotAdmitted { status, .. } => RequestError::Refused { status }.into(),
            Refusal::Invalid { error, .. } => error.into(),
            Refusal::Failed(error) => error,
        }
    }
}

/// The most characters of a refusal's body that the log repeats.
const MAX_LOGGED_REASON: usize = 200;

/// The first line of a refusal's `body`, for the server's log: at most
/// [`MAX_LOGGED_REASON`] characters, with control characters escaped, so
/// that whatever the application wrote stays on one line of the log.
fn logged_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("");
    let mut reason = String::new();
    for c in line.chars().take(MAX_LOGGED_REASON) {
        match c.is_control() {
            true => reason.extend(c.escape_default()),
            false => reason.push(c),
        }
    }
    if line.chars().nth(MAX_LOGGED_REASON).is_some() {
        reason.push('…');
    }
    reason
}

/// [`respond`] over a transport: the write timeout set for the connection,
/// the request read under the handshake deadline, then no read timeout.
pub(crate) fn respond_under_deadline<T, P, A, C>(
    stream: &T,
    config: &ServerConfig,
    answers: Answers<P, A, C>,
    trace_prefix: Option<&str>,
) -> Result<Opened, Refusal>
where
    T: Transport,
    P: FnOnce(&Request) -> Response,
    A: FnOnce(&Request) -> Admission,
    C: FnOnce(&Request) -> Option<String>,
{
    let failed = |e: io::Error| Refusal::Failed(e.into());
    stream
        .set_write_timeout(Some(config.write_timeout))
        .map_err(failed)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let mut io = Deadline::new(stream, deadline);
    let opened = respond(&mut io, config, answers, trace_prefix)?;
    stream.set_read_timeout(None).map_err(failed)?;
    Ok(opened)
}

/// The server's opening handshake: reads the request from `stream`, answers
/// it, and returns it with the bytes that came after it (RFC 6455 §4.2) and
/// the extension agreed. When tracing, logs the request and the answer
/// after `trace_prefix`.
pub(crate) fn respond<S, P, A, C>(
    stream: &mut S,
    config: &ServerConfig,
    answers: Answers<P, A, C>,
    trace_prefix: Option<&str>,
) -> Result<Opened, Refusal>
where
    S: Read + Write,
    P: FnOnce(&Request) -> Response,
    A: FnOnce(&Request) -> Admission,
    C: FnOnce(&Request) -> Option<String>,
{
    let (request, already_read) = match read_request(stream, config.handshake_limits) {
        Ok(parts) => parts,
        Err(Error::Request(e)) => return Err(reject(stream, e, None, trace_prefix)),
        Err(e) => return Err(Refusal::Failed(e)),
    };
    if let Some(prefix) = trace_prefix {
        trace_request(prefix, &request);
    }
    let (response, decided) = decide(request, config, answers);
    match decided {
        Ok((request, deflate)) => {
            write_response(stream, &response, trace_prefix)
                .map_err(|e| Refusal::Failed(e.into()))?;
            Ok(Opened {
                request,
                already_read,
                deflate,
            })
        }
        Err(refusal) => {
            // The client may have gone; the refusal stands either way.
            let _ = write_response(stream, &response, trace_prefix);
            Err(refusal)
        }
    }
}

/// What a server answers a whole request, decided without I/O: the
/// response to write, and then either the request accepted with the
/// permessage-deflate parameters agreed, or why it was refused. The
/// blocking handshake and the async one write the response each their way.
pub(crate) fn decide<P, A, C>(
    request: Request,
    config: &ServerConfig,
    answers: Answers<P, A, C>,
) -> (Response, Result<(Request, Option<DeflateParams>), Refusal>)
where
    P: FnOnce(&Request) -> Response,
    A: FnOnce(&Request) -> Admission,
    C: FnOnce(&Request) -> Option<String>,
{
    let key = match check_upgrade_request(&request) {
        Ok(key) => key,
        Err(RequestError::NotAnUpgrade) => {
            let response = (answers.plain_http)(&request);
            let refusal = Refusal::Http {
                path: request.path,
                status: response.status,
            };
            return (response, Err(refusal));
        }
        Err(error) => {
            let refusal = Refusal::Invalid {
                path: Some(request.path),
                error: error.clone(),
            };
            return (Response::rejection(&error), Err(refusal));
        }
    };
    let extra_headers = match (answers.admit)(&request) {
        Ok(headers) => headers,
        Err(response) => {
            let refusal = Refusal::NotAdmitted {
                path: request.path,
                status: response.status,
                reason: logged_reason(&response.body),
            };
            return (response, Err(refusal));
        }
    };
    let subprotocol = (answers.choose_subprotocol)(&request);
    // RFC 6455 §4.2.2: the server's subprotocol MUST be one the client
    // offered, and the 101's fields of the handshake are the handshake's to
    // write; anything else is the server's fault: a 500, and a UsageError
    // for the application.
    let misuse = match &subprotocol {
        Some(chosen) if !request.subprotocols().any(|offered| offered == chosen) => {
            Some(UsageError::SubprotocolNotOffered(chosen.clone()))
        }
        _ => check_extra_headers(&extra_headers, &HANDSHAKE_HEADERS).err(),
    };
    if let Some(error) = misuse {
        let response = Response::text(500, "Internal Server Error", &error.to_string());
        return (response, Err(Refusal::Failed(error.into())));
    }
    let deflate = config
        .deflate_config()
        .and_then(|deflate| accept_deflate(&request, deflate));
    let mut response = Response::switching_protocols(&key, subprotocol.as_deref());
    if let Some((_, accepted)) = &deflate {
        response.headers.push((
            "Sec-WebSocket-Extensions".to_owned(),
            encode_extension(accepted).into_bytes(),
        ));
    }
    response.headers.extend(extra_headers);
    (response, Ok((request, deflate.map(|(params, _)| params))))
}

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
/// A read that times out becomes [`RequestError::Timeout`]; a stream that
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
        || RequestError::Timeout.into(),
    )
}

/// Logs a request read, when tracing, after `prefix`.
pub(crate) fn trace_request(prefix: &str, request: &Request) {
    let mut wire = Vec::new();
    request.encode(&mut wire);
    trace::http(prefix, Direction::Received, &wire);
}

/// An HTTP response as it goes on the wire, logged when tracing.
pub(crate) fn encode_response(response: &Response, trace_prefix: Option<&str>) -> Vec<u8> {
    let mut wire = Vec::with_capacity(256);
    response.encode(&mut wire);
    if let Some(prefix) = trace_prefix {
        trace::http(prefix, Direction::Sent, &wire);
    }
    wire
}

/// Writes an HTTP response, logging it first when tracing.
fn write_response<S: Write>(
    stream: &mut S,
    response: &Response,
    trace_prefix: Option<&str>,
) -> io::Result<()> {
    stream.write_all(&encode_response(response, trace_prefix))?;
    stream.flush()
}

/// Sends the 4xx for a refused handshake.
fn reject<S: Write>(
    stream: &mut S,
    error: RequestError,
    path: Option<String>,
    trace_prefix: Option<&str>,
) -> Refusal {
    // The client may have gone; the refusal stands either way.
    let _ = write_response(stream, &Response::rejection(&error), trace_prefix);
    Refusal::Invalid { path, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC's opening request (§1.2), as an HTTP server hands it over
    /// (names in lower case), with `fields` in place of its own of the same
    /// name; a field given with an empty value is left out.
    fn hosted_request(fields: &[(&str, &str)]) -> Request {
        let headers = [
            ("host", "server.example.com"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("origin", "http://example.com"),
            ("sec-websocket-version", "13"),
        ]
        .iter()
        .filter(|(name, _)| !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .chain(fields.iter().filter(|(_, value)| !value.is_empty()))
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
        Request {
            method: "GET".to_owned(),
            path: "/chat".to_owned(),
            minor_version: 1,
            headers,
        }
    }

    fn refusal(answer: &UpgradeAnswer) -> &RequestError {
        match &answer.agreed {
            Err(Error::Request(error)) => error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn rfc6455_4_2_1_a_request_with_no_upgrade_is_answered_426_naming_websocket() {
        let request = hosted_request(&[("upgrade", ""), ("connection", "keep-alive")]);
        let answer = answer_upgrade(request, &ServerConfig::default());
        assert_eq!(refusal(&answer), &RequestError::NotAnUpgrade);
        assert_eq!(answer.response.status, 426);
        assert_eq!(answer.response.header("Upgrade"), Some(&b"websocket"[..]));
        assert_eq!(
            answer.response.header("Sec-WebSocket-Version"),
            Some(&b"13"[..])
        );
    }

    #[test]
    fn rfc6455_4_4_a_version_not_spoken_is_answered_426_with_the_one_spoken() {
        let request = hosted_request(&[("sec-websocket-version", "8")]);
        let answer = answer_upgrade(request, &ServerConfig::default());
        assert_eq!(refusal(&answer), &RequestError::UnsupportedVersion);
        assert_eq!(answer.response.status, 426);
        assert_eq!(
            answer.response.header("Sec-WebSocket-Version"),
            Some(&b"13"[..])
        );
        assert_eq!(answer.response.header("Sec-WebSocket-Accept"), None);
    }

    #[test]
    fn rfc6455_4_2_1_each_check_of_the_blocking_server_refuses_a_hosted_request() {
        let mut post = hosted_request(&[]);
        post.method = "POST".to_owned();
        let mut http_1_0 = hosted_request(&[]);
        http_1_0.minor_version = 0;
        let mut two_keys = hosted_request(&[]);
        two_keys.headers.push((
            "sec-websocket-key".to_owned(),
            b"AAAAAAAAAAAAAAAAAAAAAA==".to_vec(),
        ));
        let cases = [
            (post, RequestError::MethodNotGet("POST".to_owned()), 405),
            (http_1_0, RequestError::HttpVersionTooOld, 400),
            (
                hosted_request(&[("host", "")]),
                RequestError::MissingHost,
                400,
            ),
            (
                hosted_request(&[("upgrade", "h2c")]),
                RequestError::UpgradeNotWebSocket,
                400,
            ),
            (
                hosted_request(&[("sec-websocket-key", "")]),
                RequestError::MissingKey,
                400,
            ),
            (
                hosted_request(&[("sec-websocket-key", "c2hvcnQ=")]),
                RequestError::InvalidKey,
                400,
            ),
            (two_keys, RequestError::DuplicateKey, 400),
        ];
        for (request, error, status) in cases {
            let answer = answer_upgrade(request, &ServerConfig::default());
            assert_eq!(refusal(&answer), &error);
            assert_eq!(answer.response.status, status, "{error}");
        }
    }

    #[test]
    fn rfc6455_4_2_2_the_101_proves_the_key_and_names_the_first_subprotocol_we_speak() {
        let request = hosted_request(&[("sec-websocket-protocol", "chat, superchat")]);
        let config = ServerConfig::default().subprotocols(["superchat", "chat"]);
        let answer = answer_upgrade(request, &config);
        let agreed = answer.agreed.as_ref().unwrap();
        assert_eq!(agreed.subprotocol.as_deref(), Some("superchat"));
        assert_eq!(agreed.deflate, None);
        assert_eq!(answer.response.status, 101);
        let header = |name| answer.response.header(name);
        assert_eq!(header("Upgrade"), Some(&b"websocket"[..]));
        assert_eq!(header("Connection"), Some(&b"Upgrade"[..]));
        assert_eq!(
            header("Sec-WebSocket-Accept"),
            Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..])
        );
        assert_eq!(header("Sec-WebSocket-Protocol"), Some(&b"superchat"[..]));
        assert_eq!(header("Sec-WebSocket-Extensions"), None);
    }

    #[test]
    fn rfc6455_4_2_2_no_subprotocol_in_common_is_no_subprotocol_field() {
        let request = hosted_request(&[("sec-websocket-protocol", "chat")]);
        let config = ServerConfig::default().subprotocols(["superchat"]);
        let answer = answer_upgrade(request, &config);
        assert_eq!(answer.agreed.unwrap().subprotocol, None);
        assert_eq!(answer.response.header("Sec-WebSocket-Protocol"), None);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn rfc7692_5_permessage_deflate_offered_is_agreed_and_answered_in_the_101() {
        // The offer of ws6455's own client, which checks the answer as a
        // client receiving this 101 would.
        let client = DeflateConfig::for_client();
        let offer = encode_extension(&crate::deflate::client_offer(&client));
        let request = hosted_request(&[("sec-websocket-extensions", &offer)]);
        let answer = answer_upgrade(request, &ServerConfig::default());
        assert_eq!(answer.response.status, 101);
        let agreed = answer.agreed.as_ref().unwrap().deflate;
        assert!(agreed.is_some());
        let answered = parse_extensions(answer.response.header_values("Sec-WebSocket-Extensions"));
        assert_eq!(
            crate::deflate::check_response(&client, &answered.unwrap()),
            Ok(agreed)
        );
        let declined = answer_upgrade(
            hosted_request(&[("sec-websocket-extensions", &offer)]),
            &ServerConfig::default().deflate(None),
        );
        assert_eq!(declined.agreed.unwrap().deflate, None);
        assert_eq!(declined.response.header("Sec-WebSocket-Extensions"), None);
    }

    #[test]
    fn the_logged_reason_is_the_bodys_first_line_bounded_and_escaped() {
        assert_eq!(logged_reason(b"only /open is open\n"), "only /open is open");
        assert_eq!(logged_reason(b"first\r\nsecond\n"), "first");
        assert_eq!(logged_reason(b""), "");
        assert_eq!(
            logged_reason(b"red \x1b[31m\tbell\x07"),
            "red \\u{1b}[31m\\tbell\\u{7}"
        );
        assert_eq!(logged_reason(b"\xff!"), "\u{fffd}!");
        let long = "é".repeat(MAX_LOGGED_REASON + 1);
        let logged = logged_reason(long.as_bytes());
        assert_eq!(logged.chars().count(), MAX_LOGGED_REASON + 1);
        assert!(logged.ends_with("é…"), "{logged}");
        assert_eq!(
            logged_reason("é".repeat(MAX_LOGGED_REASON).as_bytes())
                .chars()
                .count(),
            MAX_LOGGED_REASON
        );
    }
}
