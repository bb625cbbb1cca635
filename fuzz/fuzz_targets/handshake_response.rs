//! Arbitrary bytes as a server's answer to the client's opening request
//! (RFC 6455 §4.1), whole and in fuzzer-chosen pieces through one parser.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ws6455::handshake::HandshakeLimits;
use ws6455::handshake::{ClientHandshake, ResponseParser};
use ws6455::proto::Decoded;
use ws6455_fuzz::{Chunked, SUBPROTOCOLS, client_handshake, handshake_limits, parse_head};

static HANDSHAKE: LazyLock<ClientHandshake> = LazyLock::new(client_handshake);

fuzz_target!(|input: &[u8]| {
    let new_parser = || ResponseParser::new(handshake_limits());
    let parsed = parse_head(Chunked::parse(input), new_parser, ResponseParser::parse);
    if let Ok(Decoded::Complete(response, _)) = parsed {
        // §4.1: only a 101 is accepted, with no subprotocol or one offered.
        if let Ok(chosen) = HANDSHAKE.check_response(&response) {
            assert_eq!(response.status, 101);
            assert!(
                chosen
                    .subprotocol
                    .is_none_or(|p| SUBPROTOCOLS.contains(&p.as_str()))
            );
        }
        // Whatever parses re-encodes to the same response.
        let mut wire = Vec::new();
        response.encode(&mut wire);
        let reparsed = ResponseParser::new(HandshakeLimits::default()).parse(&wire);
        assert_eq!(reparsed, Ok(Decoded::Complete(response, wire.len())));
    }
});
