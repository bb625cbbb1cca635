//! The seam for extensions (RFC 6455 §9): what a negotiated extension may
//! change in the frames, and where it plugs into the connection.
//!
//! RFC 6455 §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an
//! extension is negotiated that defines meanings for non-zero values." An
//! [`Extension`] names the bits it owns; the message decoder checks every
//! frame's bits against them in one place (`check_header` in
//! `message.rs`). The extensions this hook is made for are per-message ones
//! (RFC 7692 §6: a message transformed as a whole, the bit set on its first
//! frame only), so an extension's bits are allowed on the first frame of a
//! data message and nowhere else: a continuation or control frame with them
//! set fails the connection with 1002.
//!
//! Each direction has its own transform, so the two halves of a split
//! connection ([`crate::io::split`]) each own theirs: [`InboundTransform`] turns
//! a received message's payload back into the message as it streams in,
//! into room the receiver gives (so the message limit counts what comes
//! out, not what came in, and a message read in pieces is decoded a piece
//! at a time);
//! [`OutboundTransform`] turns a message's payload into what goes on the
//! wire, and says which bits to set.

use std::fmt;

use crate::proto::error::ProtocolError;
use crate::proto::opcode::OpCode;

/// A negotiated extension, as the connection uses it.
pub struct Extension {
    /// The RSV bits it gives a meaning to, as `0b0RRR` (`0b100` is RSV1).
    pub rsv_bits: u8,
    /// Undoes the transform on received messages.
    pub inbound: Box<dyn InboundTransform>,
    /// Applies the transform to messages we send.
    pub outbound: Box<dyn OutboundTransform>,
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("rsv_bits", &format_args!("{:03b}", self.rsv_bits))
            .finish_non_exhaustive()
    }
}

/// What an [`InboundTransform`] shows each run of bytes it decodes to, as
/// they come out: the message's own checks (a text message's UTF-8).
pub type OutputCheck<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), ProtocolError>;

/// The receiving side of a per-message extension.
pub trait InboundTransform: Send {
    /// A data message starts whose first frame carries `rsv`, some of the
    /// bits the extension owns (the others were refused already; a message
    /// with none of them set is not transformed, and this is not called).
    /// Returns whether this message was transformed and must go through
    /// [`InboundTransform::feed`].
    fn begin(&mut self, rsv: u8) -> bool;

    /// Takes the next received payload bytes of a transformed message (in
    /// order, unmasked) and writes what they decode to at the start of `out`
    /// (never empty), as far as it has room. Returns how many bytes of
    /// `input` it used and how many it wrote. It stops once all of `input`
    /// is used with nothing decoded held back, or once `out` is full: the
    /// caller gives the input it did not use again, and fresh room, in the
    /// next call, and what was held back comes out first then. So a small
    /// frame that decodes to a bomb never makes the receiver hold more than
    /// the room it gives: the message limit is the caller's, counted on
    /// what comes out. Each run of bytes written goes to `check` as soon as
    /// it comes out (a text message's UTF-8 is checked there, so invalid
    /// text fails as soon as it is decoded).
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, usize), ProtocolError>;

    /// The transformed message's last frame is complete: writes whatever
    /// remains at the start of `out` (never empty), under the same checks.
    /// Returns how many bytes it wrote and whether that was all; the caller
    /// gives fresh room until it was.
    fn finish(
        &mut self,
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, bool), ProtocolError>;
}

/// The sending side of a per-message extension.
pub trait OutboundTransform: Send {
    /// Transforms the payload of a data message about to be sent. Returns
    /// the RSV bits to set on its first frame with the payload to send: no
    /// bits and the payload as it was when the transform does not pay.
    fn transform(&mut self, opcode: OpCode, payload: Vec<u8>) -> (u8, Vec<u8>);

    /// A data message sent in pieces begins (see
    /// [`Engine::send_piece`](crate::Engine::send_piece)): returns the RSV
    /// bits to set on its first frame, and so whether its pieces go through
    /// [`OutboundTransform::transform_piece`] (no bits: they go as they are).
    fn begin_pieces(&mut self, opcode: OpCode) -> u8;

    /// Transforms the next piece of a message that
    /// [`OutboundTransform::begin_pieces`] said it transforms, appending what
    /// goes on the wire for it to `out` (which may stay empty); `last` for
    /// the message's last piece. It holds nothing back from one piece to the
    /// next: each piece's output can be sent as it is made.
    fn transform_piece(&mut self, piece: &[u8], last: bool, out: &mut Vec<u8>);

    /// A key for this transform's settings when its output depends on
    /// nothing but the message and those settings (it keeps no state from
    /// one message to the next): every connection whose transform gives the
    /// same key would send the same bytes, so a [`SharedMessage`] is
    /// transformed once for all of them. `None`, the default, when the
    /// output depends on the messages before.
    ///
    /// [`SharedMessage`]: crate::proto::shared_message::SharedMessage
    fn shared_key(&self) -> Option<u64> {
        None
    }
}
