//! A data message sent on many connections, such as a chat room's
//! broadcast, transformed once for all of them.
//!
//! A negotiated extension can change what goes on the wire: with
//! permessage-deflate a message is sent compressed. Compressing a broadcast
//! once per member would cost a room of N members N compressions of the
//! same text, though where the sender keeps no context from one message to
//! the next (RFC 7692 §7.1.1.1, `server_no_context_takeover`) the result
//! depends only on the message and the compressor's settings. A
//! [`SharedMessage`] keeps each form an extension gave it, under the key the
//! extension names for its settings ([`OutboundTransform::shared_key`]), so
//! every connection whose extension has the same settings sends the same
//! bytes, made once. Connections whose extension carries context over make
//! their own form, as they would for any message.
//!
//! [`OutboundTransform::shared_key`]: crate::proto::extension::OutboundTransform::shared_key

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::proto::message::{Message, MessageRef};
use crate::proto::opcode::OpCode;

/// A data message for many connections; see the module documentation.
pub struct SharedMessage {
    payload: Payload,
    /// The forms made so far, by the key of the settings that made them.
    forms: Mutex<Vec<Form>>,
}

/// The message as the application gave it.
#[derive(Debug)]
enum Payload {
    Text(Box<str>),
    Binary(Box<[u8]>),
}

/// The message as one extension's settings transform it.
struct Form {
    key: u64,
    /// The RSV bits of its first frame.
    rsv: u8,
    payload: Arc<[u8]>,
}

impl SharedMessage {
    /// A text message.
    pub fn text(text: impl Into<Box<str>>) -> SharedMessage {
        SharedMessage::new(Payload::Text(text.into()))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Box<[u8]>>) -> SharedMessage {
        SharedMessage::new(Payload::Binary(data.into()))
    }

    fn new(payload: Payload) -> SharedMessage {
        SharedMessage {
            payload,
            forms: Mutex::new(Vec::new()),
        }
    }

    /// The message, borrowed.
    pub fn as_message_ref(&self) -> MessageRef<'_> {
        match &self.payload {
            Payload::Text(text) => MessageRef::Text(text),
            Payload::Binary(data) => MessageRef::Binary(data),
        }
    }

    /// The payload's length in bytes, before any extension transforms it.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn opcode(&self) -> OpCode {
        match self.payload {
            Payload::Text(_) => OpCode::Text,
            Payload::Binary(_) => OpCode::Binary,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.payload {
            Payload::Text(text) => text.as_bytes(),
            Payload::Binary(data) => data,
        }
    }

    pub(crate) fn to_message(&self) -> Message {
        self.as_message_ref().to_message()
    }

    /// The form made under `key`, made now by `make` if it is the first
    /// connection with that key. Connections asking for the same key at the
    /// same time wait for the one making it rather than make it again.
    pub(crate) fn form(
        &self,
        key: u64,
        make: impl FnOnce(&[u8]) -> (u8, Vec<u8>),
    ) -> (u8, Arc<[u8]>) {
        let mut forms = self.forms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(form) = forms.iter().find(|f| f.key == key) {
            return (form.rsv, Arc::clone(&form.payload));
        }
        let (rsv, payload) = make(self.bytes());
        let payload: Arc<[u8]> = payload.into();
        forms.push(Form {
            key,
            rsv,
            payload: Arc::clone(&payload),
        });
        (rsv, payload)
    }
}

impl fmt::Debug for SharedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forms = self.forms.lock().map(|forms| forms.len()).unwrap_or(0);
        f.debug_struct("SharedMessage")
            .field("opcode", &self.opcode())
            .field("len", &self.len())
            .field("forms", &forms)
            .finish()
    }
}
