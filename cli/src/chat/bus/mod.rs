//! What rooms need of whatever shares them between instances: a [`Bus`].
//!
//! A room asks its bus to share each change: a join, messages said, a
//! rename, a leave. A bus that shares the change publishes it, and delivers
//! it back to every instance, this one included, through the rooms here
//! ([`LocalRooms`]), numbered in one order. A bus that does not (the
//! in-process bus, `bus/local.rs`, or Redis while it cannot be reached,
//! `bus/redis/`) answers [`Unshared`], and the room makes the change for its
//! members on this instance itself. The bus also names guests, and keeps
//! names unique where they are shared.

pub(crate) mod local;
pub(crate) mod redis;

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::chat::event::MAX_NAME_LEN;

/// Shares rooms between instances; see the module documentation. Rooms
/// call [`Bus::join`], [`Bus::guest_here`] and [`Bus::nick`] with the room's
/// lock held, so that nothing delivered comes between the change and the
/// room's record of it: a bus delivers from its own threads, never from
/// within these.
pub(crate) trait Bus: fmt::Debug + Send + Sync {
    /// Starts delivering what is published to the rooms `here`.
    fn start(self: Arc<Self>, here: Arc<dyn LocalRooms>) -> io::Result<()>;

    /// Joins a guest to `room` under a name no member of it has, on any
    /// instance, and publishes the join.
    fn join(&self, room: &str) -> Result<Joined, Unshared>;

    /// A name for a guest joining on this instance alone, when
    /// [`Bus::join`] did not share the join; the room asks again while the
    /// name is taken there.
    fn guest_here(&self) -> String;

    /// Publishes messages said together in `room`, as one event, and keeps
    /// them in its shared history. Each is a `message` event's compact JSON.
    fn say(&self, room: &str, messages_json: &[&str]) -> Said;

    /// Renames `from` to `to` in `room`, unless another member (on any
    /// instance) has `to`, ignoring case; publishes the nick.
    fn nick(&self, room: &str, from: &str, to: &str) -> Result<Renamed, NickError>;

    /// Removes `name` from `room` and publishes its leave.
    fn leave(&self, room: &str, name: &str) -> Result<(), Unshared>;
}

/// What a bus needs of the rooms on this instance: where it delivers what
/// was published.
pub(crate) trait LocalRooms: Send + Sync {
    /// Delivers `event`, published on `room`, to the room's members here
    /// who joined before it.
    fn deliver(&self, room: &str, event: &Published<'_>);

    /// The bus is back after an outage, and its numbering may have started
    /// over: every member here gets whatever is published from now on.
    fn reconnected(&self);

    /// Every member here, as (room, name): what a bus that lost its state
    /// registers again.
    fn members(&self) -> Vec<(String, String)>;
}

/// The bus did not share a change: the room makes it, for its members on
/// this instance alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unshared;

/// What joining a room through a bus gave.
#[derive(Debug)]
pub(crate) struct Joined {
    /// The joiner's name.
    pub(crate) name: String,
    /// The join's sequence number: the member gets the events after it.
    pub(crate) seq: u64,
    /// Everyone in the room on every instance, the joiner included, in the
    /// order they joined.
    pub(crate) users: Vec<String>,
    /// The room's last messages, oldest first.
    pub(crate) history: Vec<String>,
}

/// What became of messages said in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Said {
    /// The bus published them: they come back through it, here too.
    Shared,
    /// The room delivers them to its members here, who are all there are.
    Here,
    /// The bus has lost the other instances: the room delivers them to its
    /// members here, and tells the sender, once per outage.
    HereOnly(Outage),
}

/// A time the bus could not reach the other instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outage {
    /// Outages are numbered from 1.
    pub(crate) number: u64,
    /// What a sender is told when its message reached only this instance.
    pub(crate) notice: &'static str,
}

/// Who made a rename.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Renamed {
    /// The bus took the name for the member, and published the nick, which
    /// comes back to this instance too.
    Shared,
    /// The bus keeps no names: the room checks the name against its own
    /// members, and tells them.
    Here,
}

/// Why `/nick` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NickError {
    /// Not 1–32 letters or digits of any script, `_` or `-`.
    InvalidName,
    /// Someone else in the room has this name (compared ignoring case, in any script).
    Taken(String),
    /// Redis, which keeps names unique across instances, cannot be reached.
    Down,
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NickError::InvalidName => write!(
                f,
                "a name is 1 to {MAX_NAME_LEN} letters or digits (of any script), '_' or '-'"
            ),
            NickError::Taken(name) => write!(f, "the name {name} is taken in this room"),
            NickError::Down => f.write_str(
                "names cannot change while the server has lost Redis; try again shortly",
            ),
        }
    }
}

/// What a published event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    Join,
    Leave,
    Nick,
}

/// One event as a bus delivers it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Published<'a> {
    /// Its place in the room's order.
    pub(crate) seq: u64,
    pub(crate) kind: Kind,
    /// For [`Kind::Message`], one or more messages, a line each: compact
    /// JSON has no line breaks of its own (one in a string is `\n`).
    pub(crate) json: &'a str,
}
