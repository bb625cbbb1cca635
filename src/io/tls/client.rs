//! A client's side of TLS (RFC 6455 §4.1 item 5): the TLS handshake for a
//! `wss://` URI's host, verifying its certificate and sending the name as
//! SNI, before the opening handshake.

use std::net::{IpAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::error::Error;
use crate::handshake::uri::{Host, WsUri};
use crate::io::tls::TlsStream;
use crate::io::tls::config::{TlsError, client_config};
use crate::io::transport::Transport;

/// Runs the TLS handshake on `tcp` for `uri`'s host, within the handshake
/// timeout: RFC 6455 §4.1 item 5, "the client MUST perform a TLS handshake
/// over the connection" with the host name in SNI. A certificate that does
/// not verify, or names another host, fails here.
pub(crate) fn open(
    tcp: TcpStream,
    uri: &WsUri,
    config: Option<&Arc<rustls::ClientConfig>>,
    handshake_timeout: Duration,
) -> Result<TlsStream, Error> {
    let config = config_or_default(config)?;
    let stream = TlsStream::client(tcp, config, server_name(uri)?)?;
    Transport::set_read_timeout(&stream, Some(handshake_timeout))?;
    stream.handshake().map_err(|e| handshake_failed(uri, e))?;
    Ok(stream)
}

/// `config`, or the one trusting the usual public roots.
pub(crate) fn config_or_default(
    config: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    match config {
        Some(config) => Ok(Arc::clone(config)),
        None => default_config(),
    }
}

/// The name the server's certificate must bear, sent as SNI: `uri`'s host.
pub(crate) fn server_name(uri: &WsUri) -> Result<ServerName<'static>, TlsError> {
    Ok(match uri.host() {
        Host::Name(name) => ServerName::try_from(name.clone())
            .map_err(|_| TlsError::InvalidServerName(name.clone()))?,
        Host::V4(ip) => ServerName::from(IpAddr::V4(*ip)),
        Host::V6(ip) => ServerName::from(IpAddr::V6(*ip)),
    })
}

/// The error for a TLS handshake with `uri`'s host that failed with `e`.
pub(crate) fn handshake_failed(uri: &WsUri, e: std::io::Error) -> Error {
    // rustls reports what broke the handshake inside the I/O error; a
    // socket that failed meanwhile is an I/O error like any other.
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(error) => Error::Tls(TlsError::Handshake {
            host: uri.host().to_string(),
            error: error.clone(),
        }),
        None => Error::Io(e),
    }
}

/// The TLS configuration trusting the usual public roots, made once.
fn default_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(Arc::clone(config));
    }
    let config = client_config(Vec::new())?;
    Ok(Arc::clone(DEFAULT.get_or_init(|| config)))
}
