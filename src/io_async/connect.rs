//! The client's opening handshake over an async stream (RFC 6455 §4.1):
//! the request built and the response checked by the same sans-I/O
//! [`ClientHandshake`] as the blocking [`connect`](crate::connect).

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deflate;
use crate::error::Error;
use crate::handshake::client::{ClientHandshake, ResponseError, ResponseParser, random_key};
use crate::handshake::http::Response;
use crate::handshake::uri::{Host, WsUri};
use crate::io::connect::ClientConfig;
use crate::io_async::client_stream::AsyncStream;
use crate::io_async::read_head::read_head;
use crate::io_async::stream::WebSocketStream;
use crate::proto::UsageError;
use crate::proto::settings::Role;

/// [`connect`](crate::connect) on tokio, with the default [`ClientConfig`].
pub async fn connect_async(uri: &str) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    connect_async_with(uri, &ClientConfig::default()).await
}

/// [`connect_with`](crate::connect_with) on tokio: the TCP connection, the
/// TLS handshake for `wss://` (RFC 6455 §4.1 item 5; feature `tokio-tls`,
/// with [`ClientConfig::tls`] as the blocking client uses it) and the
/// opening handshake, all within `config.handshake_timeout`.
pub async fn connect_async_with(
    uri: &str,
    config: &ClientConfig,
) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    let uri = WsUri::parse(uri)?;
    if uri.is_secure() && !cfg!(feature = "tokio-tls") {
        // Refused before any connection is opened.
        return Err(UsageError::TlsNotBuilt.into());
    }
    let opened = async {
        let tcp = match uri.host() {
            Host::Name(name) => TcpStream::connect((name.as_str(), uri.port())).await?,
            Host::V4(ip) => TcpStream::connect((*ip, uri.port())).await?,
            Host::V6(ip) => TcpStream::connect((*ip, uri.port())).await?,
        };
        let _ = tcp.set_nodelay(true);
        let stream = match uri.is_secure() {
            false => AsyncStream::Plain(tcp),
            #[cfg(feature = "tokio-tls")]
            true => AsyncStream::Tls(Box::new(
                crate::io_async::tls::open(tcp, &uri, config.tls.as_ref())
                    .await?
                    .into(),
            )),
            #[cfg(not(feature = "tokio-tls"))]
            true => return Err(UsageError::TlsNotBuilt.into()),
        };
        client_handshake_async(stream, &uri, config).await
    };
    match tokio::time::timeout(config.handshake_timeout, opened).await {
        Ok(opened) => opened,
        Err(_) => Err(ResponseError::Timeout.into()),
    }
}

/// [`client_handshake`](crate::client_handshake) over an async stream
/// already connected to the server: the request, the response read as it
/// arrives and checked (§4.1), and the connection the 101 agreed to.
pub async fn client_handshake_async<S>(
    mut stream: S,
    uri: &WsUri,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake =
        ClientHandshake::with_key(uri, &config.subprotocols, &config.headers, random_key()?)?
            .with_deflate(config.deflate_config().copied());
    let mut wire = Vec::with_capacity(256);
    handshake.request().encode(&mut wire);
    stream.write_all(&wire).await?;
    stream.flush().await?;
    let mut parser = ResponseParser::new(config.handshake_limits);
    let (response, already_read) = read_head(&mut stream, |buf| Ok(parser.parse(buf)?)).await?;
    let agreed = handshake.check_response(&response)?;
    let engine = deflate::engine(
        Role::Client,
        config.limits,
        agreed.deflate.as_ref(),
        config.deflate_config(),
    );
    Ok((
        WebSocketStream::from_engine(stream, engine, already_read),
        response,
    ))
}
