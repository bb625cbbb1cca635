//! Reading an HTTP head, a request or a response, from a blocking stream:
//! the I/O half shared by both ends of the opening handshake.

use std::io::{self, Read};

use crate::error::Error;
use crate::proto::Decoded;

/// How many bytes one read of a head asks for.
const HEAD_READ_CHUNK: usize = 1024;

/// Reads from `stream` until `parse`, given everything received so far,
/// completes a head. Returns the head and the bytes received after it, which
/// belong to the WebSocket stream. Reads never go far past `max_bytes` (the
/// parser reports the limit once it is exceeded). A read that times out
/// becomes `timed_out()`; a stream that ends first, `UnexpectedEof`.
pub(crate) fn read_head<S: Read, T>(
    stream: &mut S,
    max_bytes: usize,
    mut parse: impl FnMut(&[u8]) -> Result<Decoded<T>, Error>,
    timed_out: impl Fn() -> Error,
) -> Result<(T, Vec<u8>), Error> {
    let mut buf = Vec::with_capacity(HEAD_READ_CHUNK);
    loop {
        let filled = buf.len();
        let want = HEAD_READ_CHUNK.min(max_bytes + 1 - filled.min(max_bytes));
        buf.resize(filled + want.max(1), 0);
        let n = match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(e) => return Err(Error::Io(e)),
        };
        buf.truncate(filled + n);
        if let Decoded::Complete(head, used) = parse(&buf)? {
            let already_read = buf.split_off(used);
            return Ok((head, already_read));
        }
    }
}
