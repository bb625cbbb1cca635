//! The in-process bus: rooms live on this instance alone. It shares
//! nothing, so each room makes every change for its own members, keeps its
//! own history and checks names against its own members; guests are
//! numbered here, from 1.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chat::bus::{Bus, Joined, LocalRooms, NickError, Renamed, Said, Unshared};

/// The bus of a chat without Redis; see the module documentation.
#[derive(Debug)]
pub(crate) struct LocalBus {
    next_guest: AtomicU64,
}

impl LocalBus {
    pub(crate) fn new() -> LocalBus {
        LocalBus {
            next_guest: AtomicU64::new(1),
        }
    }
}

impl Bus for LocalBus {
    fn start(self: Arc<Self>, _here: Arc<dyn LocalRooms>) -> io::Result<()> {
        Ok(())
    }

    fn join(&self, _room: &str) -> Result<Joined, Unshared> {
        Err(Unshared)
    }

    fn guest_here(&self) -> String {
        format!("guest-{}", self.next_guest.fetch_add(1, Ordering::Relaxed))
    }

    fn say(&self, _room: &str, _messages_json: &[&str]) -> Said {
        Said::Here
    }

    fn nick(&self, _room: &str, _from: &str, _to: &str) -> Result<Renamed, NickError> {
        Ok(Renamed::Here)
    }

    fn leave(&self, _room: &str, _name: &str) -> Result<(), Unshared> {
        Err(Unshared)
    }
}
