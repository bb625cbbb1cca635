//! Message assembly (RFC 6455 §5.4, §5.5, §5.6, §8.1), without I/O.
//!
//! [`MessageDecoder::decode`] takes the bytes received so far and returns the
//! next whole message, if they hold one. Data frames are consumed as their
//! bytes arrive, so a text message's UTF-8 is checked as it comes in and an
//! invalid byte fails the connection at once, even in the middle of a frame
//! (§8.1). Control frames are small (§5.5) and are decoded once whole.

use std::fmt;

use crate::proto::Decoded;
use crate::proto::close_frame::CloseFrame;
use crate::proto::error::ProtocolError;
use crate::proto::extension::InboundTransform;
use crate::proto::frame::FrameHeader;
use crate::proto::frame::MAX_CONTROL_PAYLOAD;
use crate::proto::mask::apply_mask;
use crate::proto::opcode::OpCode;
use crate::proto::settings::{Limits, Role};
use crate::proto::utf8::Utf8Validator;

/// A message, or a control frame, as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message: always valid UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping (at most 125 bytes). Received pings are answered automatically.
    Ping(Vec<u8>),
    /// A Pong (at most 125 bytes).
    Pong(Vec<u8>),
    /// A Close frame; `None` when it carried no status code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Message {
        Message::Binary(data.into())
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a data message: text or binary.
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// Whether this is a Ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether this is a Pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether this is a Close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The text of a text message; `None` for any other.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload's bytes: a text's UTF-8, a binary message's, a Ping's or
    /// a Pong's data. A Close's code and reason are in its [`CloseFrame`]
    /// (and in [`Message::into_data`]); here it has none.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(_) => &[],
        }
    }

    /// The payload's length in bytes as it goes on the wire (before any
    /// compression): what [`Message::into_data`] gives.
    pub fn len(&self) -> usize {
        match self {
            Message::Close(Some(frame)) => 2 + frame.reason.len(),
            other => other.as_bytes().len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload: a text's UTF-8, a binary message's or a control frame's
    /// data, and for a Close its code and reason as on the wire (§5.5.1;
    /// empty for a Close without a code).
    pub fn into_data(self) -> Vec<u8> {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(frame) => {
                let mut payload = Vec::new();
                if let Some(frame) = frame {
                    frame.encode(&mut payload);
                }
                payload
            }
        }
    }

    /// The text of a text message, or of a binary message that is valid
    /// UTF-8; the message back otherwise.
    pub fn into_text(self) -> Result<String, Message> {
        match self {
            Message::Text(text) => Ok(text),
            Message::Binary(data) => {
                String::from_utf8(data).map_err(|e| Message::Binary(e.into_bytes()))
            }
            other => Err(other),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Message {
        Message::Binary(data.to_vec())
    }
}

/// A data message whose payload is borrowed, for sending one payload on
/// many connections without a copy per connection (see
/// [`crate::WebSocket::send_ref`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl MessageRef<'_> {
    /// The message with its payload copied.
    pub fn to_message(self) -> Message {
        match self {
            MessageRef::Text(text) => Message::Text(text.to_owned()),
            MessageRef::Binary(data) => Message::Binary(data.to_vec()),
        }
    }
}

/// The payload of a data frame still arriving.
#[derive(Clone, Copy, Debug)]
struct DataFrame {
    fin: bool,
    mask: Option<[u8; 4]>,
    /// How many payload bytes have been consumed (the masking offset).
    done: u64,
    /// How many payload bytes have been unmasked in place: those consumed,
    /// and those left in the input by a streamed read whose output was
    /// full (they are not unmasked twice).
    unmasked: u64,
    /// How many payload bytes are still to come.
    remaining: u64,
}

/// The data message being assembled. Between messages it is empty (and
/// holds no allocation): [`Assembly`] says whether one is open.
#[derive(Debug, Default)]
struct PartialMessage {
    /// The payload so far; empty for a streamed message, whose payload goes
    /// out in pieces.
    data: Vec<u8>,
    /// Present for text messages.
    text: Option<Utf8Validator>,
    /// The negotiated extension transformed it: its payload goes through the
    /// extension's [`InboundTransform`] on the way in.
    transformed: bool,
    /// Read in pieces ([`MessageDecoder::decode_streamed`]) rather than whole.
    streamed: Option<StreamedMessage>,
}

/// What a message read in pieces keeps in place of its payload.
#[derive(Clone, Copy, Debug)]
struct StreamedMessage {
    kind: MessageKind,
    /// Payload bytes given out so far (decoded: inflated if transformed).
    given: u64,
    /// Whether a piece of it was returned already.
    announced: bool,
}

impl PartialMessage {
    /// The payload's length so far, as the message limit counts it.
    fn len(&self) -> u64 {
        match &self.streamed {
            Some(streamed) => streamed.given,
            None => self.data.len() as u64,
        }
    }
}

/// Where the decoder is between messages and frames (RFC 6455 §5.4).
#[derive(Clone, Copy, Debug)]
enum Assembly {
    /// No message is open: the next data frame must start one.
    Idle,
    /// A fragmented message is open and waits for its next frame.
    BetweenFrames,
    /// A data frame's payload is arriving.
    InFrame(DataFrame),
    /// A streamed message's last frame is in, and the extension that
    /// transformed it still has output to give (the piece before was full).
    Finishing,
}

/// What one call of [`Engine::receive`](crate::Engine::receive) did.
#[derive(Debug, PartialEq, Eq)]
pub struct Progress {
    /// How many input bytes were consumed; the caller drops them.
    pub used: usize,
    /// The message completed by those bytes, if any. `None` means the caller
    /// should read more input.
    pub message: Option<Message>,
}

impl Progress {
    /// Whether the message completed is one the receiver must answer: a
    /// Ping (§5.5.2) or a Close (§5.5.1).
    pub(crate) fn asks_an_answer(&self) -> bool {
        matches!(self.message, Some(Message::Ping(_) | Message::Close(_)))
    }
}

/// The kind of a data message (RFC 6455 §5.6): what its first frame's
/// opcode says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A text message: its payload is UTF-8 (checked as it arrives, §8.1).
    Text,
    /// A binary message.
    Binary,
}

impl MessageKind {
    /// The opcode of the message's first frame.
    pub(crate) fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A run of a data message's payload, read as it arrives rather than whole
/// (see [`Engine::receive_streamed`](crate::Engine::receive_streamed)).
/// Pieces follow the bytes that arrived, not the frames: a frame may come
/// in several pieces, and a piece never spans two messages. A text
/// message's pieces may cut a character in two; every byte given out has
/// been checked to begin valid UTF-8 (§8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The message's kind.
    pub kind: MessageKind,
    /// Whether this is the message's first piece.
    pub first: bool,
    /// Whether this is its last: the message is complete.
    pub last: bool,
    /// How many payload bytes it holds, at the start of the output given.
    pub len: usize,
}

/// What one call of [`Engine::receive_streamed`](crate::Engine::receive_streamed) did.
#[derive(Debug, PartialEq, Eq)]
pub struct Streamed {
    /// How many input bytes were consumed; the caller drops them.
    pub used: usize,
    /// What those bytes gave, if anything. `None` means the caller should
    /// read more input.
    pub event: Option<StreamEvent>,
}

/// What a streamed read gives: the next piece of a data message, or a
/// control frame whole.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// Payload bytes of a data message, in the output given.
    Piece(Piece),
    /// A Ping, Pong or Close, as [`Engine::receive`](crate::Engine::receive)
    /// returns it (and answered as it is).
    Control(Message),
}

impl Streamed {
    /// Whether the event is one the receiver must answer: a Ping (§5.5.2)
    /// or a Close (§5.5.1).
    pub(crate) fn asks_an_answer(&self) -> bool {
        matches!(
            self.event,
            Some(StreamEvent::Control(Message::Ping(_) | Message::Close(_)))
        )
    }
}

/// What [`MessageDecoder::decode_observed`] shows each frame header to, with
/// the start of the frame's payload.
pub(crate) type HeaderObserver<'a> = &'a mut dyn FnMut(&FrameHeader, &[u8]);

/// Turns received bytes into messages.
pub(crate) struct MessageDecoder {
    role: Role,
    limits: Limits,
    assembly: Assembly,
    message: PartialMessage,
    /// The RSV bits the negotiated extension owns, and its inbound side.
    extension: Option<(u8, Box<dyn InboundTransform>)>,
    /// An empty buffer to assemble the next message in, instead of a new
    /// allocation (see [`MessageDecoder::recycle`]).
    spare: Option<Vec<u8>>,
}

impl fmt::Debug for MessageDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageDecoder")
            .field("role", &self.role)
            .field("limits", &self.limits)
            .field("assembly", &self.assembly)
            .field("message", &self.message)
            .field("extension_rsv_bits", &self.extension.as_ref().map(|e| e.0))
            .finish()
    }
}

/// Capacity reserved for a new message before its bytes arrive: a peer cannot
/// make us allocate much more than it has sent.
const INITIAL_MESSAGE_CAPACITY: u64 = 64 << 10;

impl MessageDecoder {
    /// A decoder for the given role and limits, with no extension.
    pub(crate) fn new(role: Role, limits: Limits) -> MessageDecoder {
        MessageDecoder {
            role,
            limits,
            assembly: Assembly::Idle,
            message: PartialMessage::default(),
            extension: None,
            spare: None,
        }
    }

    /// Gives the decoder an empty buffer to assemble its next message in:
    /// a sent message's, once its bytes were copied out.
    #[inline]
    pub(crate) fn recycle(&mut self, buffer: Vec<u8>) {
        debug_assert!(buffer.is_empty());
        self.spare.get_or_insert(buffer);
    }

    /// Whether the decoder has a buffer for its next message.
    #[inline]
    pub(crate) fn has_spare(&self) -> bool {
        self.spare.is_some()
    }

    /// Gives back the buffer kept for the next message: for a connection
    /// gone quiet.
    pub(crate) fn release_spare(&mut self) {
        self.spare = None;
    }

    /// The bytes its buffers hold room for (the message being assembled,
    /// the spare), for tests of what a quiet connection keeps.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.message.data.capacity() + self.spare.as_ref().map_or(0, Vec::capacity)
    }

    /// A decoder that lets the extension owning `rsv_bits` undo its
    /// transform on the messages it marks (see [`crate::proto::extension`]).
    pub(crate) fn with_extension(
        role: Role,
        limits: Limits,
        rsv_bits: u8,
        inbound: Box<dyn InboundTransform>,
    ) -> MessageDecoder {
        MessageDecoder {
            extension: Some((rsv_bits, inbound)),
            ..MessageDecoder::new(role, limits)
        }
    }

    /// Consumes bytes from the start of `input` (unmasking them in place) and
    /// returns the next message if they complete one. Bytes of a data frame
    /// are consumed as they arrive; a control frame or frame header cut short
    /// is left in `input` for the next call. An error means the connection
    /// must be failed with [`ProtocolError::close_code`].
    ///
    /// A message whose pieces were being read ([`MessageDecoder::decode_streamed`])
    /// and left unfinished is read to its end and dropped first, under the
    /// same checks.
    pub(crate) fn decode(&mut self, input: &mut [u8]) -> Result<Progress, ProtocolError> {
        self.decode_frames(input, &mut None)
    }

    /// [`MessageDecoder::decode`], also showing `observe` every frame header
    /// once, with the start of the frame's payload, unmasked: all of a control
    /// frame's (reported once the frame is whole), and of a data frame's what
    /// arrived with its header, up to 125 bytes (reported as soon as the
    /// header is decoded, since its payload streams in). A header that breaks
    /// a rule is shown before the error is returned. This is for tracing;
    /// [`MessageDecoder::decode`] does none of this work.
    pub(crate) fn decode_observed(
        &mut self,
        input: &mut [u8],
        observe: HeaderObserver<'_>,
    ) -> Result<Progress, ProtocolError> {
        self.decode_frames(input, &mut Some(observe))
    }

    fn decode_frames(
        &mut self,
        input: &mut [u8],
        observe: &mut Option<HeaderObserver<'_>>,
    ) -> Result<Progress, ProtocolError> {
        let mut used = 0;
        if self.message.streamed.is_some() && !matches!(self.assembly, Assembly::Idle) {
            let (dropped, control) = self.drop_streamed_rest(input, observe)?;
            used = dropped;
            if control.is_some() || !matches!(self.assembly, Assembly::Idle) {
                return Ok(Progress {
                    used,
                    message: control,
                });
            }
        }
        loop {
            let open = match &mut self.assembly {
                Assembly::Idle => false,
                Assembly::BetweenFrames => true,
                Assembly::InFrame(frame) => {
                    let take = frame.remaining.min((input.len() - used) as u64) as usize;
                    unmask_ahead(frame, &mut input[used..used + take]);
                    let chunk = &input[used..used + take];
                    used += take;
                    frame.done += take as u64;
                    frame.remaining -= take as u64;
                    let (frame_done, fin) = (frame.remaining == 0, frame.fin);
                    self.take_payload(chunk, frame_done && fin)?;
                    if !frame_done {
                        return Ok(Progress {
                            used,
                            message: None,
                        });
                    }
                    if fin {
                        self.assembly = Assembly::Idle;
                        let message = Some(self.finish_message()?);
                        return Ok(Progress { used, message });
                    }
                    self.assembly = Assembly::BetweenFrames;
                    continue;
                }
                // Only a streamed message finishes in pieces; it was dropped above.
                Assembly::Finishing => false,
            };
            match self.start_frame(input, used, open, Reading::Whole, observe)? {
                FrameStart::NeedMore | FrameStart::ControlAfterPiece => {
                    return Ok(Progress {
                        used,
                        message: None,
                    });
                }
                FrameStart::Control { message, end } => {
                    return Ok(Progress {
                        used: end,
                        message: Some(message),
                    });
                }
                FrameStart::Data { end } => used = end,
            }
        }
    }

    /// Like [`MessageDecoder::decode`], but a data message's payload is not
    /// assembled: its bytes go into `out` as they arrive (inflated, if the
    /// extension transformed the message), and come back as a [`Piece`] as
    /// soon as `out` is full, the input runs out, the message ends or a
    /// control frame comes next. Control frames come back whole, as
    /// [`StreamEvent::Control`]. The message limit counts the bytes given
    /// out; a text message's are checked as UTF-8 before they are (§8.1).
    ///
    /// With an empty `out`, a message's first piece is returned as soon as
    /// its first frame's header is in, holding no bytes: its kind.
    pub(crate) fn decode_streamed(
        &mut self,
        input: &mut [u8],
        out: &mut [u8],
        observe: &mut Option<HeaderObserver<'_>>,
    ) -> Result<Streamed, ProtocolError> {
        if matches!(self.assembly, Assembly::Idle) && observe.is_none() {
            if let Some(streamed) = self.decode_one_frame_message(input, out)? {
                return Ok(streamed);
            }
        }
        let mut used = 0;
        let mut filled = 0;
        if self.message.streamed.is_none() && !matches!(self.assembly, Assembly::Idle) {
            self.stream_assembled_so_far();
        }
        if self.give_assembled(out, &mut filled) {
            return Ok(self.piece(used, filled, out.len()));
        }
        loop {
            let open = match &mut self.assembly {
                Assembly::Idle => false,
                Assembly::BetweenFrames => true,
                Assembly::Finishing => {
                    if !self.finish_streamed(out, &mut filled)? {
                        return Ok(self.piece(used, filled, out.len()));
                    }
                    self.assembly = Assembly::Idle;
                    return self.last_piece(used, filled);
                }
                Assembly::InFrame(frame) => {
                    let mut frame = *frame;
                    let room = self.room(out.len() - filled);
                    if room == 0 {
                        // `out` is full (or was given empty, to learn the kind).
                        return Ok(self.piece(used, filled, out.len()));
                    }
                    let avail = frame.remaining.min((input.len() - used) as u64) as usize;
                    unmask_ahead(&mut frame, &mut input[used..used + avail]);
                    let chunk = &input[used..used + avail];
                    let (take, drained) =
                        self.give_payload(chunk, &mut out[filled..filled + room], &mut filled)?;
                    used += take;
                    frame.done += take as u64;
                    frame.remaining -= take as u64;
                    self.assembly = Assembly::InFrame(frame);
                    if frame.remaining > 0 || !drained {
                        // The input ran out, or `out` is full.
                        return Ok(self.piece(used, filled, out.len()));
                    }
                    if !frame.fin {
                        self.assembly = Assembly::BetweenFrames;
                        continue;
                    }
                    if self.message.transformed {
                        self.assembly = Assembly::Finishing;
                        continue;
                    }
                    self.assembly = Assembly::Idle;
                    return self.last_piece(used, filled);
                }
            };
            let piece_waits = self.message.streamed.is_some_and(|s| !s.announced) || filled > 0;
            let reading = Reading::Pieces { piece_waits };
            match self.start_frame(input, used, open, reading, observe)? {
                FrameStart::NeedMore | FrameStart::ControlAfterPiece => {
                    return Ok(self.piece(used, filled, out.len()));
                }
                FrameStart::Control { message, end } => {
                    return Ok(Streamed {
                        used: end,
                        event: Some(StreamEvent::Control(message)),
                    });
                }
                FrameStart::Data { end } => used = end,
            }
        }
    }

    /// Whether a streamed read could give something with no more input: a
    /// message whose extension may still hold output (a piece that filled
    /// its room leaves the rest inside the extension), or one a
    /// whole-message read began (see [`MessageDecoder::decode_streamed`]).
    pub(crate) fn gives_without_input(&self) -> bool {
        match self.assembly {
            Assembly::Finishing => true,
            Assembly::Idle => false,
            Assembly::BetweenFrames | Assembly::InFrame(_) => {
                self.message.transformed || self.message.streamed.is_none()
            }
        }
    }

    /// The common case of a streamed read, taken without opening a message:
    /// a whole data message in one frame (FIN set, no extension bits), all
    /// of it in `input` and fitting in `out`. Its payload is copied into
    /// `out` and unmasked there (§5.3), a text's UTF-8 checked whole (§8.1),
    /// and it comes back as one piece, first and last. `None` when the input
    /// holds anything else: the general path takes it, header and all.
    #[inline]
    fn decode_one_frame_message(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Streamed>, ProtocolError> {
        let Ok(Decoded::Complete(header, header_len)) = FrameHeader::decode(input) else {
            return Ok(None);
        };
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => return Ok(None),
        };
        let len = header.payload_len;
        let whole = len <= (input.len() - header_len) as u64 && len <= out.len() as u64;
        if !header.fin || header.rsv != 0 || !whole || len > self.limits.max_message_size {
            return Ok(None);
        }
        self.check_header(&header)?;
        let len = len as usize;
        let payload = &mut out[..len];
        payload.copy_from_slice(&input[header_len..header_len + len]);
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        // RFC 6455 §8.1: the whole message is here, so its first invalid
        // byte is too.
        if kind == MessageKind::Text && std::str::from_utf8(payload).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        let piece = Piece {
            kind,
            first: true,
            last: true,
            len,
        };
        Ok(Some(Streamed {
            used: header_len + len,
            event: Some(StreamEvent::Piece(piece)),
        }))
    }

    /// What a streamed read returns when it stops before the message's end:
    /// the piece so far if there is one to give (bytes, the message's start
    /// not yet announced, or an `out` with no room, which asks for room),
    /// else nothing.
    #[inline]
    fn piece(&mut self, used: usize, filled: usize, out_len: usize) -> Streamed {
        let event = match &mut self.message.streamed {
            Some(streamed) if filled > 0 || !streamed.announced || filled == out_len => {
                let first = !streamed.announced;
                streamed.announced = true;
                Some(StreamEvent::Piece(Piece {
                    kind: streamed.kind,
                    first,
                    last: false,
                    len: filled,
                }))
            }
            _ => None,
        };
        Streamed { used, event }
    }

    /// The piece that ends a streamed message: a text's last character is
    /// checked complete (§8.1), and the decoder is ready for the next message.
    #[inline]
    fn last_piece(&mut self, used: usize, filled: usize) -> Result<Streamed, ProtocolError> {
        let message = std::mem::take(&mut self.message);
        if let Some(mut validator) = message.text {
            // §8.1: a character cut short at the end of the message is invalid.
            validator.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        let streamed = message
            .streamed
            .expect("a streamed read only ends streamed messages");
        Ok(Streamed {
            used,
            event: Some(StreamEvent::Piece(Piece {
                kind: streamed.kind,
                first: !streamed.announced,
                last: true,
                len: filled,
            })),
        })
    }

    /// How many more bytes a streamed message may give into `room` bytes of
    /// output: up to one past the message limit, so that passing it is seen
    /// at the byte that passes it.
    #[inline]
    fn room(&self, room: usize) -> usize {
        let left = self
            .limits
            .max_message_size
            .saturating_sub(self.message.len())
            .saturating_add(1);
        room.min(usize::try_from(left).unwrap_or(usize::MAX))
    }

    /// Gives the payload bytes in `chunk` (unmasked) into `out`, through the
    /// extension if it transformed the message, checking text and the limit.
    /// Returns how many bytes of `chunk` it used, and whether nothing is left
    /// to give from them (the extension holds no output back).
    #[inline]
    fn give_payload(
        &mut self,
        chunk: &[u8],
        out: &mut [u8],
        filled: &mut usize,
    ) -> Result<(usize, bool), ProtocolError> {
        let limit = self.limits.max_message_size;
        let message = &mut self.message;
        let given_before = message.len();
        let mut check = limited_check(&mut message.text, given_before, limit);
        let (used, given, drained) = match &mut self.extension {
            Some((_, inbound)) if message.transformed => {
                let (used, given) = inbound.feed(chunk, out, &mut check)?;
                (used, given, given < out.len())
            }
            Some(_) | None => {
                let take = chunk.len().min(out.len());
                // RFC 6455 §8.1: invalid UTF-8 fails the connection as soon as it is seen.
                check(&chunk[..take])?;
                out[..take].copy_from_slice(&chunk[..take]);
                (take, take, true)
            }
        };
        drop(check);
        self.count_given(given)?;
        *filled += given;
        Ok((used, drained))
    }

    /// Gives what the extension still holds of a streamed message whose
    /// last frame is in; returns whether it is all out.
    fn finish_streamed(
        &mut self,
        out: &mut [u8],
        filled: &mut usize,
    ) -> Result<bool, ProtocolError> {
        let room = self.room(out.len() - *filled);
        if room == 0 {
            return Ok(false);
        }
        let limit = self.limits.max_message_size;
        let message = &mut self.message;
        let given_before = message.len();
        let mut check = limited_check(&mut message.text, given_before, limit);
        let Some((_, inbound)) = &mut self.extension else {
            return Ok(true);
        };
        let (given, done) = inbound.finish(&mut out[*filled..*filled + room], &mut check)?;
        drop(check);
        self.count_given(given)?;
        *filled += given;
        Ok(done)
    }

    /// Counts `given` more bytes of a streamed message against the limit.
    #[inline]
    fn count_given(&mut self, given: usize) -> Result<(), ProtocolError> {
        let max = self.limits.max_message_size;
        let streamed = self
            .message
            .streamed
            .as_mut()
            .expect("only streamed messages give pieces");
        streamed.given += given as u64;
        // §10.4: the limit, counted on what the message decodes to.
        if streamed.given > max {
            return Err(ProtocolError::MessageTooLarge {
                len: streamed.given,
                max,
            });
        }
        Ok(())
    }

    /// A message begun by a whole-message read and continued in pieces: what
    /// was assembled becomes its first pieces.
    #[cold]
    fn stream_assembled_so_far(&mut self) {
        let kind = match self.message.text {
            Some(_) => MessageKind::Text,
            None => MessageKind::Binary,
        };
        self.message.streamed = Some(StreamedMessage {
            kind,
            given: 0,
            announced: false,
        });
    }

    /// Gives what a whole-message read had assembled of a message now
    /// streamed (see [`MessageDecoder::stream_assembled_so_far`]) into `out`;
    /// returns whether bytes of it are left once `out` is full.
    fn give_assembled(&mut self, out: &mut [u8], filled: &mut usize) -> bool {
        let message = &mut self.message;
        let Some(streamed) = message.streamed.as_mut() else {
            return false;
        };
        if message.data.is_empty() {
            return false;
        }
        let at = streamed.given as usize;
        let take = (message.data.len() - at).min(out.len());
        out[..take].copy_from_slice(&message.data[at..at + take]);
        streamed.given += take as u64;
        *filled += take;
        if at + take < message.data.len() {
            return true;
        }
        message.data = Vec::new();
        false
    }

    /// Reads the rest of a streamed message left unfinished, dropping its
    /// bytes under the same checks. Returns how much input it used, and a
    /// control frame if one came first; the message is over once the
    /// assembly is idle.
    #[cold]
    #[inline(never)]
    fn drop_streamed_rest(
        &mut self,
        input: &mut [u8],
        observe: &mut Option<HeaderObserver<'_>>,
    ) -> Result<(usize, Option<Message>), ProtocolError> {
        let mut scratch = vec![0; INFLATE_STEP];
        let mut used = 0;
        loop {
            let streamed = self.decode_streamed(&mut input[used..], &mut scratch, observe)?;
            used += streamed.used;
            match streamed.event {
                Some(StreamEvent::Control(message)) => return Ok((used, Some(message))),
                Some(StreamEvent::Piece(piece)) if piece.last => return Ok((used, None)),
                Some(StreamEvent::Piece(piece)) if piece.len > 0 => {}
                Some(StreamEvent::Piece(_)) | None => return Ok((used, None)),
            }
        }
    }

    /// Decodes the frame header at `input[used..]` and acts on it: checks it,
    /// applies the fragmentation rules (§5.4), decodes a control frame once
    /// whole, or opens the data frame whose payload follows. With
    /// `piece_waits`, a streamed piece must be returned before a control
    /// frame is (it is left in the input for the next call).
    #[inline]
    fn start_frame(
        &mut self,
        input: &mut [u8],
        used: usize,
        open: bool,
        reading: Reading,
        observe: &mut Option<HeaderObserver<'_>>,
    ) -> Result<FrameStart, ProtocolError> {
        let (header, header_len) = match FrameHeader::decode(&input[used..])? {
            Decoded::Complete(header, len) => (header, len),
            Decoded::NeedMore => return Ok(FrameStart::NeedMore),
        };
        let checked = self.check_header(&header);
        if let Some(observe) = observe.as_mut() {
            if checked.is_err() || !header.opcode.is_control() {
                observe_payload_start(*observe, &header, &input[used + header_len..]);
            }
        }
        checked?;

        // RFC 6455 §5.4: the fragmentation rules, one case per (opcode, message open?).
        match (header.opcode, open) {
            (control @ (OpCode::Close | OpCode::Ping | OpCode::Pong), _) => {
                // §5.4: control frames MAY be injected in the middle of a
                // fragmented message. They are small, so wait until whole.
                let end = used + header_len + header.payload_len as usize;
                if input.len() < end {
                    return Ok(FrameStart::NeedMore);
                }
                if let Reading::Pieces { piece_waits: true } = reading {
                    return Ok(FrameStart::ControlAfterPiece);
                }
                let payload = &mut input[used + header_len..end];
                if let Some(key) = header.mask {
                    apply_mask(payload, key, 0);
                }
                if let Some(observe) = observe.as_mut() {
                    observe(&header, payload);
                }
                let message = match control {
                    OpCode::Ping => Message::Ping(payload.to_vec()),
                    OpCode::Pong => Message::Pong(payload.to_vec()),
                    _ => Message::Close(CloseFrame::decode(payload)?),
                };
                return Ok(FrameStart::Control { message, end });
            }
            (OpCode::Continuation, false) => {
                return Err(ProtocolError::ContinuationWithoutMessage);
            }
            (OpCode::Text | OpCode::Binary, true) => {
                return Err(ProtocolError::DataFrameInsideMessage(header.opcode));
            }
            (kind @ (OpCode::Text | OpCode::Binary), false) => {
                let transformed = match &mut self.extension {
                    Some((_, inbound)) if header.rsv != 0 => inbound.begin(header.rsv),
                    Some(_) | None => false,
                };
                let kind = match kind {
                    OpCode::Text => MessageKind::Text,
                    _ => MessageKind::Binary,
                };
                self.open_message(kind, transformed, header.payload_len, reading);
            }
            (OpCode::Continuation, true) => {}
        }
        // §10.4: a transformed message is held to the limit as it is
        // decoded instead (its frames' sizes say nothing of what they
        // decode to).
        let message_len = self.message.len() + header.payload_len;
        if !self.message.transformed && message_len > self.limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                len: message_len,
                max: self.limits.max_message_size,
            });
        }
        self.assembly = Assembly::InFrame(DataFrame {
            fin: header.fin,
            mask: header.mask,
            done: 0,
            unmasked: 0,
            remaining: header.payload_len,
        });
        Ok(FrameStart::Data {
            end: used + header_len,
        })
    }

    /// Opens a data message of `kind` whose first frame announces
    /// `first_frame_len` payload bytes: its buffer, for a whole-message read
    /// (a recycled one if there is one), or its count of bytes given, for a
    /// streamed one.
    #[inline]
    fn open_message(
        &mut self,
        kind: MessageKind,
        transformed: bool,
        first_frame_len: u64,
        reading: Reading,
    ) {
        let text = (kind == MessageKind::Text).then(Utf8Validator::new);
        self.message = match reading {
            Reading::Whole => {
                let capacity = first_frame_len.min(INITIAL_MESSAGE_CAPACITY) as usize;
                let data = match self.spare.take() {
                    Some(mut spare) => {
                        spare.reserve(capacity);
                        spare
                    }
                    None => Vec::with_capacity(capacity),
                };
                PartialMessage {
                    data,
                    text,
                    transformed,
                    streamed: None,
                }
            }
            Reading::Pieces { .. } => PartialMessage {
                data: Vec::new(),
                text,
                transformed,
                streamed: Some(StreamedMessage {
                    kind,
                    given: 0,
                    announced: false,
                }),
            },
        };
    }

    /// Adds received payload bytes (unmasked) to the message, through the
    /// extension if it transformed the message, checking text as it grows.
    #[inline]
    fn take_payload(&mut self, chunk: &[u8], last: bool) -> Result<(), ProtocolError> {
        let message = &mut self.message;
        match &mut self.extension {
            Some((_, inbound)) if message.transformed => {
                // The extension shows what it decodes to `check` as it comes
                // out, before the message limit is applied to it.
                let limit = self.limits.max_message_size;
                let data = &mut message.data;
                let mut check = limited_check(&mut message.text, data.len() as u64, limit);
                let mut used = 0;
                grow_through(data, limit, |room| {
                    let (took, given) = inbound.feed(&chunk[used..], room, &mut check)?;
                    used += took;
                    Ok((given, used == chunk.len() && given < room.len()))
                })?;
                if last {
                    grow_through(data, limit, |room| inbound.finish(room, &mut check))?;
                }
                Ok(())
            }
            Some(_) | None => {
                // RFC 6455 §8.1: invalid UTF-8 fails the connection as soon as it is seen.
                if let Some(validator) = &mut message.text {
                    validator
                        .feed(chunk)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                message.data.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    /// The message whose last frame is in, taken out of the decoder.
    fn finish_message(&mut self) -> Result<Message, ProtocolError> {
        let message = std::mem::take(&mut self.message);
        match message.text {
            Some(mut validator) => {
                // §8.1: a character cut short at the end of the message is invalid.
                validator.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                let text =
                    String::from_utf8(message.data).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Message::Text(text))
            }
            None => Ok(Message::Binary(message.data)),
        }
    }

    /// The checks that depend on the connection rather than the header alone.
    fn check_header(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        // RFC 6455 §5.2: "RSV1, RSV2, RSV3: MUST be 0 unless an extension is
        // negotiated that defines meanings for non-zero values." A
        // per-message extension's bits belong on the first frame of a data
        // message only (RFC 7692 §6).
        if header.rsv != 0 {
            let owned = self.extension.as_ref().map_or(0, |(bits, _)| *bits);
            if header.rsv & !owned != 0 {
                return Err(ProtocolError::ReservedBitsSet(header.rsv & !owned));
            }
            if !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
                return Err(ProtocolError::ExtensionBitsNotOnFirstFrame {
                    bits: header.rsv,
                    opcode: header.opcode,
                });
            }
        }
        // RFC 6455 §5.1: "The server MUST close the connection upon receiving
        // a frame that is not masked" and "A client MUST close a connection if
        // it detects a masked frame."
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedClientFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedServerFrame),
            (Role::Server, true) | (Role::Client, false) => {}
        }
        // RFC 6455 §10.4: an implementation SHOULD impose a limit on frame size.
        if header.payload_len > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.limits.max_frame_size,
            });
        }
        Ok(())
    }
}

/// Shows `observe` a header and the start of its payload in `after_header`
/// (up to 125 bytes of what has arrived), unmasked in a copy.
fn observe_payload_start(observe: HeaderObserver<'_>, header: &FrameHeader, after_header: &[u8]) {
    let mut start = [0u8; MAX_CONTROL_PAYLOAD];
    let len = after_header
        .len()
        .min(MAX_CONTROL_PAYLOAD)
        .min(usize::try_from(header.payload_len).unwrap_or(usize::MAX));
    start[..len].copy_from_slice(&after_header[..len]);
    if let Some(key) = header.mask {
        apply_mask(&mut start[..len], key, 0);
    }
    observe(header, &start[..len]);
}

/// How a read takes a data message: whole, or in pieces (with a piece
/// held back to be returned before the next control frame is).
#[derive(Clone, Copy, Debug)]
enum Reading {
    Whole,
    Pieces { piece_waits: bool },
}

/// What the frame header at the decoder's position started.
enum FrameStart {
    /// The header, or the control frame it starts, is cut short.
    NeedMore,
    /// A whole control frame, which a piece must be returned before.
    ControlAfterPiece,
    /// A whole control frame, decoded; it ends at `end` in the input.
    Control { message: Message, end: usize },
    /// A data frame, whose payload starts at `end` in the input.
    Data { end: usize },
}

/// How much output room an extension is given at a time when a message is
/// read whole, and the scratch room a dropped streamed message is read into.
const INFLATE_STEP: usize = 16 << 10;

/// Unmasks the bytes of `chunk` (the frame's payload from its next
/// unconsumed byte on) that are not unmasked yet (RFC 6455 §5.3).
#[inline]
fn unmask_ahead(frame: &mut DataFrame, chunk: &mut [u8]) {
    let Some(key) = frame.mask else {
        return;
    };
    let ahead = (frame.unmasked - frame.done) as usize;
    if chunk.len() > ahead {
        apply_mask(&mut chunk[ahead..], key, frame.unmasked as usize);
        frame.unmasked = frame.done + chunk.len() as u64;
    }
}

/// A message's check of what its extension decodes, for text its UTF-8
/// (RFC 6455 §8.1), applied to the bytes up to the message limit only
/// (`given` bytes came before): past it, the limit decides.
fn limited_check(
    text: &mut Option<Utf8Validator>,
    mut given: u64,
    limit: u64,
) -> impl FnMut(&[u8]) -> Result<(), ProtocolError> + '_ {
    move |bytes| {
        let within = limit.saturating_sub(given).min(bytes.len() as u64) as usize;
        given += bytes.len() as u64;
        match text {
            Some(validator) => validator
                .feed(&bytes[..within])
                .map_err(|_| ProtocolError::InvalidUtf8),
            None => Ok(()),
        }
    }
}

/// Runs `step` on fresh room at the end of `data` until it says it is done
/// (it returns how many bytes it wrote there and whether it is done). The
/// room grows as a `Vec` does, a step at a time, but never past one byte
/// over `limit`: a small frame that inflates to a bomb cannot make us hold
/// more than the limit.
fn grow_through(
    data: &mut Vec<u8>,
    limit: u64,
    mut step: impl FnMut(&mut [u8]) -> Result<(usize, bool), ProtocolError>,
) -> Result<(), ProtocolError> {
    let most = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    loop {
        if data.len() == data.capacity() {
            let target = (data.capacity() * 2)
                .max(data.len() + INFLATE_STEP)
                .min(most);
            data.reserve_exact(target.saturating_sub(data.len()).max(1));
        }
        let start = data.len();
        let room = (data.capacity() - start).min(INFLATE_STEP);
        data.resize(start + room, 0);
        let stepped = step(&mut data[start..]);
        let written = stepped.as_ref().map_or(0, |(written, _)| *written);
        data.truncate(start + written);
        let (_, done) = stepped?;
        if data.len() as u64 > limit {
            return Err(ProtocolError::MessageTooLarge {
                len: data.len() as u64,
                max: limit,
            });
        }
        if done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_conveniences_say_what_a_message_holds() {
        let text = Message::from("héllo");
        assert_eq!(text, Message::text(String::from("héllo")));
        assert!(text.is_text() && text.is_data() && !text.is_binary());
        assert_eq!(text.as_text(), Some("héllo"));
        assert_eq!(text.as_bytes(), "héllo".as_bytes());
        assert_eq!(text.len(), 6);
        assert_eq!(text.clone().into_text(), Ok("héllo".to_owned()));
        assert_eq!(text.into_data(), "héllo".as_bytes());

        let binary = Message::from(vec![0xff, 1]);
        assert_eq!(binary, Message::binary(&[0xff, 1][..]));
        assert!(binary.is_binary() && binary.as_text().is_none());
        assert_eq!(binary.clone().into_text(), Err(binary.clone()));
        assert_eq!(Message::binary(*b"ok").into_text(), Ok("ok".to_owned()));

        let close = Message::Close(Some(CloseFrame {
            code: crate::proto::close::CloseCode::NORMAL,
            reason: "bye".to_owned(),
        }));
        assert!(close.is_close() && !close.is_data());
        assert_eq!(close.as_bytes(), b"");
        assert_eq!(close.len(), 5);
        assert_eq!(close.into_data(), [0x03, 0xe8, b'b', b'y', b'e']);
        assert!(Message::Close(None).is_empty());
        assert!(Message::Ping(vec![1]).is_ping() && Message::Pong(vec![]).is_pong());
    }
    use crate::proto::frame::FrameHeader;

    /// Feeds `wire` to a decoder in pieces of `step` bytes, the way a
    /// connection does, and returns the messages and the observed headers.
    fn decode_in_steps(
        role: Role,
        wire: &[u8],
        step: usize,
    ) -> (Vec<Message>, Vec<(FrameHeader, Vec<u8>)>) {
        let mut decoder = MessageDecoder::new(role, Limits::default());
        let (mut messages, mut seen) = (Vec::new(), Vec::new());
        let mut buffer = Vec::new();
        for piece in wire.chunks(step) {
            buffer.extend_from_slice(piece);
            loop {
                let progress = decoder
                    .decode_observed(&mut buffer, &mut |header, start| {
                        seen.push((*header, start.to_vec()))
                    })
                    .unwrap();
                buffer.drain(..progress.used);
                match progress.message {
                    Some(message) => messages.push(message),
                    None => break,
                }
            }
        }
        (messages, seen)
    }

    /// RFC 6455 §5.7: "Hel", a ping, then "lo", as a server sends them.
    fn fragmented_with_ping() -> Vec<u8> {
        let mut wire = vec![0x01, 0x03, 0x48, 0x65, 0x6c];
        wire.extend_from_slice(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        wire.extend_from_slice(&[0x80, 0x02, 0x6c, 0x6f]);
        wire
    }

    #[test]
    fn observed_decoding_reports_each_header_once_however_the_bytes_arrive() {
        let wire = fragmented_with_ping();
        let (expected, _) = decode_in_steps(Role::Client, &wire, wire.len());
        assert_eq!(
            expected,
            [
                Message::Ping(b"Hello".to_vec()),
                Message::Text("Hello".into())
            ]
        );
        for step in 1..=wire.len() {
            let (messages, seen) = decode_in_steps(Role::Client, &wire, step);
            assert_eq!(messages, expected, "step {step}");
            let opcodes: Vec<OpCode> = seen.iter().map(|(h, _)| h.opcode).collect();
            assert_eq!(
                opcodes,
                [OpCode::Text, OpCode::Ping, OpCode::Continuation],
                "step {step}"
            );
            // A control frame is reported whole; a data frame with what came with it.
            assert_eq!(seen[1].1, b"Hello");
            assert!(b"Hel".starts_with(&seen[0].1), "step {step}");
        }
    }

    #[test]
    fn observed_payload_start_is_unmasked() {
        let mut wire = Vec::new();
        FrameHeader::new(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
            .encode_frame(b"Hello", &mut wire);
        let (_, seen) = decode_in_steps(Role::Server, &wire, wire.len());
        assert_eq!(seen[0].0.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(seen[0].1, b"Hello");
    }

    #[test]
    fn observed_payload_start_is_at_most_125_bytes() {
        let mut wire = Vec::new();
        FrameHeader::new(true, OpCode::Binary, None, 1000).encode_frame(&[7; 1000], &mut wire);
        let (_, seen) = decode_in_steps(Role::Client, &wire, wire.len());
        assert_eq!(seen[0].1, [7; 125]);
    }

    #[test]
    fn a_header_breaking_a_rule_is_observed_before_the_error() {
        let mut decoder = MessageDecoder::new(Role::Client, Limits::default());
        let mut seen = Vec::new();
        let mut wire = [0xC1, 0x02, b'h', b'i'];
        let result = decoder.decode_observed(&mut wire, &mut |header, start| {
            seen.push((header.rsv, start.to_vec()))
        });
        assert_eq!(result, Err(ProtocolError::ReservedBitsSet(0b100)));
        assert_eq!(seen, [(0b100, b"hi".to_vec())]);
    }
}
