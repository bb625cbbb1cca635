//! The streamed read path, behind `read_streamed`: a protocol [`Engine`]
//! reading with [`Engine::receive_streamed`], its pieces checked against
//! what [`Engine::receive`] reads from the same bytes on a second engine.
//! See `fuzz/README.md`.

use std::io;

use ws6455::proto::{OpCode, StreamEvent};
use ws6455::{CloseFrame, Engine, Error, Limits, Message, MessageKind};

use crate::deflate::{Setup, deflate_limits, frames, same_end, take_output};
use crate::{Chunked, End, check_message, limits};

/// What the first byte of a `read_streamed` input chooses, before the
/// [`Setup`] bytes and the [`Chunked`] stream:
///
/// ```text
/// [mode] [flags] [windows] [n] [n size bytes] [the stream ...]
/// ```
///
/// `mode`: bit 0 whether permessage-deflate was negotiated (with the
/// parameters [`Setup`] reads from `flags` and `windows`; without it only
/// the role, bit 0 of `flags`, counts), the high seven bits `v` the size of
/// the output each streamed read is given: `v` bytes for 1 to 119, 256 bytes
/// times 2^(`v` - 120) (up to 32 KiB) from 120, and for 0 the sizes of the
/// input's pieces in turn (a size of 0 reads as 64 KiB). A missing byte
/// reads as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Whether permessage-deflate was negotiated.
    pub deflate: bool,
    /// The output size, as the high seven bits of `mode` choose it.
    pub out: u8,
}

impl Mode {
    /// Splits a fuzz input into its mode and the rest. Any input is valid.
    pub fn parse(input: &[u8]) -> (Mode, &[u8]) {
        let Some((&mode, rest)) = input.split_first() else {
            return (
                Mode {
                    deflate: false,
                    out: 0,
                },
                input,
            );
        };
        let mode = Mode {
            deflate: mode & 1 != 0,
            out: mode >> 1,
        };
        (mode, rest)
    }

    /// The fuzz input that [`Mode::parse`] and [`Setup::parse`] read as this
    /// mode, `setup` and `data` in pieces of `sizes`.
    pub fn encode(&self, setup: &Setup, sizes: &[u8], data: &[u8]) -> Vec<u8> {
        let mut input = vec![u8::from(self.deflate) | self.out.min(127) << 1];
        input.extend(setup.encode(sizes, data));
        input
    }

    /// The size of the output given to streamed read number `call`, whose
    /// input pieces have `sizes`.
    fn out_len(&self, sizes: &[u8], call: usize) -> usize {
        match self.out {
            0 => match sizes.get(call % sizes.len().max(1)) {
                Some(&size) if size > 0 => usize::from(size),
                _ => 64 << 10,
            },
            v @ 1..=119 => usize::from(v),
            v => 256 << (v - 120),
        }
    }

    /// The largest output [`Mode::out_len`] chooses.
    fn largest_out(&self) -> usize {
        match self.out {
            0 => 64 << 10,
            _ => self.out_len(&[], 0),
        }
    }

    /// The limits the engines read under: those of `read_server` without
    /// the extension; with it, `read_deflate`'s 4 KiB frames but messages of
    /// up to 8 KiB, since a streamed read into a byte of output calls the
    /// inflater for each byte, and a few dozen compressed bytes inflate
    /// past that.
    fn limits(&self) -> Limits {
        if self.deflate {
            deflate_limits().max_message_size(8 << 10)
        } else {
            limits()
        }
    }

    /// An engine in the setup's role, with the extension if negotiated.
    fn engine(&self, setup: &Setup) -> Engine {
        if self.deflate {
            setup.engine(setup.role, self.limits())
        } else {
            Engine::new(setup.role, self.limits())
        }
    }
}

/// What a read gave, in order: data messages (assembled from their pieces
/// for a streamed read) and control frames, and how it ended.
type Read = (Vec<Message>, End);

/// The streamed read path: one engine, set up as the input's first bytes
/// say, reads the rest in its pieces with [`Engine::receive_streamed`]
/// (given output of the sizes the mode chooses); another reads the same
/// pieces with [`Engine::receive`], as the oracle.
///
/// Checks that they read the same messages and control frames in the same
/// order and end alike (the same protocol error or none, with the latitude
/// of `read_deflate` between invalid compressed data and another fault of
/// the same message), that they queue the same replies, that no piece is
/// longer than its output and no message's pieces add up past the limit,
/// and that pieces come in order: one first, then the rest, the last
/// ending the message.
pub fn read_streamed(input: &[u8]) {
    let (mode, rest) = Mode::parse(input);
    let (setup, rest) = Setup::parse(rest);
    let input = Chunked::parse(rest);
    let (mut streaming, mut whole) = (mode.engine(&setup), mode.engine(&setup));
    let streamed = receive_streamed_all(mode, &mut streaming, input);
    let assembled = receive_all(mode, &mut whole, input);
    assert!(
        streamed.0 == assembled.0 && same_end(&streamed.1, &assembled.1),
        "a streamed read differs from a whole one:\n streamed: {streamed:?}\n whole: {assembled:?}"
    );
    if streamed.1 == assembled.1 {
        assert_eq!(
            replies(&mut streaming),
            replies(&mut whole),
            "a streamed read answered differently after {:?}",
            streamed.1
        );
    }
}

/// A message being streamed: its kind and the bytes of its pieces so far.
struct Open {
    kind: MessageKind,
    payload: Vec<u8>,
}

/// `engine` reads `input`'s pieces with [`Engine::receive_streamed`] until
/// a protocol error, a Close or the end, each call with output of the size
/// `mode` chooses; the pieces of each data message are put together.
fn receive_streamed_all(mode: Mode, engine: &mut Engine, input: Chunked<'_>) -> Read {
    let max = mode.limits().max_message_size;
    let mut buffer = Vec::new();
    // Every call's output is a start of this; bytes a call does not
    // write are left from earlier calls, not cleared, as a caller's are.
    let mut out = vec![0; mode.largest_out()];
    let mut calls = 0;
    let mut open: Option<Open> = None;
    let mut read = Vec::new();
    let end = 'read: {
        for piece in input.pieces() {
            buffer.extend_from_slice(piece);
            loop {
                let out_len = mode.out_len(input.sizes, calls);
                calls += 1;
                let streamed = match engine.receive_streamed(&mut buffer, &mut out[..out_len]) {
                    Ok(streamed) => streamed,
                    Err(Error::Protocol(e)) => break 'read End::Protocol(e),
                    Err(e) => panic!("receive_streamed failed with {e:?} before the close"),
                };
                buffer.drain(..streamed.used);
                match streamed.event {
                    None => break,
                    Some(StreamEvent::Control(message)) => {
                        assert!(!message.is_data(), "a data message came whole: {message:?}");
                        check_message(&message, mode.limits());
                        let is_close = message.is_close();
                        read.push(message);
                        if is_close {
                            break 'read End::Closed;
                        }
                    }
                    Some(StreamEvent::Piece(p)) => {
                        assert!(p.len <= out_len, "a piece of {} bytes in {out_len}", p.len);
                        let message = match (&mut open, p.first) {
                            (None, true) => open.insert(Open {
                                kind: p.kind,
                                payload: Vec::new(),
                            }),
                            (Some(message), false) if message.kind == p.kind => message,
                            (open, _) => {
                                panic!("{p:?} while {:?} was open", open.as_ref().map(|m| m.kind))
                            }
                        };
                        message.payload.extend_from_slice(&out[..p.len]);
                        assert!(message.payload.len() as u64 <= max, "pieces past the limit");
                        if p.last {
                            read.push(assembled(open.take().expect("a message is open")));
                        }
                    }
                }
            }
        }
        engine.read_failed();
        End::Io(io::ErrorKind::UnexpectedEof)
    };
    assert!(
        engine.is_closed(),
        "after {end:?} the engine must be closed"
    );
    assert!(
        matches!(
            engine.receive_streamed(&mut [], &mut [0; 16]),
            Err(Error::Closed)
        ),
        "after {end:?} nothing more can be received"
    );
    (read, end)
}

/// A streamed message's pieces, put together; a text's are valid UTF-8.
fn assembled(message: Open) -> Message {
    match message.kind {
        MessageKind::Text => Message::Text(
            String::from_utf8(message.payload).expect("a streamed text is valid UTF-8"),
        ),
        MessageKind::Binary => Message::Binary(message.payload),
    }
}

/// `engine` reads `input`'s pieces with [`Engine::receive`] until a
/// protocol error, a Close or the end.
fn receive_all(mode: Mode, engine: &mut Engine, input: Chunked<'_>) -> Read {
    let mut buffer = Vec::new();
    let mut read = Vec::new();
    let end = 'read: {
        for piece in input.pieces() {
            buffer.extend_from_slice(piece);
            loop {
                let progress = match engine.receive(&mut buffer) {
                    Ok(progress) => progress,
                    Err(Error::Protocol(e)) => break 'read End::Protocol(e),
                    Err(e) => panic!("receive failed with {e:?} before the close"),
                };
                buffer.drain(..progress.used);
                let Some(message) = progress.message else {
                    break;
                };
                check_message(&message, mode.limits());
                let is_close = message.is_close();
                read.push(message);
                if is_close {
                    break 'read End::Closed;
                }
            }
        }
        engine.read_failed();
        End::Io(io::ErrorKind::UnexpectedEof)
    };
    (read, end)
}

/// What `engine` queued to send, frame by frame: opcode and unmasked
/// payload, a Close by its status code alone (its reason may name figures
/// that differ between the two reads, such as how far past the limit).
fn replies(engine: &mut Engine) -> Vec<(OpCode, Vec<u8>)> {
    frames(&take_output(engine))
        .into_iter()
        .map(|(header, payload)| match header.opcode {
            OpCode::Close => {
                let code = CloseFrame::decode(&payload)
                    .expect("our Close is valid")
                    .map(|frame| frame.code.0);
                (
                    OpCode::Close,
                    code.map_or(Vec::new(), |c| c.to_be_bytes().to_vec()),
                )
            }
            opcode => (opcode, payload),
        })
        .collect()
}
