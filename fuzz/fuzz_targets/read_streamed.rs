//! The streamed read path (`Engine::receive_streamed`), with or without
//! permessage-deflate, in the role, output sizes and pieces the input
//! chooses, checked against the whole-message read of the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| ws6455_fuzz::streamed::read_streamed(input));
