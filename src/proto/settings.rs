//! What a connection is told when it starts: which end it is (so who
//! masks, RFC 6455 §5.1, §5.3), and the limits it holds its peer, and
//! itself, to (§10.4).

/// Which end of the connection we are. It decides who masks (§5.1, §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: client frames arrive masked, ours go out unmasked.
    Server,
    /// We opened the connection: our frames go out masked, server frames arrive unmasked.
    Client,
}

impl Role {
    /// The other end's role.
    pub fn peer(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }
}

/// Limits on what a peer may make us hold (RFC 6455 §10.4), and on what we
/// queue for it.
///
/// ```
/// let limits = ws6455::Limits::default().max_message_size(1 << 20);
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted; a header announcing more fails the
    /// connection with 1009 before anything is allocated. Default 16 MiB.
    pub max_frame_size: u64,
    /// The largest message accepted, across all its fragments (inflated, if
    /// it arrives compressed). Default 64 MiB.
    pub max_message_size: u64,
    /// The most bytes that may wait to be sent: a message that would queue
    /// more, while something waits already, is refused with
    /// [`Error::WriteBufferFull`](crate::Error::WriteBufferFull) and not
    /// taken. A peer that does not read then cannot make a writer queue
    /// without end. Answers the protocol requires (Pongs, a Close) are never
    /// refused. Default 16 MiB.
    pub max_write_buffer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_write_buffer: 16 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: u64) -> Limits {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Limits::max_message_size`].
    pub fn max_message_size(mut self, bytes: u64) -> Limits {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Limits::max_write_buffer`].
    pub fn max_write_buffer(mut self, bytes: usize) -> Limits {
        self.max_write_buffer = bytes;
        self
    }
}
