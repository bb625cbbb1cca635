//! A message survives arbitrary fragmentation (RFC 6455 §5.4), with control
//! frames between its fragments, and an arbitrary split of the byte stream
//! into reads, unchanged, in both roles. Pings are answered with Pongs
//! carrying the same data (§5.5.3) and the Close is echoed (§5.5.1).

use std::io::{self, Read, Write};

use proptest::prelude::*;
use ws6455::proto::{FrameHeader, OpCode};
use ws6455::{CloseCode, CloseFrame, Engine, Error, Limits, Message, Role, WebSocket};

/// A stream that returns its input in reads of the given sizes, in turn, and
/// keeps what is written to it.
struct ScriptedStream {
    input: Vec<u8>,
    read: usize,
    read_sizes: Vec<usize>,
    reads: usize,
    written: Vec<u8>,
}

impl Read for ScriptedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.read_sizes[self.reads % self.read_sizes.len()];
        let n = size.min(buf.len()).min(self.input.len() - self.read);
        buf[..n].copy_from_slice(&self.input[self.read..self.read + n]);
        self.read += n;
        self.reads += 1;
        Ok(n)
    }
}

impl Write for ScriptedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A frame to send: FIN, opcode, unmasked payload.
type Frame = (bool, OpCode, Vec<u8>);

/// A data message, where to cut it into fragments, and the control frame (if
/// any) to send after each fragment but the last.
#[derive(Debug, Clone)]
struct Fragmented {
    message: Message,
    cuts: Vec<usize>,
    controls: Vec<Option<Message>>,
}

impl Fragmented {
    fn payload(&self) -> (OpCode, &[u8]) {
        match &self.message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            other => unreachable!("not a data message: {other:?}"),
        }
    }

    /// The frames that carry the message, and the messages a reader should
    /// see: the control frames in order, then the message.
    fn frames(&self) -> (Vec<Frame>, Vec<Message>) {
        let (opcode, payload) = self.payload();
        let mut cuts: Vec<usize> = self.cuts.iter().map(|&c| c % (payload.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(payload.len());
        let (mut frames, mut expected) = (Vec::new(), Vec::new());
        let mut start = 0;
        for (i, &end) in cuts.iter().enumerate() {
            let fin = i == cuts.len() - 1;
            let frame_opcode = if i == 0 { opcode } else { OpCode::Continuation };
            frames.push((fin, frame_opcode, payload[start..end].to_vec()));
            start = end;
            if let Some(Some(control)) = self.controls.get(i).filter(|_| !fin) {
                let (op, data) = match control {
                    Message::Ping(data) => (OpCode::Ping, data),
                    Message::Pong(data) => (OpCode::Pong, data),
                    other => unreachable!("not a ping or pong: {other:?}"),
                };
                frames.push((true, op, data.clone()));
                expected.push(control.clone());
            }
        }
        expected.push(self.message.clone());
        (frames, expected)
    }
}

fn data_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        "\\PC{0,60}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Message::Binary),
    ]
}

fn control_message() -> impl Strategy<Value = Option<Message>> {
    let payload = proptest::collection::vec(any::<u8>(), 0..=125);
    proptest::option::of(prop_oneof![
        payload.clone().prop_map(Message::Ping),
        payload.prop_map(Message::Pong),
    ])
}

fn fragmented() -> impl Strategy<Value = Fragmented> {
    (
        data_message(),
        proptest::collection::vec(any::<usize>(), 0..6),
        proptest::collection::vec(control_message(), 0..6),
    )
        .prop_map(|(message, cuts, controls)| Fragmented {
            message,
            cuts,
            controls,
        })
}

/// A frame as a peer sends it: masked with `mask` if one is given.
fn frame(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    FrameHeader::new(fin, opcode, mask, payload.len() as u64).encode_frame(payload, &mut wire);
    wire
}

/// Every message in `wire`, decoded as `role` would.
fn decode_all(role: Role, mut wire: Vec<u8>) -> Vec<Message> {
    let mut engine = Engine::new(role, Limits::default());
    let mut messages = Vec::new();
    let mut at = 0;
    while !engine.is_closed() {
        let progress = engine
            .receive(&mut wire[at..])
            .expect("our replies are valid");
        at += progress.used;
        match progress.message {
            Some(message) => messages.push(message),
            None => break,
        }
    }
    assert_eq!(at, wire.len(), "a reply was cut short");
    messages
}

fn peer_of(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rfc6455_5_4_messages_survive_fragmentation_and_read_splits(
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
        messages in proptest::collection::vec(fragmented(), 1..4),
        keys in proptest::collection::vec(any::<[u8; 4]>(), 1..8),
        read_sizes in proptest::collection::vec(1usize..200, 1..8),
        leftover in 0usize..64,
    ) {
        // §5.1: a client masks every frame it sends, a server none.
        let mut keys = keys.into_iter().cycle();
        let mut mask = || (role == Role::Server).then(|| keys.next().expect("cycle"));
        let (mut wire, mut expected) = (Vec::new(), Vec::new());
        for message in &messages {
            let (frames, messages) = message.frames();
            for (fin, opcode, payload) in frames {
                wire.extend(frame(fin, opcode, mask(), &payload));
            }
            expected.extend(messages);
        }
        let close = CloseFrame { code: CloseCode::NORMAL, reason: "done".to_owned() };
        let mut close_payload = Vec::new();
        close.encode(&mut close_payload);
        wire.extend(frame(true, OpCode::Close, mask(), &close_payload));
        expected.push(Message::Close(Some(close)));

        // Some bytes may arrive with the opening handshake, before the first read.
        let already_read = wire[..leftover.min(wire.len())].to_vec();
        let stream = ScriptedStream {
            input: wire[already_read.len()..].to_vec(),
            read: 0,
            read_sizes,
            reads: 0,
            written: Vec::new(),
        };
        let mut ws = WebSocket::from_raw(stream, role, Limits::default(), already_read);
        let mut received = Vec::new();
        while received.last().is_none_or(|m| !matches!(m, Message::Close(_))) {
            received.push(ws.read().expect("a valid stream reads without error"));
        }
        prop_assert_eq!(&received, &expected);
        prop_assert!(matches!(ws.read(), Err(Error::Closed)));

        // The replies: a Pong with the same data for every Ping, then the Close echoed.
        let mut replies: Vec<Message> = expected
            .iter()
            .filter_map(|m| match m {
                Message::Ping(data) => Some(Message::Pong(data.clone())),
                _ => None,
            })
            .collect();
        replies.push(Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() })));
        let written = ws.into_inner().written;
        prop_assert_eq!(decode_all(peer_of(role), written), replies);
    }
}
