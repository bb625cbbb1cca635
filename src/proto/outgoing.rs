//! Bytes waiting to be sent: whole encoded frames, in order, and how much of
//! them the stream has taken. No I/O: the connection layer asks for
//! [`Outgoing::io_slices`], writes what it can, and reports it with
//! [`Outgoing::advance`]. A write that stops half-way (a full socket buffer
//! on a non-blocking stream, a write timeout) loses nothing and repeats
//! nothing: the next write starts where the last one stopped.
//!
//! Small frames are copied into one buffer, so a batch of them goes out in
//! one `write`. A large payload is not copied: it stays the message's own
//! buffer, queued behind its header, and the batch goes out with one
//! `writev`.

use std::collections::VecDeque;
use std::io::IoSlice;

use crate::proto::frame::{FrameHeader, MAX_HEADER_LEN};
use crate::proto::mask::apply_mask;

/// Payloads at least this large are queued as they are instead of being
/// copied behind the frames before them.
const OWN_CHUNK_THRESHOLD: usize = 16 << 10;

/// A copy buffer larger than this is released once written.
const BUFFER_KEEP: usize = 64 << 10;

/// A message's payload buffer, once copied out, is kept for the next
/// message received if its capacity is at most this (see
/// [`Outgoing::take_recycled`]).
const RECYCLE_AT_MOST: usize = 4 << 10;

/// Encoded frames not yet written; see the module documentation.
#[derive(Debug, Default)]
pub struct Outgoing {
    chunks: VecDeque<Vec<u8>>,
    /// How many bytes of the front chunk were written already.
    written: usize,
    /// Whether the back chunk is a copy buffer that takes more frames (not a
    /// large payload queued as it is).
    back_takes_more: bool,
    /// Unwritten bytes in all.
    len: usize,
    /// An emptied copy buffer, kept for the next batch.
    spare: Vec<u8>,
    /// Bytes written, in all.
    total_written: u64,
    /// A small payload buffer whose bytes were copied into a copy buffer,
    /// emptied, for the receiver's next message: an echo then allocates
    /// nothing per message.
    recycled: Option<Vec<u8>>,
}

impl Outgoing {
    /// Queues one frame: its header, then its payload, masked with the
    /// header's key if it has one.
    #[inline]
    pub(crate) fn push_frame(&mut self, header: &FrameHeader, mut payload: Vec<u8>) {
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        self.len += head_len + payload.len();
        let buffer = self.copy_buffer();
        buffer.extend_from_slice(&head[..head_len]);
        if payload.len() < OWN_CHUNK_THRESHOLD {
            buffer.extend_from_slice(&payload);
            if self.recycled.is_none() && payload.capacity() <= RECYCLE_AT_MOST {
                payload.clear();
                self.recycled = Some(payload);
            }
        } else {
            self.chunks.push_back(payload);
            self.back_takes_more = false;
        }
    }

    /// Queues one frame whose payload is borrowed: it is copied behind the
    /// header (and masked there, if the header has a key).
    pub(crate) fn push_frame_copied(&mut self, header: &FrameHeader, payload: &[u8]) {
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.len += head_len + payload.len();
        let buffer = self.copy_buffer();
        buffer.reserve(head_len + payload.len());
        buffer.extend_from_slice(&head[..head_len]);
        let start = buffer.len();
        buffer.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut buffer[start..], key, 0);
        }
    }

    /// The copy buffer at the back, opened if there is none.
    #[inline]
    fn copy_buffer(&mut self) -> &mut Vec<u8> {
        if !self.back_takes_more {
            self.chunks.push_back(std::mem::take(&mut self.spare));
            self.back_takes_more = true;
        }
        self.chunks
            .back_mut()
            .expect("a copy buffer was just opened if there was none")
    }

    /// Moves everything queued in `other` behind what is queued here.
    pub(crate) fn append(&mut self, other: &mut Outgoing) {
        if other.is_empty() {
            return;
        }
        if other.written > 0 {
            if let Some(front) = other.chunks.front_mut() {
                front.drain(..other.written);
            }
        }
        self.len += other.len;
        self.chunks.append(&mut other.chunks);
        self.back_takes_more = other.back_takes_more;
        other.written = 0;
        other.len = 0;
        other.back_takes_more = false;
    }

    /// An empty buffer that held a payload queued here, if one was kept:
    /// the receiving side assembles its next message in it.
    pub(crate) fn take_recycled(&mut self) -> Option<Vec<u8>> {
        self.recycled.take()
    }

    /// How many bytes have been written, in all: what [`Outgoing::advance`]
    /// recorded.
    pub fn total_written(&self) -> u64 {
        self.total_written
    }

    /// Whether everything queued has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many bytes are still to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Fills `dst` with the unwritten bytes, in order, as far as it has room;
    /// returns how many slices it filled. Write them with `write_vectored`.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (i, chunk) in self.chunks.iter().enumerate().take(dst.len()) {
            let start = if i == 0 { self.written } else { 0 };
            dst[i] = IoSlice::new(&chunk[start..]);
            filled += 1;
        }
        filled
    }

    /// Appends every unwritten byte to `buf` and counts them written: for a
    /// caller that does its own I/O from a buffer of its own.
    pub fn drain_into(&mut self, buf: &mut Vec<u8>) {
        buf.reserve(self.len);
        for (i, chunk) in self.chunks.iter().enumerate() {
            let start = if i == 0 { self.written } else { 0 };
            buf.extend_from_slice(&chunk[start..]);
        }
        self.advance(self.len);
    }

    /// Records that the stream took the first `n` unwritten bytes.
    pub fn advance(&mut self, mut n: usize) {
        assert!(n <= self.len, "advanced past the queued bytes");
        self.len -= n;
        self.total_written += n as u64;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            self.pop_written();
        }
        // A fully written front chunk of length 0 cannot be left behind:
        // copy buffers are opened only to take bytes.
    }

    /// Gives back the buffers kept for the next messages (the emptied copy
    /// buffer, the payload buffer kept for the receiver) when nothing waits
    /// to be sent: for a connection gone quiet.
    pub(crate) fn release_buffers(&mut self) {
        if self.is_empty() {
            self.chunks = VecDeque::new();
            self.spare = Vec::new();
            self.recycled = None;
        }
    }

    /// The bytes its buffers hold room for, for tests of what a quiet
    /// connection keeps.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(Vec::capacity).sum();
        let recycled = self.recycled.as_ref().map_or(0, Vec::capacity);
        self.chunks.capacity() * std::mem::size_of::<Vec<u8>>()
            + chunks
            + self.spare.capacity()
            + recycled
    }

    fn pop_written(&mut self) {
        let Some(mut chunk) = self.chunks.pop_front() else {
            return;
        };
        if self.chunks.is_empty() {
            self.back_takes_more = false;
        }
        if self.spare.capacity() == 0 && chunk.capacity() <= BUFFER_KEEP {
            chunk.clear();
            self.spare = chunk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::FrameHeader;
    use crate::proto::opcode::OpCode;
    use proptest::prelude::*;

    fn unwritten(out: &Outgoing) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = out.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    fn push(out: &mut Outgoing, expected: &mut Vec<u8>, len: usize, mask: Option<[u8; 4]>) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        FrameHeader::new(true, OpCode::Binary, mask, payload.len() as u64)
            .encode_frame(&payload, expected);
        let header = FrameHeader::new(true, OpCode::Binary, mask, len as u64);
        out.push_frame(&header, payload);
    }

    proptest! {
        /// However the stream takes the bytes, they are the frames' encodings,
        /// in order, each byte once.
        #[test]
        fn writes_in_any_pieces_give_the_frames_in_order(
            lens in proptest::collection::vec(
                prop_oneof![0usize..200, 16_000usize..20_000], 1..8),
            masked in any::<bool>(),
            steps in proptest::collection::vec(1usize..30_000, 1..40),
        ) {
            let mask = masked.then_some([1, 2, 3, 4]);
            let (mut out, mut expected) = (Outgoing::default(), Vec::new());
            for len in lens {
                push(&mut out, &mut expected, len, mask);
            }
            prop_assert_eq!(out.len(), expected.len());
            let mut written = Vec::new();
            for step in steps.iter().cycle() {
                if out.is_empty() {
                    break;
                }
                let all = unwritten(&out);
                let n = (*step).min(all.len());
                written.extend_from_slice(&all[..n]);
                out.advance(n);
            }
            prop_assert_eq!(written, expected);
        }
    }

    #[test]
    fn frames_queued_after_a_partial_write_follow_the_rest() {
        let (mut out, mut expected) = (Outgoing::default(), Vec::new());
        push(&mut out, &mut expected, 10, None);
        out.advance(5);
        push(&mut out, &mut expected, 20_000, None);
        push(&mut out, &mut expected, 3, None);
        assert_eq!(unwritten(&out), expected[5..]);
        let mut other = Outgoing::default();
        other.append(&mut out);
        assert!(out.is_empty());
        assert_eq!(unwritten(&other), expected[5..]);
        let mut drained = b"before".to_vec();
        other.drain_into(&mut drained);
        assert_eq!(drained[6..], expected[5..]);
        assert!(other.is_empty());
    }

    #[test]
    fn copied_and_owned_payloads_encode_alike() {
        let (mut owned, mut copied) = (Outgoing::default(), Outgoing::default());
        for len in [0, 125, 126, 20_000] {
            let header = FrameHeader::new(true, OpCode::Text, Some([9, 8, 7, 6]), len as u64);
            owned.push_frame(&header, vec![b'a'; len]);
            copied.push_frame_copied(&header, &vec![b'a'; len]);
        }
        assert_eq!(unwritten(&owned), unwritten(&copied));
    }
}
