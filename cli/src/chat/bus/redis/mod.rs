//! The chat across many instances: rooms shared through Redis.
//!
//! With `--redis URL`, every room event (message, join, leave, nick) is
//! published on the room's channel, `ws6455:room:ROOM`, and every instance
//! delivers what it receives there to its own members, the sender's own
//! copy included. Redis delivers one channel's messages to every
//! subscriber in one order, so every member of a room, on any instance,
//! sees the room's events in that order.
//!
//! Each change is one Lua script (see `scripts.rs`, with the keys they
//! keep), which Redis runs atomically: it takes the room's next sequence
//! number (`INCR`), changes the shared state, and publishes `SEQ KIND
//! JSON`. The texts a member said together (a burst its connection read at
//! once) are one `message` event whose JSON is one `message` per line, so
//! every instance delivers them together too.
//!
//! A joiner's welcome is read in the script that publishes its join: the
//! history and users up to that sequence number. Its instance then delivers
//! it only the events after that number, so it misses none and gets none
//! twice, whatever was still on its way from Redis.
//!
//! # When an instance dies
//!
//! Every instance renews its heartbeat each [`BEAT`] and looks at the
//! others'. The first to find one expired reaps it (a script, so exactly
//! one does): its members leave their rooms' names and users, and a
//! `leave` is published for each, within [`ALIVE_FOR`] + [`BEAT`] of its
//! last beat.
//!
//! # When Redis goes away
//!
//! Connections never wait on Redis for longer than [`REDIS_TIMEOUT`]. While
//! Redis is unreachable, an instance delivers messages to its own members
//! only, and tells each sender once per outage that the others may not get
//! them; names cannot change (their uniqueness is Redis's to keep). A
//! subscriber thread reconnects by itself, every [`RECONNECT_EVERY`]; once
//! subscribed again, the instance registers its members anew (a restarted
//! Redis has forgotten them) and delivery across instances resumes.

mod scripts;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use redis::{Client, Connection};
use scripts::{
    Registration, Scripts, alive_key, guest_key, instances_key, room_channels, room_of_channel,
};

use crate::chat::bus::{
    Bus, Joined, Kind, LocalRooms, NickError, Outage, Published, Renamed, Said, Unshared,
};
use crate::chat::event::Event;

/// No Redis call made for a connection waits longer than this.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// How often an instance renews its heartbeat and looks for dead ones.
pub(crate) const BEAT: Duration = Duration::from_secs(1);

/// How long a heartbeat lives without renewal.
pub(crate) const ALIVE_FOR: Duration = Duration::from_secs(5);

/// How often the subscriber tries to reach Redis again after losing it.
pub(crate) const RECONNECT_EVERY: Duration = Duration::from_millis(250);

/// What a sender is told, once per outage, when its message reached only
/// the members on its own instance.
const LOCAL_ONLY: &str =
    "the server has lost Redis: your message reached only the people connected to this server";

/// Why Redis could not be used.
#[derive(Debug)]
pub(crate) struct Unreachable {
    url: String,
    error: redis::RedisError,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot reach Redis at {}: {}", self.url, self.error)
    }
}

impl std::error::Error for Unreachable {}

/// Redis is down (or was at the last try): the caller works locally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Down;

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

/// The bus of a chat shared through Redis; see the module documentation.
pub(crate) struct RedisBus {
    url: String,
    client: Client,
    /// The connection the connections' threads publish on, when there is one.
    publisher: Mutex<Option<Connection>>,
    /// Whether the subscriber is subscribed and the last publish went through.
    up: AtomicBool,
    /// Counts outages: a sender is told once per outage.
    outages: AtomicU64,
    scripts: Scripts,
    /// Numbers the guests who join while Redis cannot be reached.
    next_guest_here: AtomicU64,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("url", &self.url)
            .field("id", &self.scripts.instance())
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Connects to Redis at `url` and takes an instance number: fails when
    /// Redis cannot be reached now. `history` is how many messages each
    /// room keeps.
    pub(crate) fn connect(url: &str, history: usize) -> Result<RedisBus, Unreachable> {
        let unreachable = |error| Unreachable {
            url: url.to_owned(),
            error,
        };
        let client = Client::open(url).map_err(unreachable)?;
        let connection = open(&client).map_err(unreachable)?;
        Ok(RedisBus {
            url: url.to_owned(),
            client,
            publisher: Mutex::new(Some(connection)),
            up: AtomicBool::new(false),
            outages: AtomicU64::new(0),
            // Drawn at random: a counter in Redis would start over when a
            // Redis without persistence restarts, and hand a new instance
            // the number of one still running.
            scripts: Scripts::new(random_id(), history),
            next_guest_here: AtomicU64::new(1),
        })
    }

    /// Whether events go through Redis now.
    fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The number of the current (or last) outage; 0 before the first.
    fn outage(&self) -> u64 {
        self.outages.load(Ordering::Acquire)
    }

    /// Runs `command` on the publishing connection, unless Redis is down.
    /// A failure marks it down, and starts an outage.
    fn call<T>(
        &self,
        command: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Down> {
        if !self.is_up() {
            return Err(Down);
        }
        let mut publisher = self.publisher();
        let Some(connection) = publisher.as_mut() else {
            return Err(Down);
        };
        match command(connection) {
            Ok(value) => Ok(value),
            Err(_) => {
                *publisher = None;
                drop(publisher);
                self.went_down();
                Err(Down)
            }
        }
    }

    fn publisher(&self) -> MutexGuard<'_, Option<Connection>> {
        self.publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks Redis down, starting an outage if it was up.
    fn went_down(&self) {
        if self.up.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::AcqRel);
            log_line!(
                "ws6455 chat: lost Redis at {}; delivering locally",
                self.url
            );
        }
    }

    /// Subscribes to every room's channel and delivers what arrives, for
    /// ever: after losing Redis, reconnects every [`RECONNECT_EVERY`].
    fn subscribe_forever(&self, rooms: &dyn LocalRooms) {
        loop {
            // Whatever the failure, the cure is to connect again.
            if self.subscribe_once(rooms).is_err() {
                self.went_down();
            }
            thread::sleep(RECONNECT_EVERY);
        }
    }

    /// One subscription, until its connection fails.
    fn subscribe_once(&self, rooms: &dyn LocalRooms) -> redis::RedisResult<()> {
        let mut connection = open(&self.client)?;
        connection.set_read_timeout(None)?;
        let mut pubsub = connection.as_pubsub();
        pubsub.psubscribe(room_channels())?;
        // Subscribed: anything published from now on reaches us. Restore
        // what a restarted Redis forgot, then let events through Redis again.
        let mut publisher = open(&self.client)?;
        self.register_everyone(&mut publisher, rooms)?;
        *self.publisher() = Some(publisher);
        if !self.up.swap(true, Ordering::AcqRel) {
            rooms.reconnected();
            log_line!(
                "ws6455 chat: Redis at {} reached; rooms are shared",
                self.url
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
            rooms.deliver(room, &event);
        }
    }

    /// Registers every member of this instance again, with no event.
    fn register_everyone(
        &self,
        connection: &mut Connection,
        rooms: &dyn LocalRooms,
    ) -> redis::RedisResult<()> {
        beat(connection, self.scripts.instance())?;
        for (room, name) in rooms.members() {
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

    /// Renews the heartbeat and reaps dead instances every [`BEAT`], for ever.
    fn beat_forever(&self) {
        let mut connection = None;
        loop {
            thread::sleep(BEAT);
            if !self.is_up() {
                connection = None;
                continue;
            }
            if connection.is_none() {
                connection = open(&self.client).ok();
            }
            let Some(live) = connection.as_mut() else {
                continue;
            };
            if beat(live, self.scripts.instance())
                .and_then(|()| self.reap_the_dead(live))
                .is_err()
            {
                connection = None;
            }
        }
    }

    /// Reaps every instance whose heartbeat has expired.
    fn reap_the_dead(&self, connection: &mut Connection) -> redis::RedisResult<()> {
        let instances: Vec<u64> = redis::cmd("SMEMBERS")
            .arg(instances_key())
            .query(connection)?;
        for id in instances
            .into_iter()
            .filter(|&id| id != self.scripts.instance())
        {
            let alive: bool = redis::cmd("EXISTS").arg(alive_key(id)).query(connection)?;
            if !alive {
                let members = self.scripts.reap(connection, id)?;
                if members > 0 {
                    log_line!(
                        "ws6455 chat: instance {id} stopped beating; its {members} member(s) left"
                    );
                }
            }
        }
        Ok(())
    }
}

impl Bus for RedisBus {
    /// Starts the subscriber and the heartbeat.
    fn start(self: Arc<Self>, here: Arc<dyn LocalRooms>) -> io::Result<()> {
        let bus = Arc::clone(&self);
        thread::Builder::new()
            .name("ws6455-redis-sub".to_owned())
            .spawn(move || bus.subscribe_forever(&*here))?;
        let bus = Arc::clone(&self);
        thread::Builder::new()
            .name("ws6455-redis-beat".to_owned())
            .spawn(move || bus.beat_forever())?;
        // The first clients find their rooms shared, unless Redis went
        // away since `connect`; then they join here, as in an outage.
        let deadline = std::time::Instant::now() + 2 * REDIS_TIMEOUT;
        while !self.is_up() && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// A guest number no instance has given out, and a name no one in the
    /// room has taken with `/nick`.
    fn join(&self, room: &str) -> Result<Joined, Unshared> {
        loop {
            let guest: u64 =
                self.call(|connection| redis::cmd("INCR").arg(guest_key()).query(connection))?;
            let name = format!("guest-{guest}");
            let leave = leave_json(room, &name);
            let join = Event::Join { room, user: &name }.raw();
            let member = Registration {
                room,
                name: &name,
                leave_json: leave.get(),
            };
            // `None`: someone took this guest's name with /nick; next number.
            let joined =
                self.call(|connection| self.scripts.join(connection, &member, join.get()))?;
            if let Some(joined) = joined {
                return Ok(joined);
            }
        }
    }

    /// Without Redis this instance's numbers could meet another's: they
    /// carry a tag of the instance's.
    fn guest_here(&self) -> String {
        let number = self.next_guest_here.fetch_add(1, Ordering::Relaxed);
        format!("guest-{:04x}-{number}", self.scripts.instance() & 0xffff)
    }

    fn say(&self, room: &str, messages_json: &[&str]) -> Said {
        let said = self.call(|connection| self.scripts.say(connection, room, messages_json));
        if said.is_ok() {
            return Said::Shared;
        }
        match self.outage() {
            // Redis has not been reached yet: no outage to tell of.
            0 => Said::Here,
            number => Said::HereOnly(Outage {
                number,
                notice: LOCAL_ONLY,
            }),
        }
    }

    fn nick(&self, room: &str, from: &str, to: &str) -> Result<Renamed, NickError> {
        let nick = Event::Nick { room, from, to }.raw();
        let (leave_from, leave_to) = (leave_json(room, from), leave_json(room, to));
        let from = Registration {
            room,
            name: from,
            leave_json: leave_from.get(),
        };
        let renamed = Registration {
            room,
            name: to,
            leave_json: leave_to.get(),
        };
        match self.call(|connection| self.scripts.nick(connection, &from, &renamed, nick.get())) {
            Ok(Some(_)) => Ok(Renamed::Shared),
            Ok(None) => Err(NickError::Taken(to.to_owned())),
            Err(Down) => Err(NickError::Down),
        }
    }

    fn leave(&self, room: &str, name: &str) -> Result<(), Unshared> {
        let leave = leave_json(room, name);
        let member = Registration {
            room,
            name,
            leave_json: leave.get(),
        };
        self.call(|connection| self.scripts.leave(connection, &member))?;
        Ok(())
    }
}

impl From<Down> for Unshared {
    fn from(_: Down) -> Unshared {
        Unshared
    }
}

/// The `leave` event for `user` in `room`.
fn leave_json(room: &str, user: &str) -> Box<serde_json::value::RawValue> {
    Event::Leave { room, user }.raw()
}

/// Renews instance `id`'s heartbeat, and lists it among the instances.
fn beat(connection: &mut Connection, id: u64) -> redis::RedisResult<()> {
    redis::pipe()
        .cmd("SET")
        .arg(alive_key(id))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_FOR.as_millis() as u64)
        .ignore()
        .cmd("SADD")
        .arg(instances_key())
        .arg(id)
        .ignore()
        .query(connection)
}

/// A number for this instance: random, or, should the system have no
/// randomness to give, made of the time and the process id.
fn random_id() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            nanos ^ u64::from(std::process::id()) << 32
        }
    }
}

/// A connection with [`REDIS_TIMEOUT`] on connecting, reading and writing.
fn open(client: &Client) -> redis::RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(REDIS_TIMEOUT)?;
    connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
    connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
    Ok(connection)
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
