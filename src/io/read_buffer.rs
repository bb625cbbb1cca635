//! The receive buffer of a connection: frames are decoded straight out of
//! it, and whatever is left between reads (at most a frame header or a
//! control frame, since data frames' payloads are consumed as they arrive)
//! moves to its front before the next read.

use std::io::{self, Read};

/// The receive buffer. It starts small, grows while reads fill it, and
/// shrinks back when the connection goes quiet, so an idle connection holds
/// little memory.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    /// The size the next read will use.
    target: usize,
    /// Bytes read from the stream, in all.
    received: u64,
}

/// The smallest read buffer: room for any control frame (14 + 125 bytes).
const READ_BUFFER_MIN: usize = 1 << 10;
/// The largest read buffer.
const READ_BUFFER_MAX: usize = 256 << 10;

impl ReadBuffer {
    pub(crate) fn new(already_read: Vec<u8>) -> ReadBuffer {
        let end = already_read.len();
        ReadBuffer {
            bytes: already_read,
            start: 0,
            end,
            target: READ_BUFFER_MIN,
            received: end as u64,
        }
    }

    /// Bytes received in all: those read from the stream, and those that
    /// came with the handshake.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn unread_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// One `read` call into the free space; returns what it returned.
    pub(crate) fn fill_from<R: Read>(&mut self, reader: &mut R) -> io::Result<usize> {
        let n = reader.read(self.free_space())?;
        self.filled(n);
        Ok(n)
    }

    /// The free space the next read fills, after moving what is unread to
    /// the front and sizing the buffer for the read.
    pub(crate) fn free_space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.bytes.len() > self.target {
                self.bytes.truncate(self.target);
                self.bytes.shrink_to_fit();
            }
        } else if self.start > 0 {
            // Keep the unfinished frame header or control frame at the front.
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.bytes.len() < self.target.max(self.end + READ_BUFFER_MIN / 2) {
            self.bytes
                .resize(self.target.max(self.end + READ_BUFFER_MIN / 2), 0);
        }
        &mut self.bytes[self.end..]
    }

    /// Records that a read put `n` bytes at the start of the free space.
    pub(crate) fn filled(&mut self, n: usize) {
        let free = self.bytes.len() - self.end;
        self.end += n;
        self.received += n as u64;
        // Grow while reads fill the buffer; shrink while they use little of it.
        if n == free {
            self.target = (self.target * 2).min(READ_BUFFER_MAX);
        } else if n < free / 8 {
            self.target = (self.target / 2).max(READ_BUFFER_MIN);
        }
    }

    /// Gives back a grown buffer when it holds no unread bytes, and starts
    /// the next read small again: for a connection gone quiet.
    pub(crate) fn release(&mut self) {
        self.target = READ_BUFFER_MIN;
        if self.start == self.end {
            self.bytes = Vec::new();
            self.start = 0;
            self.end = 0;
        }
    }

    /// Whether the buffer was given back ([`ReadBuffer::release`]) and
    /// holds nothing: a read that waits needs no buffer of its own then.
    #[cfg(feature = "tokio")]
    pub(crate) fn is_released(&self) -> bool {
        self.bytes.capacity() == 0
    }

    /// Takes bytes that a read put elsewhere (at most half the smallest
    /// buffer: on the stack, while this one was given back).
    #[cfg(feature = "tokio")]
    pub(crate) fn take_read(&mut self, read: &[u8]) {
        self.free_space()[..read.len()].copy_from_slice(read);
        self.filled(read.len());
    }

    /// The buffer's capacity, for tests of what a quiet connection holds.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}
