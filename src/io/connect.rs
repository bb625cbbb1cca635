//! The client's opening handshake over a stream (RFC 6455 §4.1), the I/O
//! beside [`crate::handshake::client`], as [`crate::io::accept`](mod@crate::io::accept) is for servers.
//!
//! [`connect`] opens a TCP connection to a `ws://` URI, or a TLS one to a
//! `wss://` URI, and performs the handshake; [`client_handshake`] performs
//! it over any `Read + Write` stream, for custom transports. Both return a
//! [`WebSocket`] in the client role, which masks every frame it sends with a
//! fresh key (§5.3), and the server's response.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deflate;
use crate::deflate::config::DeflateConfig;
use crate::error::Error;
use crate::handshake::HandshakeLimits;
use crate::handshake::client::ResponseError;
use crate::handshake::client::{Agreed, ClientHandshake, ResponseParser, random_key};
use crate::handshake::http::Response;
use crate::handshake::uri::{Host, WsUri};
use crate::io::read_head::read_head;
use crate::io::stream::Stream;
#[cfg(feature = "tls")]
use crate::io::tls;
use crate::io::transport::{Deadline, Transport, discard_until_eof};
use crate::io::websocket::WebSocket;
use crate::proto::Direction;
use crate::proto::UsageError;
use crate::proto::settings::{Limits, Role};
use crate::trace;

/// How a client connects. Built from its defaults:
///
/// ```
/// use ws6455::ClientConfig;
///
/// let config = ClientConfig::default()
///     .subprotocols(["chat.v2"])
///     .header("Origin", "https://example.com")
///     .max_message(1 << 20);
/// assert_eq!(config.headers.len(), 1);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Subprotocols to offer, in order of preference (§4.1 item 10).
    pub subprotocols: Vec<String>,
    /// Extra header fields for the request, e.g. `Origin` or `Authorization`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Limits on frames and messages received, and on what waits to be sent.
    pub limits: Limits,
    /// Limits on the server's response head.
    pub handshake_limits: HandshakeLimits,
    /// Opening the TCP connection, and then the whole opening handshake, must
    /// each finish within this time. Default 10 s.
    pub handshake_timeout: Duration,
    /// permessage-deflate to offer (RFC 7692), or `None` to offer nothing.
    /// Default [`DeflateConfig::for_client`]: `permessage-deflate;
    /// client_max_window_bits`, with context takeover.
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// TLS for `wss://` URIs. `None`, the default, trusts the usual public
    /// roots ([`tls::client_config`]); [`tls::client_config`] with more
    /// roots, or any rustls configuration, can be given instead.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            subprotocols: Vec::new(),
            headers: Vec::new(),
            limits: Limits::default(),
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateConfig::for_client()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::subprotocols`], in order of preference.
    pub fn subprotocols<I>(mut self, subprotocols: I) -> ClientConfig
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a header field to the request ([`ClientConfig::headers`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> ClientConfig {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets [`ClientConfig::limits`].
    pub fn limits(mut self, limits: Limits) -> ClientConfig {
        self.limits = limits;
        self
    }

    /// Sets the largest message the server may send ([`Limits::max_message_size`]).
    pub fn max_message(mut self, bytes: u64) -> ClientConfig {
        self.limits = self.limits.max_message_size(bytes);
        self
    }

    /// Sets the largest frame the server may send ([`Limits::max_frame_size`]).
    pub fn max_frame(mut self, bytes: u64) -> ClientConfig {
        self.limits = self.limits.max_frame_size(bytes);
        self
    }

    /// Sets how much may wait to be sent ([`Limits::max_write_buffer`]).
    pub fn max_write_buffer(mut self, bytes: usize) -> ClientConfig {
        self.limits = self.limits.max_write_buffer(bytes);
        self
    }

    /// Sets [`ClientConfig::handshake_limits`].
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> ClientConfig {
        self.handshake_limits = limits;
        self
    }

    /// Sets [`ClientConfig::handshake_timeout`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::deflate`]: `None` offers no permessage-deflate.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> ClientConfig {
        self.deflate = deflate;
        self
    }

    /// permessage-deflate as this client offers it, if it does.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate_config(&self) -> Option<&DeflateConfig> {
        self.deflate.as_ref()
    }

    /// Without the codec, a client offers no permessage-deflate.
    #[cfg(not(feature = "deflate"))]
    pub(crate) fn deflate_config(&self) -> Option<&DeflateConfig> {
        None
    }

    /// Sets [`ClientConfig::tls`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: Option<Arc<rustls::ClientConfig>>) -> ClientConfig {
        self.tls = tls;
        self
    }
}

/// Connects to a `ws://` URI with the default configuration. Returns the
/// connection in the client role and the server's `101` response.
///
/// ```no_run
/// use ws6455::{Message, connect};
///
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/")?;
/// ws.send(Message::Text("hello".into()))?;
/// println!("{:?}", ws.read()?);
/// # Ok::<(), ws6455::Error>(())
/// ```
pub fn connect(uri: &str) -> Result<(WebSocket<Stream>, Response), Error> {
    connect_with(uri, &ClientConfig::default())
}

/// Connects to a `ws://` or `wss://` URI: resolves the host, opens a TCP
/// connection to the first address that answers, runs the TLS handshake
/// for `wss://` (RFC 6455 §4.1 item 5), and performs the opening handshake,
/// each within `config.handshake_timeout`.
pub fn connect_with(
    uri: &str,
    config: &ClientConfig,
) -> Result<(WebSocket<Stream>, Response), Error> {
    let uri = WsUri::parse(uri)?;
    if uri.is_secure() && !cfg!(feature = "tls") {
        // Refused before any connection is opened.
        return Err(UsageError::TlsNotBuilt.into());
    }
    let handshake =
        ClientHandshake::with_key(&uri, &config.subprotocols, &config.headers, random_key()?)?
            .with_deflate(config.deflate_config().copied());
    let tcp = open_tcp(&uri, config.handshake_timeout)?;
    let _ = tcp.set_nodelay(true);
    tcp.set_write_timeout(Some(config.handshake_timeout))?;
    let stream = match uri.is_secure() {
        false => Stream::Plain(tcp),
        #[cfg(feature = "tls")]
        true => Stream::Tls(tls::client::open(
            tcp,
            &uri,
            config.tls.as_ref(),
            config.handshake_timeout,
        )?),
        #[cfg(not(feature = "tls"))]
        true => return Err(UsageError::TlsNotBuilt.into()),
    };
    let mut reader = Deadline::new(&stream, Instant::now() + config.handshake_timeout);
    send_request(&mut &stream, &handshake)?;
    let (response, already_read) = read_response(&mut reader, config.handshake_limits)?;
    let agreed = check_response(&handshake, &response)?;
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    Ok((open(stream, config, &agreed, already_read), response))
}

/// Performs the client's opening handshake for `uri` over `stream`, which
/// is already connected to the server (and, for a custom transport, set up
/// however it needs to be). `config.handshake_timeout` is not applied: the
/// stream's own timeouts are.
pub fn client_handshake<S: Read + Write>(
    mut stream: S,
    uri: &WsUri,
    config: &ClientConfig,
) -> Result<(WebSocket<S>, Response), Error> {
    let handshake =
        ClientHandshake::with_key(uri, &config.subprotocols, &config.headers, random_key()?)?
            .with_deflate(config.deflate_config().copied());
    send_request(&mut stream, &handshake)?;
    let (response, already_read) = read_response(&mut stream, config.handshake_limits)?;
    let agreed = check_response(&handshake, &response)?;
    Ok((open(stream, config, &agreed, already_read), response))
}

/// The connection once the handshake succeeded, compressing if the server
/// agreed to, traced if asked.
fn open<S: Read + Write>(
    stream: S,
    config: &ClientConfig,
    agreed: &Agreed,
    already_read: Vec<u8>,
) -> WebSocket<S> {
    let engine = deflate::engine(
        Role::Client,
        config.limits,
        agreed.deflate.as_ref(),
        config.deflate_config(),
    );
    let mut ws = WebSocket::from_engine(stream, engine, already_read);
    if trace::enabled() {
        ws.set_trace(trace::to_log(String::new()));
    }
    ws
}

/// Opens a TCP connection to the URI's host and port, trying each address
/// the name resolves to in turn.
fn open_tcp(uri: &WsUri, timeout: Duration) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = match uri.host() {
        Host::Name(name) => (name.as_str(), uri.port()).to_socket_addrs()?.collect(),
        Host::V4(ip) => vec![SocketAddr::from((*ip, uri.port()))],
        Host::V6(ip) => vec![SocketAddr::from((*ip, uri.port()))],
    };
    // RFC 6455 §4.1: "If the connection could not be opened [...] the
    // client MUST _Fail the WebSocket Connection_": the last error is ours.
    let mut last_error = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} resolves to no address", uri.host()),
    );
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = e,
        }
    }
    Err(Error::Io(last_error))
}

/// Sends the opening request. RFC 6455 §4.1: after it, "the client MUST
/// wait for a response from the server before sending any further data":
/// nothing else is sent until the response is checked.
fn send_request<S: Write>(stream: &mut S, handshake: &ClientHandshake) -> io::Result<()> {
    let mut wire = Vec::with_capacity(256);
    handshake.request().encode(&mut wire);
    trace::http("", Direction::Sent, &wire);
    stream.write_all(&wire)?;
    stream.flush()
}

/// Checks the server's answer (§4.1), logging it first when tracing.
fn check_response(
    handshake: &ClientHandshake,
    response: &Response,
) -> Result<Agreed, ResponseError> {
    if trace::enabled() {
        let mut wire = Vec::with_capacity(256);
        response.encode(&mut wire);
        trace::http("", Direction::Received, &wire);
    }
    handshake.check_response(response)
}

/// Reads the server's response head from `stream`. Returns it with the bytes
/// received after it: after a 101, they are the server's first frames.
///
/// A read that times out becomes [`ResponseError::Timeout`]; a stream that
/// ends first, `UnexpectedEof`.
fn read_response<S: Read>(
    stream: &mut S,
    limits: HandshakeLimits,
) -> Result<(Response, Vec<u8>), Error> {
    let mut parser = ResponseParser::new(limits);
    read_head(
        stream,
        limits.max_header_bytes,
        |buf| Ok(parser.parse(buf)?),
        || ResponseError::Timeout.into(),
    )
}

impl<T: Transport> WebSocket<T> {
    /// Ends a client's connection the way RFC 6455 §7.1.1 asks: "when a
    /// client is instructed to [close the connection], it SHOULD wait for a
    /// TCP Close from the server", so that the server holds the TIME_WAIT
    /// state. Call it once [`WebSocket::read`] has returned the server's Close
    /// (or an error): it discards whatever else arrives until the server
    /// closes TCP or `timeout` passes, then closes our side.
    ///
    /// Returns `Ok` if the server closed first, `TimedOut` if we gave up.
    pub fn wait_for_server_close(self, timeout: Duration) -> io::Result<()> {
        let stream = self.into_inner();
        discard_until_eof(&stream, Instant::now() + timeout)
    }
}
