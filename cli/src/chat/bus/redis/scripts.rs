//! The Lua scripts this instance calls, and the keys and channels they and
//! the bus's other commands use, named in one place. Each script (a file in
//! `scripts/`, which lists its keys and arguments) changes the shared state
//! and, all but `register`, publishes the change, atomically. What is
//! shared, per room:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `ws6455:room:ROOM:names` | hash | each member's name lowercased → the name: unique ignoring case |
//! | `ws6455:room:ROOM:users` | sorted set | the names, scored by when they joined: the welcome's `users` |
//! | `ws6455:room:ROOM:history` | list | the last `message` events' JSON, oldest first |
//! | `ws6455:room:ROOM:seq` | counter | the room's last sequence number |
//!
//! and per instance, `ws6455:instance:ID:alive` (a heartbeat that expires
//! after `ALIVE_FOR`, see `reaper.rs`) and `ws6455:instance:ID:members`
//! (who is connected there), listed in `ws6455:instances`. Guests are
//! numbered by one counter, `ws6455:guest`. Each room's events are
//! published on its channel, `ws6455:room:ROOM`.
//!
//! # When keys go
//!
//! Nothing a client can make Redis keep outlives its use by more than the
//! room TTL (`--room-ttl`, 24 hours by default):
//!
//! - A room's keys live as long as it has members on any instance, and
//!   for the room TTL after its last one leaves (or is reaped): every
//!   script that changes a room ends by giving its keys that expiry when
//!   it has no members left, and taking it away again when it has (the
//!   shared `scripts/room.lua`, prepended to each). A room joined again
//!   within the TTL keeps its history and sequence number, across restarts
//!   of every instance too; one joined later starts afresh. (Redis drops
//!   an empty hash or sorted set by itself: what waits out the TTL is the
//!   history and the sequence number.)
//! - The guest counter expires the room TTL after the last guest was
//!   numbered, and numbering starts again at 1; a name still held in the
//!   room being joined is skipped (the bus tries the next number).
//! - An instance's heartbeat expires after `ALIVE_FOR`; its member set and
//!   its place in `ws6455:instances` go when it is reaped, by whichever
//!   instance next beats, which also expires the rooms it leaves empty.
//!   Should no instance ever use this Redis again, nothing reaps the last
//!   ones, and what their members held stays until one does.

use std::time::Duration;

use redis::{Connection, RedisResult, Script, ScriptInvocation};

use crate::chat::bus::Joined;

/// Every key and channel starts with this.
const PREFIX: &str = "ws6455:";

/// A member as Redis knows it, on one instance.
#[derive(Clone, Debug)]
pub(super) struct Registration<'a> {
    pub(super) room: &'a str,
    pub(super) name: &'a str,
    /// The `leave` event to publish for it if its instance dies.
    pub(super) leave_json: &'a str,
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

/// The scripts, as one instance calls them.
pub(super) struct Scripts {
    /// The instance's number: its member set is among the scripts' keys.
    instance: u64,
    /// How many messages each room's history keeps.
    history: usize,
    /// The room TTL in milliseconds: how long a room's keys outlive its
    /// last member, and the guest counter its last guest.
    room_ttl_ms: u64,
    join: Script,
    say: Script,
    nick: Script,
    leave: Script,
    register: Script,
    reap: Script,
}

/// A script that changes a room: `scripts/room.lua`, which settles the
/// room's expiry, then `file`.
macro_rules! room_script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("scripts/room.lua"),
            include_str!($file)
        ))
    };
}

impl Scripts {
    /// The scripts of instance `instance`, whose rooms keep `history`
    /// messages, and whose keys outlive their rooms' last members by
    /// `room_ttl`: at least a millisecond, and at most the chat's
    /// `MAX_ROOM_TTL` (Redis refuses an expiry past its clock's range).
    pub(super) fn new(instance: u64, history: usize, room_ttl: Duration) -> Scripts {
        Scripts {
            instance,
            history,
            room_ttl_ms: room_ttl.as_millis().max(1) as u64,
            join: room_script!("scripts/join.lua"),
            say: room_script!("scripts/say.lua"),
            nick: room_script!("scripts/nick.lua"),
            leave: room_script!("scripts/leave.lua"),
            register: room_script!("scripts/register.lua"),
            reap: room_script!("scripts/reap.lua"),
        }
    }

    /// The instance's number.
    pub(super) fn instance(&self) -> u64 {
        self.instance
    }

    /// The next guest number, from the counter every instance shares; the
    /// counter expires the room TTL after the last one.
    pub(super) fn next_guest(&self, connection: &mut Connection) -> RedisResult<u64> {
        let (guest,): (u64,) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(guest_key())
            .cmd("PEXPIRE")
            .arg(guest_key())
            .arg(self.room_ttl_ms)
            .ignore()
            .query(connection)?;
        Ok(guest)
    }

    /// Joins `member` to its room under its name, unless another member
    /// (on any instance) has it: `None`. Publishes the join.
    pub(super) fn join(
        &self,
        connection: &mut Connection,
        member: &Registration<'_>,
        join_json: &str,
    ) -> RedisResult<Option<Joined>> {
        let keys = RoomKeys::of(member.room);
        let joined: Option<(u64, Vec<String>, Vec<String>)> = self
            .member_script(&self.join, &keys)
            .arg(member.name.to_lowercase())
            .arg(member.name)
            .arg(&keys.channel)
            .arg(join_json)
            .arg(member.entry())
            .invoke(connection)?;
        Ok(joined.map(|(seq, users, history)| Joined {
            name: member.name.to_owned(),
            seq,
            users,
            history,
        }))
    }

    /// Publishes messages said together in `room`, as one event, and keeps
    /// them in its history.
    pub(super) fn say(
        &self,
        connection: &mut Connection,
        room: &str,
        messages_json: &[&str],
    ) -> RedisResult<u64> {
        let keys = RoomKeys::of(room);
        self.room_script(&self.say, &keys)
            .arg(&keys.channel)
            .arg(self.history)
            .arg(messages_json)
            .invoke(connection)
    }

    /// Renames `from` to `to` unless another member has `to` (ignoring
    /// case): `None`. Publishes the nick.
    pub(super) fn nick(
        &self,
        connection: &mut Connection,
        from: &Registration<'_>,
        to: &Registration<'_>,
        nick_json: &str,
    ) -> RedisResult<Option<u64>> {
        let keys = RoomKeys::of(from.room);
        self.member_script(&self.nick, &keys)
            .arg(from.name.to_lowercase())
            .arg(from.name)
            .arg(to.name.to_lowercase())
            .arg(to.name)
            .arg(&keys.channel)
            .arg(nick_json)
            .arg(from.entry())
            .arg(to.entry())
            .invoke(connection)
    }

    /// Removes `member` from its room and publishes its leave.
    pub(super) fn leave(
        &self,
        connection: &mut Connection,
        member: &Registration<'_>,
    ) -> RedisResult<u64> {
        let keys = RoomKeys::of(member.room);
        self.member_script(&self.leave, &keys)
            .arg(member.name.to_lowercase())
            .arg(member.name)
            .arg(&keys.channel)
            .arg(member.leave_json)
            .arg(member.entry())
            .invoke(connection)
    }

    /// Puts `member` back in its room after Redis lost it, with no event.
    pub(super) fn register(
        &self,
        connection: &mut Connection,
        member: &Registration<'_>,
    ) -> RedisResult<()> {
        let keys = RoomKeys::of(member.room);
        self.member_script(&self.register, &keys)
            .arg(member.name.to_lowercase())
            .arg(member.name)
            .arg(member.entry())
            .invoke::<i64>(connection)?;
        Ok(())
    }

    /// Reaps instance `dead`, unless another instance has: publishes the
    /// leaves of its members, and gives how many it had.
    pub(super) fn reap(&self, connection: &mut Connection, dead: u64) -> RedisResult<u64> {
        self.reap
            .key(instances_key())
            .key(members_key(dead))
            .arg(self.room_ttl_ms)
            .arg(dead)
            .arg(PREFIX)
            .invoke(connection)
    }

    /// `script` with what every script that changes a room takes first: the
    /// room's names, users, history and sequence number as its first keys,
    /// and the room TTL as its first argument.
    fn room_script<'s>(&self, script: &'s Script, keys: &RoomKeys) -> ScriptInvocation<'s> {
        let mut invocation = script.key(&keys.names);
        invocation
            .key(&keys.users)
            .key(&keys.history)
            .key(&keys.seq)
            .arg(self.room_ttl_ms);
        invocation
    }

    /// `script` with what the member scripts (join, nick, leave, register)
    /// take first: the room's keys, this instance's member set, and the
    /// room TTL.
    fn member_script<'s>(&self, script: &'s Script, keys: &RoomKeys) -> ScriptInvocation<'s> {
        let mut invocation = self.room_script(script, keys);
        invocation.key(members_key(self.instance));
        invocation
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

/// The counter guests are numbered by.
fn guest_key() -> String {
    format!("{PREFIX}guest")
}

/// The set of instances.
pub(super) fn instances_key() -> String {
    format!("{PREFIX}instances")
}

/// Instance `id`'s heartbeat.
pub(super) fn alive_key(id: u64) -> String {
    format!("{PREFIX}instance:{id}:alive")
}

/// Who is connected to instance `id`.
fn members_key(id: u64) -> String {
    format!("{PREFIX}instance:{id}:members")
}

/// The pattern of every room's channel.
pub(super) fn room_channels() -> String {
    format!("{PREFIX}room:*")
}

/// The room a channel belongs to.
pub(super) fn room_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix(PREFIX)?.strip_prefix("room:")
}

#[cfg(test)]
mod tests {
    use super::*;

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
