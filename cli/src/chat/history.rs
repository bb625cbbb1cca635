//! A room's history: its last messages, each a `message` event's JSON as
//! it was broadcast, kept for the welcome of whoever joins next, no more of
//! them than the chat's setting and no more bytes than fit, with room to
//! spare, in a newcomer's outbox.

use std::collections::VecDeque;

use serde_json::value::RawValue;

use crate::chat::ChatConfig;

/// A room's last messages, oldest first: each a `message` event's JSON as it
/// was broadcast. It keeps the longest run of the latest messages that fits
/// its [`HistoryLimit`].
#[derive(Debug)]
pub(crate) struct History {
    messages: VecDeque<Box<RawValue>>,
    /// Their JSON's total length in bytes.
    bytes: usize,
    limit: HistoryLimit,
}

/// The most history a room keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HistoryLimit {
    /// At most this many messages ([`ChatConfig::history`]); 0 keeps none.
    messages: usize,
    /// At most this many bytes of their JSON, so the welcome that carries
    /// them fits in a newcomer's outbox with room to spare.
    bytes: usize,
}

impl HistoryLimit {
    pub(crate) fn of(config: &ChatConfig) -> HistoryLimit {
        HistoryLimit {
            messages: config.history,
            bytes: config.outgoing_queue_bytes / 2,
        }
    }

    /// A room's history as a bus keeps it, oldest first, cut from the
    /// oldest end to this limit's bytes of JSON so that the welcome fits in
    /// an outbox.
    pub(crate) fn fit(&self, shared: &[String]) -> Vec<Box<RawValue>> {
        let mut bytes = 0;
        let mut kept: Vec<Box<RawValue>> = shared
            .iter()
            .rev()
            .take_while(|message| {
                bytes += message.len();
                bytes <= self.bytes
            })
            .filter_map(|message| RawValue::from_string(message.clone()).ok())
            .collect();
        kept.reverse();
        kept
    }
}

impl History {
    pub(crate) fn new(limit: HistoryLimit) -> History {
        History {
            messages: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    /// Keeps `message`, dropping the oldest messages (or all, `message`
    /// too, if it alone is over the byte limit) until the rest fit the limit.
    pub(crate) fn record(&mut self, message: Box<RawValue>) {
        if self.limit.messages == 0 {
            return;
        }
        self.bytes += message.get().len();
        self.messages.push_back(message);
        while self.messages.len() > self.limit.messages || self.bytes > self.limit.bytes {
            let Some(oldest) = self.messages.pop_front() else {
                break;
            };
            self.bytes -= oldest.get().len();
        }
    }

    /// The messages, oldest first, for a welcome.
    pub(crate) fn messages(&self) -> Vec<&RawValue> {
        self.messages.iter().map(|message| &**message).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::chat::event::Event;

    fn said(text: &str) -> Box<RawValue> {
        Event::Message {
            room: "r",
            from: "a",
            text,
            ts: 0,
        }
        .raw()
    }

    pub(crate) fn texts(history: &History) -> Vec<String> {
        history
            .messages()
            .iter()
            .map(|m| {
                serde_json::from_str::<serde_json::Value>(m.get()).unwrap()["text"].to_string()
            })
            .collect()
    }

    #[test]
    fn history_keeps_the_last_messages_up_to_the_count() {
        let mut history = History::new(HistoryLimit {
            messages: 3,
            bytes: 1 << 20,
        });
        for text in ["1", "2", "3", "4", "5"] {
            history.record(said(text));
        }
        assert_eq!(texts(&history), [r#""3""#, r#""4""#, r#""5""#]);
        assert_eq!(
            history.bytes,
            history
                .messages()
                .iter()
                .map(|m| m.get().len())
                .sum::<usize>()
        );
    }

    #[test]
    fn history_keeps_to_its_bytes_and_a_message_too_big_for_it_empties_it() {
        let one = said("x").get().len();
        let mut history = History::new(HistoryLimit {
            messages: 50,
            bytes: 2 * one,
        });
        for text in ["a", "b", "c"] {
            history.record(said(text));
        }
        assert_eq!(texts(&history), [r#""b""#, r#""c""#]);
        assert_eq!(history.bytes, 2 * one);
        // The latest run that fits is no message at all.
        history.record(said(&"x".repeat(2 * one)));
        assert!(history.messages().is_empty());
        assert_eq!(history.bytes, 0);
    }

    #[test]
    fn history_0_keeps_nothing() {
        let mut history = History::new(HistoryLimit::of(&ChatConfig {
            history: 0,
            ..ChatConfig::default()
        }));
        history.record(said("gone"));
        assert!(history.messages().is_empty());
    }
}
