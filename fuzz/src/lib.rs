//! What the fuzz targets share: an input format that cuts a byte stream into
//! pieces of fuzzer-chosen sizes, the split and linear-time check behind
//! `handshake_request` and `handshake_response`, an in-memory stream that
//! hands those pieces to a [`WebSocket`], and the whole read-path check behind
//! `read_server` and `read_client`; [`deflate`] has the one behind
//! `read_deflate`, [`streamed`] the one behind `read_streamed`, and
//! [`inspect`] the one behind `inspect_watch`. See `fuzz/README.md`.

#![forbid(unsafe_code)]

pub mod deflate;
pub mod inspect;
pub mod streamed;

use std::fmt::Debug;
use std::io::{self, Read, Write};

use ws6455::handshake::ClientHandshake;
use ws6455::handshake::HandshakeLimits;
use ws6455::handshake::WsUri;
use ws6455::proto::Decoded;
use ws6455::proto::ProtocolError;
use ws6455::{Error, Limits, Message, Role, WebSocket};

/// A fuzz input read as a byte stream and the sizes of the pieces it arrives in:
///
/// ```text
/// [n] [n size bytes] [the stream ...]
/// ```
///
/// Piece `i` is `sizes[i % n]` bytes long. A size of 0, and every size when
/// `n` is 0, means "as much as is asked for": the rest of the stream, or as
/// much as a reader's buffer holds.
#[derive(Clone, Copy, Debug)]
pub struct Chunked<'a> {
    sizes: &'a [u8],
    /// The byte stream.
    pub data: &'a [u8],
}

impl<'a> Chunked<'a> {
    /// Splits a fuzz input into sizes and stream. Any input is valid: `n` is
    /// cut down to the bytes that follow it.
    pub fn parse(input: &'a [u8]) -> Chunked<'a> {
        let Some((&n, rest)) = input.split_first() else {
            return Chunked::whole(input);
        };
        let (sizes, data) = rest.split_at(usize::from(n).min(rest.len()));
        Chunked { sizes, data }
    }

    /// `data` in a single piece.
    pub fn whole(data: &'a [u8]) -> Chunked<'a> {
        Chunked { sizes: &[], data }
    }

    /// The fuzz input that [`Chunked::parse`] reads as `data` in pieces of `sizes`.
    pub fn encode(sizes: &[u8], data: &[u8]) -> Vec<u8> {
        let n = u8::try_from(sizes.len()).expect("at most 255 sizes");
        let mut input = Vec::with_capacity(1 + sizes.len() + data.len());
        input.push(n);
        input.extend_from_slice(sizes);
        input.extend_from_slice(data);
        input
    }

    /// How long piece number `i` is when at most `available` bytes can be taken.
    fn piece_len(&self, i: usize, available: usize) -> usize {
        match self.sizes.get(i % self.sizes.len().max(1)) {
            Some(&size) if size > 0 => usize::from(size).min(available),
            _ => available,
        }
    }

    /// The stream, piece by piece. No piece is empty.
    pub fn pieces(self) -> impl Iterator<Item = &'a [u8]> {
        let mut stream = PieceStream::new(self);
        std::iter::from_fn(move || Some(stream.next_piece(usize::MAX)).filter(|p| !p.is_empty()))
    }
}

/// A stream whose reads return the pieces of a [`Chunked`] input (read `i`
/// returns piece `i`, cut short to the reader's buffer), then end of file.
/// Writes (Pongs, Close replies) are accepted and dropped.
#[derive(Debug)]
struct PieceStream<'a> {
    input: Chunked<'a>,
    read: usize,
    reads: usize,
}

impl<'a> PieceStream<'a> {
    /// A stream that will yield `input.data` in its pieces.
    fn new(input: Chunked<'a>) -> PieceStream<'a> {
        PieceStream {
            input,
            read: 0,
            reads: 0,
        }
    }

    /// The next piece, cut short to `max` bytes if it is longer; empty at the end.
    fn next_piece(&mut self, max: usize) -> &'a [u8] {
        let rest = &self.input.data[self.read..];
        let n = self.input.piece_len(self.reads, rest.len().min(max));
        self.read += n;
        self.reads += 1;
        &rest[..n]
    }
}

impl Read for PieceStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.next_piece(buf.len());
        buf[..piece.len()].copy_from_slice(piece);
        Ok(piece.len())
    }
}

impl Write for PieceStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The limits the handshake targets run under: small enough that fuzz inputs
/// cross them.
pub fn handshake_limits() -> HandshakeLimits {
    HandshakeLimits::default()
        .max_header_bytes(1 << 10)
        .max_headers(16)
}

/// The header section ends with `\r\n\r\n`, so a parser that already searched
/// a buffer needs to look again at its last three bytes only.
const TERMINATOR_OVERLAP: usize = 3;

/// An HTTP head parser's answer to `input.data` in one piece, checked against
/// its answers in `input`'s pieces. `new_parser` makes a parser and `parse`
/// calls it with everything received so far.
///
/// In pieces, one parser reaches the same answer. It stays linear: while it
/// answers "need more", a twin given the same calls with every byte already
/// searched overwritten by line ends (which would end the header section)
/// must answer the same, so no byte is searched twice.
pub fn parse_head<P, T, E>(
    input: Chunked<'_>,
    new_parser: impl Fn() -> P,
    parse: impl Fn(&mut P, &[u8]) -> Result<Decoded<T>, E>,
) -> Result<Decoded<T>, E>
where
    T: PartialEq + Debug,
    E: PartialEq + Debug,
{
    let whole = parse(&mut new_parser(), input.data);
    let (mut parser, mut twin) = (new_parser(), new_parser());
    let (mut end, mut blanked) = (0usize, 0);
    let mut twin_buf = Vec::with_capacity(input.data.len());
    for piece in input.pieces() {
        let searched = end.saturating_sub(TERMINATOR_OVERLAP);
        twin_buf[blanked..searched].fill(b'\n');
        blanked = searched;
        twin_buf.extend_from_slice(piece);
        end += piece.len();
        let answer = parse(&mut parser, &input.data[..end]);
        if answer != Ok(Decoded::NeedMore) {
            assert_eq!(answer, whole, "the split changed the answer");
            return whole;
        }
        assert_eq!(parse(&mut twin, &twin_buf), Ok(Decoded::NeedMore));
    }
    assert_eq!(whole, Ok(Decoded::NeedMore), "the split changed the answer");
    whole
}

/// The `Sec-WebSocket-Key` of RFC 6455 §1.3, which the client targets and
/// seeds send.
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The subprotocols the client targets and seeds offer (RFC 6455 §1.3).
pub const SUBPROTOCOLS: [&str; 2] = ["chat", "superchat"];

/// The client handshake of RFC 6455 §1.3: [`CLIENT_KEY`], offering [`SUBPROTOCOLS`].
pub fn client_handshake() -> ClientHandshake {
    let uri = WsUri::parse("ws://server.example.com/chat").expect("a valid URI");
    let offered = SUBPROTOCOLS.map(str::to_owned);
    ClientHandshake::with_key(&uri, &offered, &[], CLIENT_KEY.to_owned())
        .expect("valid subprotocols")
}

/// The limits the read-path targets run under: small enough that fuzz inputs
/// of a few KiB cross them.
pub fn limits() -> Limits {
    Limits::default()
        .max_frame_size(1 << 10)
        .max_message_size(2 << 10)
}

/// How a read loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The peer broke the protocol or a limit.
    Protocol(ProtocolError),
    /// The stream ended (or failed).
    Io(io::ErrorKind),
    /// A Close was received and answered.
    Closed,
}

/// The whole read path: a [`WebSocket`] in `role` reads `input` until an
/// error, end of file or a Close. The first piece is handed over as the bytes
/// read with the opening handshake, the rest arrive one piece per read.
///
/// Checks every message against the invariants (control payloads of at most
/// 125 bytes, data within [`limits`], nothing after a Close) and that reading
/// the same bytes in one piece gives the same messages and the same end.
pub fn read_path(role: Role, input: &[u8]) {
    let input = Chunked::parse(input);
    let in_pieces = read_all(role, input);
    let in_one_piece = read_all(role, Chunked::whole(input.data));
    assert_eq!(in_pieces, in_one_piece, "the split changed what was read");
}

fn read_all(role: Role, input: Chunked<'_>) -> (Vec<Message>, End) {
    let mut stream = PieceStream::new(input);
    let handshake_leftover = stream.next_piece(usize::MAX).to_vec();
    let mut ws = WebSocket::from_raw(stream, role, limits(), handshake_leftover);
    let mut messages = Vec::new();
    let end = loop {
        match ws.read() {
            Ok(message) => {
                check_message(&message, limits());
                let is_close = matches!(message, Message::Close(_));
                messages.push(message);
                if is_close {
                    break End::Closed;
                }
            }
            Err(Error::Protocol(e)) => break End::Protocol(e),
            Err(Error::Io(e)) => break End::Io(e.kind()),
            Err(e) => panic!("read failed with {e:?} before the connection closed"),
        }
    };
    assert!(
        matches!(ws.read(), Err(Error::Closed)),
        "a read after {end:?} must find the connection closed"
    );
    (messages, end)
}

/// A received message keeps within `limits` and the RFC's bounds (text is
/// valid UTF-8 by its type).
fn check_message(message: &Message, limits: Limits) {
    match message {
        Message::Text(text) => assert!(text.len() as u64 <= limits.max_message_size),
        Message::Binary(data) => assert!(data.len() as u64 <= limits.max_message_size),
        Message::Ping(payload) | Message::Pong(payload) => assert!(payload.len() <= 125),
        Message::Close(Some(frame)) => {
            assert!(frame.code.is_valid_on_wire() && frame.encoded_len() <= 125)
        }
        Message::Close(None) => {}
    }
}
