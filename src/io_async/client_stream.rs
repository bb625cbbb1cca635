//! The stream a client gets from [`connect_async`](crate::connect_async):
//! the TCP connection of a `ws://` URI, or the TLS session over one of a
//! `wss://` URI (feature `tokio-tls`), as [`Stream`](crate::Stream) is for
//! the blocking client.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP connection on tokio, plain or with TLS on it: what a client
/// connected to a `ws://` or a `wss://` URI has.
#[derive(Debug)]
#[non_exhaustive]
pub enum AsyncStream {
    /// `ws://`: plain TCP.
    Plain(TcpStream),
    /// `wss://`: TLS over TCP (with the feature `tokio-tls`), a client's
    /// session or, for a server that serves both, a server's. Boxed: a
    /// session is some hundreds of bytes, which a plain connection need
    /// not carry.
    #[cfg(feature = "tokio-tls")]
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl AsyncStream {
    /// The TCP socket, under TLS if there is TLS.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            AsyncStream::Plain(tcp) => tcp,
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            AsyncStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    /// Ends our direction: for TLS, `close_notify` before the TCP FIN
    /// (RFC 8446 §6.1).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tokio-tls")]
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
