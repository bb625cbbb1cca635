//! `wss://` on tokio (feature `tokio-tls`): `connect_async` over
//! tokio-rustls against a server on tokio and against the blocking TLS
//! server, and a certificate that does not verify failing as it fails the
//! blocking client.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use tokio_rustls::TlsAcceptor;
use ws6455::server::{Echo, serve_tls};
use ws6455::tls::{self, TlsError};
use ws6455::{
    AsyncStream, ClientConfig, CloseCode, Error, Message, ServerConfig, accept_async,
    connect_async_with, connect_with,
};

/// A self-signed certificate for `names`, written as PEM files in a fresh
/// folder named after `test`: (certificate file, key file, the certificate).
fn certificate(test: &str, names: &[&str]) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    let dir = std::env::temp_dir().join(format!("ws6455-async-tls-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
    (cert_file, key_file, made.cert.der().clone())
}

/// An echo on tokio over TLS, with the library's server configuration
/// for the files of `test`'s certificate, on a free port.
async fn start_async_wss(test: &str) -> (SocketAddr, CertificateDer<'static>) {
    let (cert_file, key_file, cert) = certificate(test, &["localhost"]);
    let acceptor = TlsAcceptor::from(tls::server_config(&cert_file, &key_file).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                let (mut ws, _request) = accept_async(tls).await.unwrap();
                while let Some(Ok(message)) = ws.next().await {
                    if let m @ (Message::Text(_) | Message::Binary(_)) = message {
                        ws.send(m).await.unwrap();
                    }
                }
            });
        }
    });
    (addr, cert)
}

/// The blocking echo server over TLS on a free port.
fn start_blocking_wss(test: &str) -> (SocketAddr, CertificateDer<'static>) {
    let (cert_file, key_file, cert) = certificate(test, &["localhost"]);
    let tls = tls::server_config(&cert_file, &key_file).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = serve_tls(listener, tls, ServerConfig::default(), Echo)
        .unwrap()
        .local_addr();
    (addr, cert)
}

/// A client configuration trusting `cert` besides the public roots.
fn trusting(cert: &CertificateDer<'static>) -> ClientConfig {
    ClientConfig::default().tls(Some(tls::client_config(vec![cert.clone()]).unwrap()))
}

/// Connects to `wss://localhost:PORT/`, echoes a text and a large binary
/// message, and closes.
async fn echo_over_wss(addr: SocketAddr, config: &ClientConfig) {
    let uri = format!("wss://localhost:{}/", addr.port());
    let (mut ws, response) = connect_async_with(&uri, config).await.unwrap();
    assert_eq!(response.status, 101);
    assert!(matches!(ws.get_ref(), AsyncStream::Tls(_)));
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("secure"));
    let big = Message::Binary(vec![9; 100_000]);
    ws.send(big.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), big);
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn rfc6455_4_1_wss_connect_async_to_a_tls_server_on_tokio() {
    let (addr, cert) = start_async_wss("to-tokio").await;
    echo_over_wss(addr, &trusting(&cert)).await;
}

#[tokio::test]
async fn rfc6455_4_1_wss_connect_async_to_the_blocking_tls_server() {
    let (addr, cert) = start_blocking_wss("to-blocking");
    echo_over_wss(addr, &trusting(&cert)).await;
}

#[tokio::test]
async fn the_blocking_client_connects_to_a_tls_server_on_tokio() {
    let (addr, cert) = start_async_wss("from-blocking").await;
    let uri = format!("wss://localhost:{}/", addr.port());
    let config = trusting(&cert);
    let echoed = tokio::task::spawn_blocking(move || {
        let (mut ws, _) = connect_with(&uri, &config).unwrap();
        ws.send(Message::text("both ways")).unwrap();
        ws.read().unwrap()
    });
    assert_eq!(echoed.await.unwrap(), Message::text("both ways"));
}

/// What the blocking and the async client say when connecting to `uri`
/// with `config` fails.
async fn both_fail(uri: &str, config: &ClientConfig) -> (Error, Error) {
    let async_error = connect_async_with(uri, config).await.err().unwrap();
    let (uri, config) = (uri.to_owned(), config.clone());
    let blocking_error = tokio::task::spawn_blocking(move || connect_with(&uri, &config).err())
        .await
        .unwrap()
        .unwrap();
    (async_error, blocking_error)
}

#[tokio::test]
async fn rfc6455_4_1_wss_fails_when_the_certificate_does_not_verify_as_the_blocking_client() {
    let (addr, _) = start_async_wss("unverified").await;
    // The default: the usual public roots, which do not hold a test certificate.
    let uri = format!("wss://localhost:{}/", addr.port());
    let (async_error, blocking_error) = both_fail(&uri, &ClientConfig::default()).await;
    assert!(
        matches!(&async_error, Error::Tls(TlsError::Handshake { host, .. }) if host == "localhost"),
        "{async_error:?}"
    );
    assert!(
        async_error.to_string().contains("UnknownIssuer"),
        "{async_error}"
    );
    assert_eq!(async_error.to_string(), blocking_error.to_string());
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_as_for_the_blocking_client() {
    let (addr, cert) = start_async_wss("another-name").await;
    // The certificate names localhost; the URI names the address.
    let uri = format!("wss://127.0.0.1:{}/", addr.port());
    let (async_error, blocking_error) = both_fail(&uri, &trusting(&cert)).await;
    assert!(
        matches!(&async_error, Error::Tls(TlsError::Handshake { host, .. }) if host == "127.0.0.1"),
        "{async_error:?}"
    );
    assert_eq!(async_error.to_string(), blocking_error.to_string());
}

#[tokio::test]
async fn a_silent_tls_server_fails_the_connection_at_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ClientConfig::default().handshake_timeout(Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    let result = connect_async_with(&format!("wss://localhost:{}/", addr.port()), &config).await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}
