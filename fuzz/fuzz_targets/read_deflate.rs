//! The read path with permessage-deflate negotiated, as a server or a
//! client with the parameters the input chooses: compressed frames, in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| ws6455_fuzz::deflate::read_deflate(input));
