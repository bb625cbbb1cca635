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
    join: Script,
    say: Script,
    nick: Script,
    leave: Script,
    register: Script,
    reap: Script,
}

impl Scripts {
    pub(super) fn new(instance: u64, history: usize) -> Scripts {
        Scripts {
            instance,
            history,
            join: Script::new(include_str!("scripts/join.lua")),
            say: Script::new(include_str!("scripts/say.lua")),
            nick: Script::new(include_str!("scripts/nick.lua")),
            leave: Script::new(include_str!("scripts/leave.lua")),
            register: Script::new(include_str!("scripts/register.lua")),
            reap: Script::new(include_str!("scripts/reap.lua")),
        }
    }

    /// The instance's number.
    pub(super) fn instance(&self) -> u64 {
        self.instance
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
            .join
            .key(&keys.names)
            .key(&keys.users)
            .key(&keys.history)
            .key(&keys.seq)
            .key(members_key(self.instance))
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
        self.say
            .key(&keys.seq)
            .key(&keys.history)
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
            .arg(dead)
            .arg(PREFIX)
            .invoke(connection)
    }

    /// `script` with the keys the member scripts (nick, leave, register)
    /// take, in their order: the room's names, users and sequence number,
    /// and this instance's member set.
    fn member_script<'s>(&self, script: &'s Script, keys: &RoomKeys) -> ScriptInvocation<'s> {
        let mut invocation = script.key(&keys.names);
        invocation
            .key(&keys.users)
            .key(&keys.seq)
            .key(members_key(self.instance));
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
pub(super) fn guest_key() -> String {
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
