//! Compressing and inflating messages (RFC 7692 §7.2), as the engine's
//! per-message transform on RSV1.
//!
//! A message is compressed as DEFLATE blocks ending with a sync flush, whose
//! last four bytes (`00 00 ff ff`) are removed before sending (§7.2.1) and
//! put back before inflating (§7.2.2). Compression goes through `flate2`
//! with its `zlib-rs` backend; the protocol around it is here.
//!
//! # Memory
//!
//! A compression context is large (zlib's state for a 15-bit window is
//! about 256 KiB), an inflation context smaller (the window, up to 32 KiB,
//! and some 7 KiB of state). Where an end uses no context takeover, nothing
//! needs to survive from one message to the next, so the connection holds
//! no context between messages: it borrows one from a pool shared by every
//! connection for each message and gives it back, reset, when the message
//! is done. An idle connection then costs nothing here. With context
//! takeover the connection keeps its own contexts for its whole life.

use std::sync::Mutex;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::deflate::config::DeflateParams;
use crate::proto::settings::Role;
use crate::proto::{
    Extension, InboundTransform, OpCode, OutboundTransform, OutputCheck, ProtocolError,
};

/// RFC 7692 §6: the RSV1 bit is the "Per-Message Compressed" bit, set on
/// the first frame of a compressed message.
const RSV1: u8 = 0b100;

/// RFC 7692 §7.2.1: the four octets a sync flush ends with, removed from
/// each compressed message and appended again before inflating it.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A message shorter than this is sent uncompressed when contexts carry
/// over: compressing it would save nothing, and a message the compressor
/// sees must be sent compressed (the peer's window must see it too).
const MIN_COMPRESSED_LEN: usize = 32;

/// Pooled contexts kept at most, of each kind.
const POOL_MAX: usize = 32;

/// The permessage-deflate transform for one connection in `role`, with the
/// parameters both ends agreed and our compression level.
pub fn extension(params: &DeflateParams, role: Role, level: u32) -> Extension {
    let (ours, theirs) = match role {
        Role::Server => (
            (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
            (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        ),
        Role::Client => (
            (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        ),
    };
    Extension {
        rsv_bits: RSV1,
        inbound: Box::new(Inflater {
            kind: InflateKind {
                window_bits: zlib_window_bits(theirs.0),
            },
            takeover: !theirs.1,
            context: None,
            tail_used: 0,
        }),
        outbound: Box::new(Deflater {
            kind: DeflateKind {
                level: level.min(9),
                window_bits: zlib_window_bits(ours.0),
            },
            takeover: !ours.1,
            context: None,
        }),
    }
}

/// The window size zlib is given for `bits` negotiated. zlib cannot
/// compress raw DEFLATE with an 8-bit window, so 8 becomes 9. That stays
/// valid for a peer with a 256-byte window: zlib never emits a distance
/// larger than its window less 262 bytes (its lookahead), which for 512
/// bytes is 250. Inflating with a larger window than the stream needs is
/// always fine.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// What a compression context is made for; contexts are pooled by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DeflateKind {
    level: u32,
    window_bits: u8,
}

/// What an inflation context is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InflateKind {
    window_bits: u8,
}

static DEFLATE_POOL: Mutex<Vec<(DeflateKind, Compress)>> = Mutex::new(Vec::new());
static INFLATE_POOL: Mutex<Vec<(InflateKind, Decompress)>> = Mutex::new(Vec::new());

/// A context of `kind` from `pool`, or a new one from `make`.
fn borrow<K: PartialEq, T>(pool: &Mutex<Vec<(K, T)>>, kind: &K, make: impl FnOnce() -> T) -> T {
    let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
    match idle.iter().rposition(|(k, _)| k == kind) {
        Some(i) => idle.swap_remove(i).1,
        None => {
            drop(idle);
            make()
        }
    }
}

/// Gives a context back to `pool` (already reset), unless the pool is full.
fn give_back<K, T>(pool: &Mutex<Vec<(K, T)>>, kind: K, context: T) {
    let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
    if idle.len() < POOL_MAX {
        idle.push((kind, context));
    }
}

/// Our compressor (the outbound side).
struct Deflater {
    kind: DeflateKind,
    /// Whether our context carries over from message to message.
    takeover: bool,
    /// The context: kept for good with takeover, else only within a message.
    context: Option<Compress>,
}

impl Deflater {
    fn new_context(kind: DeflateKind) -> Compress {
        Compress::new_with_window_bits(Compression::new(kind.level), false, kind.window_bits)
    }

    /// Compresses `payload` as one message; the sync flush's tail removed.
    fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        self.compress_piece(payload, true, &mut out);
        out
    }

    /// Compresses the next piece of a message, appending it to `out`, with a
    /// sync flush so that it can be sent as it is: the peer inflates every
    /// byte of it before the next piece arrives. The message's last piece
    /// loses the sync flush's tail, and ends the message.
    fn compress_piece(&mut self, piece: &[u8], last: bool, out: &mut Vec<u8>) {
        let kind = self.kind;
        let mut context = match self.context.take() {
            Some(context) => context,
            None if self.takeover => Deflater::new_context(kind),
            None => borrow(&DEFLATE_POOL, &kind, || Deflater::new_context(kind)),
        };
        out.reserve(piece.len() / 2 + 64);
        let start = out.len();
        let start_in = context.total_in();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let consumed = (context.total_in() - start_in) as usize;
            // A compressor fed its own input cannot fail; a buffer error
            // only says it had nothing to do.
            let _ = context.compress_vec(&piece[consumed..], out, FlushCompress::Sync);
            // zlib: with a flush, "if deflate returns with avail_out == 0,
            // this function must be called again": the flush is complete
            // once all input is in and room is left over.
            let all_in = (context.total_in() - start_in) as usize == piece.len();
            if all_in && out.len() < out.capacity() {
                break;
            }
        }
        // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff)
        // from the tail end." An empty message leaves the single octet 0x00.
        if last && out.ends_with(&SYNC_FLUSH_TAIL) {
            out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
        } else if last && out.len() == start {
            // zlib adds nothing to a sync flush with no input since the
            // last one (the piece before ended with one, tail and all): the
            // message ends with the header of the empty stored block whose
            // LEN and NLEN the receiver appends.
            out.push(0x00);
        }
        if out.len() - start > stored_len(piece.len(), last) {
            // Data that does not compress (random bytes, media) came out
            // larger than it went in: it goes as stored blocks instead. The
            // peer's window then holds the same bytes as our compressor's,
            // so what follows still inflates.
            out.truncate(start);
            push_stored(piece, last, out);
        }
        if !last {
            self.context = Some(context);
            return;
        }
        if self.takeover {
            self.context = Some(context);
        } else {
            // RFC 7692 §7.2.1: with no context takeover agreed, the sender
            // "MUST start compressing each new message with an empty LZ77
            // sliding window".
            context.reset();
            give_back(&DEFLATE_POOL, kind, context);
        }
    }
}

/// The most bytes one stored block holds (RFC 1951 §3.2.4: LEN is 16 bits).
const STORED_BLOCK_MAX: usize = 0xffff;

/// The length of `len` bytes as stored blocks (see [`push_stored`]).
fn stored_len(len: usize, last: bool) -> usize {
    len + 5 * len.div_ceil(STORED_BLOCK_MAX) + usize::from(last)
}

/// Appends `piece` to `out` as DEFLATE stored blocks (RFC 1951 §3.2.4),
/// each a byte-aligned header (BFINAL 0, BTYPE 00: one zero byte), LEN and
/// its complement NLEN, then the bytes as they are; the output is byte
/// aligned before and after, as after a sync flush. A message's `last`
/// piece ends with the header of the empty stored block whose LEN and NLEN
/// are the four octets RFC 7692 §7.2.1 removes (the receiver appends them).
fn push_stored(piece: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(stored_len(piece.len(), last));
    for block in piece.chunks(STORED_BLOCK_MAX) {
        let len = block.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    if last {
        out.push(0x00);
    }
}

impl OutboundTransform for Deflater {
    fn transform(&mut self, _opcode: OpCode, payload: Vec<u8>) -> (u8, Vec<u8>) {
        if self.takeover {
            // The peer's window must hold every message our compressor saw,
            // so a message compressed is a message sent compressed.
            if payload.len() < MIN_COMPRESSED_LEN {
                return (0, payload);
            }
            return (RSV1, self.compress(&payload));
        }
        // RFC 7692 §6: a message MAY be sent uncompressed (RSV1 clear):
        // without context takeover, whenever compressing does not pay.
        let compressed = self.compress(&payload);
        if compressed.len() < payload.len() {
            (RSV1, compressed)
        } else {
            (0, payload)
        }
    }

    fn begin_pieces(&mut self, _opcode: OpCode) -> u8 {
        // A message sent in pieces is compressed whatever its size: whether
        // compressing pays cannot be known before its end.
        RSV1
    }

    fn transform_piece(&mut self, piece: &[u8], last: bool, out: &mut Vec<u8>) {
        self.compress_piece(piece, last, out);
    }

    fn shared_key(&self) -> Option<u64> {
        // Without context takeover each message is compressed from an empty
        // window, so the level and the window size decide the output.
        (!self.takeover).then(|| u64::from(self.kind.level) << 8 | u64::from(self.kind.window_bits))
    }
}

/// Our inflater (the inbound side).
struct Inflater {
    kind: InflateKind,
    /// Whether the peer's context carries over, so ours must too.
    takeover: bool,
    /// The context: kept for good with takeover, else only within a message.
    context: Option<Decompress>,
    /// How much of the tail appended to the message being finished was
    /// used (RFC 7692 §7.2.2).
    tail_used: usize,
}

impl Inflater {
    fn new_context(kind: InflateKind) -> Decompress {
        Decompress::new_with_window_bits(false, kind.window_bits)
    }

    /// Inflates from `input` into `out`, showing `check` each step's output
    /// first; returns the bytes of `input` used and of `out` written. Stops
    /// once `input` is all used with room left over (nothing is held back),
    /// or once `out` is full.
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, usize), ProtocolError> {
        let kind = self.kind;
        let context = self
            .context
            .get_or_insert_with(|| Inflater::new_context(kind));
        let (mut used, mut written) = (0, 0);
        loop {
            let (in_before, out_before) = (context.total_in(), context.total_out());
            let status =
                context.decompress(&input[used..], &mut out[written..], FlushDecompress::Sync);
            let fresh = (context.total_out() - out_before) as usize;
            let took = (context.total_in() - in_before) as usize;
            // What came out is checked before anything else is said of it:
            // the first fault in the message decides, however it arrived.
            if fresh > 0 {
                check(&out[written..written + fresh])?;
            }
            written += fresh;
            used += took;
            let status = status.map_err(|_| ProtocolError::InvalidCompressedData)?;
            if status == Status::StreamEnd {
                // The peer ended its DEFLATE stream (a block with BFINAL
                // set, RFC 7692 §7.2.3.4): what follows starts a new one,
                // in this message (the tail appended to it) or the next.
                context.reset(false);
                if used == input.len() || written == out.len() {
                    return Ok((used, written));
                }
                continue;
            }
            if written == out.len() || used == input.len() {
                return Ok((used, written));
            }
            if fresh == 0 && took == 0 {
                // Input left, room left, and nothing came of it.
                return Err(ProtocolError::InvalidCompressedData);
            }
        }
    }
}

impl InboundTransform for Inflater {
    fn begin(&mut self, rsv: u8) -> bool {
        if rsv & RSV1 == 0 {
            return false;
        }
        if self.context.is_none() && !self.takeover {
            let kind = self.kind;
            self.context = Some(borrow(&INFLATE_POOL, &kind, || Inflater::new_context(kind)));
        }
        true
    }

    fn feed(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, usize), ProtocolError> {
        self.inflate(input, out, check)
    }

    fn finish(
        &mut self,
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, bool), ProtocolError> {
        // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the
        // tail end of the payload of the message."
        let tail = &SYNC_FLUSH_TAIL[self.tail_used..];
        let (used, written) = self.inflate(tail, out, check)?;
        self.tail_used += used;
        if self.tail_used < SYNC_FLUSH_TAIL.len() || written == out.len() {
            return Ok((written, false));
        }
        self.tail_used = 0;
        if !self.takeover {
            if let Some(mut context) = self.context.take() {
                context.reset(false);
                give_back(&INFLATE_POOL, self.kind, context);
            }
        }
        Ok((written, true))
    }
}
