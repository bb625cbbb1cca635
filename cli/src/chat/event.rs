//! What the chat server sends: JSON objects in text messages, one per
//! event, told apart by their `"type"`. serde_json does all quoting and
//! escaping.

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use ws6455::proto::SharedMessage;

/// One server-to-client message.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Event<'a> {
    /// The first message on every connection: the room, your name, and
    /// everyone in the room (you included) in the order they joined.
    Welcome {
        room: &'a str,
        you: &'a str,
        users: Vec<&'a str>,
        /// The longest text the chat takes, in characters.
        max_text: usize,
        /// The room's last messages, oldest first: each the `message` event
        /// exactly as it was broadcast (see [`Event::raw`]). Empty when the
        /// chat keeps no history.
        history: Vec<&'a RawValue>,
    },
    /// A text message from `from`, delivered to the whole room, sender included.
    Message {
        room: &'a str,
        from: &'a str,
        text: &'a str,
        /// When the server took the message for broadcast, in milliseconds
        /// since the Unix epoch.
        ts: u64,
    },
    /// `user` entered the room (sent to everyone else).
    Join { room: &'a str, user: &'a str },
    /// `user` left the room, or was removed from it (sent to everyone else).
    Leave { room: &'a str, user: &'a str },
    /// `from` is now called `to` (sent to the whole room, the renamed included).
    Nick {
        room: &'a str,
        from: &'a str,
        to: &'a str,
    },
    /// A command of yours was refused (sent to you only).
    Error { reason: &'a str },
    /// You send faster than the chat takes (`chat/rate.rs`): what you sent
    /// over the limit was dropped. Sent to you only, at most once a second,
    /// as an `error` whose `retry_after_ms` is how long to wait before the
    /// text that met the limit would pass; the page disables its send
    /// button for that long (at least a second). Telling it from other
    /// errors by that field lets older clients show it as any error.
    #[serde(rename = "error")]
    SlowDown {
        reason: &'a str,
        /// Milliseconds until the refused text would have passed.
        retry_after_ms: u64,
    },
}

impl Event<'_> {
    /// The event as a text message, serialized once and shared by every
    /// outbox it is pushed to (and compressed once for all of them, where
    /// their connections' permessage-deflate settings agree).
    pub(crate) fn message(&self) -> Arc<SharedMessage> {
        Arc::new(SharedMessage::text(self.json()))
    }

    /// The event's JSON, for keeping as it is and splicing, unparsed, into
    /// another event (a `message` into a welcome's `history`).
    pub(crate) fn raw(&self) -> Box<RawValue> {
        // As for `json`; the text is serde_json's own, so it is not parsed again.
        serde_json::value::to_raw_value(self).expect("chat events serialize to JSON")
    }

    fn json(&self) -> String {
        // Serializing strings, numbers, lists of them and JSON that serde_json
        // wrote itself has no failure case.
        serde_json::to_string(self).expect("chat events serialize to JSON")
    }
}

/// The longest user name.
pub(crate) const MAX_NAME_LEN: usize = 32;

/// The longest room name.
pub(crate) const MAX_ROOM_LEN: usize = 64;

/// Whether `name` is 1 to `max` ASCII letters, digits, `_` or `-`: the
/// alphabet of room names (user names take any script: [`is_user_name`]).
pub(crate) fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `name` is 1 to [`MAX_NAME_LEN`] characters, each a letter or a
/// digit of any script, `_` or `-`: a user name.
pub(crate) fn is_user_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn payload(event: &Event<'_>) -> Value {
        serde_json::from_str(&event.json()).unwrap()
    }

    #[test]
    fn welcome_lists_the_room_you_and_the_users() {
        let event = Event::Welcome {
            room: "kitchen",
            you: "guest-2",
            users: vec!["alice", "guest-2"],
            max_text: 4000,
            history: Vec::new(),
        };
        assert_eq!(
            payload(&event),
            json!({"type": "welcome", "room": "kitchen", "you": "guest-2",
                   "users": ["alice", "guest-2"], "max_text": 4000, "history": []})
        );
    }

    #[test]
    fn welcome_history_is_the_messages_as_they_were_sent() {
        let said = ["first", "\"second\" </script>\n"].map(|text| {
            Event::Message {
                room: "kitchen",
                from: "alice",
                text,
                ts: 1_700_000_000_000,
            }
            .raw()
        });
        let event = Event::Welcome {
            room: "kitchen",
            you: "guest-2",
            users: vec!["alice", "guest-2"],
            max_text: 4000,
            history: said.iter().map(|m| &**m).collect(),
        };
        let json = event.json();
        // Spliced in byte for byte, oldest first.
        let spliced = format!(r#""history":[{},{}]}}"#, said[0].get(), said[1].get());
        assert!(json.ends_with(&spliced), "{json}");
        assert_eq!(
            payload(&event)["history"][1],
            json!({"type": "message", "room": "kitchen", "from": "alice",
                   "text": "\"second\" </script>\n", "ts": 1_700_000_000_000_u64})
        );
    }

    #[test]
    fn every_event_is_tagged_with_its_type() {
        let cases = [
            (
                Event::Message {
                    room: "r",
                    from: "a",
                    text: "t",
                    ts: 1_700_000_000_123,
                },
                json!({"type": "message", "room": "r", "from": "a", "text": "t",
                       "ts": 1_700_000_000_123_u64}),
            ),
            (
                Event::Join {
                    room: "r",
                    user: "a",
                },
                json!({"type": "join", "room": "r", "user": "a"}),
            ),
            (
                Event::Leave {
                    room: "r",
                    user: "a",
                },
                json!({"type": "leave", "room": "r", "user": "a"}),
            ),
            (
                Event::Nick {
                    room: "r",
                    from: "a",
                    to: "b",
                },
                json!({"type": "nick", "room": "r", "from": "a", "to": "b"}),
            ),
            (
                Event::Error { reason: "no" },
                json!({"type": "error", "reason": "no"}),
            ),
            (
                Event::SlowDown {
                    reason: "slow down",
                    retry_after_ms: 100,
                },
                json!({"type": "error", "reason": "slow down", "retry_after_ms": 100}),
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(payload(&event), expected);
        }
    }

    #[test]
    fn message_text_survives_quotes_controls_and_unicode() {
        let text = "\"quoted\" \\ back\nslash \u{0} nul </script> κόσμε 🎉";
        let event = Event::Message {
            room: "r",
            from: "a",
            text,
            ts: 0,
        };
        assert_eq!(payload(&event)["text"], text);
        let raw: Value = serde_json::from_str(event.raw().get()).unwrap();
        assert_eq!(raw, payload(&event), "raw and json agree");
    }

    #[test]
    fn user_names_are_letters_and_digits_of_any_script() {
        for good in [
            "a",
            "Zoë",
            "Ωμέγα",
            "李小龍",
            "राम",
            "user_1-x",
            &"ж".repeat(32),
        ] {
            assert!(is_user_name(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "a.b",
            "<b>",
            "e\u{301}",
            "😀",
            &"ж".repeat(33),
        ] {
            assert!(!is_user_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn names_are_1_to_max_letters_digits_underscores_or_dashes() {
        for good in ["a", "kitchen", "Room_2", "a-b", &"z".repeat(64)] {
            assert!(is_name(good, MAX_ROOM_LEN), "{good:?}");
        }
        for bad in ["", "a b", "a/b", "a.b", "é", "%41", &"z".repeat(65)] {
            assert!(!is_name(bad, MAX_ROOM_LEN), "{bad:?}");
        }
    }
}
