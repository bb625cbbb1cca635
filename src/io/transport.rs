//! What a connection's transport must offer the blocking layer beyond
//! reading and writing: deadlines, shutting down, and use from two threads.
//!
//! TCP is one transport; TLS (`TlsStream`) is another, and `Stream` is
//! either, as a client connected to a `ws://` or a `wss://` URI has it. The
//! server, `accept_with` and `split` work over each unchanged.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::io::split::SplitStream;

/// A transport a server runs connections over, and a client can wait on.
pub trait Transport: Read + Write + Send + Sync + 'static {
    /// A handle that reads and writes the transport through a shared
    /// reference, so that one thread can read while others write (for TCP,
    /// `&TcpStream`).
    type Ref<'a>: Read + Write + SplitStream + Send
    where
        Self: 'a;

    /// The handle for reading and writing.
    fn by_ref(&self) -> Self::Ref<'_>;

    /// Makes reads fail with `WouldBlock` or `TimedOut` after `timeout`; `None` blocks.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Makes writes fail with `WouldBlock` or `TimedOut` after `timeout`; `None` blocks.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// The peer's address.
    fn peer_addr(&self) -> io::Result<SocketAddr>;

    /// Ends one or both directions. Ending ours tells the peer we are done
    /// sending (a TCP FIN; for TLS, after its `close_notify`); ending both
    /// also wakes a thread blocked reading.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl Transport for TcpStream {
    type Ref<'a> = &'a TcpStream;

    fn by_ref(&self) -> &TcpStream {
        self
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::peer_addr(self)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

/// Reads a transport under a deadline rather than a per-read timeout, so a
/// peer that trickles bytes cannot stretch a wait without end; writes pass
/// straight through.
pub(crate) struct Deadline<'a, T: Transport> {
    transport: &'a T,
    io: T::Ref<'a>,
    deadline: Instant,
}

impl<'a, T: Transport> Deadline<'a, T> {
    pub(crate) fn new(transport: &'a T, deadline: Instant) -> Deadline<'a, T> {
        Deadline {
            transport,
            io: transport.by_ref(),
            deadline,
        }
    }
}

impl<T: Transport> Read for Deadline<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.transport.set_read_timeout(Some(left))?;
        match self.io.read(buf) {
            // Unix reports a read timeout as WouldBlock, Windows as TimedOut.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            result => result,
        }
    }
}

impl<T: Transport> Write for Deadline<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

/// Reads and discards until the peer closes the connection, or `deadline`
/// passes (`TimedOut`). A reset counts as closed: a peer that closes with
/// our last bytes unread resets the connection.
///
/// Never inlined: its buffer would otherwise sit in the frame of the
/// server's connection function, and a stack page would be touched (and
/// stay resident) for every idle connection, not only for closing ones.
#[inline(never)]
pub(crate) fn discard_until_eof<T: Transport>(transport: &T, deadline: Instant) -> io::Result<()> {
    let mut reader = Deadline::new(transport, deadline);
    let mut sink = [0u8; 4096];
    loop {
        match reader.read(&mut sink) {
            Ok(0) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
