//! A client's side of TLS on tokio (RFC 6455 §4.1 item 5), through
//! tokio-rustls: the same configuration, server name (SNI) and errors as
//! the blocking client's (`io/tls/client.rs`).

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::Error;
use crate::handshake::uri::WsUri;
use crate::io::tls::client::{config_or_default, handshake_failed, server_name};

/// Runs the TLS handshake on `tcp` for `uri`'s host: "the client MUST
/// perform a TLS handshake over the connection" with the host name in SNI.
/// A certificate that does not verify, or names another host, fails here
/// with [`TlsError::Handshake`](crate::tls::TlsError::Handshake). The
/// caller bounds it by the handshake timeout.
pub(crate) async fn open(
    tcp: TcpStream,
    uri: &WsUri,
    config: Option<&Arc<rustls::ClientConfig>>,
) -> Result<TlsStream<TcpStream>, Error> {
    let config = config_or_default(config)?;
    let name = server_name(uri)?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_failed(uri, e))
}
