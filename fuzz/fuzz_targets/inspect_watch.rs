//! The inspector's two watchers (`ws6455 inspect`), one per direction, fed
//! the client's and the server's bytes in pieces, interleaved, with or
//! without permessage-deflate: the frames they report are the bytes given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| ws6455_fuzz::inspect::inspect_watch(input));
