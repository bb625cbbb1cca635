//! Heartbeats, and the leaves of dead instances. Every instance renews its
//! heartbeat each [`BEAT`] and looks at the others'. The first to find one
//! expired reaps it (a script, so exactly one does): its members leave
//! their rooms' names and users, and a `leave` is published for each,
//! within [`ALIVE_FOR`] + [`BEAT`] of its last beat; a room left with no
//! members on any instance gets its expiry, as after any last leave.

use std::thread;
use std::time::Duration;

use redis::Connection;

use crate::chat::bus::redis::link::Link;
use crate::chat::bus::redis::scripts::{Scripts, alive_key, instances_key};

/// How often an instance renews its heartbeat and looks for dead ones.
const BEAT: Duration = Duration::from_secs(1);

/// How long a heartbeat lives without renewal.
const ALIVE_FOR: Duration = Duration::from_secs(5);

/// Renews the heartbeat and reaps dead instances every [`BEAT`], for ever.
pub(super) fn beat_forever(link: &Link, scripts: &Scripts) {
    let mut connection = None;
    loop {
        thread::sleep(BEAT);
        if !link.is_up() {
            connection = None;
            continue;
        }
        if connection.is_none() {
            connection = link.open().ok();
        }
        let Some(live) = connection.as_mut() else {
            continue;
        };
        if beat(live, scripts.instance())
            .and_then(|()| reap_the_dead(live, scripts))
            .is_err()
        {
            connection = None;
        }
    }
}

/// Renews instance `id`'s heartbeat, and lists it among the instances.
pub(super) fn beat(connection: &mut Connection, id: u64) -> redis::RedisResult<()> {
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

/// Reaps every instance whose heartbeat has expired.
fn reap_the_dead(connection: &mut Connection, scripts: &Scripts) -> redis::RedisResult<()> {
    let instances: Vec<u64> = redis::cmd("SMEMBERS")
        .arg(instances_key())
        .query(connection)?;
    for id in instances.into_iter().filter(|&id| id != scripts.instance()) {
        let alive: bool = redis::cmd("EXISTS").arg(alive_key(id)).query(connection)?;
        if !alive {
            let members = scripts.reap(connection, id)?;
            if members > 0 {
                log_line!(
                    "ws6455 chat: instance {id} stopped beating; its {members} member(s) left"
                );
            }
        }
    }
    Ok(())
}
