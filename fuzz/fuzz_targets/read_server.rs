//! The whole read path of a server: a client's byte stream, in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::Role;

fuzz_target!(|input: &[u8]| ws6455_fuzz::read_path(Role::Server, input));
