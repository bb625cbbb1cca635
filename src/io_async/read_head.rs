//! Reading an HTTP head over an async stream, for both opening
//! handshakes: the blocking side's `io/read_head.rs` on tokio.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::Error;
use crate::proto::Decoded;

/// How many bytes one read of a head asks for.
const HEAD_READ_CHUNK: usize = 1024;

/// Reads until `parse` finds the head whole; returns what it parsed and the
/// bytes that came after the head (the peer's first frames).
pub(crate) async fn read_head<S: AsyncRead + Unpin, T>(
    stream: &mut S,
    mut parse: impl FnMut(&[u8]) -> Result<Decoded<T>, Error>,
) -> Result<(T, Vec<u8>), Error> {
    let mut buf = Vec::with_capacity(HEAD_READ_CHUNK);
    loop {
        let filled = buf.len();
        buf.resize(filled + HEAD_READ_CHUNK, 0);
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.truncate(filled + n);
        if let Decoded::Complete(head, used) = parse(&buf)? {
            let already_read = buf.split_off(used);
            return Ok((head, already_read));
        }
    }
}
