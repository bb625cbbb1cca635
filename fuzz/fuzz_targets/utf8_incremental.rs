//! The incremental UTF-8 validator (RFC 6455 §8.1) against `std::str::from_utf8`,
//! over fuzzer-chosen splits: the same verdict, and the error reported by the
//! very piece that holds the first byte no continuation could make valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::proto::Utf8Validator;
use ws6455_fuzz::Chunked;

fuzz_target!(|input: &[u8]| {
    let input = Chunked::parse(input);
    let first_invalid = first_invalid_byte(input.data);
    let mut validator = Utf8Validator::new();
    let mut end = 0;
    for piece in input.pieces() {
        end += piece.len();
        let holds_first_invalid = first_invalid.is_some_and(|i| i < end);
        assert_eq!(validator.feed(piece).is_err(), holds_first_invalid);
        if holds_first_invalid {
            return;
        }
    }
    assert_eq!(
        validator.finish().is_ok(),
        std::str::from_utf8(input.data).is_ok()
    );
});

/// The index of the first byte after which `data` is invalid whatever follows.
fn first_invalid_byte(data: &[u8]) -> Option<usize> {
    let valid = std::str::from_utf8(data).err()?.valid_up_to();
    (valid..data.len()).find(
        |&i| matches!(std::str::from_utf8(&data[valid..=i]), Err(e) if e.error_len().is_some()),
    )
}
