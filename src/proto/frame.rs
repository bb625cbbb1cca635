//! The frame codec (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! [`FrameHeader::decode`] reads a header top to bottom in wire order and
//! checks what the header alone can tell: reserved opcodes, the 64-bit
//! length's top bit, minimal length encoding, and the control-frame rules of §5.5. What depends on the
//! connection (masking by role, RSV bits without extensions, fragmentation,
//! size limits) is checked by [`crate::proto::message::MessageDecoder`].

use crate::proto::Decoded;
use crate::proto::error::ProtocolError;
use crate::proto::mask::apply_mask;
use crate::proto::opcode::OpCode;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Everything in a frame before its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the low three bits (`0b100` is RSV1).
    pub rsv: u8,
    /// What the payload is.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The header of a frame with no RSV bits (no extension is negotiated).
    #[inline]
    pub fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Errors are found as early as the bytes allow: a reserved opcode after
    /// one byte, an oversized control frame after two.
    pub fn decode(buf: &[u8]) -> Result<Decoded<FrameHeader>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(Decoded::NeedMore);
        };
        let fin = first & 0x80 != 0;
        let rsv = (first >> 4) & 0x7;
        // RFC 6455 §5.2: "If an unknown opcode is received, the receiving
        // endpoint MUST _Fail the WebSocket Connection_."
        let opcode =
            OpCode::from_bits(first & 0x0F).ok_or(ProtocolError::ReservedOpcode(first & 0x0F))?;
        // RFC 6455 §5.5: "All control frames MUST have a payload length of
        // 125 bytes or less and MUST NOT be fragmented."
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame(opcode));
        }
        let Some(&second) = buf.get(1) else {
            return Ok(Decoded::NeedMore);
        };
        let masked = second & 0x80 != 0;
        let len7 = second & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLong(opcode, u64::from(len7)));
        }
        let (payload_len, mut used) = match len7 {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(Decoded::NeedMore),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let len = u64::from_be_bytes(b.try_into().expect("slice of 8 bytes"));
                    // RFC 6455 §5.2: "the most significant bit MUST be 0".
                    if len >> 63 != 0 {
                        return Err(ProtocolError::PayloadLengthTopBitSet);
                    }
                    (len, 10)
                }
                None => return Ok(Decoded::NeedMore),
            },
            short => (u64::from(short), 2),
        };
        // RFC 6455 §5.2: "In all cases, the minimal number of bytes MUST be
        // used to encode the length."
        let encoding = FrameHeader::length_encoding(payload_len);
        if (len7 == 126 && encoding != LengthEncoding::Bits16)
            || (len7 == 127 && encoding != LengthEncoding::Bits64)
        {
            return Err(ProtocolError::NonMinimalLength(payload_len));
        }
        let mask = if masked {
            match buf.get(used..used + 4) {
                Some(key) => {
                    used += 4;
                    Some([key[0], key[1], key[2], key[3]])
                }
                None => return Ok(Decoded::NeedMore),
            }
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        };
        Ok(Decoded::Complete(header, used))
    }

    /// How the payload length is carried: in the 7-bit field, or in a 16- or
    /// 64-bit extension (§5.2 requires the shortest, and decoding enforces it).
    pub(crate) fn length_encoding(payload_len: u64) -> LengthEncoding {
        match payload_len {
            0..=125 => LengthEncoding::Bits7,
            126..=0xFFFF => LengthEncoding::Bits16,
            _ => LengthEncoding::Bits64,
        }
    }

    /// Appends the whole frame to `dst`: this header, then `payload`, masked
    /// with the header's key if it has one (§5.3). The header's
    /// `payload_len` must be `payload`'s length: anything else is a bug in
    /// the caller, and panics.
    ///
    /// ```
    /// use ws6455::proto::{FrameHeader, OpCode};
    ///
    /// // RFC 6455 §5.7: a single-frame masked text message, "Hello".
    /// let mut wire = Vec::new();
    /// FrameHeader::new(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
    ///     .encode_frame(b"Hello", &mut wire);
    /// assert_eq!(wire, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// ```
    pub fn encode_frame(&self, payload: &[u8], dst: &mut Vec<u8>) {
        assert_eq!(
            self.payload_len,
            payload.len() as u64,
            "the header announces another length than the payload's"
        );
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = self.encode(&mut head);
        dst.reserve(head_len + payload.len());
        dst.extend_from_slice(&head[..head_len]);
        let start = dst.len();
        dst.extend_from_slice(payload);
        if let Some(key) = self.mask {
            apply_mask(&mut dst[start..], key, 0);
        }
    }

    /// Writes the header into a stack buffer and returns how many bytes it took.
    pub fn encode(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        dst[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut used = match FrameHeader::length_encoding(self.payload_len) {
            LengthEncoding::Bits7 => {
                dst[1] = mask_bit | self.payload_len as u8;
                2
            }
            LengthEncoding::Bits16 => {
                dst[1] = mask_bit | 126;
                dst[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
                4
            }
            LengthEncoding::Bits64 => {
                dst[1] = mask_bit | 127;
                dst[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            dst[used..used + 4].copy_from_slice(&key);
            used += 4;
        }
        used
    }
}

/// Which field carries a payload length (§5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthEncoding {
    /// 0–125, in the 7-bit field itself.
    Bits7,
    /// 126–65535: the 7-bit field says 126 and a 16-bit length follows.
    Bits16,
    /// 65536 and up: the 7-bit field says 127 and a 64-bit length follows.
    Bits64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_complete(buf: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::decode(buf) {
            Ok(Decoded::Complete(h, used)) => (h, used),
            other => panic!("expected a header, got {other:?}"),
        }
    }

    #[test]
    fn rfc6455_5_7_examples_decode() {
        // A single-frame unmasked text message containing "Hello".
        let (h, used) = decode_complete(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, used),
            (true, OpCode::Text, None, 5, 2)
        );
        // A single-frame masked text message.
        let (h, used) = decode_complete(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
        assert_eq!(
            (h.mask, h.payload_len, used),
            (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = decode_complete(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = decode_complete(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // 256 bytes binary message in a single unmasked frame.
        let (h, used) = decode_complete(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.opcode, h.payload_len, used), (OpCode::Binary, 256, 4));
        // 64KiB binary message in a single unmasked frame.
        let (h, used) = decode_complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!((h.payload_len, used), (65536, 10));
    }

    #[test]
    fn every_prefix_of_a_valid_header_needs_more() {
        for len in [0u64, 5, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut buf = [0; MAX_HEADER_LEN];
                let n = h.encode(&mut buf);
                for prefix in 0..n {
                    assert_eq!(
                        FrameHeader::decode(&buf[..prefix]),
                        Ok(Decoded::NeedMore),
                        "{h:?} {prefix}"
                    );
                }
                assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Decoded::Complete(h, n)));
            }
        }
    }

    #[test]
    fn rfc6455_5_2_reserved_opcodes_fail_after_one_byte() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn rfc6455_5_2_64_bit_length_top_bit_must_be_zero() {
        let buf = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&buf),
            Err(ProtocolError::PayloadLengthTopBitSet)
        );
    }

    #[test]
    fn rfc6455_5_2_length_must_use_minimal_encoding() {
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x7D]),
            Err(ProtocolError::NonMinimalLength(125))
        );
        let buf = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        assert_eq!(
            FrameHeader::decode(&buf),
            Err(ProtocolError::NonMinimalLength(65535))
        );
    }

    #[test]
    fn rfc6455_5_5_control_frames_not_fragmented() {
        assert_eq!(
            FrameHeader::decode(&[0x09]),
            Err(ProtocolError::FragmentedControlFrame(OpCode::Ping))
        );
    }

    #[test]
    fn rfc6455_5_5_control_frames_at_most_125_bytes() {
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(OpCode::Ping, 126))
        );
        assert!(matches!(
            FrameHeader::decode(&[0x89, 0x7D]),
            Ok(Decoded::Complete(..))
        ));
    }

    #[test]
    fn encode_frame_masks_payload_like_rfc_example() {
        let mut wire = Vec::new();
        FrameHeader::new(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
            .encode_frame(b"Hello", &mut wire);
        assert_eq!(
            wire,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }

    fn any_opcode() -> impl Strategy<Value = OpCode> {
        (0u8..16).prop_filter_map("reserved", OpCode::from_bits)
    }

    fn boundary_len() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(125),
            Just(126),
            Just(127),
            Just(65535),
            Just(65536),
            Just(u64::MAX >> 1),
            0u64..=u64::MAX >> 1
        ]
    }

    proptest! {
        #[test]
        fn header_round_trip(fin in any::<bool>(), rsv in 0u8..8, opcode in any_opcode(),
                             mask in any::<Option<[u8; 4]>>(), len in boundary_len()) {
            let (fin, len) = if opcode.is_control() { (true, len % 126) } else { (fin, len) };
            let h = FrameHeader { fin, rsv, opcode, mask, payload_len: len };
            let mut buf = [0; MAX_HEADER_LEN];
            let n = h.encode(&mut buf);
            prop_assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Decoded::Complete(h, n)));
        }

        #[test]
        fn decode_then_encode_gives_the_same_header(bytes in any::<[u8; MAX_HEADER_LEN]>()) {
            if let Ok(Decoded::Complete(h, _)) = FrameHeader::decode(&bytes) {
                let mut buf = [0; MAX_HEADER_LEN];
                let n = h.encode(&mut buf);
                prop_assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Decoded::Complete(h, n)));
            }
        }

        #[test]
        fn whole_frame_round_trip(opcode in any_opcode(), mask in any::<Option<[u8; 4]>>(),
                                  payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let payload = if opcode.is_control() { &payload[..payload.len().min(125)] } else { &payload[..] };
            let mut wire = Vec::new();
            FrameHeader::new(true, opcode, mask, payload.len() as u64).encode_frame(payload, &mut wire);
            let (h, used) = decode_complete(&wire);
            prop_assert_eq!((h.opcode, h.mask, h.payload_len), (opcode, mask, payload.len() as u64));
            let mut body = wire[used..].to_vec();
            if let Some(key) = h.mask { apply_mask(&mut body, key, 0); }
            prop_assert_eq!(&body[..], payload);
        }
    }
}
