//! TLS under a connection: `wss://` (RFC 6455 §4.1 item 5, §4.2.1, §10.6),
//! through rustls with the *ring* provider, for both roles (feature
//! `tls`, on by default).
//!
//! A [`TlsStream`] is a TCP socket with a rustls session on it, and it is a
//! [`Transport`] like the socket: the server, `accept_with`, the client and
//! [`WebSocket::split`](crate::WebSocket::split) work over it unchanged. The TLS handshake runs
//! on the first read or write (or [`TlsStream::handshake`]), under whatever
//! timeout the socket has then, so a server counts it against the opening
//! handshake's deadline.
//!
//! # Two threads on one session
//!
//! rustls has no split of its own: a session is one state machine, and a
//! read can have to write (an alert, the answer to a key update). So the
//! session sits behind a lock held only for rustls's own work, never while
//! the socket blocks:
//!
//! - **Reading** waits on the socket with no lock held, then takes the
//!   session's lock to decrypt what arrived.
//! - **Writing** seals records under the session's lock into `unsent`, and
//!   writes `unsent` to the socket holding only `unsent`'s lock, which keeps
//!   records in the order they were sealed.
//! - **What a read makes rustls send** goes out from the reading thread if
//!   no writer holds `unsent`; a writer that does looks for more records
//!   after it lets go, so nothing is left behind and the reader never waits
//!   for a blocked writer.
//!
//! Ending our direction ([`Transport::shutdown`]) sends TLS `close_notify`
//! before the TCP FIN (RFC 8446 §6.1).

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use crate::io::split::SplitStream;
use crate::io::transport::Transport;

pub(crate) mod client;
pub(crate) mod config;

pub use config::{TlsError, client_config, load_certificates, load_private_key, server_config};

/// Ciphertext taken from the socket per read: one full TLS record and its
/// overhead fit.
const READ_CHUNK: usize = 17 << 10;

/// What a receive brought.
enum Received {
    /// Ciphertext, now processed.
    Data,
    /// The end of the TCP stream.
    End,
}

/// A TCP connection with TLS on it; clones are handles on the same one.
#[derive(Clone)]
pub struct TlsStream {
    inner: Arc<Inner>,
}

struct Inner {
    tcp: TcpStream,
    /// Held for rustls's work only, never while the socket blocks.
    session: Mutex<Connection>,
    /// Records sealed and not yet taken by the socket. Its lock is held
    /// while the socket takes them, so they leave in the order sealed.
    unsent: Mutex<Vec<u8>>,
    /// Ciphertext read from the socket and not yet taken by the session.
    /// Only readers take its lock, and they hold it while the socket reads.
    backlog: Mutex<Vec<u8>>,
    /// The read timeout, for one whole read: a read can take several from
    /// the socket (records arriving in pieces, or bearing no data), and a
    /// peer trickling bytes must not stretch it past the timeout.
    read_timeout: Mutex<Option<Duration>>,
}

impl TlsStream {
    /// The server's end of a TLS connection on `tcp`.
    pub fn server(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<TlsStream> {
        let session = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream::new(tcp, session.into()))
    }

    /// The client's end of a TLS connection on `tcp` to the server `name`
    /// (sent as SNI, and what its certificate must name).
    pub fn client(
        tcp: TcpStream,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<TlsStream> {
        let session = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(TlsStream::new(tcp, session.into()))
    }

    fn new(tcp: TcpStream, session: Connection) -> TlsStream {
        TlsStream {
            inner: Arc::new(Inner {
                tcp,
                session: Mutex::new(session),
                unsent: Mutex::new(Vec::new()),
                backlog: Mutex::new(Vec::new()),
                read_timeout: Mutex::new(None),
            }),
        }
    }

    /// Runs the TLS handshake to its end. Reads and writes do it too; this
    /// is for an error about TLS (an untrusted certificate, a peer that
    /// speaks no TLS) before anything else is sent.
    pub fn handshake(&self) -> io::Result<()> {
        let deadline = self.read_deadline();
        loop {
            self.send_pending()?;
            if !self.session().is_handshaking() {
                return Ok(());
            }
            if let Received::End = self.receive(deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                ));
            }
        }
    }

    /// The TLS version agreed, once the handshake is done: `TLSv1_3` or `TLSv1_2`.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.session().protocol_version()
    }

    /// The ALPN protocol agreed, if any (RFC 7301).
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.session().alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The TCP socket under the session.
    pub fn tcp(&self) -> &TcpStream {
        &self.inner.tcp
    }

    fn session(&self) -> MutexGuard<'_, Connection> {
        // rustls leaves the session consistent when a call fails; a panic
        // elsewhere while it was locked changes nothing in it.
        self.inner
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When a read starting now must end, by the read timeout.
    fn read_deadline(&self) -> Option<Instant> {
        lock(&self.inner.read_timeout).map(|timeout| Instant::now() + timeout)
    }

    fn read_plaintext(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.read_deadline();
        loop {
            match self.session().reader().read(buf) {
                // 0: the peer's close_notify; the end of the stream.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // UnexpectedEof: the TCP connection ended with no close_notify.
                Err(e) => return Err(e),
            }
            // A client's first read may come before its first write: its
            // ClientHello must go out before anything can come back.
            self.try_send_pending()?;
            self.receive(deadline)?;
        }
    }

    /// Lets the session process ciphertext: what is left from an earlier
    /// read, or else what one read from the socket brings (waiting on the
    /// socket with only `backlog`'s lock held, which readers alone take).
    /// rustls holds one record's plaintext at a time, so feeding stops at
    /// the first record that yields plaintext; the rest waits in `backlog`.
    /// `WouldBlock` once `deadline` has passed.
    fn receive(&self, deadline: Option<Instant>) -> io::Result<Received> {
        let mut backlog = lock(&self.inner.backlog);
        let mut end = false;
        if backlog.is_empty() {
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                self.inner.tcp.set_read_timeout(Some(left))?;
            }
            let mut chunk = [0u8; READ_CHUNK];
            let n = loop {
                match (&self.inner.tcp).read(&mut chunk) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    read => break read?,
                }
            };
            backlog.extend_from_slice(&chunk[..n]);
            end = n == 0;
        }
        let mut session = self.session();
        let mut rest = &backlog[..];
        loop {
            // At the end of the stream there is nothing to read, which is
            // how rustls learns of the end.
            session.read_tls(&mut rest)?;
            let state = match session.process_new_packets() {
                Ok(state) => state,
                Err(e) => return Err(self.failed(session, e)),
            };
            if rest.is_empty() || state.plaintext_bytes_to_read() > 0 {
                break;
            }
        }
        let taken = backlog.len() - rest.len();
        backlog.drain(..taken);
        drop(backlog);
        let wants_write = session.wants_write();
        drop(session);
        if wants_write {
            self.try_send_pending()?;
        }
        Ok(if end { Received::End } else { Received::Data })
    }

    /// The session failed with `e`: rustls has queued an alert saying why,
    /// which is sent if it can be.
    fn failed(&self, session: MutexGuard<'_, Connection>, e: rustls::Error) -> io::Error {
        drop(session);
        let _ = self.try_send_pending();
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    /// Hands `bufs` to the session, which seals them together (a batch of
    /// frames becomes as few records as their size allows), and sends.
    fn write_plaintext(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.session().is_handshaking() {
            self.handshake()?;
        }
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        loop {
            let taken = self.session().writer().write_vectored(bufs)?;
            if taken > 0 || len == 0 {
                // Sent now where the socket takes it; what it does not take
                // in time goes with the next write or flush.
                return match self.send_pending() {
                    Err(e) if is_timeout(&e) => Ok(taken),
                    sent => sent.map(|()| taken),
                };
            }
            // rustls's buffer is full: make room.
            self.send_pending()?;
        }
    }

    /// Writes every sealed record to the socket, including any a reader
    /// sealed meanwhile. A socket timeout leaves the rest in `unsent`.
    fn send_pending(&self) -> io::Result<()> {
        loop {
            let mut unsent = lock(&self.inner.unsent);
            self.drain(&mut unsent)?;
            drop(unsent);
            // A reader that sealed a record while we held `unsent` found it
            // taken and left the record to us.
            if !self.session().wants_write() {
                return Ok(());
            }
        }
    }

    /// As [`TlsStream::send_pending`] if no writer is at it; else that
    /// writer sends what is pending. Timeouts leave the rest for later.
    fn try_send_pending(&self) -> io::Result<()> {
        let mut unsent = match self.inner.unsent.try_lock() {
            Ok(unsent) => unsent,
            Err(TryLockError::WouldBlock) => return Ok(()),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        match self.drain(&mut unsent) {
            Err(e) if is_timeout(&e) => Ok(()),
            drained => drained,
        }
    }

    /// Seals what the session has to send into `unsent` and writes `unsent`
    /// to the socket, until both are empty.
    fn drain(&self, unsent: &mut Vec<u8>) -> io::Result<()> {
        loop {
            if unsent.is_empty() {
                let mut session = self.session();
                if !session.wants_write() {
                    return Ok(());
                }
                while session.wants_write() {
                    session.write_tls(unsent)?;
                }
            }
            while !unsent.is_empty() {
                match (&self.inner.tcp).write(unsent) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        unsent.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `e` is a socket timeout (Unix says `WouldBlock`, Windows `TimedOut`).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.inner.tcp.peer_addr().ok())
            .field("version", &self.protocol_version())
            .finish_non_exhaustive()
    }
}

impl Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plaintext(buf)
    }
}

impl Write for &TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plaintext(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_plaintext(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plaintext(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plaintext(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_plaintext(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}

impl Transport for TlsStream {
    type Ref<'a> = &'a TlsStream;

    fn by_ref(&self) -> &TlsStream {
        self
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // Checked as `TcpStream` checks it.
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        *lock(&self.inner.read_timeout) = timeout;
        self.inner.tcp.set_read_timeout(timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.tcp.set_write_timeout(timeout)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.tcp.peer_addr()
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Read {
            // RFC 8446 §6.1: "Each party MUST send a "close_notify" alert
            // before closing its write side of the connection".
            self.session().send_close_notify();
            // The socket may be gone already; the FIN is what is left to send.
            let _ = self.send_pending();
        }
        self.inner.tcp.shutdown(how)
    }
}

/// Two handles on one session: the read half's and the write half's.
impl SplitStream for TlsStream {
    type Reader = TlsStream;
    type Writer = TlsStream;

    fn split_stream(self) -> io::Result<(TlsStream, TlsStream)> {
        Ok((self.clone(), self))
    }
}

/// A borrowed session reads and writes through shared references.
impl<'a> SplitStream for &'a TlsStream {
    type Reader = &'a TlsStream;
    type Writer = &'a TlsStream;

    fn split_stream(self) -> io::Result<(&'a TlsStream, &'a TlsStream)> {
        Ok((self, self))
    }
}
