//! Arbitrary bytes decoded as a frame header (RFC 6455 §5.2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::proto::Decoded;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|input: &[u8]| {
    match FrameHeader::decode(input) {
        Ok(Decoded::Complete(header, used)) => {
            // Decoding accepts only the shortest encoding, so encoding gives back the very bytes.
            let mut buf = [0; MAX_HEADER_LEN];
            let len = header.encode(&mut buf);
            assert_eq!(&buf[..len], &input[..used]);
            assert_eq!(
                FrameHeader::decode(&buf[..len]),
                Ok(Decoded::Complete(header, len))
            );
            for prefix in 0..used {
                assert_eq!(FrameHeader::decode(&input[..prefix]), Ok(Decoded::NeedMore));
            }
        }
        Ok(Decoded::NeedMore) => assert!(input.len() < MAX_HEADER_LEN),
        Err(_) => {}
    }
});
