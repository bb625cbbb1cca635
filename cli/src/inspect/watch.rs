//! One direction of an inspected connection, watched: the bytes one side
//! sends, cut into frames as they went over the wire, and judged as the
//! other side receives them by the library's own strict decoders.
//!
//! Two readers go over the same bytes:
//!
//! - **The framer** reads each header's fields as sent (RFC 6455 §5.2),
//!   reserved opcodes and bits too, and keeps each payload's first bytes:
//!   what the live view shows of a frame, valid or not.
//! - **The judge** is an [`Engine`] in the receiver's role, with the
//!   extension the 101 agreed: it unmasks, inflates (with the agreed window
//!   and context takeover, so later messages of a context-takeover
//!   connection inflate too), checks UTF-8 as it arrives, and fails where a
//!   strict receiver fails. Its messages are read as pieces into a buffer
//!   of fixed size, so a message of any size takes no more memory.
//!
//! The framer reads the bytes first and counts each data message's frames;
//! the judge, reading the same bytes after it, completes the same messages
//! in the same order, and takes each one's count. The judge takes all the
//! bytes of a read at once, or, for `--strict`, one frame's at a time, so
//! that a violation is placed in the frame that broke the rule. The bytes
//! given are never changed: the judge works on a copy.
//!
//! This file does no I/O and reads no clock: the time of each event is
//! given in.

use std::collections::VecDeque;

use ws6455::deflate::{self, DeflateParams};
use ws6455::proto::{MessageKind, Piece, ProtocolError, StreamEvent};
use ws6455::{CloseFrame, Engine, Error, Limits, Message, Role};

use super::event::{
    Event, FRAME_BYTES_SHOWN, Frame, MESSAGE_BYTES_SHOWN, MessageSeen, MessageType, Side, Violation,
};

/// The room the judge inflates and unmasks a message's pieces into.
const PIECE_ROOM: usize = 16 << 10;

/// The longest frame header: 2 bytes, 8 of extended length, 4 of key.
const MAX_HEADER_LEN: usize = 14;

/// What [`Watcher::watch`] found wrong, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    /// Where the frame that broke the rule begins, counted in bytes from
    /// the start of this direction (after the opening handshake).
    pub(crate) frame_start: u64,
    /// The close code a strict receiver sends.
    pub(crate) close_code: Option<u16>,
}

/// One direction of a connection: the frames one side sends.
pub(crate) struct Watcher {
    conn: u64,
    from: Side,
    framer: Framer,
    judge: Judge,
    /// The judge takes one frame at a time, to place a violation exactly.
    frame_by_frame: bool,
    /// The first violation: a strict receiver reads nothing after it.
    failed: Option<Failed>,
}

impl Watcher {
    /// Watches what `from` sends on connection `conn`, with
    /// permessage-deflate's agreed parameters if the 101 agreed it.
    pub(crate) fn new(conn: u64, from: Side, deflate: Option<&DeflateParams>) -> Watcher {
        Watcher {
            conn,
            from,
            framer: Framer::new(),
            judge: Judge::new(from, deflate),
            frame_by_frame: false,
            failed: None,
        }
    }

    /// The judge takes the bytes one frame at a time, so that
    /// [`Failed::frame_start`] is exact (`--strict` withholds that frame).
    /// Otherwise it takes each read's bytes at once, which costs less.
    pub(crate) fn frame_by_frame(mut self) -> Watcher {
        self.frame_by_frame = true;
        self
    }

    /// The Close this side sent, once the judge has read it: when, and its
    /// status code.
    pub(crate) fn close_seen(&self) -> Option<(f64, Option<u16>)> {
        self.judge.close
    }

    /// How many frames and messages went by without `detail` since the
    /// last call: what outputs that were full did not get.
    pub(crate) fn take_undescribed(&mut self) -> u64 {
        std::mem::take(&mut self.framer.undescribed) + std::mem::take(&mut self.judge.undescribed)
    }

    /// Whether the bytes so far end where a frame ends: a frame (a Close)
    /// may be put after them.
    pub(crate) fn at_frame_boundary(&self) -> bool {
        self.framer.at_boundary()
    }

    /// Watches the next `bytes` of this direction at time `t`. Frames and
    /// messages are pushed to `events` only if `detail` is set; violations
    /// always are. Returns the first violation, when these bytes brought it.
    pub(crate) fn watch(
        &mut self,
        mut bytes: &[u8],
        t: f64,
        detail: bool,
        events: &mut Vec<Event>,
    ) -> Option<Failed> {
        let before = self.failed;
        let seen = Seen {
            conn: self.conn,
            from: self.from,
            t,
            detail,
        };
        if !self.frame_by_frame {
            self.watch_at_once(bytes, &seen, events);
        }
        while self.frame_by_frame && !bytes.is_empty() {
            // The rest of the current frame, header and payload, as far as
            // the bytes go: the judge takes it in one call.
            let mut used = 0;
            loop {
                used += self.framer.take(&bytes[used..], &seen, events);
                let frame_done = self.framer.at_boundary() || self.framer.problem.is_some();
                if frame_done || used == bytes.len() {
                    break;
                }
            }
            let rest_of_frame = &bytes[..used];
            bytes = &bytes[used..];
            let frame_start = self.framer.current_frame_start();
            if let Some(problem) = self.framer.problem.take() {
                self.fail(&seen, frame_start, problem, events);
            }
            if self.failed.is_none() {
                let messages = &mut self.framer.messages;
                if let Err(problem) = self.judge.feed(rest_of_frame, messages, &seen, events) {
                    self.fail(&seen, frame_start, problem, events);
                }
            }
        }
        match before {
            None => self.failed,
            Some(_) => None,
        }
    }

    /// The framer over all of `bytes`, then the judge over all of them.
    fn watch_at_once(&mut self, bytes: &[u8], seen: &Seen, events: &mut Vec<Event>) {
        let mut used = 0;
        let mut framing_problem = None;
        while used < bytes.len() {
            used += self.framer.take(&bytes[used..], seen, events);
            if let Some(problem) = self.framer.problem.take() {
                let frame_start = self.framer.current_frame_start();
                framing_problem.get_or_insert((frame_start, problem));
            }
        }
        if self.failed.is_none() {
            let messages = &mut self.framer.messages;
            if let Err(problem) = self.judge.feed(bytes, messages, seen, events) {
                // Somewhere in these bytes: the frame is known to `--strict`
                // only, which judges frame by frame.
                let frame_start = self.framer.current_frame_start();
                self.fail(seen, frame_start, problem, events);
            }
        }
        // What only the framing shows (a data frame after a Close) comes
        // after any message the judge completed before it.
        if let Some((frame_start, problem)) = framing_problem {
            self.fail(seen, frame_start, problem, events);
        }
    }

    /// Records the first violation; later ones are not judged, as a strict
    /// receiver reads nothing after failing the connection.
    fn fail(&mut self, seen: &Seen, frame_start: u64, problem: Problem, events: &mut Vec<Event>) {
        if self.failed.is_some() {
            return;
        }
        self.failed = Some(Failed {
            frame_start,
            close_code: problem.close_code,
        });
        // The judge reads no more: nothing will take the framer's counts.
        self.framer.counting = false;
        self.framer.messages.clear();
        events.push(Event::Violation(Violation {
            conn: seen.conn,
            t: seen.t,
            by: seen.from,
            rfc: problem.rfc.to_owned(),
            close_code: problem.close_code,
            status: None,
            what: problem.what,
        }));
    }
}

/// What every event of one call is stamped with.
struct Seen {
    conn: u64,
    from: Side,
    t: f64,
    detail: bool,
}

/// A rule broken.
struct Problem {
    rfc: &'static str,
    close_code: Option<u16>,
    what: String,
}

impl Problem {
    fn from_protocol(e: &ProtocolError) -> Problem {
        Problem {
            rfc: e.rfc_section(),
            close_code: Some(e.close_code().0),
            what: e.to_string(),
        }
    }
}

/// A frame header's fields as sent, whatever they say.
#[derive(Clone, Copy, Debug)]
struct RawHeader {
    fin: bool,
    rsv: u8,
    opcode: u8,
    key: Option<[u8; 4]>,
    payload_len: u64,
    /// Which field carried the length: 7, 16 or 64 bits.
    length_bits: u8,
}

impl RawHeader {
    /// Reads a header from the start of `bytes`, if all of it is there:
    /// the fields and the header's length (RFC 6455 §5.2, in wire order).
    fn read(bytes: &[u8]) -> Option<(RawHeader, usize)> {
        let (&first, &second) = (bytes.first()?, bytes.get(1)?);
        let masked = second & 0x80 != 0;
        let (payload_len, length_bits, mut at) = match second & 0x7f {
            126 => {
                let b = bytes.get(2..4)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 16, 4)
            }
            127 => {
                let b: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
                (u64::from_be_bytes(b), 64, 10)
            }
            len => (u64::from(len), 7, 2),
        };
        let key = match masked {
            true => {
                let key: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
                at += 4;
                Some(key)
            }
            false => None,
        };
        let header = RawHeader {
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x7,
            opcode: first & 0x0f,
            key,
            payload_len,
            length_bits,
        };
        Some((header, at))
    }

    fn is_data(&self) -> bool {
        matches!(self.opcode, 0x0..=0x2)
    }
}

/// What the framer knows of the data message its frames belong to.
#[derive(Clone, Copy, Debug, Default)]
struct MessageFrames {
    /// RSV1 on its first frame: compressed (RFC 7692 §6).
    compressed: bool,
    frames: u64,
    wire_length: u64,
}

/// Cuts bytes into frames as sent and keeps each one's first bytes.
struct Framer {
    /// The header being read, while it is incomplete.
    header: [u8; MAX_HEADER_LEN],
    header_have: usize,
    /// The frame whose payload is being read.
    current: Option<FrameInProgress>,
    /// Where the current frame began, in bytes from the start.
    frame_start: u64,
    /// Bytes read so far.
    offset: u64,
    /// The data message whose frames go by.
    message: MessageFrames,
    /// Data messages whose last frame has begun, for the judge to take as
    /// it completes them, in order (when their events are wanted).
    messages: VecDeque<MessageFrames>,
    /// Whether messages are counted for the judge (not after it failed).
    counting: bool,
    /// Frames that went by without `detail`.
    undescribed: u64,
    /// A Close went by: a data frame after it breaks §5.5.1.
    closed: bool,
    /// A rule the framing alone shows broken.
    problem: Option<Problem>,
}

/// A frame whose header was read.
struct FrameInProgress {
    header: RawHeader,
    header_bytes: [u8; MAX_HEADER_LEN],
    header_len: usize,
    remaining: u64,
    /// The payload's first bytes, as sent, while the event is not yet out.
    shown: Option<Vec<u8>>,
    t: f64,
}

impl Framer {
    fn new() -> Framer {
        Framer {
            header: [0; MAX_HEADER_LEN],
            header_have: 0,
            current: None,
            frame_start: 0,
            offset: 0,
            message: MessageFrames::default(),
            messages: VecDeque::new(),
            counting: true,
            undescribed: 0,
            closed: false,
            problem: None,
        }
    }

    fn at_boundary(&self) -> bool {
        self.header_have == 0 && self.current.is_none()
    }

    /// Where the frame being read began: the one whose header is still
    /// incomplete, if one is.
    fn current_frame_start(&self) -> u64 {
        match self.header_have {
            0 => self.frame_start,
            have => self.offset - have as u64,
        }
    }

    /// Takes bytes from the start of `bytes` up to the end of the current
    /// frame at most, and returns how many. A frame's event goes out when
    /// its shown bytes are complete: at its end, or after the first
    /// [`FRAME_BYTES_SHOWN`] of a longer one.
    fn take(&mut self, bytes: &[u8], seen: &Seen, events: &mut Vec<Event>) -> usize {
        if self.current.is_none() && self.header_have == 0 && !seen.detail {
            if let Some((header, header_len)) = RawHeader::read(bytes) {
                // A 64-bit length is the peer's to choose, up to 2^64 - 1.
                let len = header.payload_len.saturating_add(header_len as u64);
                if len <= bytes.len() as u64 {
                    // A whole frame, and nothing to show of it: noted and
                    // passed over.
                    self.frame_start = self.offset;
                    self.offset += len;
                    self.note_frame(&header, seen);
                    return len as usize;
                }
            }
        }
        let Some(frame) = &mut self.current else {
            return self.take_header(bytes, seen, events);
        };
        let used = usize::try_from(frame.remaining).map_or(bytes.len(), |r| r.min(bytes.len()));
        frame.remaining -= used as u64;
        self.offset += used as u64;
        if let Some(shown) = &mut frame.shown {
            let room = FRAME_BYTES_SHOWN - shown.len();
            shown.extend_from_slice(&bytes[..used.min(room)]);
        }
        self.frame_progressed(seen, events);
        used
    }

    /// Reads header bytes; when the header is whole, the frame begins.
    fn take_header(&mut self, bytes: &[u8], seen: &Seen, events: &mut Vec<Event>) -> usize {
        let have = self.header_have;
        if have == 0 {
            // The usual case: the whole header is in the bytes.
            if let Some((header, header_len)) = RawHeader::read(bytes) {
                self.header[..header_len].copy_from_slice(&bytes[..header_len]);
                self.frame_start = self.offset;
                self.offset += header_len as u64;
                self.begin_frame(header, header_len, seen);
                self.frame_progressed(seen, events);
                return header_len;
            }
        }
        let wanted = (MAX_HEADER_LEN - have).min(bytes.len());
        self.header[have..have + wanted].copy_from_slice(&bytes[..wanted]);
        let Some((header, header_len)) = RawHeader::read(&self.header[..have + wanted]) else {
            self.header_have += wanted;
            self.offset += wanted as u64;
            return wanted;
        };
        let used = header_len - have;
        self.header_have = 0;
        self.frame_start = self.offset - have as u64;
        self.offset += used as u64;
        self.begin_frame(header, header_len, seen);
        self.frame_progressed(seen, events);
        used
    }

    fn begin_frame(&mut self, header: RawHeader, header_len: usize, seen: &Seen) {
        self.note_frame(&header, seen);
        self.current = Some(FrameInProgress {
            header,
            header_bytes: self.header,
            header_len,
            remaining: header.payload_len,
            shown: seen.detail.then(Vec::new),
            t: seen.t,
        });
    }

    /// What a frame's header tells about the frames around it: its
    /// message's frames counted, a Close, a data frame after one.
    fn note_frame(&mut self, header: &RawHeader, seen: &Seen) {
        if !seen.detail {
            self.undescribed += 1;
        }
        if header.is_data() && self.closed {
            // RFC 6455 §5.5.1: "The application MUST NOT send any more data
            // frames after sending a Close frame."
            self.problem = Some(Problem {
                rfc: "RFC 6455 §5.5.1",
                close_code: None,
                what: format!(
                    "a data frame (opcode {:#x}) after the {}'s Close, which is the last frame it may send",
                    header.opcode,
                    seen.from.name()
                ),
            });
        }
        match header.opcode {
            0x1 | 0x2 => {
                self.message = MessageFrames {
                    compressed: header.rsv & 0b100 != 0,
                    frames: 1,
                    wire_length: header.payload_len,
                };
            }
            0x0 => {
                self.message.frames += 1;
                self.message.wire_length =
                    self.message.wire_length.saturating_add(header.payload_len);
            }
            0x8 => self.closed = true,
            _ => {}
        }
        if header.is_data() && header.fin && self.counting {
            self.messages.push_back(self.message);
        }
    }

    /// Sends the frame's event once its shown bytes are complete, and ends
    /// the frame at its last byte.
    fn frame_progressed(&mut self, seen: &Seen, events: &mut Vec<Event>) {
        let Some(frame) = &mut self.current else {
            return;
        };
        let complete = frame.remaining == 0;
        let shown_full = frame
            .shown
            .as_ref()
            .is_some_and(|s| s.len() >= FRAME_BYTES_SHOWN);
        if complete || shown_full {
            if let Some(shown) = frame.shown.take() {
                events.push(frame_event(seen, frame, shown));
            }
        }
        if complete {
            self.current = None;
        }
    }
}

fn frame_event(seen: &Seen, frame: &FrameInProgress, shown: Vec<u8>) -> Event {
    let h = &frame.header;
    Event::Frame(Frame {
        conn: seen.conn,
        from: seen.from,
        t: frame.t,
        fin: h.fin,
        rsv1: h.rsv & 0b100 != 0,
        rsv2: h.rsv & 0b010 != 0,
        rsv3: h.rsv & 0b001 != 0,
        opcode: h.opcode,
        masked: h.key.is_some(),
        key: h.key,
        length: h.payload_len,
        length_field: format!("{}-bit", h.length_bits),
        header_hex: frame.header_bytes[..frame.header_len].to_vec(),
        payload_shown: shown.len(),
        payload_hex: shown,
    })
}

/// The strict receiver: an [`Engine`] in the role of the side that
/// receives these frames.
struct Judge {
    engine: Engine,
    /// Bytes given and not yet taken by the engine (a header cut in two),
    /// copied, as the engine unmasks in place.
    pending: Vec<u8>,
    /// Where the engine writes a message's pieces.
    room: Box<[u8]>,
    /// The data message being read, while it is.
    message: Option<MessageBytes>,
    /// The Close read: when, and its status code.
    close: Option<(f64, Option<u16>)>,
    /// Messages completed without `detail`.
    undescribed: u64,
}

/// A data message being read: its length so far and its first bytes.
struct MessageBytes {
    kind: MessageKind,
    length: u64,
    shown: Vec<u8>,
}

impl Judge {
    fn new(from: Side, deflate_params: Option<&DeflateParams>) -> Judge {
        let receiver = match from {
            Side::Client => Role::Server,
            Side::Server => Role::Client,
        };
        // The protocol's rules are the judge here, not a server's size
        // limits (§10.4): messages are read in pieces of fixed size.
        let limits = Limits::default()
            .max_frame_size(u64::MAX)
            .max_message_size(u64::MAX);
        let engine = match deflate_params {
            Some(params) => {
                Engine::with_extension(receiver, limits, deflate::extension(params, receiver, 0))
            }
            None => Engine::new(receiver, limits),
        };
        Judge {
            engine,
            pending: Vec::new(),
            room: vec![0; PIECE_ROOM].into_boxed_slice(),
            message: None,
            close: None,
            undescribed: 0,
        }
    }

    /// Gives the engine the next bytes, and reports the messages it
    /// completes, each with its frames as the framer counted them.
    fn feed(
        &mut self,
        bytes: &[u8],
        frames: &mut VecDeque<MessageFrames>,
        seen: &Seen,
        events: &mut Vec<Event>,
    ) -> Result<(), Problem> {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        let result = loop {
            let input = &mut self.pending[at..];
            match self.engine.receive_streamed(input, &mut self.room) {
                Ok(streamed) => {
                    at += streamed.used;
                    match streamed.event {
                        None => break Ok(()),
                        Some(StreamEvent::Piece(piece)) => {
                            self.piece(piece, frames, seen, events);
                        }
                        Some(StreamEvent::Control(message)) => {
                            if let Message::Close(frame) = &message {
                                self.close = Some((seen.t, frame.as_ref().map(|f| f.code.0)));
                            }
                            match seen.detail {
                                true => events.push(control_event(seen, message)),
                                false => self.undescribed += 1,
                            }
                        }
                    }
                }
                Err(Error::Protocol(e)) => break Err(Problem::from_protocol(&e)),
                // The engine reads nothing after a Close; the framer judges
                // what comes after one.
                Err(Error::Closed) => {
                    at = self.pending.len();
                    break Ok(());
                }
                Err(e) => {
                    break Err(Problem {
                        rfc: "RFC 6455",
                        close_code: None,
                        what: e.to_string(),
                    });
                }
            }
        };
        // What the engine queued to send (a Pong, a Close in answer) is
        // not ours to send: the real receiver answers for itself.
        if self.engine.queued_bytes() > 0 {
            let queued = self.engine.output().len();
            self.engine.output().advance(queued);
        }
        self.pending.drain(..at.min(self.pending.len()));
        result
    }

    fn piece(
        &mut self,
        piece: Piece,
        frames: &mut VecDeque<MessageFrames>,
        seen: &Seen,
        events: &mut Vec<Event>,
    ) {
        let message = self.message.get_or_insert_with(|| MessageBytes {
            kind: piece.kind,
            length: 0,
            shown: Vec::new(),
        });
        message.length += piece.len as u64;
        if seen.detail {
            let room = MESSAGE_BYTES_SHOWN.saturating_sub(message.shown.len());
            message
                .shown
                .extend_from_slice(&self.room[..piece.len.min(room)]);
        }
        if !piece.last {
            return;
        }
        let Some(message) = self.message.take() else {
            return;
        };
        let frames = frames.pop_front().unwrap_or_default();
        if !seen.detail {
            self.undescribed += 1;
            return;
        }
        let truncated = message.length > message.shown.len() as u64;
        let (message_type, text, data_hex) = match message.kind {
            MessageKind::Text => (MessageType::Text, Some(text_of(&message.shown)), None),
            MessageKind::Binary => (MessageType::Binary, None, Some(message.shown)),
        };
        events.push(Event::Message(MessageSeen {
            conn: seen.conn,
            from: seen.from,
            t: seen.t,
            message_type,
            compressed: frames.compressed,
            frames: frames.frames,
            wire_length: frames.wire_length,
            length: message.length,
            text,
            data_hex,
            truncated,
            close_code: None,
        }));
    }
}

/// The text of a message's first bytes: valid UTF-8 up to where the shown
/// bytes cut a character (the judge has checked the rest).
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
    }
}

/// A control frame read whole (RFC 6455 §5.5): never fragmented, never
/// compressed.
fn control_event(seen: &Seen, message: Message) -> Event {
    let (message_type, payload_len, text, data, close_code) = match message {
        Message::Ping(data) => (MessageType::Ping, data.len(), None, Some(data), None),
        Message::Pong(data) => (MessageType::Pong, data.len(), None, Some(data), None),
        Message::Close(None) => (MessageType::Close, 0, None, None, None),
        Message::Close(Some(CloseFrame { code, reason })) => (
            MessageType::Close,
            2 + reason.len(),
            Some(reason),
            None,
            Some(code.0),
        ),
        // Data messages come as pieces; nothing else comes whole.
        Message::Text(text) => (MessageType::Text, text.len(), Some(text), None, None),
        Message::Binary(data) => (MessageType::Binary, data.len(), None, Some(data), None),
    };
    Event::Message(MessageSeen {
        conn: seen.conn,
        from: seen.from,
        t: seen.t,
        message_type,
        compressed: false,
        frames: 1,
        wire_length: payload_len as u64,
        length: payload_len as u64,
        text,
        data_hex: data,
        truncated: false,
        close_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz target `inspect_watch`: a header announcing
    /// 2^64 - 1 bytes overflowed the quick path's sum of header and payload.
    #[test]
    fn a_64_bit_length_of_u64_max_is_not_a_whole_frame() {
        let mut frame = vec![0x82, 0x7f];
        frame.extend_from_slice(&u64::MAX.to_be_bytes());
        frame.extend_from_slice(b"abc");
        let mut watcher = Watcher::new(1, Side::Server, None);
        let mut events = Vec::new();
        let failed = watcher.watch(&frame, 0.0, false, &mut events);
        // The length's top bit is set: RFC 6455 §5.2 says it MUST be 0.
        assert_eq!(failed.map(|f| f.close_code), Some(Some(1002)));
        assert!(!watcher.at_frame_boundary());
    }
}
