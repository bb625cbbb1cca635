//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame from client to server carries a 32-bit masking key, and its
//! payload is XORed with that key repeated: octet `i` of the transformed data
//! is octet `i` of the original XOR octet `i % 4` of the key. The same
//! operation masks and unmasks.
//!
//! A payload may arrive in pieces, so [`apply_mask`] takes the position of the
//! first byte within the payload. It works on 16-byte words, not byte by byte;
//! the compiler turns the word loop into vector instructions.
//!
//! A client's keys come from [`MaskKeys`]: the operating system's generator,
//! in batches (§10.3).

use std::io;

/// XORs `buf` with `key`, where `buf[0]` is byte number `offset` of the payload.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let mut words = buf.chunks_exact_mut(16);
    let wide = u128::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3], key[0], key[1], key[2],
        key[3], key[0], key[1], key[2], key[3],
    ]);
    for word in &mut words {
        let bytes: [u8; 16] = (*word)
            .try_into()
            .expect("chunks_exact_mut(16) gives 16 bytes");
        word.copy_from_slice(&(u128::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    // The tail is shorter than a word; every word was a multiple of 4 bytes,
    // so the tail starts at key index 0.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// The key as seen from payload byte `offset`: byte `offset` is masked with
/// `key[offset % 4]`, so that byte must come first. One rotation of a
/// 32-bit word (a slice rotation costs more than a short payload's XOR).
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Read little-endian, key[0] is the low byte: rotating right by 8
    // bits a step brings key[1] down to the front.
    let steps = (offset & 3) as u32;
    u32::from_le_bytes(key)
        .rotate_right(8 * steps)
        .to_le_bytes()
}

/// The plain byte-at-a-time definition from §5.3, kept as the reference the
/// word-wise version is tested against (the fuzz target and the codec bench
/// carry the same loop).
/// Masking keys for a client (RFC 6455 §5.3, §10.3): each frame gets a fresh
/// key from a strong source the server cannot predict. Keys come from the
/// operating system's generator in batches, so there is no system call per frame.
#[derive(Debug)]
pub(crate) struct MaskKeys {
    batch: [u8; MASK_KEY_BATCH * 4],
    /// Where the next unused key starts; the batch's end when it is used up.
    next: usize,
}

/// Keys fetched per system call.
const MASK_KEY_BATCH: usize = 256;

impl Default for MaskKeys {
    fn default() -> MaskKeys {
        MaskKeys {
            batch: [0; MASK_KEY_BATCH * 4],
            next: MASK_KEY_BATCH * 4,
        }
    }
}

impl MaskKeys {
    pub(crate) fn next(&mut self) -> io::Result<[u8; 4]> {
        if self.next == self.batch.len() {
            // §10.3: the key MUST be unpredictable. Without the OS generator
            // there is no acceptable source, so its failure is an error.
            getrandom::fill(&mut self.batch)
                .map_err(|e| io::Error::other(format!("no random masking key: {e}")))?;
            self.next = 0;
        }
        let key = &self.batch[self.next..self.next + 4];
        self.next += 4;
        Ok([key[0], key[1], key[2], key[3]])
    }
}

#[cfg(test)]
fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        // Only the position modulo 4 matters, and wrapping keeps it.
        *byte ^= key[offset.wrapping_add(i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc6455_5_7_masked_hello_example() {
        // "A single-frame masked text message": 0x81 0x85 0x37 0xfa 0x21 0x3d
        // 0x7f 0x9f 0x4d 0x51 0x58 contains "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn the_rotated_key_starts_at_the_offsets_byte() {
        let key = [1, 2, 3, 4];
        assert_eq!(rotate_key(key, 0), [1, 2, 3, 4]);
        assert_eq!(rotate_key(key, 1), [2, 3, 4, 1]);
        assert_eq!(rotate_key(key, 2), [3, 4, 1, 2]);
        assert_eq!(rotate_key(key, 7), [4, 1, 2, 3]);
    }

    #[test]
    fn word_unmasking_equals_byte_loop_at_every_offset_and_alignment() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let original: Vec<u8> = (0..200u8).collect();
        for start in 0..20 {
            for len in 0..(original.len() - start) {
                for offset in 0..8 {
                    let mut fast = original.clone();
                    let mut slow = original.clone();
                    apply_mask(&mut fast[start..start + len], key, offset);
                    apply_mask_bytewise(&mut slow[start..start + len], key, offset);
                    assert_eq!(fast, slow, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn byte_loop_accepts_any_offset_up_to_usize_max() {
        // Found by the `mask` fuzz target: `offset + i` overflowed.
        let key = [0x12, 0x34, 0x56, 0x78];
        for offset in [usize::MAX - 2, usize::MAX - 1, usize::MAX] {
            let mut fast = [0xAA; 21];
            let mut slow = [0xAA; 21];
            apply_mask(&mut fast, key, offset);
            apply_mask_bytewise(&mut slow, key, offset);
            assert_eq!(fast, slow, "offset {offset}");
        }
    }

    proptest! {
        #[test]
        fn masking_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..300),
                                     key in any::<[u8; 4]>(), offset in 0usize..1000) {
            let mut buf = data.clone();
            apply_mask(&mut buf, key, offset);
            apply_mask(&mut buf, key, offset);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn masking_in_pieces_equals_masking_whole(data in proptest::collection::vec(any::<u8>(), 0..300),
                                                  key in any::<[u8; 4]>(), split in 0usize..300) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            prop_assert_eq!(pieces, whole);
        }
    }
}
