//! Word-wise unmasking against the byte loop of RFC 6455 §5.3, for any key,
//! offset into the payload, length and alignment of the slice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::proto::apply_mask;

fuzz_target!(|input: ([u8; 4], usize, u8, &[u8])| {
    let (key, offset, start, data) = input;
    let start = usize::from(start % 16).min(data.len());
    let mut fast = data.to_vec();
    let mut slow = data.to_vec();
    apply_mask(&mut fast[start..], key, offset);
    apply_mask_bytewise(&mut slow[start..], key, offset);
    assert_eq!(fast, slow);
});

/// RFC 6455 §5.3's byte-at-a-time definition: octet i of the payload is
/// XORed with octet (i MOD 4) of the key, counting from `offset`.
fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[offset.wrapping_add(i) & 3];
    }
}
