//! What the inspector saw, as values: one [`Event`] per connection opened,
//! opening handshake, frame, message, violation and end. The live view
//! prints them, `--record` writes each as one line of JSON, `--replay`
//! reads those lines back, and the page gets them over a WebSocket. The
//! format is documented in the README ("Watching real traffic").

use serde::{Deserialize, Serialize};

/// The most payload bytes a frame event carries: a large frame is shown by
/// its first bytes, and its length.
pub(crate) const FRAME_BYTES_SHOWN: usize = 4096;

/// The most bytes of a message an event carries: its text, or its data.
pub(crate) const MESSAGE_BYTES_SHOWN: usize = 64 << 10;

/// An end of the connection: the one that sent a frame, or broke a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Side {
    /// The end that connected to the inspector.
    Client,
    /// The upstream server.
    Server,
}

impl Side {
    /// The other end.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// `client` or `server`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// One thing the inspector saw, tagged by `kind` in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Event {
    /// A client connected.
    Connection(Connection),
    /// The opening handshake: the request and the upstream's answer.
    Handshake(Box<Handshake>),
    /// One frame, as it went over the wire.
    Frame(Frame),
    /// One message, whole: a data message's fragments together, inflated,
    /// or a control frame's payload read.
    Message(MessageSeen),
    /// A rule of RFC 6455 or RFC 7692 that one side broke.
    Violation(Violation),
    /// The connection ended.
    End(End),
    /// This output fell behind and dropped `count` events since the last
    /// it wrote.
    Dropped(Dropped),
}

/// A client connected to the inspector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Connection {
    /// The connection's number, from 1.
    pub(crate) conn: u64,
    /// Seconds since the inspector started.
    pub(crate) t: f64,
    /// The client's address.
    pub(crate) client: String,
    /// The upstream URL it is relayed to.
    pub(crate) upstream: String,
}

/// The opening handshake (RFC 6455 §4): the request as the client sent it
/// and what of it was changed, and the response as the server sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Handshake {
    /// The connection's number.
    pub(crate) conn: u64,
    /// Seconds since the inspector started.
    pub(crate) t: f64,
    /// The client's request.
    pub(crate) request: RequestSeen,
    /// The server's answer; `None` if none came.
    pub(crate) response: Option<ResponseSeen>,
    /// The subprotocol the 101 agreed on.
    pub(crate) subprotocol: Option<String>,
    /// The permessage-deflate parameters the 101 agreed on (RFC 7692 §7).
    pub(crate) deflate: Option<DeflateSeen>,
}

/// An HTTP request head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RequestSeen {
    /// The request line, as sent: `GET /chat HTTP/1.1`.
    pub(crate) line: String,
    /// The header fields, in order, as sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The request line as forwarded: a target of `/` becomes the upstream
    /// URL's path.
    pub(crate) forwarded_line: String,
    /// The `Host` value forwarded: the upstream's.
    pub(crate) forwarded_host: String,
}

/// An HTTP response head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ResponseSeen {
    /// The status line: `HTTP/1.1 101 Switching Protocols`.
    pub(crate) line: String,
    /// The status code.
    pub(crate) status: u16,
    /// The header fields, in order.
    pub(crate) headers: Vec<(String, String)>,
}

/// The permessage-deflate parameters agreed (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeflateSeen {
    /// §7.1.1.1: the server starts each message with an empty window.
    pub(crate) server_no_context_takeover: bool,
    /// §7.1.1.2: the client starts each message with an empty window.
    pub(crate) client_no_context_takeover: bool,
    /// §7.1.2.1: the server's window, in bits.
    pub(crate) server_max_window_bits: u8,
    /// §7.1.2.2: the client's window, in bits.
    pub(crate) client_max_window_bits: u8,
}

/// One frame as it went over the wire (RFC 6455 §5.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Frame {
    /// The connection's number.
    pub(crate) conn: u64,
    /// Who sent it.
    pub(crate) from: Side,
    /// Seconds since the inspector started, when its header arrived.
    pub(crate) t: f64,
    /// FIN: the last fragment of its message.
    pub(crate) fin: bool,
    /// RSV1: with permessage-deflate, the message is compressed.
    pub(crate) rsv1: bool,
    /// RSV2.
    pub(crate) rsv2: bool,
    /// RSV3.
    pub(crate) rsv3: bool,
    /// The opcode, reserved ones too.
    pub(crate) opcode: u8,
    /// MASK.
    pub(crate) masked: bool,
    /// The masking key, as 8 hex digits.
    #[serde(with = "hex_key")]
    pub(crate) key: Option<[u8; 4]>,
    /// The payload length.
    pub(crate) length: u64,
    /// The field that carried it: `7-bit`, `16-bit` or `64-bit`.
    pub(crate) length_field: String,
    /// The header's bytes.
    #[serde(with = "hex_bytes")]
    pub(crate) header_hex: Vec<u8>,
    /// The payload's first bytes as on the wire (masked, if it is), at most
    /// [`FRAME_BYTES_SHOWN`].
    #[serde(with = "hex_bytes")]
    pub(crate) payload_hex: Vec<u8>,
    /// How many bytes `payload_hex` holds.
    pub(crate) payload_shown: usize,
}

/// The kind of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MessageType {
    /// A text message (opcode 0x1).
    Text,
    /// A binary message (0x2).
    Binary,
    /// A Ping (0x9).
    Ping,
    /// A Pong (0xA).
    Pong,
    /// A Close (0x8).
    Close,
}

/// One message, whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct MessageSeen {
    /// The connection's number.
    pub(crate) conn: u64,
    /// Who sent it.
    pub(crate) from: Side,
    /// Seconds since the inspector started, when its last frame ended.
    pub(crate) t: f64,
    /// What it is.
    #[serde(rename = "type")]
    pub(crate) message_type: MessageType,
    /// Compressed with permessage-deflate (RSV1 on its first frame).
    pub(crate) compressed: bool,
    /// How many frames carried it.
    pub(crate) frames: u64,
    /// The bytes of payload its frames carried.
    pub(crate) wire_length: u64,
    /// Its length: unmasked, inflated.
    pub(crate) length: u64,
    /// A text message's text, or a Close's reason, at most
    /// [`MESSAGE_BYTES_SHOWN`] bytes of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    /// Any other message's payload, at most [`MESSAGE_BYTES_SHOWN`] bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_bytes_option"
    )]
    pub(crate) data_hex: Option<Vec<u8>>,
    /// The text or the data shown is the message's start only.
    pub(crate) truncated: bool,
    /// A Close's status code (RFC 6455 §7.4), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) close_code: Option<u16>,
}

/// A rule one side broke.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Violation {
    /// The connection's number.
    pub(crate) conn: u64,
    /// Seconds since the inspector started.
    pub(crate) t: f64,
    /// Who broke it.
    pub(crate) by: Side,
    /// The RFC and section: `RFC 6455 §5.1`.
    pub(crate) rfc: String,
    /// The close code a strict receiver fails the connection with.
    pub(crate) close_code: Option<u16>,
    /// The status a strict server refuses a bad request with.
    pub(crate) status: Option<u16>,
    /// What was wrong.
    pub(crate) what: String,
}

/// The connection ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct End {
    /// The connection's number.
    pub(crate) conn: u64,
    /// Seconds since the inspector started.
    pub(crate) t: f64,
    /// How: the closing handshake and who closed TCP, or an error.
    pub(crate) how: String,
}

/// An output dropped events it could not keep up with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Dropped {
    /// Seconds since the inspector started.
    pub(crate) t: f64,
    /// How many since the last event it wrote.
    pub(crate) count: u64,
}

impl Event {
    /// The event as one line of JSON, without the newline.
    pub(crate) fn to_json(&self) -> String {
        // Every field serializes: strings, numbers, booleans and byte
        // vectors as hex.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"kind\":\"error\",\"what\":\"{e}\"}}"))
    }

    /// Roughly the bytes the event holds: what an output's queue counts.
    pub(crate) fn weight(&self) -> usize {
        const FIELDS: usize = 128;
        FIELDS
            + match self {
                Event::Frame(frame) => frame.payload_hex.len(),
                Event::Message(message) => {
                    message.text.as_ref().map_or(0, String::len)
                        + message.data_hex.as_ref().map_or(0, Vec::len)
                }
                Event::Handshake(handshake) => {
                    let fields = |headers: &[(String, String)]| {
                        headers
                            .iter()
                            .map(|(n, v)| n.len() + v.len())
                            .sum::<usize>()
                    };
                    fields(&handshake.request.headers)
                        + handshake
                            .response
                            .as_ref()
                            .map_or(0, |r| fields(&r.headers))
                }
                Event::Connection(_) | Event::Violation(_) | Event::End(_) | Event::Dropped(_) => 0,
            }
    }

    /// An event read back from one line of JSON.
    pub(crate) fn from_json(line: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// Bytes as lowercase hex, without separators.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

/// Hex without separators back to bytes.
pub(crate) fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    if hex.len() % 2 != 0 {
        return Err(format!("odd number of hex digits: {}", hex.len()));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("not hex: {:?}", String::from_utf8_lossy(pair)))
        })
        .collect()
}

/// `Vec<u8>` as a hex string.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let hex = String::deserialize(d)?;
        super::from_hex(&hex).map_err(serde::de::Error::custom)
    }
}

/// `Option<Vec<u8>>` as a hex string or null.
mod hex_bytes_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_str(&super::to_hex(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(hex) => super::from_hex(&hex)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A masking key as 8 hex digits, or null.
mod hex_key {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(key: &Option<[u8; 4]>, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => s.serialize_str(&super::to_hex(key)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; 4]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(hex) => {
                let bytes = super::from_hex(&hex).map_err(serde::de::Error::custom)?;
                let key = <[u8; 4]>::try_from(bytes.as_slice())
                    .map_err(|_| serde::de::Error::custom("a masking key is 4 bytes"))?;
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_event_reads_back_from_its_json_line() {
        let frame = Event::Frame(Frame {
            conn: 1,
            from: Side::Client,
            t: 0.5,
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: 1,
            masked: true,
            key: Some([0x37, 0xfa, 0x21, 0x3d]),
            length: 5,
            length_field: "7-bit".to_owned(),
            header_hex: vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
            payload_hex: vec![0x7f, 0x9f, 0x4d, 0x51, 0x58],
            payload_shown: 5,
        });
        let line = frame.to_json();
        assert!(
            line.starts_with("{\"kind\":\"frame\",\"conn\":1,\"from\":\"client\""),
            "{line}"
        );
        assert!(line.contains("\"key\":\"37fa213d\""), "{line}");
        assert!(line.contains("\"payload_hex\":\"7f9f4d5158\""), "{line}");
        assert_eq!(Event::from_json(&line).unwrap(), frame);
    }

    #[test]
    fn a_message_event_names_its_type() {
        let message = Event::Message(MessageSeen {
            conn: 2,
            from: Side::Server,
            t: 1.0,
            message_type: MessageType::Text,
            compressed: true,
            frames: 2,
            wire_length: 7,
            length: 5,
            text: Some("Hello".to_owned()),
            data_hex: None,
            truncated: false,
            close_code: None,
        });
        let line = message.to_json();
        assert!(line.contains("\"type\":\"text\""), "{line}");
        assert!(!line.contains("data_hex"), "{line}");
        assert_eq!(Event::from_json(&line).unwrap(), message);
    }

    #[test]
    fn hex_reads_back() {
        assert_eq!(
            from_hex(&to_hex(&[0, 0x7f, 0xff])).unwrap(),
            [0, 0x7f, 0xff]
        );
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }
}
