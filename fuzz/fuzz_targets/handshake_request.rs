//! Arbitrary bytes as a client's opening request (RFC 6455 §4.2.1), whole and
//! in fuzzer-chosen pieces through one parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::handshake::{HandshakeLimits, RequestParser, check_upgrade_request};
use ws6455::proto::Decoded;
use ws6455_fuzz::{Chunked, handshake_limits, parse_head};

fuzz_target!(|input: &[u8]| {
    let new_parser = || RequestParser::new(handshake_limits());
    let parsed = parse_head(Chunked::parse(input), new_parser, RequestParser::parse);
    if let Ok(Decoded::Complete(request, _)) = parsed {
        let _ = check_upgrade_request(&request);
        let mut wire = Vec::new();
        request.encode(&mut wire);
        let reparsed = RequestParser::new(HandshakeLimits::default()).parse(&wire);
        assert_eq!(reparsed, Ok(Decoded::Complete(request, wire.len())));
    }
});
