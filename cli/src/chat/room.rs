//! Rooms, their members, and the broadcast that fans an event out to them.
//!
//! Each room's member list and history have one lock. Everything sent to a
//! room is pushed into the members' outboxes while that lock is held, so
//! every member gets the room's events in one order, the order the lock was
//! taken. Pushing never blocks (see [`Outbox::push`]), so the lock is never
//! held across a socket write. A member whose outbox is full is closed with
//! 1008 and removed in the same pass, and the rest of the room is told it left.
//!
//! A room keeps its last messages (its [`History`]) for the welcome of whoever
//! joins next: each `message` event's JSON as it was broadcast, recorded
//! under the same lock, so a newcomer's welcome holds exactly the messages
//! before it and the live ones follow, none missed and none twice.
//!
//! The registry of rooms has a lock of its own, taken before a room's for
//! joining and leaving only; a room is dropped, history and all, when its
//! last member leaves.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use crate::chat::ChatConfig;
use crate::chat::event::{Event, MAX_NAME_LEN, is_user_name};
use crate::chat::history::{History, HistoryLimit};
use crate::chat::outbox::{Outbox, Refused};
use crate::chat::redis_bus::{Down, Kind, Published, RedisBus, Registration};
use ws6455::SharedMessage;
use ws6455::close::CloseCode;
use ws6455::server::SHUTDOWN_REASON;

/// The close reason of a member whose outgoing queue overflowed.
pub(crate) const QUEUE_FULL: &str = "outgoing queue full";

/// Every room, by name.
#[derive(Debug)]
pub(crate) struct Rooms {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_member: AtomicU64,
    next_guest: AtomicU64,
    /// How long a member closed for a full queue gets to finish closing.
    close_timeout: Duration,
    /// The longest text, in characters, that the welcome announces.
    max_text: usize,
    /// How much history each room keeps.
    history: HistoryLimit,
    /// Set, under the registry's lock, when the server shuts down: every
    /// member is closed, and so is anyone who joins after.
    shutting_down: AtomicBool,
    /// Redis, when rooms are shared through it.
    bus: Option<Arc<RedisBus>>,
}

/// One room.
#[derive(Debug)]
pub(crate) struct Room {
    name: String,
    state: Mutex<RoomState>,
    close_timeout: Duration,
    /// Redis, when rooms are shared through it.
    bus: Option<Arc<RedisBus>>,
}

/// What a room's lock guards.
#[derive(Debug)]
struct RoomState {
    members: Vec<Member>,
    history: History,
}

#[derive(Debug)]
struct Member {
    id: u64,
    name: String,
    outbox: Arc<Outbox>,
    /// Through Redis: the member gets the published events after this
    /// sequence number (its join's; the welcome holds what came before).
    delivered_after: u64,
}

/// A connection's place in a room.
#[derive(Debug)]
pub(crate) struct Membership {
    room: Arc<Room>,
    id: u64,
    /// The member's name; only the member itself changes it.
    name: String,
    /// The last Redis outage this member was told about.
    told_of_outage: u64,
}

/// Who gets an event.
#[derive(Clone, Copy, Debug)]
enum Audience {
    Everyone,
    Only(u64),
    AllBut(u64),
}

impl Audience {
    fn includes(self, id: u64) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Only(only) => id == only,
            Audience::AllBut(but) => id != but,
        }
    }
}

/// Why `/nick` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NickError {
    /// Not 1–32 letters or digits of any script, `_` or `-`.
    InvalidName,
    /// Someone else in the room has this name (compared ignoring case, in any script).
    Taken(String),
    /// Redis, which keeps names unique across instances, cannot be reached.
    RedisDown,
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NickError::InvalidName => write!(
                f,
                "a name is 1 to {MAX_NAME_LEN} letters or digits (of any script), '_' or '-'"
            ),
            NickError::Taken(name) => write!(f, "the name {name} is taken in this room"),
            NickError::RedisDown => f.write_str(
                "names cannot change while the server has lost Redis; try again shortly",
            ),
        }
    }
}

/// What a sender is told, once per outage, when its message reached only
/// the members on its own instance.
pub(crate) const LOCAL_ONLY: &str =
    "the server has lost Redis: your message reached only the people connected to this server";

impl Rooms {
    /// No rooms yet. A member closed for a full queue gets `close_timeout`
    /// to finish closing. With a `bus`, rooms are shared through Redis.
    pub(crate) fn new(
        config: &ChatConfig,
        close_timeout: Duration,
        bus: Option<Arc<RedisBus>>,
    ) -> Rooms {
        Rooms {
            rooms: Mutex::new(HashMap::new()),
            next_member: AtomicU64::new(1),
            next_guest: AtomicU64::new(1),
            close_timeout,
            max_text: config.max_text,
            history: HistoryLimit::of(config),
            shutting_down: AtomicBool::new(false),
            bus,
        }
    }

    /// Adds a connection to room `name` (creating it) under a guest name:
    /// it gets the welcome, with the room's history, the rest of the room a join.
    pub(crate) fn join(&self, name: &str, outbox: Arc<Outbox>) -> Membership {
        let mut rooms = lock(&self.rooms);
        let room = Arc::clone(rooms.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Room {
                name: name.to_owned(),
                state: Mutex::new(RoomState {
                    members: Vec::new(),
                    history: History::new(self.history),
                }),
                close_timeout: self.close_timeout,
                bus: self.bus.clone(),
            })
        }));
        let mut state = lock(&room.state);
        let id = self.next_member.fetch_add(1, Ordering::Relaxed);
        let (guest, removed) = match self.join_through_redis(&room, &mut state, id, &outbox) {
            Some(joined) => joined,
            None => self.join_here(&room, &mut state, id, outbox),
        };
        if self.shutting_down.load(Ordering::Acquire) {
            if let Some(member) = state.members.iter().find(|m| m.id == id) {
                close_going_away(member, self.close_timeout);
            }
        }
        drop(state);
        drop(rooms);
        room.tell_leaves(removed);
        Membership {
            room,
            id,
            name: guest,
            // Outages are numbered from 1: whoever joins is told of the
            // current one, if its message is the one that meets it.
            told_of_outage: 0,
        }
    }

    /// Joins through Redis: a guest number no instance has given, the
    /// welcome from the room's shared state, the join published. `None`
    /// when there is no Redis or it cannot be reached.
    fn join_through_redis(
        &self,
        room: &Room,
        state: &mut RoomState,
        id: u64,
        outbox: &Arc<Outbox>,
    ) -> Option<(String, Vec<String>)> {
        let bus = self.bus.as_ref()?;
        let (guest, joined) = loop {
            let guest = format!("guest-{}", bus.next_guest().ok()?);
            let leave = leave_json(&room.name, &guest);
            let join = Event::Join {
                room: &room.name,
                user: &guest,
            }
            .raw();
            let member = Registration {
                room: &room.name,
                name: &guest,
                leave_json: leave.get(),
            };
            // `None`: someone took this guest's name with /nick; next number.
            if let Some(joined) = bus.join(&member, join.get()).ok()? {
                break (guest, joined);
            }
        };
        state.members.push(Member {
            id,
            name: guest.clone(),
            outbox: Arc::clone(outbox),
            delivered_after: joined.seq,
        });
        let history = self.history.fit(&joined.history);
        let welcome = Event::Welcome {
            room: &room.name,
            you: &guest,
            users: joined.users.iter().map(String::as_str).collect(),
            max_text: self.max_text,
            history: history.iter().map(|m| &**m).collect(),
        }
        .message();
        let removed = room.deliver(&mut state.members, [(Audience::Only(id), welcome)]);
        Some((guest, removed))
    }

    /// Joins on this instance alone: the welcome from the room as this
    /// instance knows it, the join told to the members here.
    fn join_here(
        &self,
        room: &Room,
        state: &mut RoomState,
        id: u64,
        outbox: Arc<Outbox>,
    ) -> (String, Vec<String>) {
        let RoomState { members, history } = state;
        let guest = loop {
            let number = self.next_guest.fetch_add(1, Ordering::Relaxed);
            // Without Redis this instance's numbers could meet another's:
            // they carry a tag of the instance's.
            let guest = match &self.bus {
                Some(bus) => format!("guest-{:04x}-{number}", bus.id() & 0xffff),
                None => format!("guest-{number}"),
            };
            if !name_taken(members, &guest, id) {
                break guest;
            }
        };
        members.push(Member {
            id,
            name: guest.clone(),
            outbox,
            delivered_after: 0,
        });
        let welcome = Event::Welcome {
            room: &room.name,
            you: &guest,
            users: members.iter().map(|m| m.name.as_str()).collect(),
            max_text: self.max_text,
            history: history.messages(),
        }
        .message();
        let join = Event::Join {
            room: &room.name,
            user: &guest,
        }
        .message();
        let removed = room.deliver(
            members,
            [(Audience::Only(id), welcome), (Audience::AllBut(id), join)],
        );
        (guest, removed)
    }

    /// Removes a connection from its room, if it is still there, and tells
    /// the rest; drops the room once it is empty.
    pub(crate) fn leave(&self, membership: Membership) {
        let mut rooms = lock(&self.rooms);
        let room = membership.room;
        let mut state = lock(&room.state);
        let members = &mut state.members;
        let left = members
            .iter()
            .position(|m| m.id == membership.id)
            .map(|at| members.remove(at).name);
        if members.is_empty() {
            if let Some(registered) = rooms.get(&room.name) {
                if Arc::ptr_eq(registered, &room) {
                    rooms.remove(&room.name);
                }
            }
        }
        drop(state);
        drop(rooms);
        room.tell_leaves(left.into_iter().collect());
    }

    /// Delivers an event Redis published on `room`'s channel to the room's
    /// members here who joined before it.
    pub(crate) fn deliver_published(&self, room: &str, event: &Published<'_>) {
        let Some(room) = lock(&self.rooms).get(room).cloned() else {
            return;
        };
        let mut state = lock(&room.state);
        let shared: Vec<Arc<SharedMessage>> = match event.kind {
            // Messages said together: one per line, delivered together.
            Kind::Message => event
                .json
                .lines()
                .map(|json| {
                    if let Ok(message) = RawValue::from_string(json.to_owned()) {
                        state.history.record(message);
                    }
                    Arc::new(SharedMessage::text(json))
                })
                .collect(),
            Kind::Join | Kind::Leave | Kind::Nick => {
                vec![Arc::new(SharedMessage::text(event.json))]
            }
        };
        let mut removed = Vec::new();
        let close_timeout = room.close_timeout;
        state.members.retain(|member| {
            if member.delivered_after >= event.seq {
                return true;
            }
            keep_or_close(member, shared.iter(), close_timeout, &mut removed)
        });
        drop(state);
        room.tell_leaves(removed);
    }

    /// Redis is back: numbering may have started over (a restarted Redis),
    /// so every member here gets whatever is published from now on.
    pub(crate) fn redis_back(&self) {
        for room in lock(&self.rooms).values() {
            for member in &mut lock(&room.state).members {
                member.delivered_after = 0;
            }
        }
    }

    /// Every member here, as (room, name).
    pub(crate) fn members(&self) -> Vec<(String, String)> {
        let rooms = lock(&self.rooms);
        let mut all = Vec::new();
        for room in rooms.values() {
            for member in &lock(&room.state).members {
                all.push((room.name.clone(), member.name.clone()));
            }
        }
        all
    }

    /// The server is shutting down: closes every member's connection, and
    /// every one that joins from now on, with 1001 (RFC 6455 §7.4.1: "a
    /// server going down").
    pub(crate) fn close_everyone(&self) {
        let rooms = lock(&self.rooms);
        self.shutting_down.store(true, Ordering::Release);
        for room in rooms.values() {
            for member in &lock(&room.state).members {
                close_going_away(member, self.close_timeout);
            }
        }
    }

    /// How many rooms have members.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.rooms).len()
    }
}

impl Membership {
    /// The member's current name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The room's name.
    pub(crate) fn room_name(&self) -> &str {
        &self.room.name
    }

    /// Sends `texts` from this member to everyone in the room, itself
    /// included, in order, and keeps them in the room's history: each
    /// member's outbox takes them together, so a burst read at once goes
    /// out to everyone in one write. Does nothing if the member has been
    /// removed from the room. Through Redis, the messages reach every
    /// instance; while Redis cannot be reached, only the members here, and
    /// the sender is told so once per outage.
    pub(crate) fn say(&mut self, texts: &[impl AsRef<str>]) {
        if !lock(&self.room.state)
            .members
            .iter()
            .any(|m| m.id == self.id)
        {
            return;
        }
        let ts = now_ms();
        let messages: Vec<Box<RawValue>> = texts
            .iter()
            .map(|text| {
                Event::Message {
                    room: &self.room.name,
                    from: &self.name,
                    text: text.as_ref(),
                    ts,
                }
                .raw()
            })
            .collect();
        if let Some(bus) = &self.room.bus {
            let json: Vec<&str> = messages.iter().map(|message| message.get()).collect();
            if bus.say(&self.room.name, &json).is_ok() {
                return;
            }
        }
        let mut state = lock(&self.room.state);
        let RoomState { members, history } = &mut *state;
        let mut events = Vec::with_capacity(messages.len() + 1);
        for message in messages {
            events.push((
                Audience::Everyone,
                Arc::new(SharedMessage::text(message.get())),
            ));
            history.record(message);
        }
        if let Some(bus) = &self.room.bus {
            if self.told_of_outage < bus.outage() {
                self.told_of_outage = bus.outage();
                let error = Event::Error { reason: LOCAL_ONLY }.message();
                events.push((Audience::Only(self.id), error));
            }
        }
        let removed = self.room.deliver_all(members, events);
        drop(state);
        self.room.tell_leaves(removed);
    }

    /// Renames this member and tells the whole room. Through Redis, the
    /// name must be free on every instance, and cannot change while Redis
    /// cannot be reached.
    pub(crate) fn rename(&mut self, to: &str) -> Result<(), NickError> {
        if !is_user_name(to) {
            return Err(NickError::InvalidName);
        }
        let nick = Event::Nick {
            room: &self.room.name,
            from: &self.name,
            to,
        }
        .raw();
        let mut state = lock(&self.room.state);
        let members = &mut state.members;
        let Some(at) = members.iter().position(|m| m.id == self.id) else {
            return Ok(());
        };
        if members[at].name == to {
            return Ok(());
        }
        let removed = match &self.room.bus {
            Some(bus) => {
                let (leave_from, leave_to) = (
                    leave_json(&self.room.name, &self.name),
                    leave_json(&self.room.name, to),
                );
                let from = Registration {
                    room: &self.room.name,
                    name: &self.name,
                    leave_json: leave_from.get(),
                };
                let renamed = Registration {
                    room: &self.room.name,
                    name: to,
                    leave_json: leave_to.get(),
                };
                match bus.nick(&from, &renamed, nick.get()) {
                    // The nick reaches everyone, here too, through Redis.
                    Ok(true) => members[at].name = to.to_owned(),
                    Ok(false) => return Err(NickError::Taken(to.to_owned())),
                    Err(Down) => return Err(NickError::RedisDown),
                }
                Vec::new()
            }
            None => {
                if name_taken(members, to, self.id) {
                    return Err(NickError::Taken(to.to_owned()));
                }
                members[at].name = to.to_owned();
                let event = Arc::new(SharedMessage::text(nick.get()));
                self.room.deliver(members, [(Audience::Everyone, event)])
            }
        };
        drop(state);
        self.room.tell_leaves(removed);
        self.name = to.to_owned();
        Ok(())
    }
}

impl Room {
    /// Pushes each event to its audience, in order; see [`Room::deliver_all`].
    fn deliver<const N: usize>(
        &self,
        members: &mut Vec<Member>,
        events: [(Audience, Arc<SharedMessage>); N],
    ) -> Vec<String> {
        self.deliver_all(members, events.into())
    }

    /// Pushes each event to its audience, in order, each member's events
    /// together (one wake-up of its writer). A member whose outbox is
    /// full is closed with 1008 (RFC 6455 §7.4.1: a message that violates
    /// the endpoint's policy; here, that it reads what it is sent) and
    /// removed; the names removed are returned for [`Room::tell_leaves`],
    /// once the room's lock is let go.
    fn deliver_all(
        &self,
        members: &mut Vec<Member>,
        events: Vec<(Audience, Arc<SharedMessage>)>,
    ) -> Vec<String> {
        let mut removed = Vec::new();
        members.retain(|member| {
            let its_events = events
                .iter()
                .filter(|(audience, _)| audience.includes(member.id))
                .map(|(_, event)| event);
            its_events.clone().next().is_none()
                || keep_or_close(member, its_events, self.close_timeout, &mut removed)
        });
        removed
    }

    /// Tells the room that `left` have left: through Redis (which answers
    /// with the leaves, delivered like any event), or to the members here.
    fn tell_leaves(&self, left: Vec<String>) {
        let mut pending = VecDeque::from(left);
        while let Some(user) = pending.pop_front() {
            let leave = leave_json(&self.name, &user);
            if let Some(bus) = &self.bus {
                let member = Registration {
                    room: &self.name,
                    name: &user,
                    leave_json: leave.get(),
                };
                if bus.leave(&member).is_ok() {
                    continue;
                }
            }
            let event = Arc::new(SharedMessage::text(leave.get()));
            let mut state = lock(&self.state);
            let removed = self.deliver(&mut state.members, [(Audience::Everyone, event)]);
            pending.extend(removed);
        }
    }
}

/// Pushes `events` to `member`, together: whether it stays. A member whose
/// outbox is full is closed with 1008 and its name added to `removed`.
fn keep_or_close<'e>(
    member: &Member,
    events: impl Iterator<Item = &'e Arc<SharedMessage>> + Clone,
    close_timeout: Duration,
    removed: &mut Vec<String>,
) -> bool {
    match member.outbox.push_all(events) {
        Ok(()) | Err(Refused::Closing) => true,
        Err(Refused::Full) => {
            member
                .outbox
                .close(CloseCode::POLICY_VIOLATION, QUEUE_FULL, close_timeout);
            removed.push(member.name.clone());
            false
        }
    }
}

/// The `leave` event for `user` in `room`.
fn leave_json(room: &str, user: &str) -> Box<RawValue> {
    Event::Leave { room, user }.raw()
}

/// Closes `member`'s connection because the server is shutting down.
fn close_going_away(member: &Member, close_timeout: Duration) {
    member
        .outbox
        .close(CloseCode::GOING_AWAY, SHUTDOWN_REASON, close_timeout);
}

/// Whether another member than `except` has `name`, ignoring case (in any
/// script: `Ω` and `ω` are one name).
fn name_taken(members: &[Member], name: &str, except: u64) -> bool {
    let name = name.to_lowercase();
    members
        .iter()
        .any(|m| m.id != except && m.name.to_lowercase() == name)
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is set before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update leaves the data consistent, so a panic elsewhere cannot poison it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::history::tests::texts;

    fn rooms() -> Rooms {
        Rooms::new(&ChatConfig::default(), Duration::from_secs(2), None)
    }

    #[test]
    fn guests_get_distinct_names_and_rooms_are_dropped_when_empty() {
        let rooms = rooms();
        let a = rooms.join("kitchen", Arc::new(Outbox::new(1 << 20)));
        let b = rooms.join("kitchen", Arc::new(Outbox::new(1 << 20)));
        let c = rooms.join("lobby", Arc::new(Outbox::new(1 << 20)));
        assert_ne!(a.name(), b.name());
        assert_eq!(rooms.len(), 2);
        rooms.leave(c);
        assert_eq!(rooms.len(), 1);
        rooms.leave(a);
        rooms.leave(b);
        assert_eq!(rooms.len(), 0);
    }

    #[test]
    fn a_name_can_be_taken_once_per_room_ignoring_case() {
        let rooms = rooms();
        let mut a = rooms.join("r", Arc::new(Outbox::new(1 << 20)));
        let mut b = rooms.join("r", Arc::new(Outbox::new(1 << 20)));
        let mut c = rooms.join("elsewhere", Arc::new(Outbox::new(1 << 20)));
        assert_eq!(a.rename("alice"), Ok(()));
        assert_eq!(b.rename("ALICE"), Err(NickError::Taken("ALICE".into())));
        assert_eq!(c.rename("alice"), Ok(()));
        assert_eq!(a.rename("Alice"), Ok(()), "renaming oneself");
        assert_eq!(a.name(), "Alice");
        assert_eq!(b.rename("bad name"), Err(NickError::InvalidName));
        assert_eq!(b.rename(&"x".repeat(33)), Err(NickError::InvalidName));
    }

    #[test]
    fn a_room_keeps_what_was_said_until_its_last_member_leaves() {
        let rooms = rooms();
        let mut a = rooms.join("r", Arc::new(Outbox::new(1 << 20)));
        a.say(&["before b"]);
        let mut b = rooms.join("r", Arc::new(Outbox::new(1 << 20)));
        b.say(&["after b"]);
        assert_eq!(
            texts(&lock(&b.room.state).history),
            [r#""before b""#, r#""after b""#]
        );
        rooms.leave(a);
        rooms.leave(b);
        let c = rooms.join("r", Arc::new(Outbox::new(1 << 20)));
        assert!(lock(&c.room.state).history.messages().is_empty());
        rooms.leave(c);
    }

    #[test]
    fn a_full_outbox_is_closed_and_removed_and_the_rest_told() {
        let rooms = rooms();
        let small = Arc::new(Outbox::new(200));
        let big = Arc::new(Outbox::new(1 << 20));
        let mut stalled = rooms.join("r", Arc::clone(&small));
        let mut talker = rooms.join("r", Arc::clone(&big));
        talker.say(&[&"x".repeat(300)]);
        assert!(!small.is_open(), "closed for a full queue");
        assert!(big.is_open());
        // The stalled member is gone: its own messages reach no one.
        stalled.say(&["still here?"]);
        rooms.leave(stalled);
        rooms.leave(talker);
        assert_eq!(rooms.len(), 0);
    }
}
