//! The link to Redis: its client, the connection the connections' threads
//! publish on, and whether Redis is up. The subscriber marks it up once
//! subscribed; any failed call marks it down and starts an outage, and
//! calls fail at once until the subscriber is subscribed again. No call
//! waits on Redis for longer than [`REDIS_TIMEOUT`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::{Client, Connection};

/// No Redis call made for a connection waits longer than this.
pub(super) const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

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
pub(super) struct Down;

/// This instance's link to Redis; see the module documentation.
pub(super) struct Link {
    url: String,
    client: Client,
    /// The connection the connections' threads publish on, when there is one.
    publisher: Mutex<Option<Connection>>,
    /// Whether the subscriber is subscribed and the last publish went through.
    up: AtomicBool,
    /// Counts outages: a sender is told once per outage.
    outages: AtomicU64,
}

impl Link {
    /// Connects to Redis at `url`: fails when Redis cannot be reached now.
    /// The link is down until the subscriber is subscribed.
    pub(super) fn connect(url: &str) -> Result<Link, Unreachable> {
        let unreachable = |error| Unreachable {
            url: url.to_owned(),
            error,
        };
        let client = Client::open(url).map_err(unreachable)?;
        let connection = open(&client).map_err(unreachable)?;
        Ok(Link {
            url: url.to_owned(),
            client,
            publisher: Mutex::new(Some(connection)),
            up: AtomicBool::new(false),
            outages: AtomicU64::new(0),
        })
    }

    /// Redis's URL.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// A new connection with [`REDIS_TIMEOUT`] on connecting, reading and writing.
    pub(super) fn open(&self) -> redis::RedisResult<Connection> {
        open(&self.client)
    }

    /// Whether events go through Redis now.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The number of the current (or last) outage; 0 before the first.
    pub(super) fn outage(&self) -> u64 {
        self.outages.load(Ordering::Acquire)
    }

    /// Runs `command` on the publishing connection, unless Redis is down.
    /// A failure marks it down, and starts an outage.
    pub(super) fn call<T>(
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

    /// Publishes on `publisher` from now on, and marks Redis up: whether
    /// it was down.
    pub(super) fn came_up(&self, publisher: Connection) -> bool {
        *self.publisher() = Some(publisher);
        !self.up.swap(true, Ordering::AcqRel)
    }

    /// Marks Redis down, starting an outage if it was up.
    pub(super) fn went_down(&self) {
        if self.up.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::AcqRel);
            log_line!(
                "ws6455 chat: lost Redis at {}; delivering locally",
                self.url
            );
        }
    }

    fn publisher(&self) -> MutexGuard<'_, Option<Connection>> {
        self.publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection with [`REDIS_TIMEOUT`] on connecting, reading and writing.
fn open(client: &Client) -> redis::RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(REDIS_TIMEOUT)?;
    connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
    connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
    Ok(connection)
}
