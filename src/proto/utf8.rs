//! Incremental, fail-fast UTF-8 validation (RFC 6455 §5.6, §8.1).
//!
//! A text message's payload must be valid UTF-8 as a whole, but it arrives in
//! frames, and frames arrive in reads of any size: a character may be split
//! between two of them. §8.1 says an endpoint that finds the byte stream is
//! not valid UTF-8 MUST fail the connection; we do that as soon as the first
//! invalid byte arrives, not when the message ends.
//!
//! [`Utf8Validator`] keeps at most the three bytes of a character that has
//! started but not finished, and relies on the standard library's validator
//! for everything else: `Utf8Error::error_len` tells an invalid sequence
//! (`Some`) from one that is only cut short (`None`).

/// The first invalid byte in a text stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a UTF-8 stream fed in pieces.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// The start of a character whose remaining bytes have not arrived.
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// Validates the next piece of the stream. Fails as soon as `input` holds
    /// a byte that no continuation of the stream could make valid.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            // Complete the pending character with bytes from this piece.
            let needed = char_width(self.pending[0]) - self.pending_len;
            let take = needed.min(input.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&input[..take]);
            self.pending_len += take;
            input = &input[take..];
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()), // still incomplete, input used up
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the stream: a character still waiting for bytes is an error.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

/// How many bytes a character starting with `lead` has. Only called on the
/// lead byte of a sequence the standard library called incomplete, so `lead`
/// is always 0xC2..=0xF4.
fn char_width(lead: u8) -> usize {
    match lead {
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(data: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut validator = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, data.len());
            validator.feed(&data[start..cut])?;
            start = cut;
        }
        validator.feed(&data[start..])?;
        validator.finish()
    }

    #[test]
    fn rfc6455_8_1_invalid_byte_fails_before_message_ends() {
        // Autobahn 6.4.3: a valid prefix, then a code point above U+10FFFF
        // whose first two bytes already show it can never be valid.
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(validator.feed(&[0xf4]), Ok(()));
        assert_eq!(validator.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn character_split_across_every_boundary_is_valid() {
        let text = "a€𝄞é".as_bytes();
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                assert_eq!(
                    validate_in_pieces(text, &[cut, cut2]),
                    Ok(()),
                    "{cut} {cut2}"
                );
            }
        }
    }

    #[test]
    fn truncated_character_at_end_is_invalid() {
        assert_eq!(
            validate_in_pieces(&[b'a', 0xe2, 0x82], &[2]),
            Err(InvalidUtf8)
        );
    }

    fn utf8ish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            "\\PC{0,20}".prop_map(String::into_bytes),
            ("\\PC{0,10}", any::<u8>(), "\\PC{0,10}").prop_map(|(a, b, c)| {
                let mut v = a.into_bytes();
                v.push(b);
                v.extend(c.into_bytes());
                v
            }),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_std_over_arbitrary_splits(data in utf8ish(),
                                                 cuts in proptest::collection::vec(0usize..60, 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(validate_in_pieces(&data, &cuts).is_ok(), std::str::from_utf8(&data).is_ok());
        }

        #[test]
        fn error_is_reported_in_the_piece_holding_the_first_invalid_byte(data in utf8ish(), cut in 0usize..60) {
            // The stream is known to be invalid from the shortest prefix that
            // std calls invalid rather than merely incomplete.
            let known_invalid_at = (0..=data.len()).find(|&k| {
                matches!(std::str::from_utf8(&data[..k]), Err(e) if e.error_len().is_some())
            });
            let cut = cut.min(data.len());
            let mut validator = Utf8Validator::new();
            let first = validator.feed(&data[..cut]);
            match known_invalid_at {
                Some(k) if cut >= k => prop_assert_eq!(first, Err(InvalidUtf8)),
                Some(_) => {
                    prop_assert_eq!(first, Ok(()));
                    prop_assert_eq!(validator.feed(&data[cut..]), Err(InvalidUtf8));
                }
                None => {
                    prop_assert_eq!(first, Ok(()));
                    prop_assert_eq!(validator.feed(&data[cut..]), Ok(()));
                }
            }
        }
    }
}
