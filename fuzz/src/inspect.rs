//! The inspector's watchers, behind `inspect_watch`: the two decoders of
//! `ws6455 inspect` (`cli/src/inspect/watch.rs`), one per direction, fed
//! the byte streams the input chooses, in pieces and interleaved as the
//! input chooses. See `fuzz/README.md`.
//!
//! The watcher lives in the `ws6455` program, which a fuzz target cannot
//! depend on, so its two files are compiled in here as they are: `watch.rs`
//! refers to `super::event`, which is the `event` module beside it.

use ws6455::deflate::DeflateParams;
use ws6455::proto::apply_mask;

// `Side::other` is used by the inspector's relay, which is not compiled in
// here: without the relay, it is the one item of `event.rs` left unused.
#[allow(dead_code)]
#[path = "../../cli/src/inspect/event.rs"]
mod event;
#[path = "../../cli/src/inspect/watch.rs"]
mod watch;

use event::{Event, FRAME_BYTES_SHOWN, Frame, MESSAGE_BYTES_SHOWN, MessageSeen, MessageType, Side};
use watch::{Failed, Watcher};

/// The connection number every event must carry.
const CONN: u64 = 7;

/// A piece byte's direction bit: set, the piece is the server's.
const SERVER_PIECE: u8 = 0x80;

/// An `inspect_watch` input: what the opening handshake agreed, how the two
/// directions' bytes arrive, and the bytes.
///
/// ```text
/// [agreed] [windows] [split: 2 bytes] [n] [n piece bytes] [client's bytes] [server's bytes]
/// ```
///
/// `agreed`: bit 0 permessage-deflate agreed, bit 1
/// `server_no_context_takeover`, bit 2 `client_no_context_takeover`.
/// `windows`: bits 0–2 `server_max_window_bits` less 8, bits 4–6
/// `client_max_window_bits` less 8. `split` (big-endian): how many of the
/// bytes after the piece bytes the client sends (cut to what is there); the
/// server sends the rest. Piece `i` is given by piece byte `i % n`: bit 7
/// the direction (0 the client's bytes, 1 the server's), bits 0–6 its size,
/// 0 meaning the rest of that direction; a direction with nothing left
/// gives way to the other. With `n` = 0, the client's bytes come whole,
/// then the server's. A missing byte reads as 0.
#[derive(Clone, Copy, Debug)]
pub struct Conversation<'a> {
    /// The permessage-deflate parameters agreed, if it was.
    pub deflate: Option<DeflateParams>,
    pieces: &'a [u8],
    /// What the client sends: masked frames, if it keeps the rules.
    pub client: &'a [u8],
    /// What the server sends.
    pub server: &'a [u8],
}

impl<'a> Conversation<'a> {
    /// Reads an input. Any input is valid.
    pub fn parse(input: &'a [u8]) -> Conversation<'a> {
        let (head, rest) = input.split_at(input.len().min(4));
        let byte = |i: usize| head.get(i).copied().unwrap_or(0);
        let (agreed, windows) = (byte(0), byte(1));
        let split = usize::from(u16::from_be_bytes([byte(2), byte(3)]));
        let deflate = (agreed & 1 != 0).then_some(DeflateParams {
            server_no_context_takeover: agreed & 0b10 != 0,
            client_no_context_takeover: agreed & 0b100 != 0,
            server_max_window_bits: 8 + (windows & 7),
            client_max_window_bits: 8 + (windows >> 4 & 7),
        });
        let (n, rest) = rest.split_first().map_or((0, rest), |(&n, r)| (n, r));
        let (pieces, streams) = rest.split_at(usize::from(n).min(rest.len()));
        let (client, server) = streams.split_at(split.min(streams.len()));
        Conversation {
            deflate,
            pieces,
            client,
            server,
        }
    }

    /// The input that [`Conversation::parse`] reads as these streams, with
    /// `deflate` agreed and the piece bytes `pieces`.
    pub fn encode(
        deflate: Option<&DeflateParams>,
        pieces: &[u8],
        client: &[u8],
        server: &[u8],
    ) -> Vec<u8> {
        let (agreed, windows) = match deflate {
            None => (0, 0),
            Some(p) => (
                1 | u8::from(p.server_no_context_takeover) << 1
                    | u8::from(p.client_no_context_takeover) << 2,
                (p.server_max_window_bits.clamp(8, 15) - 8)
                    | (p.client_max_window_bits.clamp(8, 15) - 8) << 4,
            ),
        };
        let split = u16::try_from(client.len()).expect("a client stream of at most 64 KiB");
        let n = u8::try_from(pieces.len()).expect("at most 255 piece bytes");
        let mut input = vec![agreed, windows];
        input.extend_from_slice(&split.to_be_bytes());
        input.push(n);
        input.extend_from_slice(pieces);
        input.extend_from_slice(client);
        input.extend_from_slice(server);
        input
    }

    /// The pieces, in order, each with the side that sent it. No piece is
    /// empty; together they are both streams, each in order.
    fn pieces(&self) -> Vec<(Side, &'a [u8])> {
        let (mut client, mut server) = (self.client, self.server);
        let mut pieces = Vec::new();
        for i in 0.. {
            if client.is_empty() && server.is_empty() {
                break;
            }
            let byte = match self.pieces.len() {
                0 => 0,
                n => self.pieces[i % n],
            };
            let side = match (
                byte & SERVER_PIECE != 0,
                client.is_empty(),
                server.is_empty(),
            ) {
                (false, false, _) | (true, false, true) => Side::Client,
                _ => Side::Server,
            };
            let rest = match side {
                Side::Client => &mut client,
                Side::Server => &mut server,
            };
            let size = match usize::from(byte & !SERVER_PIECE) {
                0 => rest.len(),
                size => size.min(rest.len()),
            };
            let (piece, after) = rest.split_at(size);
            *rest = after;
            pieces.push((side, piece));
        }
        pieces
    }
}

/// What one direction's watcher made of its bytes.
#[derive(Debug, Default)]
struct Watched {
    /// The bytes given, all of them.
    fed: Vec<u8>,
    events: Vec<Event>,
    /// What each call to `watch` returned that was not `None`, with the
    /// number of bytes given by the end of that call.
    failed: Vec<(usize, Failed)>,
    /// Frames and messages that went by without `detail`.
    undescribed: u64,
}

/// Both directions watched.
struct Run {
    client: Watched,
    server: Watched,
    /// The Close each watcher reports it read: the client's, the server's.
    closes: [Option<Option<u16>>; 2],
    /// Whether each watcher's bytes end where a frame ends.
    at_boundary: [bool; 2],
}

/// The inspector's watchers fed a conversation: see `fuzz/README.md`.
///
/// Never panics, and for each direction: the frame events, header and
/// payload, put back together are the bytes given, up to the first frame
/// not yet complete; each message event agrees with the frames before it;
/// there is at most one violation and nothing but frames after it, and the
/// bytes before the frame it points at break no rule while that frame does
/// (what `--strict` cuts the stream at); the same bytes in one piece give
/// the same events but for their times and where the violation falls among
/// the frames, and without `detail` exactly the violations; every event
/// reads back from its JSON.
pub fn inspect_watch(input: &[u8]) {
    let conversation = Conversation::parse(input);
    let pieces = conversation.pieces();
    let deflate = conversation.deflate.as_ref();

    let in_pieces = watch_all(deflate, &pieces, true, Judging::FrameByFrame);
    for (side, watched) in [
        (Side::Client, &in_pieces.client),
        (Side::Server, &in_pieces.server),
    ] {
        check_direction(side, watched, deflate, &in_pieces);
    }

    let whole = watch_all(
        deflate,
        &[
            (Side::Client, conversation.client),
            (Side::Server, conversation.server),
        ],
        true,
        Judging::FrameByFrame,
    );
    for (side, split, one) in [
        (Side::Client, &in_pieces.client, &whole.client),
        (Side::Server, &in_pieces.server, &whole.server),
    ] {
        // A violation is reported at the byte that shows it, and a frame
        // when its shown bytes are all there: where a violation falls among
        // the frames depends on the pieces, and nothing else does.
        let untimed_of = |w: &Watched, violations: bool| {
            w.events
                .iter()
                .filter(|e| matches!(e, Event::Violation(_)) == violations)
                .map(untimed)
                .collect::<Vec<_>>()
        };
        for violations in [false, true] {
            assert_eq!(
                untimed_of(split, violations),
                untimed_of(one, violations),
                "the {side:?}'s events change with the pieces its bytes came in"
            );
        }
        let failures = |w: &Watched| w.failed.iter().map(|f| f.1).collect::<Vec<_>>();
        assert_eq!(failures(split), failures(one));
    }
    assert_eq!(in_pieces.closes, whole.closes);
    assert_eq!(in_pieces.at_boundary, whole.at_boundary);

    // Judged a read at a time (the relay's way without --strict), the
    // same frames, the same messages and the same violation come out, only
    // not interleaved the same way: the framer reads all of a piece before
    // the judge does. Where the violation's frame begins is --strict's
    // alone to know.
    let at_once = watch_all(deflate, &pieces, true, Judging::AtOnce);
    for (side, exact, at_once) in [
        (Side::Client, &in_pieces.client, &at_once.client),
        (Side::Server, &in_pieces.server, &at_once.server),
    ] {
        let of_kind = |w: &Watched, kind: fn(&Event) -> bool| {
            w.events
                .iter()
                .filter(|e| kind(e))
                .map(untimed)
                .collect::<Vec<_>>()
        };
        let kinds: [fn(&Event) -> bool; 3] = [
            |e| matches!(e, Event::Frame(_)),
            |e| matches!(e, Event::Message(_)),
            |e| matches!(e, Event::Violation(_)),
        ];
        for kind in kinds {
            assert_eq!(
                of_kind(exact, kind),
                of_kind(at_once, kind),
                "the {side:?}'s events change when the judge takes a read at a time"
            );
        }
        let codes = |w: &Watched| {
            w.failed
                .iter()
                .map(|(at, f)| (*at, f.close_code))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(exact), codes(at_once));
    }
    assert_eq!(in_pieces.closes, at_once.closes);
    assert_eq!(in_pieces.at_boundary, at_once.at_boundary);

    let quiet = watch_all(deflate, &pieces, false, Judging::AtOnce);
    for (side, detailed, quiet) in [
        (Side::Client, &in_pieces.client, &quiet.client),
        (Side::Server, &in_pieces.server, &quiet.server),
    ] {
        let violations: Vec<&Event> = detailed
            .events
            .iter()
            .filter(|e| matches!(e, Event::Violation(_)))
            .collect();
        assert_eq!(
            quiet.events.iter().collect::<Vec<_>>(),
            violations,
            "without detail, the {side:?}'s events are its violations"
        );
        let codes = |w: &Watched| {
            w.failed
                .iter()
                .map(|(at, f)| (*at, f.close_code))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(quiet), codes(detailed));
    }
    assert_eq!(in_pieces.closes, quiet.closes);
    // Without detail, what was not described is counted instead: every
    // message (until a violation), and every frame whose header came.
    for (side, detailed, quiet) in [
        (Side::Client, &in_pieces.client, &quiet.client),
        (Side::Server, &in_pieces.server, &quiet.server),
    ] {
        let count = |kind: fn(&Event) -> bool| detailed.events.iter().filter(|e| kind(e)).count();
        let frames = count(|e| matches!(e, Event::Frame(_))) as u64;
        let messages = count(|e| matches!(e, Event::Message(_))) as u64;
        assert!(
            (frames + messages..=frames + messages + 1).contains(&quiet.undescribed),
            "the {side:?}'s undescribed count {} is not its {frames} frames and {messages} messages",
            quiet.undescribed
        );
    }
}

/// How the judge takes the bytes.
#[derive(Clone, Copy)]
enum Judging {
    /// A frame at a time, as under `--strict`.
    FrameByFrame,
    /// A read at a time.
    AtOnce,
}

/// Feeds `pieces` to a watcher per direction, piece `i` at time `i`.
fn watch_all(
    deflate: Option<&DeflateParams>,
    pieces: &[(Side, &[u8])],
    detail: bool,
    judging: Judging,
) -> Run {
    let watcher = |side| {
        let watcher = Watcher::new(CONN, side, deflate);
        match judging {
            Judging::FrameByFrame => watcher.frame_by_frame(),
            Judging::AtOnce => watcher,
        }
    };
    let mut watchers = [watcher(Side::Client), watcher(Side::Server)];
    let mut watched = [Watched::default(), Watched::default()];
    for (i, &(side, piece)) in pieces.iter().enumerate() {
        let at = side_index(side);
        let w = &mut watched[at];
        let before = w.events.len();
        let failed = watchers[at].watch(piece, i as f64, detail, &mut w.events);
        w.fed.extend_from_slice(piece);
        let violations = w.events[before..]
            .iter()
            .filter(|e| matches!(e, Event::Violation(_)))
            .count();
        assert_eq!(
            violations,
            usize::from(failed.is_some()),
            "watch returns the violation its call reported, and only that"
        );
        if let Some(failed) = failed {
            w.failed.push((w.fed.len(), failed));
        }
    }
    for (w, watcher) in watched.iter_mut().zip(&mut watchers) {
        w.undescribed = watcher.take_undescribed();
    }
    let [client, server] = watched;
    Run {
        client,
        server,
        closes: watchers
            .each_ref()
            .map(|w| w.close_seen().map(|(_, code)| code)),
        at_boundary: watchers.each_ref().map(Watcher::at_frame_boundary),
    }
}

/// Where a side's watcher and what it made are kept: the client's first.
fn side_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// An event with its time taken out.
fn untimed(event: &Event) -> Event {
    let mut event = event.clone();
    match &mut event {
        Event::Frame(e) => e.t = 0.0,
        Event::Message(e) => e.t = 0.0,
        Event::Violation(e) => e.t = 0.0,
        _ => {}
    }
    event
}

/// The invariants of one direction's events, watched in pieces with
/// `detail`.
fn check_direction(side: Side, watched: &Watched, deflate: Option<&DeflateParams>, run: &Run) {
    let fed = &watched.fed;
    // Where the next frame begins in `fed`, as the frame events tell it.
    let mut offset = 0u64;
    let mut frame_starts = Vec::new();
    // The data message's frames so far, and the last frame.
    let mut data_frames: Vec<&Frame> = Vec::new();
    let mut last_frame: Option<&Frame> = None;
    let mut violated = false;
    let mut close_read = None;
    for event in &watched.events {
        assert_eq!(
            Event::from_json(&event.to_json()).ok().as_ref(),
            Some(event),
            "an event reads back from its JSON line"
        );
        match event {
            Event::Frame(frame) => {
                assert_eq!((frame.conn, frame.from), (CONN, side));
                assert!(
                    offset <= fed.len() as u64,
                    "a frame event after one not yet complete"
                );
                frame_starts.push(offset);
                offset = check_frame(frame, &fed[offset as usize..]).saturating_add(offset);
                match frame.opcode {
                    0x1 | 0x2 => data_frames = vec![frame],
                    0x0 => data_frames.push(frame),
                    _ => {}
                }
                last_frame = Some(frame);
            }
            Event::Message(message) => {
                assert_eq!((message.conn, message.from), (CONN, side));
                assert!(!violated, "a message after the violation");
                match message.message_type {
                    MessageType::Text | MessageType::Binary => {
                        check_data_message(message, &data_frames, deflate.is_some());
                        data_frames.clear();
                    }
                    MessageType::Ping | MessageType::Pong | MessageType::Close => {
                        let frame = last_frame.expect("a control message after its frame");
                        check_control_message(message, frame);
                        if message.message_type == MessageType::Close {
                            assert!(close_read.is_none(), "a second Close read");
                            close_read = Some(message.close_code);
                        }
                    }
                }
            }
            Event::Violation(violation) => {
                assert_eq!((violation.conn, violation.by), (CONN, side));
                assert!(!violated, "a second violation by the {side:?}");
                assert!(
                    violation.rfc.starts_with("RFC 6455") || violation.rfc.starts_with("RFC 7692")
                );
                assert_eq!(violation.status, None);
                violated = true;
            }
            other => panic!("a watcher made {other:?}"),
        }
    }

    // The bytes after the last frame event: a frame not yet due.
    let pending = (offset as usize).min(fed.len());
    match frame_extent(&fed[pending..]) {
        _ if pending == fed.len() => {}
        None => {}
        Some((header_len, payload_len)) => {
            let payload_have = (fed.len() - pending - header_len) as u64;
            assert!(
                payload_have < payload_len.min(FRAME_BYTES_SHOWN as u64),
                "a frame complete enough to show was not reported"
            );
        }
    }
    let at = side_index(side);
    assert_eq!(run.at_boundary[at], offset == fed.len() as u64);
    assert_eq!(run.closes[at], close_read);

    // A violation points at the frame that broke the rule.
    assert!(watched.failed.len() <= 1);
    for &(fed_then, failed) in &watched.failed {
        assert!(failed.frame_start < fed_then as u64);
        assert!(
            frame_starts.contains(&failed.frame_start) || failed.frame_start == offset,
            "a violation at {} is not where a frame starts",
            failed.frame_start
        );
        let violation = watched
            .events
            .iter()
            .find(|e| matches!(e, Event::Violation(_)))
            .expect("a violation event for what watch returned");
        if let Event::Violation(v) = violation {
            assert_eq!(v.close_code, failed.close_code);
        }
        // What `--strict` relays, the bytes before that frame, breaks no
        // rule; with that frame, as far as it came, the same rule is broken.
        let start = failed.frame_start as usize;
        let end = match frame_extent(&fed[start..]) {
            Some((header_len, payload_len)) => {
                ((start + header_len) as u64).saturating_add(payload_len)
            }
            None => fed.len() as u64,
        };
        let end = end.min(fed.len() as u64) as usize;
        assert_eq!(
            violations_in(side, deflate, &fed[..start]),
            [],
            "the bytes before the frame a violation points at break a rule"
        );
        assert_eq!(
            violations_in(side, deflate, &fed[..end]),
            [untimed(violation)],
            "the frame a violation points at does not break its rule"
        );
    }
}

/// The violations a fresh watcher finds in `bytes`, given in one piece at
/// time 0.
fn violations_in(side: Side, deflate: Option<&DeflateParams>, bytes: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    Watcher::new(CONN, side, deflate).watch(bytes, 0.0, false, &mut events);
    events
}

/// A frame event against the bytes from where it begins: its header is
/// those bytes and says what the event says, and its payload shown is the
/// bytes that follow. Returns the frame's length, header and payload.
fn check_frame(frame: &Frame, bytes: &[u8]) -> u64 {
    let header = &frame.header_hex;
    assert_eq!(
        Some(header.as_slice()),
        bytes.get(..header.len()),
        "a frame's header is not the bytes given"
    );
    let (header_len, payload_len) = frame_extent(header).expect("a frame event has a whole header");
    assert_eq!(header_len, header.len());
    assert_eq!(frame.length, payload_len);
    let (first, second) = (header[0], header[1]);
    assert_eq!(frame.fin, first & 0x80 != 0);
    assert_eq!(
        (frame.rsv1, frame.rsv2, frame.rsv3),
        (first & 0x40 != 0, first & 0x20 != 0, first & 0x10 != 0)
    );
    assert_eq!(frame.opcode, first & 0x0f);
    assert_eq!(frame.masked, second & 0x80 != 0);
    assert_eq!(frame.key.is_some(), frame.masked);
    if let Some(key) = frame.key {
        assert_eq!(key, header[header_len - 4..]);
    }
    let field = match second & 0x7f {
        126 => "16-bit",
        127 => "64-bit",
        _ => "7-bit",
    };
    assert_eq!(frame.length_field, field);
    let shown = payload_len.min(FRAME_BYTES_SHOWN as u64) as usize;
    assert_eq!(frame.payload_shown, shown);
    assert_eq!(
        Some(frame.payload_hex.as_slice()),
        bytes.get(header_len..header_len + shown),
        "a frame's payload shown is not the bytes given"
    );
    (header_len as u64).saturating_add(payload_len)
}

/// A frame header's length and its payload's, read from the start of
/// `bytes` as RFC 6455 §5.2 lays it out, whatever the other fields say; or
/// `None` if the header is not all there.
fn frame_extent(bytes: &[u8]) -> Option<(usize, u64)> {
    let second = *bytes.get(1)?;
    let (length_end, payload_len) = match second & 0x7f {
        126 => (
            4,
            u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)),
        ),
        127 => (10, u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)),
        len => (2, u64::from(len)),
    };
    let header_len = length_end + if second & 0x80 != 0 { 4 } else { 0 };
    (bytes.len() >= header_len).then_some((header_len, payload_len))
}

/// The unmasked payload of frames all shown whole, put together; `None` if
/// one was shown only in part.
fn payload_of(frames: &[&Frame]) -> Option<Vec<u8>> {
    let mut payload = Vec::new();
    for frame in frames {
        if frame.payload_shown as u64 != frame.length {
            return None;
        }
        let mut bytes = frame.payload_hex.clone();
        if let Some(key) = frame.key {
            apply_mask(&mut bytes, key, 0);
        }
        payload.extend_from_slice(&bytes);
    }
    Some(payload)
}

/// A text or binary message against its frames: a first frame of its
/// type, continuations, FIN on the last only; counted and summed as the
/// event says; compressed as RSV1 on the first frame says (never without
/// the extension); and, uncompressed, its bytes are the frames' payloads.
fn check_data_message(message: &MessageSeen, frames: &[&Frame], deflate: bool) {
    let (first, rest) = frames
        .split_first()
        .expect("a data message after its frames");
    let opcode = match message.message_type {
        MessageType::Text => 0x1,
        _ => 0x2,
    };
    assert_eq!(first.opcode, opcode);
    assert!(rest.iter().all(|f| f.opcode == 0x0));
    let fins: Vec<bool> = frames.iter().map(|f| f.fin).collect();
    assert_eq!(fins.last(), Some(&true));
    assert!(!fins[..fins.len() - 1].contains(&true));
    assert_eq!(message.frames, frames.len() as u64);
    let wire: u64 = frames.iter().map(|f| f.length).sum();
    assert_eq!(message.wire_length, wire);
    assert_eq!(message.compressed, first.rsv1);
    assert!(
        deflate || !message.compressed,
        "compressed without the extension"
    );
    assert_eq!(message.close_code, None);

    let limit = message.length.min(MESSAGE_BYTES_SHOWN as u64) as usize;
    assert_eq!(
        message.truncated,
        message.length > MESSAGE_BYTES_SHOWN as u64
    );
    let shown = match (message.message_type, &message.text, &message.data_hex) {
        (MessageType::Text, Some(text), None) => {
            // A text cut short is cut at a character's start: up to three
            // bytes short.
            match message.truncated {
                true => assert!(text.len() <= limit && text.len() + 3 >= limit),
                false => assert_eq!(text.len(), limit),
            }
            text.as_bytes()
        }
        (MessageType::Binary, None, Some(data)) => {
            assert_eq!(data.len(), limit);
            data.as_slice()
        }
        other => panic!("a data message shows {other:?}"),
    };
    if !message.compressed {
        assert_eq!(message.length, message.wire_length);
        if let Some(payload) = payload_of(frames) {
            assert_eq!(
                shown,
                &payload[..shown.len()],
                "a message is not its frames' payload"
            );
        }
    }
}

/// A Ping, Pong or Close against its frame: one frame of its opcode, whole,
/// uncompressed, at most 125 bytes, and its payload what the event shows.
fn check_control_message(message: &MessageSeen, frame: &Frame) {
    let opcode = match message.message_type {
        MessageType::Close => 0x8,
        MessageType::Ping => 0x9,
        _ => 0xa,
    };
    assert_eq!(frame.opcode, opcode);
    assert!(frame.fin && frame.length <= 125);
    assert_eq!((message.frames, message.wire_length), (1, frame.length));
    assert_eq!(message.length, frame.length);
    assert!(!message.compressed && !message.truncated);
    let payload = payload_of(&[frame]).expect("a control frame is shown whole");
    match message.message_type {
        MessageType::Close => {
            assert_eq!(message.data_hex, None);
            match payload.split_first_chunk::<2>() {
                None => assert_eq!((message.close_code, &message.text), (None, &None)),
                Some((code, reason)) => {
                    assert_eq!(message.close_code, Some(u16::from_be_bytes(*code)));
                    assert_eq!(message.text.as_deref().map(str::as_bytes), Some(reason));
                }
            }
        }
        _ => {
            assert_eq!(message.data_hex.as_deref(), Some(payload.as_slice()));
            assert_eq!((message.text.as_deref(), message.close_code), (None, None));
        }
    }
}
