//! What one end asks of permessage-deflate ([`DeflateConfig`]), and what
//! both ends agreed in the opening handshake ([`DeflateParams`]).

/// What one end asks of permessage-deflate.
///
/// ```
/// use ws6455::deflate::DeflateConfig;
///
/// // The best ratio, at the price of a compression context per connection.
/// let config = DeflateConfig::for_server().context_takeover(true).level(6);
/// assert_eq!(config.max_window_bits, 15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The zlib compression level, 0 (store) to 9 (smallest).
    pub level: u32,
    /// The largest LZ77 window, in bits (8 to 15: 256 bytes to 32 KiB),
    /// that our compressor uses and that we ask the peer's to keep to, where
    /// the negotiation lets us ask.
    pub max_window_bits: u8,
    /// Whether compression contexts carry over from one message to the next
    /// (RFC 7692 §7.1.1). `false` asks both ends for no context takeover: a
    /// connection then holds no compression state between messages.
    pub context_takeover: bool,
}

/// The compression level of the defaults: zlib's fastest. Messages are
/// compressed on the connection's own thread, as they are sent.
const DEFAULT_LEVEL: u32 = 1;

impl DeflateConfig {
    /// A server's default: a 15-bit window and no context takeover either
    /// way, so that a connection holds no compression state between
    /// messages (see `deflate/codec.rs` and the README for the memory and
    /// the ratio of each setting).
    pub fn for_server() -> DeflateConfig {
        DeflateConfig {
            level: DEFAULT_LEVEL,
            max_window_bits: 15,
            context_takeover: false,
        }
    }

    /// A client's default: `permessage-deflate; client_max_window_bits`,
    /// the offer browsers make, with context takeover where the server
    /// allows it.
    pub fn for_client() -> DeflateConfig {
        DeflateConfig {
            level: DEFAULT_LEVEL,
            max_window_bits: 15,
            context_takeover: true,
        }
    }

    /// Sets [`DeflateConfig::level`] (0 to 9).
    pub fn level(mut self, level: u32) -> DeflateConfig {
        self.level = level;
        self
    }

    /// Sets [`DeflateConfig::max_window_bits`] (8 to 15).
    pub fn max_window_bits(mut self, bits: u8) -> DeflateConfig {
        self.max_window_bits = bits;
        self
    }

    /// Sets [`DeflateConfig::context_takeover`].
    pub fn context_takeover(mut self, takeover: bool) -> DeflateConfig {
        self.context_takeover = takeover;
        self
    }
}

/// What the opening handshake agreed for one connection (RFC 7692 §7.1),
/// with a window of 15 bits wherever no parameter said otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server starts each message with an empty LZ77 window.
    pub server_no_context_takeover: bool,
    /// The client starts each message with an empty LZ77 window.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, in bits.
    pub server_max_window_bits: u8,
    /// The client's LZ77 window, in bits.
    pub client_max_window_bits: u8,
}
