//! Making TLS configurations for `wss://`: a server's from its
//! certificate and key in PEM files, a client's that trusts the usual
//! public roots and any given; and what goes wrong with TLS ([`TlsError`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What went wrong with TLS: a configuration that could not be made, or a
/// TLS handshake that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read, or held nothing of the kind asked for
    /// ([`pem::Error::NoItemsFound`]).
    File {
        /// The file.
        path: PathBuf,
        /// What it should hold: "certificate" or "private key".
        kind: &'static str,
        /// What went wrong.
        error: pem::Error,
    },
    /// rustls refused the configuration, e.g. a key that is not the
    /// certificate's.
    Refused(rustls::Error),
    /// The host to connect to is not a name TLS can verify a certificate
    /// for (RFC 6066 §3: a DNS host name, or an IP address).
    InvalidServerName(String),
    /// The TLS handshake with `host` failed (RFC 6455 §4.1 item 5: the
    /// client "MUST _Fail the WebSocket Connection_"): a certificate that
    /// does not verify or names another host, no protocol version or cipher
    /// in common, an alert from the peer.
    Handshake {
        /// The host, as the URI names it.
        host: String,
        /// What rustls said.
        error: rustls::Error,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::File { path, kind, error } => {
                write!(f, "{}: no usable {kind}: {error}", path.display())
            }
            TlsError::Refused(e) => write!(f, "TLS configuration refused: {e}"),
            TlsError::InvalidServerName(host) => {
                write!(
                    f,
                    "{host:?} is not a host name TLS can verify a certificate for"
                )
            }
            TlsError::Handshake { host, error } => write!(f, "TLS handshake with {host}: {error}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::File { error, .. } => Some(error),
            TlsError::InvalidServerName(_) => None,
            TlsError::Refused(error) | TlsError::Handshake { error, .. } => Some(error),
        }
    }
}

/// The one crypto provider: *ring*, which builds with cargo and a C
/// compiler. rustls 0.23.48 deprecates it for having no post-quantum key
/// exchange; its replacement, aws-lc-rs, needs CMake to build, and a
/// configuration given to [`ClientConfig::tls`](crate::ClientConfig::tls)
/// or [`serve_tls`](crate::server::serve_tls) may use any provider.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate chain in the PEM file at `path`, leaf first.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unusable = |error: pem::Error| TlsError::File {
        path: path.to_owned(),
        kind: "certificate",
        error,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unusable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unusable)?;
    if certificates.is_empty() {
        return Err(unusable(pem::Error::NoItemsFound));
    }
    Ok(certificates)
}

/// The private key in the PEM file at `path` (PKCS #8, PKCS #1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| TlsError::File {
        path: path.to_owned(),
        kind: "private key",
        error,
    })
}

/// A server's TLS configuration from PEM files: TLS 1.3 and 1.2, ALPN
/// `http/1.1` (the opening handshake is an HTTP/1.1 request, RFC 6455 §4.1).
pub fn server_config(
    certificate_file: &Path,
    key_file: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certificates = load_certificates(certificate_file)?;
    let key = load_private_key(key_file)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Refused)?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(TlsError::Refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client's TLS configuration that trusts the usual public roots (the
/// Mozilla set, from `webpki-roots`) and `extra_roots`.
pub fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for root in extra_roots {
        roots.add(root).map_err(TlsError::Refused)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Refused)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
