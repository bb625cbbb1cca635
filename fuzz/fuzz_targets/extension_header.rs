//! Arbitrary bytes as `Sec-WebSocket-Extensions` fields, one field per line
//! (RFC 6455 §9.1), then negotiated as permessage-deflate (RFC 7692) from
//! both sides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::deflate::{DeflateConfig, accept_offer, check_response};
use ws6455::handshake::{encode_extension, parse_extensions};

/// Configurations to negotiate with: the defaults, small windows, no context takeover.
fn configs() -> [DeflateConfig; 3] {
    let base = DeflateConfig::for_client().level(6);
    [
        base,
        base.max_window_bits(10).context_takeover(false),
        base.level(1).max_window_bits(8),
    ]
}

fuzz_target!(|input: &[u8]| {
    let Ok(offers) = parse_extensions(input.split(|&b| b == b'\n')) else {
        return;
    };
    // What parses is written back as what parses the same, one field each or all in one.
    let encoded: Vec<String> = offers.iter().map(encode_extension).collect();
    assert_eq!(
        parse_extensions(encoded.iter().map(|e| e.as_bytes())).as_ref(),
        Ok(&offers)
    );
    assert_eq!(
        parse_extensions([encoded.join(", ").as_bytes()]).as_ref(),
        Ok(&offers)
    );
    for config in &configs() {
        let ours = config.max_window_bits;
        // As a client's offers: the server's answer is one element that parses
        // back to itself, and never lets a window past our configuration.
        if let Some((params, answer)) = accept_offer(&offers, config) {
            let written = encode_extension(&answer);
            assert_eq!(parse_extensions([written.as_bytes()]), Ok(vec![answer]));
            assert!(
                (8..=ours).contains(&params.server_max_window_bits),
                "{params:?}"
            );
            assert!(
                (8..=15).contains(&params.client_max_window_bits),
                "{params:?}"
            );
            if !config.context_takeover {
                assert!(params.server_no_context_takeover && params.client_no_context_takeover);
            }
        }
        // As a server's answer: what a client agrees to keeps within what it offered.
        if let Ok(Some(params)) = check_response(config, &offers) {
            assert!(
                (8..=ours).contains(&params.server_max_window_bits),
                "{params:?}"
            );
            assert!(
                (8..=ours).contains(&params.client_max_window_bits),
                "{params:?}"
            );
            if !config.context_takeover {
                assert!(params.server_no_context_takeover && params.client_no_context_takeover);
            }
        }
    }
});
