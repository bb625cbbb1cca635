//! The server's opening handshake over an async stream (RFC 6455 §4.2): the
//! request read as it arrives, the answer decided as the blocking
//! handshake decides it (`decide` in `io/accept.rs`), and written.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use crate::deflate::config::DeflateParams;
use crate::error::Error;
use crate::handshake::HandshakeLimits;
use crate::handshake::client::Agreed;
use crate::handshake::http::{Request, Response};
use crate::handshake::server::{RequestError, RequestParser};
use crate::io::accept::{
    Answers, Opened, Refusal, decide, encode_response, server_engine, trace_request,
};
use crate::io_async::read_head::read_head;
use crate::io_async::stream::WebSocketStream;
use crate::server::config::ServerConfig;
use crate::server::{Arrival, ConnectionLog, Service};
use crate::trace;

/// [`accept`](crate::accept) over an async stream: the server's opening
/// handshake with the default [`ServerConfig`], admitting every valid
/// upgrade request.
///
/// For `wss://`, the stream is tokio-rustls's
/// `tokio_rustls::server::TlsStream`, accepted by a `TlsAcceptor` made from
/// the same configuration as the blocking server's
/// (`tls::server_config`, with the feature `tokio-tls`); run the TLS
/// handshake within the opening handshake's deadline, as `serve_tls` does.
pub async fn accept_async<S>(stream: S) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_hdr_async(stream, &ServerConfig::default(), |_| Ok(Vec::new())).await
}

/// [`accept_hdr`](crate::accept_hdr) over an async stream: the request is
/// shown to `admit` before the 101, which may refuse it with a response of
/// its own or add header fields to the 101. The request must arrive within
/// `config.handshake_timeout` (else it is answered 408), and each write
/// take no longer than `config.write_timeout`. Traced, as the blocking
/// handshake is, when the logger takes trace lines.
pub async fn accept_hdr_async<S, F>(
    mut stream: S,
    config: &ServerConfig,
    admit: F,
) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Vec<(String, Vec<u8>)>, Response>,
{
    let prefix = trace::enabled().then(String::new);
    let (request, already_read) = read_request_answering(&mut stream, config, prefix.as_deref())
        .await
        .map_err(Refusal::into_error)?;
    let answers = Answers {
        plain_http: |_: &Request| Response::rejection(&RequestError::NotAnUpgrade),
        admit,
        choose_subprotocol: |request: &Request| config.choose_subprotocol(request),
    };
    let (response, decided) = decide(request, config, answers);
    let opened = answer(
        &mut stream,
        config,
        prefix.as_deref(),
        &response,
        decided,
        already_read,
    )
    .await
    .map_err(Refusal::into_error)?;
    Ok(opened.into_stream(stream, config, prefix))
}

impl Arrival {
    /// The opening handshake of a connection that arrived at a server of
    /// one's own on tokio ([`Admissions::arrive`](crate::server::Admissions::arrive)), answered and logged as
    /// [`serve`](crate::server::serve) answers and logs it: within the
    /// configured deadline (else 408), the request answered 503 or 429 when
    /// the server turns it away, else by `service`
    /// ([`Service::plain_http`], [`Service::admit`],
    /// [`Service::choose_subprotocol`]); behind a trusted proxy, counted by
    /// the client it names, which `log` names from now on. `log` gets the
    /// handshake's line ("connected to /chat", "upgrade to /chat refused:
    /// 403: ..."), and the trace, when the logger takes it, the handshake
    /// and every frame, after the peer's address.
    ///
    /// Returns the connection and its request, or, when it opened none, the
    /// stream, to be closed as RFC 6455 §7.1.1 asks of a server.
    pub async fn accept_async<S, V>(
        &mut self,
        mut stream: S,
        config: &ServerConfig,
        service: &V,
        log: &mut ConnectionLog,
    ) -> Result<(WebSocketStream<S>, Request), S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        V: Service,
    {
        let prefix = trace::enabled().then(|| self.trace_prefix());
        let read = read_request_answering(&mut stream, config, prefix.as_deref()).await;
        let (request, already_read) = match read {
            Ok(parts) => parts,
            Err(refusal) => {
                self.log_handshake(log, Err(refusal));
                return Err(stream);
            }
        };
        let (response, decided) = decide(request, config, self.answers(config, service));
        let answered = answer(
            &mut stream,
            config,
            prefix.as_deref(),
            &response,
            decided,
            already_read,
        )
        .await;
        match answered {
            Ok(opened) => {
                self.log_handshake(log, Ok(&opened.request));
                Ok(opened.into_stream(stream, config, prefix))
            }
            Err(refusal) => {
                self.log_handshake(log, Err(refusal));
                Err(stream)
            }
        }
    }
}

impl Opened {
    /// The connection over `stream` and the request it answered, traced
    /// after `trace_prefix` if given.
    fn into_stream<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
        config: &ServerConfig,
        trace_prefix: Option<String>,
    ) -> (WebSocketStream<S>, Request) {
        let engine = server_engine(config, self.deflate.as_ref(), trace_prefix);
        let ws = WebSocketStream::from_engine(stream, engine, self.already_read);
        (ws, self.request)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// The server's connection over `stream`, upgraded by another HTTP
    /// server (hyper, axum) after it sent the 101 of
    /// [`answer_upgrade`](crate::answer_upgrade): `agreed` is what that
    /// answer agreed to, and `config` the configuration it was decided
    /// with, whose limits and compression level the connection keeps.
    /// Bytes the client sent after its request, which the HTTP server read
    /// with the head, must come first out of `stream`, as they do out of
    /// hyper's `Upgraded`.
    ///
    /// With hyper 1.x (and hyper-util's `TokioIo`), over a connection
    /// served `with_upgrades()`: answer the request, and once hyper has
    /// sent the 101, take over the stream (`examples/hyper_upgrade.rs` is
    /// the whole server).
    ///
    /// ```
    /// use hyper_util::rt::TokioIo;
    /// use ws6455::{Request, ServerConfig, WebSocketStream, answer_upgrade};
    ///
    /// fn upgrade<B: Send + 'static>(
    ///     req: hyper::Request<B>,
    ///     config: ServerConfig,
    /// ) -> Result<hyper::Response<String>, hyper::http::Error> {
    ///     let request = Request {
    ///         method: req.method().to_string(),
    ///         path: req.uri().to_string(),
    ///         minor_version: u8::from(req.version() >= hyper::Version::HTTP_11),
    ///         headers: req
    ///             .headers()
    ///             .iter()
    ///             .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
    ///             .collect(),
    ///     };
    ///     let answer = answer_upgrade(request, &config);
    ///     if let Ok(agreed) = answer.agreed {
    ///         tokio::spawn(async move {
    ///             let Ok(upgraded) = hyper::upgrade::on(req).await else { return };
    ///             let ws = WebSocketStream::from_agreed(TokioIo::new(upgraded), &agreed, &config);
    ///             // ... read and send messages on `ws`
    ///         });
    ///     }
    ///     let mut response = hyper::Response::builder().status(answer.response.status);
    ///     for (name, value) in answer.response.headers {
    ///         response = response.header(name, value);
    ///     }
    ///     response.body(String::from_utf8_lossy(&answer.response.body).into_owned())
    /// }
    /// ```
    pub fn from_agreed(stream: S, agreed: &Agreed, config: &ServerConfig) -> WebSocketStream<S> {
        let engine = config.engine(agreed.deflate.as_ref());
        WebSocketStream::from_engine(stream, engine, Vec::new())
    }
}

/// Reads the request within the handshake deadline, tracing it after
/// `trace_prefix`; a request that breaks HTTP or its limits, or comes too
/// late, is answered with its 4xx (408 for late) as the blocking handshake
/// answers it.
async fn read_request_answering<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    config: &ServerConfig,
    trace_prefix: Option<&str>,
) -> Result<(Request, Vec<u8>), Refusal> {
    let read = timeout(
        config.handshake_timeout,
        read_request(stream, config.handshake_limits),
    );
    let error = match read.await {
        Ok(Ok((request, already_read))) => {
            if let Some(prefix) = trace_prefix {
                trace_request(prefix, &request);
            }
            return Ok((request, already_read));
        }
        Ok(Err(Error::Request(error))) => error,
        Ok(Err(e)) => return Err(Refusal::Failed(e)),
        Err(_) => RequestError::Timeout,
    };
    // The client may have gone; the refusal stands either way.
    let rejection = Response::rejection(&error);
    let _ = write_response(stream, config, &rejection, trace_prefix).await;
    Err(Refusal::Invalid { path: None, error })
}

/// Writes `response`, what [`decide`] answered, and returns what it
/// decided, with the bytes that came after the request.
async fn answer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    config: &ServerConfig,
    trace_prefix: Option<&str>,
    response: &Response,
    decided: Result<(Request, Option<DeflateParams>), Refusal>,
    already_read: Vec<u8>,
) -> Result<Opened, Refusal> {
    match decided {
        Ok((request, deflate)) => {
            write_response(stream, config, response, trace_prefix)
                .await
                .map_err(|e| Refusal::Failed(e.into()))?;
            Ok(Opened {
                request,
                already_read,
                deflate,
            })
        }
        Err(refusal) => {
            // The client may have gone; the refusal stands either way.
            let _ = write_response(stream, config, response, trace_prefix).await;
            Err(refusal)
        }
    }
}

/// Reads until the request's head is whole; returns it and the bytes after
/// it (the client's first frames).
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    limits: HandshakeLimits,
) -> Result<(Request, Vec<u8>), Error> {
    let mut parser = RequestParser::new(limits);
    read_head(stream, |buf| Ok(parser.parse(buf)?)).await
}

/// Writes an HTTP response within the write timeout, logging it first when
/// tracing.
async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    config: &ServerConfig,
    response: &Response,
    trace_prefix: Option<&str>,
) -> std::io::Result<()> {
    let wire = encode_response(response, trace_prefix);
    let write = async {
        stream.write_all(&wire).await?;
        stream.flush().await
    };
    timeout(config.write_timeout, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}
