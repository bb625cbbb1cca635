//! Who a connection comes from, and how many connections each client
//! address holds, for [`ServerConfig::max_connections_per_ip`] and
//! [`ServerConfig::trust_proxy`].
//!
//! A client is counted by its address as [`AddressKey`] names it: an IPv4
//! address as it is, an IPv6 address by its /64 prefix (one host is
//! usually given a whole /64, and can pick any address in it), and an
//! IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket
//! reports for an IPv4 client) as the IPv4 address it maps.
//!
//! [`AddressCounts`] is a map from key to the number of connections open
//! from it, behind a mutex; each connection holds an [`AddressSlot`], which
//! takes its place in the count when the connection arrives and gives it
//! back when dropped, removing the key at zero. The map so holds no more
//! keys than there are connections, and is touched twice per connection,
//! never per message.
//!
//! [`ServerConfig::max_connections_per_ip`]: crate::ServerConfig::max_connections_per_ip
//! [`ServerConfig::trust_proxy`]: crate::ServerConfig::trust_proxy

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::handshake::http::Request;

/// The header field in which a reverse proxy names the client it forwards
/// for, appending the address it was reached from to any list already there.
const FORWARDED_FOR: &str = "X-Forwarded-For";

/// What a client is counted by: see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AddressKey {
    /// An IPv4 client (or an IPv4-mapped IPv6 one).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 client's address.
    V6Prefix([u8; 8]),
}

impl AddressKey {
    /// The key `ip` is counted by.
    pub(crate) fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(v4),
                None => {
                    let mut prefix = [0; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    AddressKey::V6Prefix(prefix)
                }
            },
        }
    }
}

/// `192.0.2.1`; `2001:db8:1:2::/64`.
impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressKey::V4(v4) => write!(f, "{v4}"),
            AddressKey::V6Prefix(prefix) => {
                let mut octets = [0; 16];
                octets[..8].copy_from_slice(prefix);
                write!(f, "{}/64", Ipv6Addr::from(octets))
            }
        }
    }
}

/// How a connection stands against the per-address limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Within the limit: served.
    Within,
    /// Over it: its opening handshake is answered 429.
    Over,
    /// Over twice the limit, with the connections being answered 429 counted
    /// too: closed as soon as it is accepted, unanswered, so that one address
    /// cannot hold more than twice its share of the server's threads.
    FarOver,
}

/// The number of connections open from each client address.
#[derive(Debug)]
pub(crate) struct AddressCounts {
    /// The most connections served at once from one address.
    max: usize,
    open: Mutex<HashMap<AddressKey, usize>>,
}

impl AddressCounts {
    /// An empty count, serving at most `max` connections from one address.
    pub(crate) fn new(max: usize) -> AddressCounts {
        AddressCounts {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn open(&self) -> MutexGuard<'_, HashMap<AddressKey, usize>> {
        // Every change to the map is complete before anything can panic.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a connection from `ip`, for as long as the result lives.
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr) -> AddressSlot {
        let key = AddressKey::of(ip);
        let mut open = self.open();
        let count = open.entry(key).or_insert(0);
        *count += 1;
        AddressSlot {
            counts: Arc::clone(self),
            key,
            at_once: *count,
        }
    }
}

/// A connection's place in [`AddressCounts`], given back when dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    counts: Arc<AddressCounts>,
    key: AddressKey,
    /// How many connections were open from the address, this one included,
    /// when it arrived.
    at_once: usize,
}

impl AddressSlot {
    /// The address the connection is counted by.
    pub(crate) fn key(&self) -> AddressKey {
        self.key
    }

    /// How the connection stands against the limit.
    pub(crate) fn standing(&self) -> Standing {
        let max = self.counts.max;
        if self.at_once <= max {
            Standing::Within
        } else if self.at_once <= max.saturating_mul(2) {
            Standing::Over
        } else {
            Standing::FarOver
        }
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The client a trusted reverse proxy forwarded `request` for: the last
/// entry of the last `X-Forwarded-For` field, the one the proxy appended
/// (the entries before it are whatever the client claimed, and prove
/// nothing). An address, or an address with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`); `None` when the field is missing, or its last
/// entry is neither (`unknown`, a name, garbage).
pub(crate) fn forwarded_client(request: &Request) -> Option<IpAddr> {
    let last_field = request.header_values(FORWARDED_FOR).last()?;
    let last_entry = last_field.rsplit(|&byte| byte == b',').next()?;
    let entry = std::str::from_utf8(last_entry).ok()?.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::HandshakeLimits;
    use crate::handshake::server::RequestParser;
    use crate::proto::Decoded;

    fn key(ip: &str) -> AddressKey {
        AddressKey::of(ip.parse().unwrap())
    }

    #[test]
    fn an_ipv4_address_is_its_own_key() {
        assert_eq!(
            key("192.0.2.1"),
            AddressKey::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("192.0.2.1").to_string(), "192.0.2.1");
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_key_and_in_two_do_not() {
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn an_ipv4_mapped_ipv6_address_counts_as_the_ipv4_address() {
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("::ffff:192.0.2.1"), key("::ffff:192.0.2.2"));
    }

    #[test]
    fn a_slot_stands_within_over_then_far_over_the_limit_and_leaves_no_key_behind() {
        let counts = Arc::new(AddressCounts::new(2));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<AddressSlot> = (0..5).map(|_| counts.enter(ip)).collect();
        let standings: Vec<Standing> = slots.iter().map(AddressSlot::standing).collect();
        use Standing::*;
        assert_eq!(standings, [Within, Within, Over, Over, FarOver]);
        let other = counts.enter("192.0.2.2".parse().unwrap());
        assert_eq!(other.standing(), Within);
        drop(slots);
        assert_eq!(counts.enter(ip).standing(), Within);
        drop(other);
        assert!(counts.open().is_empty());
    }

    fn request_with(fields: &str) -> Request {
        let head = format!("GET / HTTP/1.1\r\nHost: example.com\r\n{fields}\r\n");
        let mut parser = RequestParser::new(HandshakeLimits::default());
        match parser.parse(head.as_bytes()) {
            Ok(Decoded::Complete(request, _)) => request,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_forwarded_client_is_the_entry_the_proxy_appended_last() {
        let forwarded = |fields: &str| forwarded_client(&request_with(fields));
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(forwarded("X-Forwarded-For: 192.0.2.1\r\n"), ip("192.0.2.1"));
        assert_eq!(
            forwarded("X-Forwarded-For: 10.0.0.1, 192.0.2.1\r\n"),
            ip("192.0.2.1")
        );
        assert_eq!(
            forwarded("X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 2001:db8::7\r\n"),
            ip("2001:db8::7")
        );
        assert_eq!(
            forwarded("X-Forwarded-For: 192.0.2.1:4711\r\n"),
            ip("192.0.2.1")
        );
        assert_eq!(
            forwarded("X-Forwarded-For: [2001:db8::7]:4711\r\n"),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn a_missing_or_malformed_forwarded_client_is_none() {
        let forwarded = |fields: &str| forwarded_client(&request_with(fields));
        assert_eq!(forwarded(""), None);
        assert_eq!(forwarded("X-Forwarded-For: unknown\r\n"), None);
        assert_eq!(forwarded("X-Forwarded-For: 192.0.2.1, \r\n"), None);
        assert_eq!(
            forwarded("X-Forwarded-For: 192.0.2.1, proxy.example\r\n"),
            None
        );
        assert_eq!(forwarded("X-Forwarded-For: 300.0.2.1\r\n"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_forwarded_for_fields_give_the_last_entrys_address_or_none(
            fields in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..48),
                0..4,
            )
        ) {
            let request = Request {
                method: "GET".to_owned(),
                path: "/".to_owned(),
                minor_version: 1,
                headers: fields
                    .iter()
                    .map(|value| (FORWARDED_FOR.to_owned(), value.clone()))
                    .collect(),
            };
            if let Some(ip) = forwarded_client(&request) {
                let last = fields.last().unwrap();
                let entry = last.rsplit(|&byte| byte == b',').next().unwrap();
                let entry = std::str::from_utf8(entry).unwrap().trim();
                let read_back = entry
                    .parse::<IpAddr>()
                    .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()));
                proptest::prop_assert_eq!(read_back, Ok(ip));
            }
        }
    }
}
