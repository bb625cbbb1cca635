//! The subscriber: a thread subscribed to every room's channel, which
//! delivers each event published there to this instance's members. It
//! marks the link up once subscribed, after registering this instance's
//! members anew (a restarted Redis has forgotten them); when its connection
//! fails, it marks the link down and tries again every [`RECONNECT_EVERY`].

use std::thread;
use std::time::Duration;

use redis::Connection;

use crate::chat::bus::redis::link::Link;
use crate::chat::bus::redis::reaper::beat;
use crate::chat::bus::redis::scripts::{Registration, Scripts, room_channels, room_of_channel};
use crate::chat::bus::{Kind, LocalRooms, Published};
use crate::chat::event::Event;

/// How often the subscriber tries to reach Redis again after losing it.
pub(super) const RECONNECT_EVERY: Duration = Duration::from_millis(250);

impl Kind {
    fn parse(word: &str) -> Option<Kind> {
        match word {
            "message" => Some(Kind::Message),
            "join" => Some(Kind::Join),
            "leave" => Some(Kind::Leave),
            "nick" => Some(Kind::Nick),
            _ => None,
        }
    }
}

impl<'a> Published<'a> {
    /// One event as the scripts publish it: `SEQ KIND JSON`.
    fn parse(payload: &'a str) -> Option<Published<'a>> {
        let (seq, rest) = payload.split_once(' ')?;
        let (kind, json) = rest.split_once(' ')?;
        Some(Published {
            seq: seq.parse().ok()?,
            kind: Kind::parse(kind)?,
            json,
        })
    }
}

/// What the subscriber works with.
pub(super) struct Subscriber<'a> {
    pub(super) link: &'a Link,
    pub(super) scripts: &'a Scripts,
    pub(super) rooms: &'a dyn LocalRooms,
}

impl Subscriber<'_> {
    /// Subscribes to every room's channel and delivers what arrives, for
    /// ever: after losing Redis, reconnects every [`RECONNECT_EVERY`].
    pub(super) fn run(&self) {
        loop {
            // Whatever the failure, the cure is to connect again.
            if self.subscribe_once().is_err() {
                self.link.went_down();
            }
            thread::sleep(RECONNECT_EVERY);
        }
    }

    /// One subscription, until its connection fails.
    fn subscribe_once(&self) -> redis::RedisResult<()> {
        let mut connection = self.link.open()?;
        connection.set_read_timeout(None)?;
        let mut pubsub = connection.as_pubsub();
        pubsub.psubscribe(room_channels())?;
        // Subscribed: anything published from now on reaches us. Restore
        // what a restarted Redis forgot, then let events through Redis again.
        let mut publisher = self.link.open()?;
        self.register_everyone(&mut publisher)?;
        if self.link.came_up(publisher) {
            self.rooms.reconnected();
            log_line!(
                "ws6455 chat: Redis at {} reached; rooms are shared",
                self.link.url()
            );
        }
        loop {
            let message = pubsub.get_message()?;
            let payload: String = match message.get_payload() {
                Ok(payload) => payload,
                Err(_) => continue,
            };
            let (Some(room), Some(event)) = (
                room_of_channel(message.get_channel_name()),
                Published::parse(&payload),
            ) else {
                continue;
            };
            self.rooms.deliver(room, &event);
        }
    }

    /// Registers every member of this instance again, with no event.
    fn register_everyone(&self, connection: &mut Connection) -> redis::RedisResult<()> {
        beat(connection, self.scripts.instance())?;
        for (room, name) in self.rooms.members() {
            let leave = Event::Leave {
                room: &room,
                user: &name,
            }
            .raw();
            let member = Registration {
                room: &room,
                name: &name,
                leave_json: leave.get(),
            };
            self.scripts.register(connection, &member)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_event_is_its_sequence_number_kind_and_json() {
        assert_eq!(
            Published::parse("17 message {\"type\":\"message\"}"),
            Some(Published {
                seq: 17,
                kind: Kind::Message,
                json: "{\"type\":\"message\"}",
            })
        );
        assert_eq!(Published::parse("x message {}"), None);
        assert_eq!(Published::parse("1 shout {}"), None);
        assert_eq!(Published::parse("1"), None);
        for (word, kind) in [
            ("message", Kind::Message),
            ("join", Kind::Join),
            ("leave", Kind::Leave),
            ("nick", Kind::Nick),
        ] {
            assert_eq!(Kind::parse(word), Some(kind));
        }
    }
}
