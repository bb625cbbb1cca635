//! The chat across many instances: rooms shared through Redis.
//!
//! With `--redis URL`, every room event (message, join, leave, nick) is
//! published on the room's channel, `ws6455:room:ROOM`, and every instance
//! delivers what it receives there to its own members, the sender's own
//! copy included. Redis delivers one channel's messages to every
//! subscriber in one order, so every member of a room, on any instance,
//! sees the room's events in that order.
//!
//! Each change is one Lua script, which Redis runs atomically: it takes the
//! room's next sequence number (`INCR`), changes the shared state, and
//! publishes `SEQ KIND JSON`. The texts a member said together (a burst
//! its connection read at once) are one `message` event whose JSON is
//! one `message` per line, so every instance delivers them together too.
//! What is shared, per room:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `ws6455:room:ROOM:names` | hash | each member's name lowercased → the name: unique ignoring case |
//! | `ws6455:room:ROOM:users` | sorted set | the names, scored by when they joined: the welcome's `users` |
//! | `ws6455:room:ROOM:history` | list | the last `message` events' JSON, oldest first |
//! | `ws6455:room:ROOM:seq` | counter | the room's last sequence number |
//!
//! and per instance, `ws6455:instance:ID:alive` (a heartbeat that expires
//! after [`ALIVE_FOR`]) and `ws6455:instance:ID:members` (who is connected
//! there), listed in `ws6455:instances`. Guests are numbered by one counter,
//! `ws6455:guest`.
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

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use redis::{Client, Connection, Script, ScriptInvocation};

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

/// Every key and channel starts with this.
const PREFIX: &str = "ws6455:";

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

/// A member as Redis knows it, on one instance.
#[derive(Clone, Debug)]
struct Registration<'a> {
    room: &'a str,
    name: &'a str,
    /// The `leave` event to publish for it if its instance dies.
    leave_json: &'a str,
}

impl Registration<'_> {
    /// Its entry in the instance's member set: what the reaper needs.
    fn entry(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.room,
            self.name.to_lowercase(),
            self.name,
            self.leave_json
        )
    }
}

/// The bus of a chat shared through Redis; see the module documentation.
pub(crate) struct RedisBus {
    url: String,
    client: Client,
    /// This instance's number, drawn at random: a counter in Redis would
    /// start over when a Redis without persistence restarts, and hand a
    /// new instance the number of one still running.
    id: u64,
    /// How many messages each room's history keeps.
    history: usize,
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
            .field("id", &self.id)
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

/// The Lua scripts; each changes the shared state and publishes atomically.
struct Scripts {
    join: Script,
    say: Script,
    nick: Script,
    leave: Script,
    register: Script,
    reap: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            // KEYS: names, users, history, seq, instance members.
            // ARGV: lowercased name, name, channel, join JSON, member entry.
            join: Script::new(
                r"
                if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
                local seq = redis.call('INCR', KEYS[4])
                redis.call('ZADD', KEYS[2], seq, ARGV[2])
                redis.call('SADD', KEYS[5], ARGV[5])
                local users = redis.call('ZRANGE', KEYS[2], 0, -1)
                local history = redis.call('LRANGE', KEYS[3], 0, -1)
                redis.call('PUBLISH', ARGV[3], seq .. ' join ' .. ARGV[4])
                return {seq, users, history}
                ",
            ),
            // KEYS: seq, history. ARGV: channel, history length, then
            // one or more message JSONs, published as one event.
            say: Script::new(
                r"
                local seq = redis.call('INCR', KEYS[1])
                local keep = tonumber(ARGV[2])
                if keep > 0 then
                    for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
                    redis.call('LTRIM', KEYS[2], -keep, -1)
                end
                redis.call('PUBLISH', ARGV[1], seq .. ' message ' .. table.concat(ARGV, '\n', 3))
                return seq
                ",
            ),
            // KEYS: names, users, seq, instance members.
            // ARGV: old lowercased, old name, new lowercased, new name,
            // channel, nick JSON, old entry, new entry.
            nick: Script::new(
                r"
                local holder = redis.call('HGET', KEYS[1], ARGV[3])
                if holder and ARGV[3] ~= ARGV[1] then return false end
                redis.call('HDEL', KEYS[1], ARGV[1])
                redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
                local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
                redis.call('ZREM', KEYS[2], ARGV[2])
                redis.call('ZADD', KEYS[2], score or 0, ARGV[4])
                redis.call('SREM', KEYS[4], ARGV[7])
                redis.call('SADD', KEYS[4], ARGV[8])
                local seq = redis.call('INCR', KEYS[3])
                redis.call('PUBLISH', ARGV[5], seq .. ' nick ' .. ARGV[6])
                return seq
                ",
            ),
            // KEYS: names, users, seq, instance members.
            // ARGV: lowercased name, name, channel, leave JSON, entry.
            leave: Script::new(
                r"
                if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
                    redis.call('HDEL', KEYS[1], ARGV[1])
                end
                redis.call('ZREM', KEYS[2], ARGV[2])
                redis.call('SREM', KEYS[4], ARGV[5])
                local seq = redis.call('INCR', KEYS[3])
                redis.call('PUBLISH', ARGV[3], seq .. ' leave ' .. ARGV[4])
                return seq
                ",
            ),
            // Puts a member back after Redis lost it, without an event.
            // KEYS: names, users, seq, instance members.
            // ARGV: lowercased name, name, entry.
            register: Script::new(
                r"
                redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
                if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
                    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[2])
                end
                redis.call('SADD', KEYS[4], ARGV[3])
                return 1
                ",
            ),
            // KEYS: the instance set, the dead instance's member set.
            // ARGV: its id, the key prefix.
            reap: Script::new(
                r"
                if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
                local entries = redis.call('SMEMBERS', KEYS[2])
                for _, entry in ipairs(entries) do
                    local room, lower, name, leave =
                        string.match(entry, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
                    if room then
                        local at = ARGV[2] .. 'room:' .. room
                        if redis.call('HGET', at .. ':names', lower) == name then
                            redis.call('HDEL', at .. ':names', lower)
                        end
                        redis.call('ZREM', at .. ':users', name)
                        local seq = redis.call('INCR', at .. ':seq')
                        redis.call('PUBLISH', at, seq .. ' leave ' .. leave)
                    end
                end
                redis.call('DEL', KEYS[2])
                return #entries
                ",
            ),
        }
    }
}

/// A room's keys.
struct RoomKeys {
    channel: String,
    names: String,
    users: String,
    history: String,
    seq: String,
}

impl RoomKeys {
    fn of(room: &str) -> RoomKeys {
        let channel = format!("{PREFIX}room:{room}");
        RoomKeys {
            names: format!("{channel}:names"),
            users: format!("{channel}:users"),
            history: format!("{channel}:history"),
            seq: format!("{channel}:seq"),
            channel,
        }
    }
}

fn instances_key() -> String {
    format!("{PREFIX}instances")
}

fn alive_key(id: u64) -> String {
    format!("{PREFIX}instance:{id}:alive")
}

fn members_key(id: u64) -> String {
    format!("{PREFIX}instance:{id}:members")
}

/// The room a channel belongs to.
fn room_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix(PREFIX)?.strip_prefix("room:")
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
        let id = random_id();
        Ok(RedisBus {
            url: url.to_owned(),
            client,
            id,
            history,
            publisher: Mutex::new(Some(connection)),
            up: AtomicBool::new(false),
            outages: AtomicU64::new(0),
            scripts: Scripts::new(),
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

    /// A guest number no instance has given out.
    fn next_guest(&self) -> Result<u64, Down> {
        self.call(|connection| {
            redis::cmd("INCR")
                .arg(format!("{PREFIX}guest"))
                .query(connection)
        })
    }

    /// Joins `member` to its room under its name, unless another member
    /// (on any instance) has it: `Ok(None)`. Publishes the join.
    fn join_as(&self, member: &Registration<'_>, join_json: &str) -> Result<Option<Joined>, Down> {
        let keys = RoomKeys::of(member.room);
        let joined: Option<(u64, Vec<String>, Vec<String>)> = self.call(|connection| {
            self.scripts
                .join
                .key(&keys.names)
                .key(&keys.users)
                .key(&keys.history)
                .key(&keys.seq)
                .key(members_key(self.id))
                .arg(member.name.to_lowercase())
                .arg(member.name)
                .arg(&keys.channel)
                .arg(join_json)
                .arg(member.entry())
                .invoke(connection)
        })?;
        Ok(joined.map(|(seq, users, history)| Joined {
            name: member.name.to_owned(),
            seq,
            users,
            history,
        }))
    }

    /// Publishes messages said together, as one event, and keeps them in
    /// the room's history. Each is a `message` event's compact JSON.
    fn publish_said(&self, room: &str, messages_json: &[&str]) -> Result<u64, Down> {
        let keys = RoomKeys::of(room);
        self.call(|connection| {
            self.scripts
                .say
                .key(&keys.seq)
                .key(&keys.history)
                .arg(&keys.channel)
                .arg(self.history)
                .arg(messages_json)
                .invoke(connection)
        })
    }

    /// Renames `from` to `to` unless another member has `to` (ignoring
    /// case): `Ok(false)`. Publishes the nick.
    fn rename(
        &self,
        from: &Registration<'_>,
        to: &Registration<'_>,
        nick_json: &str,
    ) -> Result<bool, Down> {
        let keys = RoomKeys::of(from.room);
        let renamed: Option<u64> = self.call(|connection| {
            self.member_script(&self.scripts.nick, &keys)
                .arg(from.name.to_lowercase())
                .arg(from.name)
                .arg(to.name.to_lowercase())
                .arg(to.name)
                .arg(&keys.channel)
                .arg(nick_json)
                .arg(from.entry())
                .arg(to.entry())
                .invoke(connection)
        })?;
        Ok(renamed.is_some())
    }

    /// Removes `member` from its room and publishes its leave.
    fn remove(&self, member: &Registration<'_>) -> Result<u64, Down> {
        let keys = RoomKeys::of(member.room);
        self.call(|connection| {
            self.member_script(&self.scripts.leave, &keys)
                .arg(member.name.to_lowercase())
                .arg(member.name)
                .arg(&keys.channel)
                .arg(member.leave_json)
                .arg(member.entry())
                .invoke(connection)
        })
    }

    /// `script` with the keys the member scripts (nick, leave, register)
    /// take, in their order: the room's names, users and sequence number,
    /// and this instance's member set.
    fn member_script<'s>(&self, script: &'s Script, keys: &RoomKeys) -> ScriptInvocation<'s> {
        let mut invocation = script.key(&keys.names);
        invocation
            .key(&keys.users)
            .key(&keys.seq)
            .key(members_key(self.id));
        invocation
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
        pubsub.psubscribe(format!("{PREFIX}room:*"))?;
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
        beat(connection, self.id)?;
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
            let keys = RoomKeys::of(&room);
            self.member_script(&self.scripts.register, &keys)
                .arg(name.to_lowercase())
                .arg(&name)
                .arg(member.entry())
                .invoke::<i64>(connection)?;
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
            if beat(live, self.id)
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
        for id in instances.into_iter().filter(|&id| id != self.id) {
            let alive: bool = redis::cmd("EXISTS").arg(alive_key(id)).query(connection)?;
            if !alive {
                let members: u64 = self
                    .scripts
                    .reap
                    .key(instances_key())
                    .key(members_key(id))
                    .arg(id)
                    .arg(PREFIX)
                    .invoke(connection)?;
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
            let name = format!("guest-{}", self.next_guest()?);
            let leave = leave_json(room, &name);
            let join = Event::Join { room, user: &name }.raw();
            let member = Registration {
                room,
                name: &name,
                leave_json: leave.get(),
            };
            // `None`: someone took this guest's name with /nick; next number.
            if let Some(joined) = self.join_as(&member, join.get())? {
                return Ok(joined);
            }
        }
    }

    /// Without Redis this instance's numbers could meet another's: they
    /// carry a tag of the instance's.
    fn guest_here(&self) -> String {
        let number = self.next_guest_here.fetch_add(1, Ordering::Relaxed);
        format!("guest-{:04x}-{number}", self.id & 0xffff)
    }

    fn say(&self, room: &str, messages_json: &[&str]) -> Said {
        if self.publish_said(room, messages_json).is_ok() {
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
        match self.rename(&from, &renamed, nick.get()) {
            Ok(true) => Ok(Renamed::Shared),
            Ok(false) => Err(NickError::Taken(to.to_owned())),
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
        self.remove(&member)?;
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

    #[test]
    fn a_channel_names_its_room() {
        assert_eq!(room_of_channel("ws6455:room:kitchen"), Some("kitchen"));
        assert_eq!(room_of_channel("ws6455:instances"), None);
        assert_eq!(room_of_channel("other:room:kitchen"), None);
    }

    #[test]
    fn a_members_entry_holds_what_the_reaper_needs() {
        let member = Registration {
            room: "kitchen",
            name: "Ωμέγα",
            leave_json: "{\"type\":\"leave\"}",
        };
        assert_eq!(
            member.entry(),
            "kitchen\nωμέγα\nΩμέγα\n{\"type\":\"leave\"}"
        );
    }
}
