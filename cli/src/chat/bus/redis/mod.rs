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
//! An instance that dies without saying goodbye stops renewing its
//! heartbeat, and another publishes its members' leaves (`reaper.rs`).
//!
//! A room's keys expire `--room-ttl` (24 hours) after it has no members
//! left on any instance, and lose their expiry when it has some again; see
//! `scripts.rs` for every key and when it goes.
//!
//! # When Redis goes away
//!
//! Connections never wait on Redis for longer than [`REDIS_TIMEOUT`]. While
//! Redis is unreachable, an instance delivers messages to its own members
//! only, and tells each sender once per outage that the others may not get
//! them; names cannot change (their uniqueness is Redis's to keep). The
//! subscriber (`subscriber.rs`) reconnects by itself, every
//! [`RECONNECT_EVERY`](subscriber::RECONNECT_EVERY); once subscribed
//! again, the instance registers its members anew (a restarted Redis has
//! forgotten them) and delivery across instances resumes.

mod link;
mod reaper;
mod scripts;
mod subscriber;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use link::{Down, Link, REDIS_TIMEOUT, Unreachable};
use reaper::beat_forever;
use scripts::{Registration, Scripts};
use subscriber::Subscriber;

use crate::chat::bus::{Bus, Joined, LocalRooms, NickError, Outage, Renamed, Said, Unshared};
use crate::chat::event::Event;

/// What a sender is told, once per outage, when its message reached only
/// the members on its own instance.
const LOCAL_ONLY: &str =
    "the server has lost Redis: your message reached only the people connected to this server";

/// The bus of a chat shared through Redis; see the module documentation.
pub(crate) struct RedisBus {
    link: Link,
    scripts: Scripts,
    /// Numbers the guests who join while Redis cannot be reached.
    next_guest_here: AtomicU64,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("url", &self.link.url())
            .field("id", &self.scripts.instance())
            .field("up", &self.link.is_up())
            .finish_non_exhaustive()
    }
}

impl From<Down> for Unshared {
    fn from(_: Down) -> Unshared {
        Unshared
    }
}

impl RedisBus {
    /// Connects to Redis at `url` and takes an instance number: fails when
    /// Redis cannot be reached now. `history` is how many messages each
    /// room keeps; `room_ttl`, how long a room's keys outlive its last
    /// member (see `scripts.rs`).
    pub(crate) fn connect(
        url: &str,
        history: usize,
        room_ttl: Duration,
    ) -> Result<RedisBus, Unreachable> {
        Ok(RedisBus {
            link: Link::connect(url)?,
            // Drawn at random: a counter in Redis would start over when a
            // Redis without persistence restarts, and hand a new instance
            // the number of one still running.
            scripts: Scripts::new(random_id(), history, room_ttl),
            next_guest_here: AtomicU64::new(1),
        })
    }
}

impl Bus for RedisBus {
    /// Starts the subscriber and the heartbeat.
    fn start(self: Arc<Self>, here: Arc<dyn LocalRooms>) -> io::Result<()> {
        let bus = Arc::clone(&self);
        thread::Builder::new()
            .name("ws6455-redis-sub".to_owned())
            .spawn(move || {
                Subscriber {
                    link: &bus.link,
                    scripts: &bus.scripts,
                    rooms: &*here,
                }
                .run();
            })?;
        let bus = Arc::clone(&self);
        thread::Builder::new()
            .name("ws6455-redis-beat".to_owned())
            .spawn(move || beat_forever(&bus.link, &bus.scripts))?;
        // The first clients find their rooms shared, unless Redis went
        // away since `connect`; then they join here, as in an outage.
        let deadline = Instant::now() + 2 * REDIS_TIMEOUT;
        while !self.link.is_up() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// A guest number no instance has given out, and a name no one in the
    /// room has taken with `/nick`.
    fn join(&self, room: &str) -> Result<Joined, Unshared> {
        loop {
            let guest = self
                .link
                .call(|connection| self.scripts.next_guest(connection))?;
            let name = format!("guest-{guest}");
            let leave = leave_json(room, &name);
            let join = Event::Join { room, user: &name }.raw();
            let member = Registration {
                room,
                name: &name,
                leave_json: leave.get(),
            };
            let joined = self
                .link
                .call(|connection| self.scripts.join(connection, &member, join.get()))?;
            // `None`: someone took this guest's name with /nick; next number.
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
        let said = self
            .link
            .call(|connection| self.scripts.say(connection, room, messages_json));
        if said.is_ok() {
            return Said::Shared;
        }
        match self.link.outage() {
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
        match self
            .link
            .call(|connection| self.scripts.nick(connection, &from, &renamed, nick.get()))
        {
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
        self.link
            .call(|connection| self.scripts.leave(connection, &member))?;
        Ok(())
    }
}

/// The `leave` event for `user` in `room`.
fn leave_json(room: &str, user: &str) -> Box<serde_json::value::RawValue> {
    Event::Leave { room, user }.raw()
}

/// A number for this instance: random, or, should the system have no
/// randomness to give, made of the time and the process id.
fn random_id() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            nanos ^ u64::from(std::process::id()) << 32
        }
    }
}
