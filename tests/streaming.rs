//! Streaming (issue 22): a data message read piece by piece as it arrives
//! (`Engine::receive_streamed`, `WebSocket::read_piece`, `ReadHalf::read_piece`)
//! and sent piece by piece (`Engine::send_piece`, `WebSocket::send_from`).
//!
//! The properties compare a streamed read with the whole-message read of
//! the same bytes (`Engine::receive`), however the message is fragmented
//! (RFC 6455 §5.4), with control frames between its fragments, in both
//! roles, with and without permessage-deflate (RFC 7692); they pin down
//! where a streamed read fails: at the byte that breaks UTF-8 (§8.1) or
//! passes the message limit (§10.4), having given out nothing past it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use ws6455::proto::{
    Decoded, FrameHeader, OpCode, Piece, ProtocolError, StreamEvent, UsageError, apply_mask,
};
use ws6455::{CloseCode, CloseFrame, Engine, Error, Limits, Message, MessageKind, Role, WebSocket};

/// The mask key of RFC 6455 §5.7's examples, for frames a client sends.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame as `role`'s peer sends it: masked when the reader is a server.
fn frame(reader: Role, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mask = (reader == Role::Server).then_some(KEY);
    let header = FrameHeader {
        rsv,
        ..FrameHeader::new(fin, opcode, mask, payload.len() as u64)
    };
    let mut wire = Vec::new();
    header.encode_frame(payload, &mut wire);
    wire
}

/// Whole frames, one after the other, with their payloads unmasked.
fn frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let Ok(Decoded::Complete(header, header_len)) = FrameHeader::decode(wire) else {
            panic!("not a whole frame: {wire:02x?}");
        };
        let end = header_len + header.payload_len as usize;
        let mut payload = wire[header_len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        wire = &wire[end..];
    }
    frames
}

/// Everything `engine` has queued to send, taken out of it.
fn take_output(engine: &mut Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.output().drain_into(&mut bytes);
    bytes
}

/// The status code of the Close `engine` queued last, if it queued one.
fn close_sent(engine: &mut Engine) -> Option<CloseCode> {
    let replies = frames(&take_output(engine));
    let (header, payload) = replies.last()?;
    (header.opcode == OpCode::Close).then(|| {
        CloseFrame::decode(payload)
            .expect("our Close is valid")
            .expect("with a status code")
            .code
    })
}

/// A message's kind and payload, as the sender had them.
fn kind_and_payload(message: &Message) -> (MessageKind, &[u8]) {
    match message {
        Message::Text(text) => (MessageKind::Text, text.as_bytes()),
        Message::Binary(data) => (MessageKind::Binary, data),
        other => unreachable!("not a data message: {other:?}"),
    }
}

/// Sizes used in turn, cyclically: how the wire is cut into reads, or how
/// large the output of each streamed read is.
#[derive(Clone, Debug)]
struct Sizes(Vec<usize>);

impl Sizes {
    fn nth(&self, i: usize) -> usize {
        self.0[i % self.0.len()]
    }
}

/// Read sizes: mostly small, now and then large.
fn sizes(most: usize) -> impl Strategy<Value = Sizes> {
    proptest::collection::vec(prop_oneof![3 => 1..=16usize, 1 => 1..=most], 1..8).prop_map(Sizes)
}

/// What a whole-message read of a wire gives: the messages, and the error
/// it stopped at, if any.
fn receive_whole(
    engine: &mut Engine,
    wire: &[u8],
    chunks: &Sizes,
) -> (Vec<Message>, Option<Error>) {
    let (mut buffer, mut fed, mut messages) = (Vec::new(), 0, Vec::new());
    for i in 0.. {
        let take = chunks.nth(i).min(wire.len() - fed);
        buffer.extend_from_slice(&wire[fed..fed + take]);
        fed += take;
        loop {
            match engine.receive(&mut buffer) {
                Ok(progress) => {
                    buffer.drain(..progress.used);
                    match progress.message {
                        Some(message) => messages.push(message),
                        None => break,
                    }
                }
                Err(e) => return (messages, Some(e)),
            }
        }
        if fed == wire.len() {
            assert!(buffer.is_empty(), "bytes left unread: {buffer:02x?}");
            return (messages, None);
        }
    }
    unreachable!()
}

/// One event of a streamed read: a piece with its bytes, or a control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Piece(Piece, Vec<u8>),
    Control(Message),
}

/// A streamed read of a wire: each event, the wire offset fed so far when
/// the call that gave it returned, and the error it stopped at, if any.
#[derive(Debug, Default)]
struct StreamedRead {
    events: Vec<(Event, usize)>,
    error: Option<(Error, usize)>,
}

impl StreamedRead {
    /// The data messages (put together from their pieces, which are
    /// checked to come in order: first, then the rest, the last ending the
    /// message) and the control frames, in the order a whole read gives
    /// them. A message left unfinished is left out.
    fn messages(&self) -> Vec<Message> {
        let mut messages = Vec::new();
        let mut open: Option<(MessageKind, Vec<u8>)> = None;
        for (event, _) in &self.events {
            match event {
                Event::Control(message) => messages.push(message.clone()),
                Event::Piece(piece, bytes) => {
                    assert_eq!(piece.first, open.is_none(), "{piece:?} out of order");
                    let (kind, payload) = open.get_or_insert((piece.kind, Vec::new()));
                    assert_eq!(*kind, piece.kind, "a message changed its kind");
                    payload.extend_from_slice(bytes);
                    if piece.last {
                        let (kind, payload) = open.take().expect("open");
                        messages.push(match kind {
                            MessageKind::Text => Message::Text(
                                String::from_utf8(payload).expect("a streamed text is UTF-8"),
                            ),
                            MessageKind::Binary => Message::Binary(payload),
                        });
                    }
                }
            }
        }
        messages
    }

    /// Payload bytes given out in all.
    fn given(&self) -> usize {
        self.events
            .iter()
            .map(|(event, _)| match event {
                Event::Piece(_, bytes) => bytes.len(),
                Event::Control(_) => 0,
            })
            .sum()
    }

    /// For each control frame, how many bytes of the message it came in the
    /// middle of had been given out before it (`None` between messages).
    fn controls_at(&self) -> Vec<Option<usize>> {
        let mut open: Option<usize> = None;
        let mut at = Vec::new();
        for (event, _) in &self.events {
            match event {
                Event::Control(_) => at.push(open),
                Event::Piece(piece, bytes) => {
                    open = match piece.last {
                        true => None,
                        false => Some(open.unwrap_or(0) + bytes.len()),
                    }
                }
            }
        }
        at
    }
}

/// Reads `wire` with [`Engine::receive_streamed`], fed in reads of
/// `chunks`, each call given output of the next of `outs`, until the wire
/// is read or an error. Checks that no piece is longer than its output and
/// that nothing is left unread.
fn receive_streamed(
    engine: &mut Engine,
    wire: &[u8],
    chunks: &Sizes,
    outs: &Sizes,
) -> StreamedRead {
    receive_whole_then_streamed(engine, wire, chunks, outs, 0).1
}

/// Reads `wire`, fed in reads of `chunks`, with [`Engine::receive`] until
/// `switch` bytes were fed, then on from there as [`receive_streamed`]
/// does; returns the messages the whole reads gave and the streamed read.
fn receive_whole_then_streamed(
    engine: &mut Engine,
    wire: &[u8],
    chunks: &Sizes,
    outs: &Sizes,
    switch: usize,
) -> (Vec<Message>, StreamedRead) {
    let largest = outs.0.iter().copied().max().unwrap_or(0);
    let mut out = vec![0; largest];
    let (mut buffer, mut fed, mut calls) = (Vec::new(), 0, 0);
    let mut whole = Vec::new();
    let mut read = StreamedRead::default();
    for i in 0.. {
        let take = chunks.nth(i).min(wire.len() - fed);
        buffer.extend_from_slice(&wire[fed..fed + take]);
        fed += take;
        while fed <= switch && fed < wire.len() {
            let progress = engine.receive(&mut buffer).expect("a valid wire");
            buffer.drain(..progress.used);
            match progress.message {
                Some(message) => whole.push(message),
                None => break,
            }
        }
        loop {
            if fed <= switch && fed < wire.len() {
                break;
            }
            let out_len = outs.nth(calls);
            calls += 1;
            match engine.receive_streamed(&mut buffer, &mut out[..out_len]) {
                Ok(streamed) => {
                    buffer.drain(..streamed.used);
                    match streamed.event {
                        Some(StreamEvent::Piece(piece)) => {
                            assert!(piece.len <= out_len, "{piece:?} in {out_len} bytes");
                            let bytes = out[..piece.len].to_vec();
                            read.events.push((Event::Piece(piece, bytes), fed));
                        }
                        Some(StreamEvent::Control(message)) => {
                            read.events.push((Event::Control(message), fed))
                        }
                        None => break,
                    }
                }
                Err(e) => {
                    read.error = Some((e, fed));
                    return (whole, read);
                }
            }
        }
        if fed == wire.len() {
            assert!(buffer.is_empty(), "bytes left unread: {buffer:02x?}");
            return (whole, read);
        }
    }
    unreachable!()
}

/// Reads `wire`, fed in reads of `chunks`, with [`Engine::receive_streamed`]
/// (as [`receive_streamed`] does) until `switch` bytes were fed, then on
/// from there with [`Engine::receive`]. Returns the streamed read, the
/// messages the whole reads gave, and whether a message was left open
/// (some of its pieces given, not its last) when the reads switched.
fn receive_streamed_then_whole(
    engine: &mut Engine,
    wire: &[u8],
    chunks: &Sizes,
    outs: &Sizes,
    switch: usize,
) -> (StreamedRead, Vec<Message>, bool) {
    let largest = outs.0.iter().copied().max().unwrap_or(0);
    let mut out = vec![0; largest];
    let (mut buffer, mut fed, mut calls) = (Vec::new(), 0, 0);
    let mut read = StreamedRead::default();
    let mut open = false;
    let mut whole = Vec::new();
    let mut switched = false;
    for i in 0.. {
        let take = chunks.nth(i).min(wire.len() - fed);
        buffer.extend_from_slice(&wire[fed..fed + take]);
        fed += take;
        while !switched {
            let out_len = outs.nth(calls);
            calls += 1;
            let streamed = engine
                .receive_streamed(&mut buffer, &mut out[..out_len])
                .expect("a valid wire");
            buffer.drain(..streamed.used);
            match streamed.event {
                Some(StreamEvent::Piece(piece)) => {
                    open = !piece.last;
                    let bytes = out[..piece.len].to_vec();
                    read.events.push((Event::Piece(piece, bytes), fed));
                }
                Some(StreamEvent::Control(message)) => {
                    read.events.push((Event::Control(message), fed))
                }
                None if fed > switch => switched = true,
                None => break,
            }
        }
        if switched {
            loop {
                let progress = engine.receive(&mut buffer).expect("a valid wire");
                buffer.drain(..progress.used);
                match progress.message {
                    Some(message) => whole.push(message),
                    None => break,
                }
            }
        }
        if fed == wire.len() {
            assert!(buffer.is_empty(), "bytes left unread: {buffer:02x?}");
            return (read, whole, open && switched);
        }
    }
    unreachable!()
}

/// What a read switched from pieces to whole messages should give: the
/// messages of `all` (a whole read's), less the data message left open when
/// it switched (the one after the `streamed` ones), which is dropped.
fn less_the_open_one(all: &[Message], streamed: &[Message], open: bool) -> Vec<Message> {
    let mut expected = all.to_vec();
    if open {
        let data_before = streamed.iter().filter(|m| m.is_data()).count();
        let (at, _) = all
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_data())
            .nth(data_before)
            .expect("the open message is among them");
        expected.remove(at);
    }
    expected
}

/// A payload of `len` bytes drawn from `seed`: for text, characters of one
/// to four bytes (so pieces cut them at every point); for binary, any bytes.
fn payload(kind: MessageKind, len: usize, seed: u64) -> Message {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    match kind {
        MessageKind::Binary => Message::Binary((0..len).map(|_| next() as u8).collect()),
        MessageKind::Text => {
            let mut text = String::with_capacity(len + 4);
            while text.len() < len {
                let c = match next() % 4 {
                    0 => char::from(b'a' + (next() % 26) as u8),
                    1 => char::from_u32(0x80 + (next() % 0x700) as u32).expect("two bytes"),
                    2 => char::from_u32(0x800 + (next() % 0xD000) as u32).unwrap_or('€'),
                    _ => char::from_u32(0x10000 + (next() % 0xFFFF) as u32).expect("four bytes"),
                };
                if text.len() + c.len_utf8() > len {
                    text.push('.');
                } else {
                    text.push(c);
                }
            }
            Message::Text(text)
        }
    }
}

/// A data message on the wire: its fragments (where the payload is cut)
/// and the control frame sent after each fragment but the last.
#[derive(Clone, Debug)]
struct OnTheWire {
    message: Message,
    cuts: Vec<usize>,
    controls: Vec<Option<Message>>,
}

/// A data message of 0 to about 100 KB (mostly small), cut into fragments,
/// with Pings and Pongs between some of them.
fn on_the_wire() -> impl Strategy<Value = OnTheWire> {
    let len = prop_oneof![4 => 0..300usize, 1 => 0..100_000usize];
    let kind = prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)];
    let control = proptest::option::weighted(
        0.4,
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..=125),
        )
            .prop_map(|(ping, data)| match ping {
                true => Message::Ping(data),
                false => Message::Pong(data),
            }),
    );
    (
        kind,
        len,
        any::<u64>(),
        proptest::collection::vec(any::<usize>(), 0..6),
        proptest::collection::vec(control, 0..6),
    )
        .prop_map(|(kind, len, seed, cuts, controls)| OnTheWire {
            message: payload(kind, len, seed),
            cuts,
            controls,
        })
}

/// A control frame on the wire.
fn control_frame(reader: Role, control: &Message) -> Vec<u8> {
    match control {
        Message::Ping(data) => frame(reader, true, 0, OpCode::Ping, data),
        Message::Pong(data) => frame(reader, true, 0, OpCode::Pong, data),
        other => unreachable!("not a Ping or Pong: {other:?}"),
    }
}

impl OnTheWire {
    /// The message's frames as the peer of `reader` sends them, and for
    /// each control frame among them how many payload bytes precede it.
    fn encode(&self, reader: Role, wire: &mut Vec<u8>, controls_at: &mut Vec<Option<usize>>) {
        let (kind, payload) = kind_and_payload(&self.message);
        let mut cuts: Vec<usize> = self.cuts.iter().map(|c| c % (payload.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(payload.len());
        let mut start = 0;
        for (i, &end) in cuts.iter().enumerate() {
            let fin = i == cuts.len() - 1;
            let opcode = if i == 0 {
                kind_opcode(kind)
            } else {
                OpCode::Continuation
            };
            wire.extend(frame(reader, fin, 0, opcode, &payload[start..end]));
            start = end;
            if let Some(Some(control)) = self.controls.get(i).filter(|_| !fin) {
                wire.extend(control_frame(reader, control));
                controls_at.push(Some(end));
            }
        }
    }
}

fn kind_opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

/// A message of `len` bytes that compresses well: a short period, repeated.
fn compressible(kind: MessageKind, len: usize) -> Message {
    let text: String = "streamed, ".chars().cycle().take(len).collect();
    match kind {
        MessageKind::Text => Message::Text(text),
        MessageKind::Binary => Message::Binary(text.into_bytes()),
    }
}

/// Limits that let the generated messages through.
fn roomy() -> Limits {
    Limits::default()
        .max_frame_size(1 << 20)
        .max_message_size(1 << 20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// RFC 6455 §5.4: messages in any fragments, with control frames
    /// between fragments and between messages, read in pieces of any size
    /// fed in reads of any size, give what a whole read gives: the same
    /// payloads and kinds, the same control frames in the same order, each
    /// control frame after every byte of the fragments before it.
    #[test]
    fn rfc6455_5_4_a_streamed_read_gives_what_a_whole_read_gives(
        reader in role(),
        messages in proptest::collection::vec(
            (on_the_wire(), proptest::option::of(any::<bool>())),
            1..4,
        ),
        chunks in sizes(70_000),
        outs in sizes(70_000),
    ) {
        let mut wire = Vec::new();
        let mut controls_at = Vec::new();
        for (message, ping_after) in &messages {
            message.encode(reader, &mut wire, &mut controls_at);
            if let Some(ping) = ping_after {
                let control = match ping {
                    true => Message::Ping(b"between".to_vec()),
                    false => Message::Pong(Vec::new()),
                };
                wire.extend(control_frame(reader, &control));
                controls_at.push(None);
            }
        }
        let (whole, error) = receive_whole(&mut Engine::new(reader, roomy()), &wire, &chunks);
        prop_assert!(error.is_none(), "{error:?}");
        let mut engine = Engine::new(reader, roomy());
        let streamed = receive_streamed(&mut engine, &wire, &chunks, &outs);
        prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
        prop_assert_eq!(streamed.messages(), whole);
        prop_assert_eq!(streamed.controls_at(), controls_at);
    }

    /// A read that switches from whole messages to pieces at any byte of
    /// the wire, in the middle of a message too, gives what a whole read
    /// gives: what was assembled of the message it switched in comes
    /// first, as its first piece.
    #[test]
    fn a_read_switched_from_whole_to_streamed_at_any_byte_loses_nothing(
        reader in role(),
        messages in proptest::collection::vec(on_the_wire(), 1..4),
        switch in any::<usize>(),
        chunks in sizes(70_000),
        outs in sizes(70_000),
    ) {
        let mut wire = Vec::new();
        for message in &messages {
            message.encode(reader, &mut wire, &mut Vec::new());
        }
        let switch = switch % (wire.len() + 1);
        let (whole, error) = receive_whole(&mut Engine::new(reader, roomy()), &wire, &chunks);
        prop_assert!(error.is_none(), "{error:?}");
        let mut engine = Engine::new(reader, roomy());
        let (mut read, streamed) =
            receive_whole_then_streamed(&mut engine, &wire, &chunks, &outs, switch);
        prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
        read.extend(streamed.messages());
        prop_assert_eq!(read, whole);
    }

    /// A read that switches from pieces to whole messages at any byte of
    /// the wire gives what a whole read gives, less the message it left
    /// open, which is read to its end and dropped; the control frames
    /// between its fragments still come.
    #[test]
    fn a_read_switched_from_streamed_to_whole_drops_only_the_open_message(
        reader in role(),
        messages in proptest::collection::vec(on_the_wire(), 1..4),
        switch in any::<usize>(),
        chunks in sizes(70_000),
        outs in sizes(70_000),
    ) {
        let mut wire = Vec::new();
        for message in &messages {
            message.encode(reader, &mut wire, &mut Vec::new());
        }
        let switch = switch % (wire.len() + 1);
        let (all, error) = receive_whole(&mut Engine::new(reader, roomy()), &wire, &chunks);
        prop_assert!(error.is_none(), "{error:?}");
        let mut engine = Engine::new(reader, roomy());
        let (streamed, whole, open) =
            receive_streamed_then_whole(&mut engine, &wire, &chunks, &outs, switch);
        let mut read = streamed.messages();
        let expected = less_the_open_one(&all, &read, open);
        read.extend(whole);
        prop_assert_eq!(read, expected);
    }

    /// RFC 6455 §8.1: a text message whose payload turns invalid at byte
    /// `k`, in any fragments, read in pieces of any size, fails with
    /// `InvalidUtf8` (and a Close with 1007) no later than the call that
    /// received byte `k`, having given out no byte at or past it.
    #[test]
    fn rfc6455_8_1_a_streamed_text_fails_at_the_byte_that_breaks_utf8(
        reader in role(),
        len in 0..3000usize,
        seed in any::<u64>(),
        at in any::<usize>(),
        breaker in 0..6usize,
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
        chunks in sizes(4000),
        outs in sizes(4000),
    ) {
        let Message::Text(text) = payload(MessageKind::Text, len, seed) else {
            unreachable!()
        };
        let mut bytes = text.into_bytes();
        // Insert the breaker at a character boundary, so the bytes before
        // it are valid.
        let mut k = at % (bytes.len() + 1);
        while std::str::from_utf8(&bytes[..k]).is_err() {
            k -= 1;
        }
        let breakers: [&[u8]; 6] = [
            b"\xff",             // never in UTF-8
            b"\xc0\x80",         // overlong
            b"\xe2\x28\xa1",     // a lead byte followed by no continuation
            b"\xed\xa0\x80",     // a surrogate
            b"\xf4\x90\x80\x80", // past U+10FFFF
            b"\xe2\x82",         // cut short (at the end: the message ends)
        ];
        let breaker = breakers[breaker];
        if breaker == b"\xe2\x82" {
            bytes.truncate(k);
        }
        bytes.splice(k..k, breaker.iter().copied());
        // The first byte no continuation could make valid, or the end.
        let bad = (k..bytes.len())
            .find(|&j| {
                std::str::from_utf8(&bytes[k..=j]).is_err_and(|e| e.error_len().is_some())
            })
            .unwrap_or(bytes.len());
        let mut wire = Vec::new();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut start = 0;
        // Where on the wire the payload byte `bad` is (or the last byte, at the end).
        let mut bad_on_wire = None;
        for (i, &end) in cuts.iter().enumerate() {
            let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
            let fragment = frame(reader, i == cuts.len() - 1, 0, opcode, &bytes[start..end]);
            let header_len = fragment.len() - (end - start);
            if (start..end).contains(&bad) {
                bad_on_wire = Some(wire.len() + header_len + bad - start);
            } else if bad == bytes.len() && end == bytes.len() {
                // Cut short: found when the message's last byte is in.
                bad_on_wire = Some(wire.len() + fragment.len() - 1);
            }
            wire.extend(fragment);
            wire.extend(frame(reader, true, 0, OpCode::Ping, b"between"));
            start = end;
        }
        let bad_on_wire = bad_on_wire.expect("the bad byte is on the wire");
        let mut engine = Engine::new(reader, roomy());
        let streamed = receive_streamed(&mut engine, &wire, &chunks, &outs);
        let Some((Error::Protocol(error), fed)) = &streamed.error else {
            panic!("no UTF-8 error: {:?}", streamed.error);
        };
        prop_assert_eq!(error, &ProtocolError::InvalidUtf8);
        prop_assert!(streamed.given() <= bad, "{} bytes given, byte {} is invalid", streamed.given(), bad);
        // The call that failed had been fed no more than the read that
        // brought the bad byte.
        let read_with_bad = (0..)
            .scan(0, |fed, i| {
                *fed += chunks.nth(i);
                Some(*fed)
            })
            .find(|&fed| fed > bad_on_wire)
            .expect("some read brings it")
            .min(wire.len());
        prop_assert!(*fed <= read_with_bad, "failed with {fed} bytes fed; byte {bad_on_wire} came with {read_with_bad}");
        prop_assert_eq!(close_sent(&mut engine), Some(CloseCode::INVALID_PAYLOAD));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// RFC 6455 §10.4: under a message limit of `L` bytes, a message of
    /// exactly `L` bytes streams, in any fragments and pieces; one of
    /// `L + 1` fails with `MessageTooLarge` (a Close with 1009), having
    /// given out no more than `L` bytes.
    #[test]
    fn rfc6455_10_4_the_limit_is_hit_at_the_byte_past_it(
        reader in role(),
        limit in 0..5000usize,
        kind in prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)],
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
        chunks in sizes(6000),
        outs in sizes(6000),
    ) {
        let limits = roomy().max_message_size(limit as u64);
        for len in [limit, limit + 1] {
            let message = compressible(kind, len);
            let mut wire = Vec::new();
            OnTheWire { message: message.clone(), cuts: cuts.clone(), controls: Vec::new() }
                .encode(reader, &mut wire, &mut Vec::new());
            let mut engine = Engine::new(reader, limits);
            let streamed = receive_streamed(&mut engine, &wire, &chunks, &outs);
            if len == limit {
                prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
                prop_assert_eq!(streamed.messages(), vec![message]);
            } else {
                let Some((Error::Protocol(error), _)) = &streamed.error else {
                    panic!("not refused: {:?}", streamed.error);
                };
                prop_assert!(matches!(error, ProtocolError::MessageTooLarge { .. }), "{error:?}");
                prop_assert!(streamed.given() <= limit);
                prop_assert_eq!(close_sent(&mut engine), Some(CloseCode::MESSAGE_TOO_BIG));
            }
        }
    }

}

/// With permessage-deflate (RFC 7692).
#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use ws6455::deflate::{DeflateParams, extension};

    /// Permessage-deflate as agreed in a handshake: windows and takeover.
    fn deflate_params(
        server_bits: u8,
        client_bits: u8,
        server_nct: bool,
        client_nct: bool,
    ) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }
    }

    /// Whether `payload` is whole DEFLATE stored blocks and nothing else
    /// (RFC 1951 §3.2.4: a zero header byte, LEN, its complement, LEN bytes).
    fn is_stored_blocks(mut payload: &[u8]) -> bool {
        while !payload.is_empty() {
            let [0, l0, l1, n0, n1, ..] = *payload else {
                return false;
            };
            let len = u16::from_le_bytes([l0, l1]);
            if u16::from_le_bytes([n0, n1]) != !len || payload.len() < 5 + usize::from(len) {
                return false;
            }
            payload = &payload[5 + usize::from(len)..];
        }
        true
    }

    /// An engine in `role` that agreed to `params`, compressing at level 6.
    fn deflate_engine(role: Role, params: &DeflateParams, limits: Limits) -> Engine {
        Engine::with_extension(role, limits, extension(params, role, 6))
    }

    /// `messages` as `reader`'s peer sends them with permessage-deflate (whole).
    fn deflated_wire(reader: Role, params: &DeflateParams, messages: &[Message]) -> Vec<u8> {
        let mut peer = deflate_engine(reader.peer(), params, roomy());
        for message in messages {
            peer.send(message.clone()).expect("the peer sends");
        }
        take_output(&mut peer)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// RFC 6455 §10.4 with RFC 7692: a compressed message is held to the
        /// limit on the bytes it inflates to. One inflating to exactly `L`
        /// bytes streams; one inflating to `L + 1` (from a frame far smaller)
        /// fails with `MessageTooLarge` having given out no more than `L`
        /// bytes, and no piece is longer than its output.
        #[test]
        fn rfc6455_10_4_a_deflated_message_is_limited_on_its_inflated_bytes(
            reader in role(),
            limit in 0..20_000usize,
            kind in prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)],
            chunks in sizes(6000),
            outs in sizes(6000),
        ) {
            let params = deflate_params(15, 15, false, false);
            let limits = roomy().max_message_size(limit as u64);
            for len in [limit, limit + 1] {
                let message = compressible(kind, len);
                let wire = deflated_wire(reader, &params, std::slice::from_ref(&message));
                if len > 100 {
                    // Compressed: the frame is far smaller than what it inflates to.
                    let (header, _) = &frames(&wire)[0];
                    prop_assert!(header.rsv != 0 && wire.len() < len / 4 + 64, "{header:?}");
                }
                let mut engine = deflate_engine(reader, &params, limits);
                let streamed = receive_streamed(&mut engine, &wire, &chunks, &outs);
                if len == limit {
                    prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
                    prop_assert_eq!(streamed.messages(), vec![message]);
                } else {
                    let Some((Error::Protocol(error), _)) = &streamed.error else {
                        panic!("not refused: {:?}", streamed.error);
                    };
                    prop_assert!(matches!(error, ProtocolError::MessageTooLarge { .. }), "{error:?}");
                    prop_assert!(streamed.given() <= limit);
                    prop_assert_eq!(close_sent(&mut engine), Some(CloseCode::MESSAGE_TOO_BIG));
                }
            }
        }

        /// RFC 7692 §7.2.1: messages sent in pieces of any size (each piece
        /// compressed with a sync flush, RSV1 on the first frame only, Pings
        /// between some of them, never compressed) or
        /// whole, several in a row so that context takeover matters, read back
        /// the same with a whole read, with a streamed read, and with whole
        /// reads switched to streamed ones at any byte, at every window
        /// size and with and without context takeover both ways.
        #[test]
        fn rfc7692_7_2_1_streamed_deflate_round_trips(
            sender in role(),
            server_bits in 8..=15u8,
            client_bits in 8..=15u8,
            server_nct in any::<bool>(),
            client_nct in any::<bool>(),
            messages in proptest::collection::vec(
                (
                    prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)],
                    prop_oneof![3 => 0..2000usize, 1 => 0..16_000usize],
                    any::<u64>(),
                    proptest::option::of(sizes(5000)),
                ),
                1..5,
            ),
            chunks in sizes(8000),
            outs in sizes(8000),
            switch in any::<usize>(),
        ) {
            let params = deflate_params(server_bits, client_bits, server_nct, client_nct);
            let mut ours = deflate_engine(sender, &params, roomy());
            let mut sent = Vec::new();
            for (kind, len, seed, pieces) in messages {
                // Half of them repeat the message before, for takeover to find.
                let data_before = sent.iter().rev().find(|m: &&Message| m.is_data());
                let message = match (seed % 2, data_before) {
                    (0, Some(Message::Text(text))) if kind == MessageKind::Text => Message::Text(text.clone()),
                    _ => payload(kind, len, seed),
                };
                let (kind, bytes) = kind_and_payload(&message);
                match pieces {
                    None => ours.send(message.clone()).expect("sent whole"),
                    Some(pieces) => {
                        let mut start = 0;
                        for i in 0.. {
                            let end = (start + pieces.nth(i)).min(bytes.len());
                            let last = end == bytes.len();
                            ours.send_piece(kind, &bytes[start..end], last).expect("sent in pieces");
                            start = end;
                            if last {
                                break;
                            }
                            // Now and then a Ping between the fragments.
                            if pieces.nth(i) % 4 == 0 {
                                let ping = Message::Ping(i.to_be_bytes().to_vec());
                                ours.send(ping.clone()).expect("a Ping between pieces");
                                sent.push(ping);
                            }
                        }
                    }
                }
                sent.push(message);
            }
            let wire = take_output(&mut ours);
            for (header, payload) in frames(&wire) {
                // §7.2.1: a fragment compressed as the data comes ends with
                // its sync flush's empty block, unless it is the last; one
                // that would not compress goes as stored blocks, which end
                // where the fragment does too.
                if !header.fin && matches!(header.opcode, OpCode::Text | OpCode::Binary | OpCode::Continuation) {
                    prop_assert!(
                        payload.ends_with(&[0, 0, 0xff, 0xff]) || is_stored_blocks(&payload),
                        "{header:?}"
                    );
                }
                prop_assert!(header.rsv == 0 || matches!(header.opcode, OpCode::Text | OpCode::Binary), "{header:?}");
            }
            let reader = sender.peer();
            let (whole, error) = receive_whole(&mut deflate_engine(reader, &params, roomy()), &wire, &chunks);
            prop_assert!(error.is_none(), "{error:?}");
            prop_assert_eq!(&whole, &sent);
            let mut engine = deflate_engine(reader, &params, roomy());
            let streamed = receive_streamed(&mut engine, &wire, &chunks, &outs);
            prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
            prop_assert_eq!(&streamed.messages(), &sent);
            // Switched from whole reads to streamed ones at any byte.
            let switch = switch % (wire.len() + 1);
            let mut engine = deflate_engine(reader, &params, roomy());
            let (mut read, streamed) =
                receive_whole_then_streamed(&mut engine, &wire, &chunks, &outs, switch);
            prop_assert!(streamed.error.is_none(), "{:?}", streamed.error);
            read.extend(streamed.messages());
            prop_assert_eq!(&read, &sent);
            // Switched from streamed reads to whole ones at any byte: the
            // message left open is dropped, still inflated for the
            // context the next ones refer to.
            let mut engine = deflate_engine(reader, &params, roomy());
            let (streamed, whole, open) =
                receive_streamed_then_whole(&mut engine, &wire, &chunks, &outs, switch);
            let mut read = streamed.messages();
            let expected = less_the_open_one(&sent, &read, open);
            read.extend(whole);
            prop_assert_eq!(read, expected);
        }
    }
}

/// The frames `engine` queued: FIN, opcode and unmasked payload.
fn sent_frames(engine: &mut Engine) -> Vec<(bool, OpCode, Vec<u8>)> {
    frames(&take_output(engine))
        .into_iter()
        .map(|(header, payload)| (header.fin, header.opcode, payload))
        .collect()
}

#[test]
fn rfc6455_5_4_a_message_sent_in_pieces_lets_control_frames_between_but_no_other_message() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    engine.send_piece(MessageKind::Text, b"Hel", false).unwrap();
    for refused in [
        engine.send(Message::Text("another".into())),
        engine.send(Message::Binary(b"another".to_vec())),
        engine.send_piece(MessageKind::Binary, b"another", false),
        engine.send_piece(MessageKind::Binary, b"another", true),
    ] {
        assert!(
            matches!(refused, Err(Error::Usage(UsageError::MessageUnfinished))),
            "{refused:?}"
        );
    }
    engine.send(Message::Ping(b"ping".to_vec())).unwrap();
    engine.send_piece(MessageKind::Text, b"lo", false).unwrap();
    engine.close(CloseCode::NORMAL, "bye").unwrap();
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"!", true),
        Err(Error::Usage(UsageError::SendAfterClose))
    ));
    let mut close = Vec::new();
    CloseFrame {
        code: CloseCode::NORMAL,
        reason: "bye".into(),
    }
    .encode(&mut close);
    assert_eq!(
        sent_frames(&mut engine),
        [
            (false, OpCode::Text, b"Hel".to_vec()),
            (true, OpCode::Ping, b"ping".to_vec()),
            (false, OpCode::Continuation, b"lo".to_vec()),
            (true, OpCode::Close, close),
        ]
    );
}

#[test]
fn rfc6455_5_6_a_text_piece_that_breaks_utf8_across_pieces_is_refused_and_not_sent() {
    let mut engine = Engine::new(Role::Client, Limits::default());
    // "a€" cut inside the euro sign's three bytes.
    engine
        .send_piece(MessageKind::Text, b"a\xe2\x82", false)
        .unwrap();
    for refused in [&b"("[..], b"\xac\xff", b"\xff"] {
        assert!(matches!(
            engine.send_piece(MessageKind::Text, refused, true),
            Err(Error::Usage(UsageError::InvalidUtf8Sent))
        ));
    }
    // A character cut short at the end of the message is refused too.
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"", true),
        Err(Error::Usage(UsageError::InvalidUtf8Sent))
    ));
    assert_eq!(
        sent_frames(&mut engine),
        [(false, OpCode::Text, b"a\xe2\x82".to_vec())]
    );
}

#[test]
fn a_message_begun_by_a_whole_read_gives_what_was_assembled_first_when_streamed() {
    let mut wire = frame(Role::Server, false, 0, OpCode::Text, "hello, ".as_bytes());
    let first_frame = wire.len();
    wire.extend(frame(
        Role::Server,
        true,
        0,
        OpCode::Continuation,
        "wörld".as_bytes(),
    ));
    let mut engine = Engine::new(Role::Server, Limits::default());
    // The input stops two bytes into the second frame's payload (inside "ö").
    let cut = first_frame + 2 + 4 + 2;
    let progress = engine.receive(&mut wire[..cut]).unwrap();
    assert_eq!((progress.used, progress.message), (cut, None));
    let rest = &wire[cut..];
    let streamed = receive_streamed(&mut engine, rest, &Sizes(vec![rest.len()]), &Sizes(vec![4]));
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    let pieces: Vec<(bool, bool, Vec<u8>)> = streamed
        .events
        .iter()
        .map(|(event, _)| match event {
            Event::Piece(piece, bytes) => {
                assert_eq!(piece.kind, MessageKind::Text);
                (piece.first, piece.last, bytes.clone())
            }
            Event::Control(message) => panic!("{message:?}"),
        })
        .collect();
    assert_eq!(
        pieces,
        [
            (true, false, b"hell".to_vec()),
            (false, false, b"o, w".to_vec()),
            (false, false, "\u{f6}rl".as_bytes().to_vec()),
            (false, true, b"d".to_vec()),
        ]
    );
}

#[test]
fn a_streamed_message_left_unfinished_is_dropped_by_a_whole_read() {
    let mut wire = frame(Role::Client, false, 0, OpCode::Binary, b"abc");
    wire.extend(frame(Role::Client, true, 0, OpCode::Ping, b"ping"));
    wire.extend(frame(Role::Client, true, 0, OpCode::Continuation, b"def"));
    wire.extend(frame(Role::Client, true, 0, OpCode::Text, b"next"));
    let mut engine = Engine::new(Role::Client, Limits::default());
    let mut out = [0; 2];
    let streamed = engine.receive_streamed(&mut wire, &mut out).unwrap();
    let Some(StreamEvent::Piece(piece)) = streamed.event else {
        panic!("{streamed:?}");
    };
    assert_eq!(
        (piece.first, piece.last, &out[..piece.len]),
        (true, false, &b"ab"[..])
    );
    let (messages, error) = receive_whole(&mut engine, &wire[streamed.used..], &Sizes(vec![1]));
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        messages,
        [
            Message::Ping(b"ping".to_vec()),
            Message::Text("next".into())
        ]
    );
}

/// A connected pair over loopback: a server-side WebSocket and a client-side one.
fn socket_pair() -> (WebSocket<TcpStream>, WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for stream in [&client, &server] {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    (
        WebSocket::from_raw(server, Role::Server, Limits::default(), Vec::new()),
        WebSocket::from_raw(client, Role::Client, Limits::default(), Vec::new()),
    )
}

#[test]
fn send_from_sends_a_megabyte_reader_in_64_kib_pieces_that_read_back_equal() {
    let (mut server, mut client) = socket_pair();
    let binary = match payload(MessageKind::Binary, 1 << 20, 7) {
        Message::Binary(data) => data,
        other => unreachable!("{other:?}"),
    };
    let text = match payload(MessageKind::Text, 1 << 20, 11) {
        Message::Text(text) => text,
        other => unreachable!("{other:?}"),
    };
    let sending = {
        let (binary, text) = (binary.clone(), text.clone());
        thread::spawn(move || {
            let sent = client
                .send_from(MessageKind::Binary, &binary[..], 64 << 10)
                .unwrap();
            assert_eq!(sent, binary.len() as u64);
            // 64 KiB pieces cut characters in two.
            let sent = client
                .send_from(MessageKind::Text, text.as_bytes(), 64 << 10)
                .unwrap();
            assert_eq!(sent, text.len() as u64);
            client
        })
    };
    assert_eq!(server.read().unwrap(), Message::Binary(binary));
    let mut out = vec![0; 10_000];
    let mut streamed = Vec::new();
    loop {
        match server.read_piece(&mut out).unwrap() {
            StreamEvent::Piece(piece) => {
                assert_eq!(
                    (piece.kind, piece.first),
                    (MessageKind::Text, streamed.is_empty())
                );
                streamed.extend_from_slice(&out[..piece.len]);
                if piece.last {
                    break;
                }
            }
            StreamEvent::Control(message) => panic!("{message:?}"),
        }
    }
    assert_eq!(String::from_utf8(streamed).unwrap(), text);
    sending.join().unwrap();
}

#[test]
fn rfc6455_5_5_2_read_piece_answers_a_ping_between_fragments_while_the_message_is_read() {
    let (server, client) = socket_pair();
    let (mut read_half, _write_half) = server.split().unwrap();
    let mut peer = client.into_inner();
    let mut wire = frame(Role::Server, false, 0, OpCode::Text, b"abc");
    wire.extend(frame(Role::Server, true, 0, OpCode::Ping, b"are you there"));
    peer.write_all(&wire).unwrap();
    let mut out = [0; 16];
    let StreamEvent::Piece(piece) = read_half.read_piece(&mut out).unwrap() else {
        panic!("not a piece");
    };
    assert_eq!(
        (piece.first, piece.last, &out[..piece.len]),
        (true, false, &b"abc"[..])
    );
    assert_eq!(
        read_half.read_piece(&mut out).unwrap(),
        StreamEvent::Control(Message::Ping(b"are you there".to_vec()))
    );
    // The Pong is out while the message is still unfinished.
    let pong = frame(Role::Client, true, 0, OpCode::Pong, b"are you there");
    let mut received = vec![0; pong.len()];
    peer.read_exact(&mut received).unwrap();
    assert_eq!(received, pong);
    peer.write_all(&frame(Role::Server, true, 0, OpCode::Continuation, b"def"))
        .unwrap();
    let StreamEvent::Piece(piece) = read_half.read_piece(&mut out).unwrap() else {
        panic!("not a piece");
    };
    assert_eq!(
        (piece.first, piece.last, &out[..piece.len]),
        (false, true, &b"def"[..])
    );
}

#[test]
fn a_refused_text_piece_leaves_the_utf8_check_as_it_was() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    engine
        .send_piece(MessageKind::Text, b"a\xe2\x82", false)
        .unwrap();
    // "\xac" would end the euro sign, but "\xff" after it is invalid.
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"\xac\xff", false),
        Err(Error::Usage(UsageError::InvalidUtf8Sent))
    ));
    // So the euro sign still waits for its last byte: "xyz" cannot follow.
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"xyz", true),
        Err(Error::Usage(UsageError::InvalidUtf8Sent))
    ));
    // A refused "(" was not taken in either: "\xac" ends the message well.
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"(", true),
        Err(Error::Usage(UsageError::InvalidUtf8Sent))
    ));
    engine.send_piece(MessageKind::Text, b"\xac", true).unwrap();
    let wire = take_output(&mut engine);
    let (messages, error) = receive_whole(
        &mut Engine::new(Role::Client, Limits::default()),
        &wire,
        &Sizes(vec![wire.len()]),
    );
    assert!(error.is_none(), "{error:?}");
    assert_eq!(messages, [Message::Text("a€".into())]);
}

#[test]
fn a_text_opened_by_an_empty_piece_stays_open_when_its_next_piece_is_refused() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    // The empty first piece goes out as the message's first frame.
    engine.send_piece(MessageKind::Text, b"", false).unwrap();
    assert!(matches!(
        engine.send_piece(MessageKind::Text, b"\xff", true),
        Err(Error::Usage(UsageError::InvalidUtf8Sent))
    ));
    // §5.4: the message is still open on the wire; no other may start.
    assert!(matches!(
        engine.send(Message::Text("another".into())),
        Err(Error::Usage(UsageError::MessageUnfinished))
    ));
    engine.send_piece(MessageKind::Text, b"ok", true).unwrap();
    let wire = take_output(&mut engine);
    let (messages, error) = receive_whole(
        &mut Engine::new(Role::Client, Limits::default()),
        &wire,
        &Sizes(vec![wire.len()]),
    );
    assert!(error.is_none(), "{error:?}");
    assert_eq!(messages, [Message::Text("ok".into())]);
}

#[test]
fn an_empty_output_learns_a_message_kind_as_soon_as_its_header_is_in() {
    let wire = frame(Role::Server, true, 0, OpCode::Binary, b"payload");
    let mut engine = Engine::new(Role::Server, Limits::default());
    // Only the header (2 bytes, then the 4-byte mask key) is in.
    let mut input = wire[..6].to_vec();
    let streamed = engine.receive_streamed(&mut input, &mut []).unwrap();
    let first = Piece {
        kind: MessageKind::Binary,
        first: true,
        last: false,
        len: 0,
    };
    assert_eq!(
        (streamed.used, streamed.event),
        (6, Some(StreamEvent::Piece(first)))
    );
    // The kind is told once; asked again with no room, the engine asks for
    // room (an empty piece) rather than for input, which a reader that
    // holds no buffer while it waits could wait for forever.
    let streamed = engine.receive_streamed(&mut [], &mut []).unwrap();
    let asks_for_room = Piece {
        first: false,
        ..first
    };
    assert_eq!(
        (streamed.used, streamed.event),
        (0, Some(StreamEvent::Piece(asks_for_room)))
    );
    let mut rest = wire[6..].to_vec();
    let mut out = [0; 16];
    let streamed = engine.receive_streamed(&mut rest, &mut out).unwrap();
    let Some(StreamEvent::Piece(piece)) = streamed.event else {
        panic!("{streamed:?}");
    };
    assert_eq!(
        (piece.first, piece.last, &out[..piece.len]),
        (false, true, &b"payload"[..])
    );
}
