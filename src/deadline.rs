//! Reading a TCP stream under a deadline rather than a per-read timeout, so
//! a peer that trickles bytes cannot stretch a wait without end.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Instant;

/// Reads from a TCP stream, failing with `TimedOut` once `deadline` passes,
/// however slowly the bytes trickle in.
pub(crate) struct DeadlineReader<'a> {
    pub(crate) stream: &'a TcpStream,
    pub(crate) deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        match stream.read(buf) {
            // Unix reports a read timeout as WouldBlock, Windows as TimedOut.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            result => result,
        }
    }
}

/// Reads and discards until the peer closes the connection, or `deadline`
/// passes (`TimedOut`). A reset counts as closed: a peer that closes with
/// our last bytes unread resets the connection.
pub(crate) fn discard_until_eof(stream: &TcpStream, deadline: Instant) -> io::Result<()> {
    let mut reader = DeadlineReader { stream, deadline };
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
