//! Arbitrary bytes as a client's opening request (RFC 6455 §4.2.1), whole and
//! in fuzzer-chosen pieces through one parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws6455::decode::Decoded;
use ws6455::handshake::{HandshakeLimits, RequestParser, check_upgrade_request};
use ws6455_fuzz::Chunked;

/// Small enough that fuzz inputs cross them.
const LIMITS: HandshakeLimits = HandshakeLimits {
    max_header_bytes: 1 << 10,
    max_headers: 16,
};

/// The header section ends with `\r\n\r\n`, so a parser that already searched
/// a buffer needs to look again at its last three bytes only.
const TERMINATOR_OVERLAP: usize = 3;

fuzz_target!(|input: &[u8]| {
    let input = Chunked::parse(input);
    let whole = RequestParser::new(LIMITS).parse(input.data);
    if let Ok(Decoded::Complete(request, _)) = &whole {
        let _ = check_upgrade_request(request);
        let mut wire = Vec::new();
        request.encode(&mut wire);
        let reparsed = RequestParser::new(HandshakeLimits::default()).parse(&wire);
        assert_eq!(reparsed, Ok(Decoded::Complete(request.clone(), wire.len())));
    }
    // In pieces, one parser reaches the same answer. It stays linear: while it
    // answers "need more", a twin given the same calls with every byte already
    // searched overwritten by line ends (which would end the header section)
    // must answer the same, so no byte is searched twice.
    let (mut parser, mut twin) = (RequestParser::new(LIMITS), RequestParser::new(LIMITS));
    let (mut end, mut blanked) = (0usize, 0);
    let mut twin_buf = Vec::with_capacity(input.data.len());
    for piece in input.pieces() {
        let searched = end.saturating_sub(TERMINATOR_OVERLAP);
        twin_buf[blanked..searched].fill(b'\n');
        blanked = searched;
        twin_buf.extend_from_slice(piece);
        end += piece.len();
        let answer = parser.parse(&input.data[..end]);
        if answer != Ok(Decoded::NeedMore) {
            assert_eq!(answer, whole);
            return;
        }
        assert_eq!(twin.parse(&twin_buf), Ok(Decoded::NeedMore));
    }
    assert_eq!(whole, Ok(Decoded::NeedMore));
});
