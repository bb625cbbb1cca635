//! Rooms, their members, and the broadcast that fans an event out to them.
//!
//! Each room's member list has its own lock. Everything sent to a room is
//! pushed into the members' outboxes while that lock is held, so every
//! member gets the room's events in one order, the order the lock was
//! taken. Pushing never blocks (see [`Outbox::push`]), so the lock is never
//! held across a socket write. A member whose outbox is full is closed with
//! 1008 and removed in the same pass, and the rest of the room is told it left.
//!
//! The registry of rooms has a lock of its own, taken before a room's for
//! joining and leaving only; a room is dropped when its last member leaves.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::chat::event::{Event, MAX_NAME_LEN, is_user_name};
use crate::chat::outbox::{Outbox, Refused};
use ws6455::SharedMessage;
use ws6455::close::CloseCode;

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
}

/// One room.
#[derive(Debug)]
pub(crate) struct Room {
    name: String,
    members: Mutex<Vec<Member>>,
    close_timeout: Duration,
}

#[derive(Debug)]
struct Member {
    id: u64,
    name: String,
    outbox: Arc<Outbox>,
}

/// A connection's place in a room.
#[derive(Debug)]
pub(crate) struct Membership {
    room: Arc<Room>,
    id: u64,
    /// The member's name; only the member itself changes it.
    name: String,
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
    /// Not 1–32 ASCII letters, digits, `_` or `-`.
    InvalidName,
    /// Someone else in the room has this name (compared ignoring ASCII case).
    Taken(String),
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NickError::InvalidName => write!(
                f,
                "a name is 1 to {MAX_NAME_LEN} letters or digits (of any script), '_' or '-'"
            ),
            NickError::Taken(name) => write!(f, "the name {name} is taken in this room"),
        }
    }
}

impl Rooms {
    /// No rooms yet.
    pub(crate) fn new(close_timeout: Duration, max_text: usize) -> Rooms {
        Rooms {
            rooms: Mutex::new(HashMap::new()),
            next_member: AtomicU64::new(1),
            next_guest: AtomicU64::new(1),
            close_timeout,
            max_text,
        }
    }

    /// Adds a connection to room `name` (creating it) under a guest name:
    /// it gets the welcome, the rest of the room a join.
    pub(crate) fn join(&self, name: &str, outbox: Arc<Outbox>) -> Membership {
        let mut rooms = lock(&self.rooms);
        let room = Arc::clone(rooms.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Room {
                name: name.to_owned(),
                members: Mutex::new(Vec::new()),
                close_timeout: self.close_timeout,
            })
        }));
        let mut members = lock(&room.members);
        let id = self.next_member.fetch_add(1, Ordering::Relaxed);
        let guest = loop {
            let guest = format!("guest-{}", self.next_guest.fetch_add(1, Ordering::Relaxed));
            if !name_taken(&members, &guest, id) {
                break guest;
            }
        };
        members.push(Member {
            id,
            name: guest.clone(),
            outbox,
        });
        let welcome = Event::Welcome {
            room: &room.name,
            you: &guest,
            users: members.iter().map(|m| m.name.as_str()).collect(),
            max_text: self.max_text,
        }
        .message();
        let join = Event::Join {
            room: &room.name,
            user: &guest,
        }
        .message();
        room.deliver(
            &mut members,
            [(Audience::Only(id), welcome), (Audience::AllBut(id), join)],
        );
        drop(members);
        drop(rooms);
        Membership {
            room,
            id,
            name: guest,
        }
    }

    /// Removes a connection from its room, if it is still there, and tells
    /// the rest; drops the room once it is empty.
    pub(crate) fn leave(&self, membership: Membership) {
        let mut rooms = lock(&self.rooms);
        let room = membership.room;
        let mut members = lock(&room.members);
        if let Some(at) = members.iter().position(|m| m.id == membership.id) {
            let member = members.remove(at);
            let leave = Event::Leave {
                room: &room.name,
                user: &member.name,
            }
            .message();
            room.deliver(&mut members, [(Audience::Everyone, leave)]);
        }
        if members.is_empty() {
            if let Some(registered) = rooms.get(&room.name) {
                if Arc::ptr_eq(registered, &room) {
                    rooms.remove(&room.name);
                }
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

    /// Sends `text` from this member to everyone in the room, itself included.
    /// Does nothing if the member has been removed from the room.
    pub(crate) fn say(&self, text: &str) {
        let mut members = lock(&self.room.members);
        if !members.iter().any(|m| m.id == self.id) {
            return;
        }
        // Stamped under the room's lock: in a room's order, `ts` goes back
        // only if the system clock does.
        let message = Event::Message {
            room: &self.room.name,
            from: &self.name,
            text,
            ts: now_ms(),
        }
        .message();
        self.room
            .deliver(&mut members, [(Audience::Everyone, message)]);
    }

    /// Renames this member and tells the whole room.
    pub(crate) fn rename(&mut self, to: &str) -> Result<(), NickError> {
        if !is_user_name(to) {
            return Err(NickError::InvalidName);
        }
        let mut members = lock(&self.room.members);
        if name_taken(&members, to, self.id) {
            return Err(NickError::Taken(to.to_owned()));
        }
        let Some(member) = members.iter_mut().find(|m| m.id == self.id) else {
            return Ok(());
        };
        if member.name == to {
            return Ok(());
        }
        member.name = to.to_owned();
        let nick = Event::Nick {
            room: &self.room.name,
            from: &self.name,
            to,
        }
        .message();
        self.room
            .deliver(&mut members, [(Audience::Everyone, nick)]);
        self.name = to.to_owned();
        Ok(())
    }
}

impl Room {
    /// Pushes each event to its audience, in order. A member whose outbox is
    /// full is closed with 1008 (RFC 6455 §7.4.1: a message that violates
    /// the endpoint's policy; here, that it reads what it is sent) and
    /// removed, and a leave for it goes to the rest after the events before it.
    fn deliver<const N: usize>(
        &self,
        members: &mut Vec<Member>,
        events: [(Audience, Arc<SharedMessage>); N],
    ) {
        let mut pending = VecDeque::from(events);
        while let Some((audience, event)) = pending.pop_front() {
            let mut removed = Vec::new();
            members.retain(|member| {
                if !audience.includes(member.id) {
                    return true;
                }
                match member.outbox.push(&event) {
                    Ok(()) | Err(Refused::Closing) => true,
                    Err(Refused::Full) => {
                        member.outbox.close(
                            CloseCode::POLICY_VIOLATION,
                            QUEUE_FULL,
                            self.close_timeout,
                        );
                        removed.push(member.name.clone());
                        false
                    }
                }
            });
            for user in &removed {
                let leave = Event::Leave {
                    room: &self.name,
                    user,
                }
                .message();
                pending.push_back((Audience::Everyone, leave));
            }
        }
    }
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

    fn rooms() -> Rooms {
        Rooms::new(Duration::from_secs(2), 4000)
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
    fn a_full_outbox_is_closed_and_removed_and_the_rest_told() {
        let rooms = rooms();
        let small = Arc::new(Outbox::new(200));
        let big = Arc::new(Outbox::new(1 << 20));
        let stalled = rooms.join("r", Arc::clone(&small));
        let talker = rooms.join("r", Arc::clone(&big));
        talker.say(&"x".repeat(300));
        assert!(!small.is_open(), "closed for a full queue");
        assert!(big.is_open());
        // The stalled member is gone: its own messages reach no one.
        stalled.say("still here?");
        rooms.leave(stalled);
        rooms.leave(talker);
        assert_eq!(rooms.len(), 0);
    }
}
