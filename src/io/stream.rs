//! The stream a client gets from [`connect`](crate::connect): the TCP
//! connection of a `ws://` URI, or the TLS session over one of a `wss://`
//! URI. It is a [`Transport`] and splits like a socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::io::split::SplitStream;
#[cfg(feature = "tls")]
use crate::io::tls::TlsStream;
use crate::io::transport::Transport;

/// A TCP connection, plain or with TLS on it: what a client connected to a
/// `ws://` or a `wss://` URI has.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// `ws://`: plain TCP.
    Plain(TcpStream),
    /// `wss://`: TLS over TCP (with the feature `tls`).
    #[cfg(feature = "tls")]
    Tls(TlsStream),
}

impl Stream {
    /// Another handle on the same connection, as [`TcpStream::try_clone`].
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => tcp.try_clone().map(Stream::Plain),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Ok(Stream::Tls(tls.clone())),
        }
    }

    /// The TCP socket, under TLS if there is TLS.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.tcp(),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => (&*tcp).read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => (&*tls).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => (&*tcp).write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => (&*tls).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => (&*tcp).write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => (&*tls).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => (&*tcp).flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => (&*tls).flush(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Transport for Stream {
    type Ref<'a> = &'a Stream;

    fn by_ref(&self) -> &Stream {
        self
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Transport::set_read_timeout(tls, timeout),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.shutdown(how),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Transport::shutdown(tls, how),
        }
    }
}

/// Two handles on one connection: a clone of the socket, or of the TLS session's handle.
impl SplitStream for Stream {
    type Reader = Stream;
    type Writer = Stream;

    fn split_stream(self) -> io::Result<(Stream, Stream)> {
        match self {
            Stream::Plain(tcp) => {
                let (reader, writer) = tcp.split_stream()?;
                Ok((Stream::Plain(reader), Stream::Plain(writer)))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                let (reader, writer) = tls.split_stream()?;
                Ok((Stream::Tls(reader), Stream::Tls(writer)))
            }
        }
    }
}

/// A borrowed connection reads and writes through shared references.
impl<'a> SplitStream for &'a Stream {
    type Reader = &'a Stream;
    type Writer = &'a Stream;

    fn split_stream(self) -> io::Result<(&'a Stream, &'a Stream)> {
        Ok((self, self))
    }
}
