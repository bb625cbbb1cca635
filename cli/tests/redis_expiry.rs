//! `ws6455 chat --redis --room-ttl`: what rooms leave in Redis expires.
//! Against a real `redis-server` (started here on a free loopback port,
//! with no persistence), read with its own client: a thousand rooms opened
//! and left leave no key behind once their TTL has passed; a room joined
//! again within its TTL keeps its history and sequence number, and one
//! joined after it starts afresh; a room with members on another instance
//! does not expire; what a killed instance leaves expires once it is reaped.
//!
//! Needs `redis-server` on the PATH (Debian's `redis-server` package;
//! `.ci/run` installs it).

#[path = "common/chat_client.rs"]
mod chat_client;
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::thread;
use std::time::{Duration, Instant};

use chat_client::Client;
use common::*;
use redis_server::RedisServer;

/// The rooms' TTL in these tests, in seconds.
const ROOM_TTL: &str = "2";

/// A little longer than [`ROOM_TTL`]: by then every key it applied to is gone.
const PAST_THE_TTL: Duration = Duration::from_secs(3);

/// A chat instance using `redis`, whose rooms expire [`ROOM_TTL`] after
/// their last member. The test's clients all come from 127.0.0.1, dozens
/// at a time, each leaving while the server still finishes closing the
/// one before: no limit per address.
fn chat(redis: &RedisServer) -> Ws6455Server {
    start_ws6455(&[
        "chat",
        "--quiet",
        "--redis",
        &redis.url(),
        "--room-ttl",
        ROOM_TTL,
        "--max-connections-per-ip",
        "0",
    ])
}

/// A connection of the test's own to Redis, to see what the chat left there.
struct Probe {
    connection: redis::Connection,
}

impl Probe {
    fn new(redis: &RedisServer) -> Probe {
        let client = redis::Client::open(redis.url()).unwrap();
        Probe {
            connection: client.get_connection().unwrap(),
        }
    }

    /// Every key matching `pattern`, by SCAN (which, like every read,
    /// skips keys that have expired).
    fn keys(&mut self, pattern: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut self.connection)
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// Each key's time to live in milliseconds: -1 for none, -2 for no key.
    fn ttls(&mut self, keys: &[String]) -> Vec<i64> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("PTTL").arg(key);
        }
        pipe.query(&mut self.connection).unwrap()
    }

    /// The keys matching `pattern` that have no expiry.
    fn lasting(&mut self, pattern: &str) -> Vec<String> {
        let keys = self.keys(pattern);
        let ttls = self.ttls(&keys);
        keys.into_iter()
            .zip(ttls)
            .filter(|&(_, ttl)| ttl == -1)
            .map(|(key, _)| key)
            .collect()
    }

    /// Waits up to `timeout` for the keys matching `pattern` to exist and
    /// all have an expiry: the rooms they belong to were left. How many.
    fn wait_until_all_expire(&mut self, pattern: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let lasting = self.lasting(pattern);
            let keys = self.keys(pattern).len();
            if lasting.is_empty() && keys > 0 {
                return keys;
            }
            assert!(
                Instant::now() < deadline,
                "{pattern}: {keys} keys, without an expiry after {timeout:?}: {lasting:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The room's sequence number, as Redis holds it (0: no key).
    fn seq(&mut self, room: &str) -> u64 {
        let seq: Option<u64> = redis::cmd("GET")
            .arg(format!("ws6455:room:{room}:seq"))
            .query(&mut self.connection)
            .unwrap();
        seq.unwrap_or(0)
    }

    /// The members of a set.
    fn set(&mut self, key: &str) -> Vec<String> {
        redis::cmd("SMEMBERS")
            .arg(key)
            .query(&mut self.connection)
            .unwrap()
    }
}

#[test]
fn a_thousand_rooms_opened_and_left_leave_no_key_once_their_ttl_has_passed() {
    const ROOMS: usize = 1000;
    const AT_ONCE: usize = 40;
    let redis = RedisServer::start().unwrap();
    let one = chat(&redis);
    let mut probe = Probe::new(&redis);
    let started = Instant::now();
    // AT_ONCE clients at a time, each opening its share of the rooms one
    // after the other: join, say something (a history), leave.
    thread::scope(|scope| {
        for first in 0..AT_ONCE {
            let one = &one;
            scope.spawn(move || {
                for room in (first..ROOMS).step_by(AT_ONCE) {
                    let mut client = Client::join(one, &format!("/made-up-{room}"));
                    client.say_and_wait("was here");
                    client.leave();
                }
            });
        }
    });
    let opened = started.elapsed();
    // At most every room's history and sequence number (empty hashes and
    // sorted sets are no keys), fewer if the first rooms' have expired
    // already, and none without an expiry.
    let pattern = "ws6455:room:*";
    let left = probe.wait_until_all_expire(pattern, Duration::from_secs(5));
    let all_left = Instant::now();
    eprintln!(
        "{ROOMS} rooms opened and left in {opened:?}: {left} keys of theirs in Redis, each with an expiry"
    );
    assert!(left <= 2 * ROOMS, "{left}");
    thread::sleep(PAST_THE_TTL.saturating_sub(all_left.elapsed()));
    let remaining = probe.keys(pattern);
    eprintln!(
        "{} keys matching {pattern} left {PAST_THE_TTL:?} after the rooms were left",
        remaining.len()
    );
    assert!(remaining.is_empty(), "{remaining:?}");
    // The guest counter has expired too: what is left is the live
    // instance's heartbeat and its entry in the instance set.
    let mut everything = probe.keys("*");
    everything.sort_unstable();
    eprintln!("all that is left in Redis: {everything:?}");
    assert_eq!(everything.len(), 2, "{everything:?}");
    assert!(
        everything[0].starts_with("ws6455:instance:") && everything[0].ends_with(":alive"),
        "{everything:?}"
    );
    assert_eq!(everything[1], "ws6455:instances");
}

#[test]
fn a_room_rejoined_within_its_ttl_keeps_its_history_and_sequence_and_after_it_starts_afresh() {
    let redis = RedisServer::start().unwrap();
    let one = chat(&redis);
    let mut probe = Probe::new(&redis);
    let pattern = "ws6455:room:again:*";
    let mut alice = Client::join(&one, "/again");
    alice.say_and_wait("one");
    alice.say_and_wait("two");
    // Names, users, history and sequence number: no expiry while alice is in.
    assert_eq!(probe.lasting(pattern).len(), 4);
    alice.leave();
    probe.wait_until_all_expire(pattern, Duration::from_secs(5));
    // A join, two messages and a leave.
    let seq = probe.seq("again");
    assert_eq!(seq, 4);

    // Back within the TTL: the history is there, the numbering goes on,
    // and the keys last again while the room has a member.
    let bob = Client::join(&one, "/again");
    assert_eq!(bob.history(), ["one", "two"]);
    assert_eq!(probe.seq("again"), seq + 1);
    assert_eq!(probe.lasting(pattern).len(), 4);
    bob.leave();
    probe.wait_until_all_expire(pattern, Duration::from_secs(5));

    // After the TTL: nothing of it is left, and it starts afresh.
    thread::sleep(PAST_THE_TTL);
    assert_eq!(probe.keys(pattern), Vec::<String>::new());
    let carol = Client::join(&one, "/again");
    assert_eq!(carol.history(), Vec::<&str>::new());
    assert_eq!(probe.seq("again"), 1);
}

#[test]
fn a_room_with_members_on_another_instance_does_not_expire_when_this_ones_leave() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut probe = Probe::new(&redis);
    let pattern = "ws6455:room:shared:*";
    let mut alice = Client::join(&one, "/shared");
    alice.say_and_wait("kept");
    let bob = Client::join(&two, "/shared");
    alice.next("join");
    bob.leave();
    alice.next("leave");
    // Instance two has no one in the room now; instance one has alice.
    thread::sleep(PAST_THE_TTL);
    let lasting = probe.lasting(pattern);
    assert_eq!(
        probe.keys(pattern).len(),
        lasting.len(),
        "every key of the room lasts: {lasting:?}"
    );
    assert!(
        lasting.contains(&"ws6455:room:shared:history".to_owned()),
        "{lasting:?}"
    );
    let carol = Client::join(&two, "/shared");
    assert_eq!(carol.history(), ["kept"]);
}

#[test]
fn what_a_killed_instance_leaves_behind_expires_once_it_is_reaped() {
    let redis = RedisServer::start().unwrap();
    let _reaper = chat(&redis);
    let two = chat(&redis);
    let mut probe = Probe::new(&redis);
    let pattern = "ws6455:room:orphan*";
    let mut bob = Client::join(&two, "/orphan");
    bob.say_and_wait("left behind");
    assert_eq!(probe.set("ws6455:instances").len(), 2);
    drop(two); // SIGKILL: no goodbye, bob never leaves by himself.
    let killed = Instant::now();
    // Instance one reaps two, and the room, left empty, gets its expiry.
    probe.wait_until_all_expire(pattern, Duration::from_secs(10));
    let reaped = killed.elapsed();
    eprintln!("the killed instance's room got its expiry {reaped:?} after the kill");
    thread::sleep(PAST_THE_TTL);
    assert_eq!(probe.keys(pattern), Vec::<String>::new());
    // Of the instances, only the live one is left: its heartbeat (it has
    // no members, so no member set) and its entry in the instance set.
    assert_eq!(probe.set("ws6455:instances").len(), 1);
    let instance_keys = probe.keys("ws6455:instance:*");
    assert_eq!(instance_keys.len(), 1, "{instance_keys:?}");
    assert!(instance_keys[0].ends_with(":alive"), "{instance_keys:?}");
}
