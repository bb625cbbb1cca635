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
//!
//! A room asks its [`Bus`] to share each change with the other instances.
//! What the bus shares comes back through it, numbered, to
//! [`LocalRooms::deliver`], and each member gets the events numbered after
//! its join; what it does not share, the room makes for its members here.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use crate::chat::ChatConfig;
use crate::chat::bus::{
    Bus, Joined, Kind, LocalRooms, NickError, Published, Renamed, Said, Unshared,
};
use crate::chat::event::{Event, is_user_name};
use crate::chat::history::{History, HistoryLimit};
use crate::chat::outbox::{Outbox, Refused};
use ws6455::CloseCode;
use ws6455::proto::SharedMessage;
use ws6455::server::SHUTDOWN_REASON;

/// The close reason of a member whose outgoing queue overflowed.
pub(crate) const QUEUE_FULL: &str = "outgoing queue full";

/// The close reason of a connection whose room could not be opened.
pub(crate) const TOO_MANY_ROOMS: &str = "too many rooms on this server; try again later";

/// A room could not be opened: this instance holds its most rooms
/// ([`ChatConfig::max_rooms`]) already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManyRooms;

/// Every room, by name.
#[derive(Debug)]
pub(crate) struct Rooms {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_member: AtomicU64,
    /// How long a member closed for a full queue gets to finish closing.
    close_timeout: Duration,
    /// The longest text, in characters, that the welcome announces.
    max_text: usize,
    /// How much history each room keeps.
    history: HistoryLimit,
    /// The most rooms this instance holds at once ([`ChatConfig::max_rooms`]).
    max_rooms: usize,
    /// Set, under the registry's lock, when the server shuts down: every
    /// member is closed, and so is anyone who joins after.
    shutting_down: AtomicBool,
    /// What shares the rooms with other instances, if anything does.
    bus: Arc<dyn Bus>,
}

/// One room.
#[derive(Debug)]
pub(crate) struct Room {
    name: String,
    state: Mutex<RoomState>,
    close_timeout: Duration,
    /// What shares the rooms with other instances, if anything does.
    bus: Arc<dyn Bus>,
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
    /// The member gets the events the bus delivers after this sequence
    /// number (its join's; the welcome holds what came before).
    delivered_after: u64,
}

/// A connection's place in a room.
#[derive(Debug)]
pub(crate) struct Membership {
    room: Arc<Room>,
    id: u64,
    /// The member's name; only the member itself changes it.
    name: String,
    /// The last outage of the bus this member was told about.
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

impl Rooms {
    /// No rooms yet. A member closed for a full queue gets `close_timeout`
    /// to finish closing. Rooms are shared through `bus`.
    pub(crate) fn new(config: &ChatConfig, close_timeout: Duration, bus: Arc<dyn Bus>) -> Rooms {
        Rooms {
            rooms: Mutex::new(HashMap::new()),
            next_member: AtomicU64::new(1),
            close_timeout,
            max_text: config.max_text,
            history: HistoryLimit::of(config),
            max_rooms: config.max_rooms,
            shutting_down: AtomicBool::new(false),
            bus,
        }
    }

    /// Whether a connection could join room `name` now: the room is open
    /// already, or this instance holds fewer than its most rooms.
    pub(crate) fn has_room_for(&self, name: &str) -> bool {
        let rooms = lock(&self.rooms);
        rooms.len() < self.max_rooms || rooms.contains_key(name)
    }

    /// Adds a connection to room `name` (creating it, unless this instance
    /// holds its most rooms already) under a guest name: it gets the
    /// welcome, with the room's history, the rest of the room a join.
    pub(crate) fn join(&self, name: &str, outbox: Arc<Outbox>) -> Result<Membership, TooManyRooms> {
        let mut rooms = lock(&self.rooms);
        if rooms.len() >= self.max_rooms && !rooms.contains_key(name) {
            return Err(TooManyRooms);
        }
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
        let (guest, removed) = match self.bus.join(&room.name) {
            Ok(joined) => self.join_shared(&room, &mut state, id, outbox, joined),
            Err(Unshared) => self.join_here(&room, &mut state, id, outbox),
        };
        if self.shutting_down.load(Ordering::Acquire) {
            if let Some(member) = state.members.iter().find(|m| m.id == id) {
                close_going_away(member, self.close_timeout);
            }
        }
        drop(state);
        drop(rooms);
        room.tell_leaves(removed);
        Ok(Membership {
            room,
            id,
            name: guest,
            // Outages are numbered from 1: whoever joins is told of the
            // current one, if its message is the one that meets it.
            told_of_outage: 0,
        })
    }

    /// Joins through the bus, which named the guest and published its
    /// join: the welcome is from the room's shared state.
    fn join_shared(
        &self,
        room: &Room,
        state: &mut RoomState,
        id: u64,
        outbox: Arc<Outbox>,
        joined: Joined,
    ) -> (String, Vec<String>) {
        state.members.push(Member {
            id,
            name: joined.name.clone(),
            outbox,
            delivered_after: joined.seq,
        });
        let history = self.history.fit(&joined.history);
        let welcome = Event::Welcome {
            room: &room.name,
            you: &joined.name,
            users: joined.users.iter().map(String::as_str).collect(),
            max_text: self.max_text,
            history: history.iter().map(|m| &**m).collect(),
        }
        .message();
        let removed = room.deliver(&mut state.members, [(Audience::Only(id), welcome)]);
        (joined.name, removed)
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
            let guest = self.bus.guest_here();
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

impl LocalRooms for Rooms {
    fn deliver(&self, room: &str, event: &Published<'_>) {
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

    fn reconnected(&self) {
        for room in lock(&self.rooms).values() {
            for member in &mut lock(&room.state).members {
                member.delivered_after = 0;
            }
        }
    }

    fn members(&self) -> Vec<(String, String)> {
        let rooms = lock(&self.rooms);
        let mut all = Vec::new();
        for room in rooms.values() {
            for member in &lock(&room.state).members {
                all.push((room.name.clone(), member.name.clone()));
            }
        }
        all
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
    /// removed from the room. Through a bus that shares the room, the
    /// messages reach every instance; while it cannot, only the members
    /// here, and the sender is told so once per outage.
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
        let json: Vec<&str> = messages.iter().map(|message| message.get()).collect();
        let outage = match self.room.bus.say(&self.room.name, &json) {
            Said::Shared => return,
            Said::Here => None,
            Said::HereOnly(outage) => Some(outage),
        };
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
        if let Some(outage) = outage.filter(|outage| self.told_of_outage < outage.number) {
            self.told_of_outage = outage.number;
            let error = Event::Error {
                reason: outage.notice,
            }
            .message();
            events.push((Audience::Only(self.id), error));
        }
        let removed = self.room.deliver_all(members, events);
        drop(state);
        self.room.tell_leaves(removed);
    }

    /// Renames this member and tells the whole room. Through a bus that
    /// shares names, the name must be free on every instance, and cannot
    /// change while the bus cannot be reached.
    pub(crate) fn rename(&mut self, to: &str) -> Result<(), NickError> {
        if !is_user_name(to) {
            return Err(NickError::InvalidName);
        }
        let mut state = lock(&self.room.state);
        let members = &mut state.members;
        let Some(at) = members.iter().position(|m| m.id == self.id) else {
            return Ok(());
        };
        if members[at].name == to {
            return Ok(());
        }
        let removed = match self.room.bus.nick(&self.room.name, &self.name, to)? {
            // The nick reaches everyone, here too, through the bus.
            Renamed::Shared => {
                members[at].name = to.to_owned();
                Vec::new()
            }
            Renamed::Here => {
                if name_taken(members, to, self.id) {
                    return Err(NickError::Taken(to.to_owned()));
                }
                members[at].name = to.to_owned();
                let nick = Event::Nick {
                    room: &self.room.name,
                    from: &self.name,
                    to,
                }
                .message();
                self.room.deliver(members, [(Audience::Everyone, nick)])
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

    /// Tells the room that `left` have left: through the bus (which
    /// delivers the leaves back, like any event), or to the members here.
    fn tell_leaves(&self, left: Vec<String>) {
        let mut pending = VecDeque::from(left);
        while let Some(user) = pending.pop_front() {
            if self.bus.leave(&self.name, &user).is_ok() {
                continue;
            }
            let event = Event::Leave {
                room: &self.name,
                user: &user,
            }
            .message();
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
    use crate::chat::bus::local::LocalBus;
    use crate::chat::history::tests::texts;

    fn rooms() -> Rooms {
        Rooms::new(
            &ChatConfig::default(),
            Duration::from_secs(2),
            Arc::new(LocalBus::new()),
        )
    }

    #[test]
    fn guests_get_distinct_names_and_rooms_are_dropped_when_empty() {
        let rooms = rooms();
        let a = rooms
            .join("kitchen", Arc::new(Outbox::new(1 << 20)))
            .unwrap();
        let b = rooms
            .join("kitchen", Arc::new(Outbox::new(1 << 20)))
            .unwrap();
        let c = rooms.join("lobby", Arc::new(Outbox::new(1 << 20))).unwrap();
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
        let mut a = rooms.join("r", Arc::new(Outbox::new(1 << 20))).unwrap();
        let mut b = rooms.join("r", Arc::new(Outbox::new(1 << 20))).unwrap();
        let mut c = rooms
            .join("elsewhere", Arc::new(Outbox::new(1 << 20)))
            .unwrap();
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
        let mut a = rooms.join("r", Arc::new(Outbox::new(1 << 20))).unwrap();
        a.say(&["before b"]);
        let mut b = rooms.join("r", Arc::new(Outbox::new(1 << 20))).unwrap();
        b.say(&["after b"]);
        assert_eq!(
            texts(&lock(&b.room.state).history),
            [r#""before b""#, r#""after b""#]
        );
        rooms.leave(a);
        rooms.leave(b);
        let c = rooms.join("r", Arc::new(Outbox::new(1 << 20))).unwrap();
        assert!(lock(&c.room.state).history.messages().is_empty());
        rooms.leave(c);
    }

    #[test]
    fn a_full_outbox_is_closed_and_removed_and_the_rest_told() {
        let rooms = rooms();
        let small = Arc::new(Outbox::new(200));
        let big = Arc::new(Outbox::new(1 << 20));
        let mut stalled = rooms.join("r", Arc::clone(&small)).unwrap();
        let mut talker = rooms.join("r", Arc::clone(&big)).unwrap();
        talker.say(&[&"x".repeat(300)]);
        assert!(!small.is_open(), "closed for a full queue");
        assert!(big.is_open());
        // The stalled member is gone: its own messages reach no one.
        stalled.say(&["still here?"]);
        rooms.leave(stalled);
        rooms.leave(talker);
        assert_eq!(rooms.len(), 0);
    }

    #[test]
    fn no_room_is_opened_beyond_max_rooms_but_open_ones_take_members() {
        let rooms = Rooms::new(
            &ChatConfig {
                max_rooms: 2,
                ..ChatConfig::default()
            },
            Duration::from_secs(2),
            Arc::new(LocalBus::new()),
        );
        let outbox = || Arc::new(Outbox::new(1 << 20));
        let a = rooms.join("a", outbox()).unwrap();
        let b = rooms.join("b", outbox()).unwrap();
        assert!(!rooms.has_room_for("c"));
        assert_eq!(rooms.join("c", outbox()).err(), Some(TooManyRooms));
        assert!(rooms.has_room_for("a"));
        let a2 = rooms.join("a", outbox()).unwrap();
        rooms.leave(b);
        assert!(rooms.has_room_for("c"));
        let c = rooms.join("c", outbox()).unwrap();
        assert_eq!(rooms.len(), 2);
        for member in [a, a2, c] {
            rooms.leave(member);
        }
        assert_eq!(rooms.len(), 0);
    }
}
