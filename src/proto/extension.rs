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
//! under the message limit (which counts what comes out, not what came in);
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
    /// A data message starts whose first frame carries `rsv` (only bits the
    /// extension owns can be set here; the others were refused already).
    /// Returns whether this message was transformed and must go through
    /// [`InboundTransform::feed`].
    fn begin(&mut self, rsv: u8) -> bool;

    /// Takes the next received payload bytes of a transformed message (in
    /// order, unmasked) and appends what they decode to to `out`, which holds
    /// the message so far. Each run of bytes it appends goes to `check` as
    /// soon as it comes out (a text message's UTF-8 is checked there, so
    /// invalid text fails as soon as it is decoded), in order and up to
    /// `limit`; then, as soon as `out` would grow past `limit` bytes, it
    /// stops with [`ProtocolError::MessageTooLarge`], so that a small frame
    /// cannot make the receiver hold more than the message limit.
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
        check: OutputCheck<'_>,
    ) -> Result<(), ProtocolError>;

    /// The transformed message's last frame is complete: appends whatever
    /// remains to `out`, under the same checks and limit.
    fn finish(
        &mut self,
        out: &mut Vec<u8>,
        limit: u64,
        check: OutputCheck<'_>,
    ) -> Result<(), ProtocolError>;
}

/// The sending side of a per-message extension.
pub trait OutboundTransform: Send {
    /// Transforms the payload of a data message about to be sent. Returns
    /// the RSV bits to set on its first frame with the payload to send: no
    /// bits and the payload as it was when the transform does not pay.
    fn transform(&mut self, opcode: OpCode, payload: Vec<u8>) -> (u8, Vec<u8>);

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
