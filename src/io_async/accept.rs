//! The server's opening handshake over an async stream (RFC 6455 §4.2): the
//! request read as it arrives, the answer decided as the blocking
//! handshake decides it (`decide` in `io/accept.rs`), and written.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Error;
use crate::handshake::HandshakeLimits;
use crate::handshake::client::Agreed;
use crate::handshake::http::{Request, Response};
use crate::handshake::server::{RequestError, RequestParser};
use crate::io::accept::{Answers, decide};
use crate::io_async::stream::WebSocketStream;
use crate::proto::Decoded;
use crate::server::config::ServerConfig;

/// How many bytes one read of the request asks for.
const HEAD_READ_CHUNK: usize = 1024;

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
/// its own or add header fields to the 101. The whole handshake must be
/// done within `config.handshake_timeout`.
pub async fn accept_hdr_async<S, F>(
    mut stream: S,
    config: &ServerConfig,
    admit: F,
) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Vec<(String, Vec<u8>)>, Response>,
{
    let read = tokio::time::timeout(
        config.handshake_timeout,
        read_request(&mut stream, config.handshake_limits),
    );
    let (request, already_read) = match read.await {
        Ok(Ok(parts)) => parts,
        Ok(Err(Error::Request(error))) => {
            // The client may have gone; the refusal stands either way.
            let _ = write_response(&mut stream, &Response::rejection(&error)).await;
            return Err(error.into());
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(RequestError::Timeout.into()),
    };
    let answers = Answers {
        plain_http: |_: &Request| Response::rejection(&RequestError::NotAnUpgrade),
        admit,
        choose_subprotocol: |request: &Request| config.choose_subprotocol(request),
    };
    let (response, decided) = decide(request, config, answers);
    match decided {
        Ok((request, deflate)) => {
            write_response(&mut stream, &response).await?;
            let engine = config.engine(deflate.as_ref());
            let ws = WebSocketStream::from_engine(stream, engine, already_read);
            Ok((ws, request))
        }
        Err(refusal) => {
            let _ = write_response(&mut stream, &response).await;
            Err(refusal.into_error())
        }
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

/// Reads until the request's head is whole; returns it and the bytes after
/// it (the client's first frames).
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    limits: HandshakeLimits,
) -> Result<(Request, Vec<u8>), Error> {
    let mut parser = RequestParser::new(limits);
    let mut buf = Vec::with_capacity(HEAD_READ_CHUNK);
    loop {
        let filled = buf.len();
        buf.resize(filled + HEAD_READ_CHUNK, 0);
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.truncate(filled + n);
        if let Decoded::Complete(request, used) = parser.parse(&buf)? {
            let already_read = buf.split_off(used);
            return Ok((request, already_read));
        }
    }
}

async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
) -> std::io::Result<()> {
    let mut wire = Vec::with_capacity(256);
    response.encode(&mut wire);
    stream.write_all(&wire).await?;
    stream.flush().await
}
