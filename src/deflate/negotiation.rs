//! Negotiating permessage-deflate in the opening handshake (RFC 7692 §5,
//! §7.1), without I/O.
//!
//! The client offers one element ([`client_offer`]) in its
//! `Sec-WebSocket-Extensions`; the server accepts the first offer it can and
//! answers with one element ([`accept_offer`]); the client checks the answer
//! against what it offered ([`check_response`]). Both ends come out with the
//! same [`DeflateParams`]. Headers are read and written by
//! [`super::extensions`].
//!
//! Four parameters (RFC 7692 §7.1), each at most once in an element:
//!
//! | parameter | in an offer (client) | in an answer (server) |
//! |---|---|---|
//! | `server_no_context_takeover` | the server must start each message with an empty window | the server does |
//! | `client_no_context_takeover` | a hint: the client will start each message with an empty window | the client must |
//! | `server_max_window_bits=N` | the server's window must be at most 2^N bytes | the server's window is at most 2^N, N no more than offered |
//! | `client_max_window_bits[=N]` | the client can be limited (and, with N, keeps to 2^N) | the client's window is at most 2^N; only if offered |
//!
//! A window is 2^15 = 32,768 bytes wherever no parameter limits it. A
//! [`DeflateConfig::max_window_bits`] outside 8–15 is taken as the nearest
//! of the two, so that no configuration makes an invalid header.

use std::fmt;

use crate::deflate::config::{DeflateConfig, DeflateParams};
use crate::handshake::extensions::ExtensionOffer;

/// The extension's registered name (RFC 7692 §7).
pub(crate) const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The window where no parameter limits it: 2^15 bytes (RFC 7692 §7.1.2.1,
/// §7.1.2.2: "an LZ77 sliding window of up to 32,768 bytes").
const DEFAULT_WINDOW_BITS: u8 = 15;

/// The server's side (RFC 7692 §5, §7): the response element accepting the
/// first `permessage-deflate` offer in `offers` that it can accept, with the
/// parameters both ends will use; `None` when there is none, and the
/// connection goes uncompressed.
///
/// Other extensions are not this function's: they are skipped. An offer the
/// RFC says to decline is skipped for the next one; the handshake never fails
/// over an offer. The answer, for a configuration of window `W` (clamped to
/// 8–15) and context takeover `T`:
///
/// | offer holds | answer holds | agreed |
/// |---|---|---|
/// | `server_no_context_takeover` | `server_no_context_takeover` | the server takes over no context |
/// | nothing, `T` false | `server_no_context_takeover` | the same |
/// | `client_no_context_takeover` | `client_no_context_takeover` | the client takes over no context |
/// | nothing, `T` false | `client_no_context_takeover` | the same |
/// | `server_max_window_bits=N` | `server_max_window_bits=min(N, W)` | the server's window is `min(N, W)` |
/// | nothing, `W` < 15 | `server_max_window_bits=W` | the server's window is `W` |
/// | `client_max_window_bits` | `client_max_window_bits=W` if `W` < 15 | the client's window is `W` |
/// | `client_max_window_bits=N` | `client_max_window_bits=min(N, W)` if below 15 | the client's window is `min(N, W)` |
/// | no `client_max_window_bits` | none (§7.1.2.2: MUST NOT) | the client's window is 15 |
pub fn accept_offer(
    offers: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Option<(DeflateParams, ExtensionOffer)> {
    // RFC 7692 §5: "The order of elements is important as it specifies the
    // client's preference. An element preceding another element has higher
    // preference. It is recommended that a server accepts PMCEs with higher
    // preference if the server supports them."
    let offer = offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        // RFC 7692 §7: "A server MUST decline an extension negotiation offer
        // for this extension if any of the following conditions are met":
        // an unknown parameter, an invalid value, a repeated parameter. Every
        // valid offer is one this server supports.
        .find_map(|offer| Element::read(&offer.params).ok())?;
    let ours = window_bits(config);
    let params = DeflateParams {
        // RFC 7692 §7.1.1.1: "A server accepts an extension negotiation offer
        // that includes the "server_no_context_takeover" extension parameter
        // by including the "server_no_context_takeover" extension parameter
        // in the corresponding extension negotiation response". It "MAY
        // include" it unasked too.
        server_no_context_takeover: offer.server_no_context_takeover || !config.context_takeover,
        // RFC 7692 §7.1.1.2: "A server MAY include the
        // "client_no_context_takeover" extension parameter in an extension
        // negotiation response." Offered, it is echoed: the client said it
        // will not take over context anyway, and the answer makes it binding.
        client_no_context_takeover: offer.client_no_context_takeover || !config.context_takeover,
        // RFC 7692 §7.1.2.1: the server answers "with the same or smaller
        // value as the offer", and "MAY include" the parameter unasked.
        server_max_window_bits: offer.server_max_window_bits.map_or(ours, |n| n.min(ours)),
        // RFC 7692 §7.1.2.2: with a value, the offer promises the client
        // keeps to it even if the answer says nothing.
        client_max_window_bits: match offer.client_max_window_bits {
            ClientWindow::Absent => DEFAULT_WINDOW_BITS,
            ClientWindow::Unlimited => ours,
            ClientWindow::Bits(n) => n.min(ours),
        },
    };
    let answer = Element {
        server_no_context_takeover: params.server_no_context_takeover,
        client_no_context_takeover: params.client_no_context_takeover,
        server_max_window_bits: (offer.server_max_window_bits.is_some()
            || params.server_max_window_bits < DEFAULT_WINDOW_BITS)
            .then_some(params.server_max_window_bits),
        // RFC 7692 §7.1.2.2: "If a received extension negotiation offer
        // doesn't have the "client_max_window_bits" extension parameter, the
        // corresponding extension negotiation response to the offer MUST NOT
        // include the "client_max_window_bits" extension parameter."
        // Otherwise it is said whenever it limits anything.
        client_max_window_bits: if offer.client_max_window_bits != ClientWindow::Absent
            && params.client_max_window_bits < DEFAULT_WINDOW_BITS
        {
            ClientWindow::Bits(params.client_max_window_bits)
        } else {
            ClientWindow::Absent
        },
    };
    Some((params, answer.to_extension()))
}

/// The client's side: the one element it offers for `config` (RFC 7692 §7).
///
/// `client_max_window_bits` is always there, so that the server may limit
/// our window (§7.1.2.2), with `=W` when `config` keeps our compressor to a
/// window of `W` < 15 bits; `server_max_window_bits=W` asks the same of the
/// server (§7.1.2.1). Without context takeover, both
/// `server_no_context_takeover` and `client_no_context_takeover` are asked
/// for (§7.1.1).
pub fn client_offer(config: &DeflateConfig) -> ExtensionOffer {
    client_element(config).to_extension()
}

/// The client's side: checks the server's answer (every element of its
/// `Sec-WebSocket-Extensions`) to [`client_offer`]`(config)`, and gives the
/// parameters both ends use; `Ok(None)` when the server accepted no
/// extension and the connection goes uncompressed.
///
/// | we offered | the server answered | agreed, or the connection fails |
/// |---|---|---|
/// | `server_no_context_takeover` | the same | the server takes over no context |
/// | `server_no_context_takeover` | nothing | fails (§7.1.1.1) |
/// | nothing | `server_no_context_takeover` | the server takes over no context |
/// | `client_no_context_takeover`, or nothing | `client_no_context_takeover`, or nothing | we take over no context if either says so |
/// | `server_max_window_bits=W` | `server_max_window_bits=M`, `M` ≤ `W` | the server's window is `M` |
/// | `server_max_window_bits=W` | `M` > `W`, or nothing | fails (§7.1.2.1) |
/// | nothing | `server_max_window_bits=M`, or nothing | the server's window is `M`, or 15 |
/// | `client_max_window_bits=W` | `client_max_window_bits=M`, `M` ≤ `W` | our window is `M` |
/// | `client_max_window_bits=W` | `M` > `W` | fails (§7.1.2.2) |
/// | `client_max_window_bits=W` | nothing | our window is `W` |
/// | `client_max_window_bits` | `client_max_window_bits=M`, or nothing | our window is `M`, or 15 |
///
/// Any parameter without the value it needs, with a value it may not have,
/// unknown or repeated fails the connection too (§7), as does
/// permessage-deflate accepted twice (RFC 7692 §5). `answered` holds the
/// server's permessage-deflate elements only: an extension we did not offer
/// is the opening handshake's to refuse (RFC 6455 §4.1).
pub fn check_response(
    config: &DeflateConfig,
    answered: &[ExtensionOffer],
) -> Result<Option<DeflateParams>, DeflateResponseError> {
    let offer = client_element(config);
    let mut agreed = None;
    for element in answered {
        // RFC 7692 §5: "A client that received a response accepting a PMCE
        // extension negotiation offer together with such an extension [one
        // that conflicts on the RSV bits] MUST _Fail the WebSocket
        // Connection_." Two permessage-deflates would both own RSV1.
        if agreed.is_some() {
            return Err(DeflateResponseError::AcceptedTwice);
        }
        agreed = Some(check_answer(&offer, &element.params)?);
    }
    Ok(agreed)
}

/// What the client agrees to, given what it offered and the parameters the
/// server answered with.
fn check_answer(
    offer: &Element,
    params: &[(String, Option<String>)],
) -> Result<DeflateParams, DeflateResponseError> {
    // RFC 7692 §7: "A client MUST _Fail the WebSocket Connection_ if the peer
    // server accepted an extension negotiation offer for this extension with
    // an extension negotiation response meeting any of the following
    // conditions": an unknown parameter, an invalid value, a repeated
    // parameter, a configuration the client does not support.
    let answer = Element::read(params)?;
    // RFC 7692 §7.1.1.1: the server accepts an offer of
    // "server_no_context_takeover" by including it in the response.
    if offer.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(DeflateResponseError::MissingServerNoContextTakeover);
    }
    // RFC 7692 §7.1.2.1: "A server accepts an extension negotiation offer
    // with this parameter by including the "server_max_window_bits" extension
    // parameter in the extension negotiation response to send back to the
    // client with the same or smaller value as the offer."
    let server_max_window_bits = match (offer.server_max_window_bits, answer.server_max_window_bits)
    {
        (Some(offered), None) => {
            return Err(DeflateResponseError::MissingServerMaxWindowBits { offered });
        }
        (Some(offered), Some(answered)) if answered > offered => {
            return Err(DeflateResponseError::ServerWindowTooLarge { offered, answered });
        }
        (_, answered) => answered.unwrap_or(DEFAULT_WINDOW_BITS),
    };
    // RFC 7692 §7.1.2.2: "The "client_max_window_bits" extension parameter in
    // an extension negotiation response has a decimal integer value", "equal
    // to or smaller than the received value" when the offer had one. We
    // always offer the parameter, so the server may always answer it.
    let client_max_window_bits = match (offer.client_max_window_bits, answer.client_max_window_bits)
    {
        (_, ClientWindow::Unlimited) => {
            return Err(DeflateResponseError::InvalidWindowBits {
                parameter: DeflateParameter::ClientMaxWindowBits,
                value: None,
            });
        }
        (ClientWindow::Bits(offered), ClientWindow::Bits(answered)) if answered > offered => {
            return Err(DeflateResponseError::ClientWindowTooLarge { offered, answered });
        }
        (_, ClientWindow::Bits(answered)) => answered,
        // Our offer's value binds us even when the answer is silent.
        (ClientWindow::Bits(offered), ClientWindow::Absent) => offered,
        (_, ClientWindow::Absent) => DEFAULT_WINDOW_BITS,
    };
    Ok(DeflateParams {
        // RFC 7692 §7.1.1.1: "A server MAY include the
        // "server_no_context_takeover" extension parameter in an extension
        // negotiation response even if the extension negotiation offer being
        // accepted by the extension negotiation response didn't include" it.
        server_no_context_takeover: answer.server_no_context_takeover,
        // RFC 7692 §7.1.1.2: "A client MUST support the
        // "client_no_context_takeover" extension parameter in an extension
        // negotiation response"; offered, it is our promise regardless.
        client_no_context_takeover: offer.client_no_context_takeover
            || answer.client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    })
}

/// The client's offer for `config`, as parameters.
fn client_element(config: &DeflateConfig) -> Element {
    let ours = window_bits(config);
    let limited = ours < DEFAULT_WINDOW_BITS;
    Element {
        server_no_context_takeover: !config.context_takeover,
        client_no_context_takeover: !config.context_takeover,
        server_max_window_bits: limited.then_some(ours),
        client_max_window_bits: if limited {
            ClientWindow::Bits(ours)
        } else {
            ClientWindow::Unlimited
        },
    }
}

/// The window `config` asks for, within what a parameter can say: RFC 7692
/// §7.1.2.1, "between 8 to 15, inclusive".
fn window_bits(config: &DeflateConfig) -> u8 {
    config.max_window_bits.clamp(8, DEFAULT_WINDOW_BITS)
}

/// A parameter of permessage-deflate (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeflateParameter {
    /// `server_no_context_takeover` (§7.1.1.1).
    ServerNoContextTakeover,
    /// `client_no_context_takeover` (§7.1.1.2).
    ClientNoContextTakeover,
    /// `server_max_window_bits` (§7.1.2.1).
    ServerMaxWindowBits,
    /// `client_max_window_bits` (§7.1.2.2).
    ClientMaxWindowBits,
}

impl DeflateParameter {
    const ALL: [DeflateParameter; 4] = [
        DeflateParameter::ServerNoContextTakeover,
        DeflateParameter::ClientNoContextTakeover,
        DeflateParameter::ServerMaxWindowBits,
        DeflateParameter::ClientMaxWindowBits,
    ];

    /// The parameter's name in the header.
    pub fn name(self) -> &'static str {
        match self {
            DeflateParameter::ServerNoContextTakeover => "server_no_context_takeover",
            DeflateParameter::ClientNoContextTakeover => "client_no_context_takeover",
            DeflateParameter::ServerMaxWindowBits => "server_max_window_bits",
            DeflateParameter::ClientMaxWindowBits => "client_max_window_bits",
        }
    }

    /// The parameter called `name`, in any ASCII case.
    fn from_name(name: &str) -> Option<DeflateParameter> {
        DeflateParameter::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The section of RFC 7692 that defines it.
    fn section(self) -> &'static str {
        match self {
            DeflateParameter::ServerNoContextTakeover => "§7.1.1.1",
            DeflateParameter::ClientNoContextTakeover => "§7.1.1.2",
            DeflateParameter::ServerMaxWindowBits => "§7.1.2.1",
            DeflateParameter::ClientMaxWindowBits => "§7.1.2.2",
        }
    }
}

impl fmt::Display for DeflateParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a client fails the connection on the server's permessage-deflate
/// answer (RFC 7692 §5, §7). A server declines an offer for the same
/// reasons, silently.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateResponseError {
    /// §5: permessage-deflate accepted twice; both would own RSV1.
    AcceptedTwice,
    /// §7: a parameter permessage-deflate does not define (its name as sent).
    UnknownParameter(String),
    /// §7: the same parameter more than once.
    RepeatedParameter(DeflateParameter),
    /// §7.1.1: a value on a parameter that has none.
    UnexpectedValue {
        /// `server_no_context_takeover` or `client_no_context_takeover`.
        parameter: DeflateParameter,
        /// The value received.
        value: String,
    },
    /// §7.1.2: window bits that are not a decimal 8 to 15 without leading
    /// zeros, or no value where one is needed.
    InvalidWindowBits {
        /// `server_max_window_bits` or `client_max_window_bits`.
        parameter: DeflateParameter,
        /// The value received, `None` for none.
        value: Option<String>,
    },
    /// §7.1.1.1: we asked for `server_no_context_takeover` and the answer
    /// does not include it.
    MissingServerNoContextTakeover,
    /// §7.1.2.1: we offered `server_max_window_bits` and the answer does not
    /// include it.
    MissingServerMaxWindowBits {
        /// Our offer's value.
        offered: u8,
    },
    /// §7.1.2.1: the server's window is larger than we allowed.
    ServerWindowTooLarge {
        /// Our offer's value.
        offered: u8,
        /// The answer's value.
        answered: u8,
    },
    /// §7.1.2.2: the server limits our window to more than we said we would use.
    ClientWindowTooLarge {
        /// Our offer's value.
        offered: u8,
        /// The answer's value.
        answered: u8,
    },
}

impl fmt::Display for DeflateResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateResponseError::AcceptedTwice => f.write_str(
                "permessage-deflate is accepted twice, and both would use RSV1 (RFC 7692 §5)",
            ),
            DeflateResponseError::UnknownParameter(name) => {
                write!(f, "unknown parameter {name:?} (RFC 7692 §7)")
            }
            DeflateResponseError::RepeatedParameter(parameter) => {
                write!(f, "{parameter} appears more than once (RFC 7692 §7)")
            }
            DeflateResponseError::UnexpectedValue { parameter, value } => write!(
                f,
                "{parameter} takes no value, but has {value:?} (RFC 7692 {})",
                parameter.section()
            ),
            DeflateResponseError::InvalidWindowBits {
                parameter,
                value: Some(value),
            } => write!(
                f,
                "{parameter} is {value:?}, not a decimal 8 to 15 without leading zeros (RFC 7692 {})",
                parameter.section()
            ),
            DeflateResponseError::InvalidWindowBits {
                parameter,
                value: None,
            } => write!(
                f,
                "{parameter} has no value, where it needs 8 to 15 (RFC 7692 {})",
                parameter.section()
            ),
            DeflateResponseError::MissingServerNoContextTakeover => f.write_str(
                "we asked for server_no_context_takeover and the answer lacks it (RFC 7692 §7.1.1.1)",
            ),
            DeflateResponseError::MissingServerMaxWindowBits { offered } => write!(
                f,
                "we offered server_max_window_bits={offered} and the answer lacks it (RFC 7692 §7.1.2.1)"
            ),
            DeflateResponseError::ServerWindowTooLarge { offered, answered } => write!(
                f,
                "server_max_window_bits={answered} is above the {offered} we offered (RFC 7692 §7.1.2.1)"
            ),
            DeflateResponseError::ClientWindowTooLarge { offered, answered } => write!(
                f,
                "client_max_window_bits={answered} is above the {offered} we offered (RFC 7692 §7.1.2.2)"
            ),
        }
    }
}

impl std::error::Error for DeflateResponseError {}

/// `client_max_window_bits` in one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientWindow {
    /// Not there.
    Absent,
    /// There without a value: in an offer, "the server may limit my window"
    /// with no limit of its own (§7.1.2.2); invalid in an answer.
    Unlimited,
    /// There with a value.
    Bits(u8),
}

/// The parameters of one permessage-deflate element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Element {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: ClientWindow,
}

impl Element {
    /// Reads an offer's or an answer's parameters, refusing the three kinds
    /// of fault RFC 7692 §7 lists for both: "an extension parameter not
    /// defined for use", "an extension parameter with an invalid value",
    /// "multiple extension parameters with the same name".
    fn read(params: &[(String, Option<String>)]) -> Result<Element, DeflateResponseError> {
        let mut element = Element {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: ClientWindow::Absent,
        };
        let mut seen = Vec::with_capacity(params.len());
        for (name, value) in params {
            let parameter = DeflateParameter::from_name(name)
                .ok_or_else(|| DeflateResponseError::UnknownParameter(name.clone()))?;
            if seen.contains(&parameter) {
                return Err(DeflateResponseError::RepeatedParameter(parameter));
            }
            seen.push(parameter);
            match (parameter, value) {
                // RFC 7692 §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
                (DeflateParameter::ServerNoContextTakeover, None) => {
                    element.server_no_context_takeover = true;
                }
                (DeflateParameter::ClientNoContextTakeover, None) => {
                    element.client_no_context_takeover = true;
                }
                (
                    DeflateParameter::ServerNoContextTakeover
                    | DeflateParameter::ClientNoContextTakeover,
                    Some(value),
                ) => {
                    return Err(DeflateResponseError::UnexpectedValue {
                        parameter,
                        value: value.clone(),
                    });
                }
                (DeflateParameter::ServerMaxWindowBits, value) => {
                    element.server_max_window_bits = Some(parse_window_bits(parameter, value)?);
                }
                // RFC 7692 §7.1.2.2: in an offer, "This parameter has no
                // value or a decimal integer value"; an answer without one is
                // refused by `check_answer`.
                (DeflateParameter::ClientMaxWindowBits, None) => {
                    element.client_max_window_bits = ClientWindow::Unlimited;
                }
                (DeflateParameter::ClientMaxWindowBits, Some(_)) => {
                    element.client_max_window_bits =
                        ClientWindow::Bits(parse_window_bits(parameter, value)?);
                }
            }
        }
        Ok(element)
    }

    /// The element as it goes in the header, parameters in the order of §7.1.
    fn to_extension(self) -> ExtensionOffer {
        let mut params = Vec::new();
        let mut add = |parameter: DeflateParameter, value: Option<u8>| {
            params.push((parameter.name().to_owned(), value.map(|v| v.to_string())));
        };
        if self.server_no_context_takeover {
            add(DeflateParameter::ServerNoContextTakeover, None);
        }
        if self.client_no_context_takeover {
            add(DeflateParameter::ClientNoContextTakeover, None);
        }
        if let Some(bits) = self.server_max_window_bits {
            add(DeflateParameter::ServerMaxWindowBits, Some(bits));
        }
        match self.client_max_window_bits {
            ClientWindow::Absent => {}
            ClientWindow::Unlimited => add(DeflateParameter::ClientMaxWindowBits, None),
            ClientWindow::Bits(bits) => add(DeflateParameter::ClientMaxWindowBits, Some(bits)),
        }
        ExtensionOffer {
            name: PERMESSAGE_DEFLATE.to_owned(),
            params,
        }
    }
}

/// A window-bits value. RFC 7692 §7.1.2.1: "a decimal integer value without
/// leading zeroes between 8 to 15, inclusive" (§7.1.2.2 the same, without the
/// comma), so exactly one of `8` … `15`: not `08`, `+9` or `9.0`. A
/// quoted-string value arrives here unescaped (RFC 6455 §9.1), so `"10"` is
/// 10.
fn parse_window_bits(
    parameter: DeflateParameter,
    value: &Option<String>,
) -> Result<u8, DeflateResponseError> {
    let bits = match value.as_deref().map(str::as_bytes) {
        Some(&[digit @ b'8'..=b'9']) => Some(digit - b'0'),
        Some(&[b'1', digit @ b'0'..=b'5']) => Some(10 + digit - b'0'),
        _ => None,
    };
    bits.ok_or_else(|| DeflateResponseError::InvalidWindowBits {
        parameter,
        value: value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::extensions::{encode_extension, parse_extensions};

    fn elements(header: &str) -> Vec<ExtensionOffer> {
        parse_extensions([header.as_bytes()]).unwrap()
    }

    fn config(max_window_bits: u8, context_takeover: bool) -> DeflateConfig {
        DeflateConfig {
            level: 6,
            max_window_bits,
            context_takeover,
        }
    }

    const DEFAULT: DeflateConfig = DeflateConfig {
        level: 6,
        max_window_bits: 15,
        context_takeover: true,
    };

    /// Both ends' parameters: no context takeover for the server and the
    /// client, then their windows.
    fn agreed(server_nct: bool, client_nct: bool, server: u8, client: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server,
            client_max_window_bits: client,
        }
    }

    const PLAIN: DeflateParams = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    /// The server's answer to the offers in `header`, encoded.
    fn accept(config: &DeflateConfig, header: &str) -> Option<(DeflateParams, String)> {
        accept_offer(&elements(header), config).map(|(p, answer)| (p, encode_extension(&answer)))
    }

    /// What [`check_response`] gives.
    type Checked = Result<Option<DeflateParams>, DeflateResponseError>;

    fn check(config: &DeflateConfig, header: &str) -> Checked {
        check_response(config, &elements(header))
    }

    fn refused(e: DeflateResponseError) -> Checked {
        Err(e)
    }

    // The server's side.

    #[test]
    fn rfc7692_7_server_negotiation_table() {
        let rows: [(DeflateConfig, &str, &str, DeflateParams); 13] = [
            (DEFAULT, "permessage-deflate", "permessage-deflate", PLAIN),
            (
                DEFAULT,
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate",
                PLAIN,
            ),
            (
                DEFAULT,
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=10",
                agreed(false, false, 15, 10),
            ),
            (
                DEFAULT,
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=10",
                agreed(false, false, 10, 15),
            ),
            (
                DEFAULT,
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15",
                PLAIN,
            ),
            (
                DEFAULT,
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover",
                agreed(true, false, 15, 15),
            ),
            (
                DEFAULT,
                "permessage-deflate; client_no_context_takeover",
                "permessage-deflate; client_no_context_takeover",
                agreed(false, true, 15, 15),
            ),
            (
                config(12, true),
                "permessage-deflate",
                "permessage-deflate; server_max_window_bits=12",
                agreed(false, false, 12, 15),
            ),
            (
                config(12, true),
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                agreed(false, false, 12, 12),
            ),
            (
                config(12, true),
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=14",
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
                agreed(false, false, 10, 12),
            ),
            (
                config(12, false),
                "permessage-deflate",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=12",
                agreed(true, true, 12, 15),
            ),
            (
                config(15, false),
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                agreed(true, true, 15, 15),
            ),
            (
                // Browsers' offer.
                config(9, true),
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
                agreed(false, false, 9, 9),
            ),
        ];
        for (config, offer, answer, params) in rows {
            assert_eq!(
                accept(&config, offer),
                Some((params, answer.to_owned())),
                "{config:?} {offer}"
            );
        }
    }

    #[test]
    fn rfc7692_5_server_accepts_the_first_acceptable_offer() {
        assert_eq!(
            accept(
                &DEFAULT,
                "permessage-deflate; server_max_window_bits=10, permessage-deflate"
            ),
            Some((
                agreed(false, false, 10, 15),
                "permessage-deflate; server_max_window_bits=10".to_owned()
            ))
        );
        assert_eq!(
            accept(
                &DEFAULT,
                "permessage-deflate; bogus, permessage-deflate; client_max_window_bits=9, \
                 permessage-deflate"
            ),
            Some((
                agreed(false, false, 15, 9),
                "permessage-deflate; client_max_window_bits=9".to_owned()
            ))
        );
    }

    #[test]
    fn rfc7692_7_1_3_example_offer_with_a_fallback() {
        // RFC 7692 §7.1.3: "To accept the first option, for example, the
        // server may send back a response as follows".
        assert_eq!(
            accept(
                &DEFAULT,
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
                 permessage-deflate; client_max_window_bits"
            ),
            Some((
                agreed(false, false, 10, 15),
                "permessage-deflate; server_max_window_bits=10".to_owned()
            ))
        );
        // "The simplest "Sec-WebSocket-Extensions" header in a server's
        // opening handshake to accept use of the "permessage-deflate"
        // extension is the same".
        assert_eq!(
            accept(&DEFAULT, "permessage-deflate"),
            Some((PLAIN, "permessage-deflate".to_owned()))
        );
    }

    #[test]
    fn rfc7692_5_server_ignores_other_extensions() {
        assert_eq!(accept(&DEFAULT, "x-webkit-deflate-frame"), None);
        assert_eq!(accept(&DEFAULT, "foo; server_max_window_bits=10"), None);
        assert_eq!(accept_offer(&[], &DEFAULT), None);
        assert_eq!(
            accept(&DEFAULT, "x-webkit-deflate-frame, permessage-deflate, mux"),
            Some((PLAIN, "permessage-deflate".to_owned()))
        );
    }

    #[test]
    fn rfc7692_7_server_declines_an_offer_with_an_unknown_parameter() {
        assert_eq!(
            accept(&DEFAULT, "permessage-deflate; max_window_bits=10"),
            None
        );
        assert_eq!(accept(&DEFAULT, "permessage-deflate; x"), None);
    }

    #[test]
    fn rfc7692_7_server_declines_an_offer_with_a_repeated_parameter() {
        for repeated in [
            "server_no_context_takeover; server_no_context_takeover",
            "client_no_context_takeover; client_no_context_takeover",
            "server_max_window_bits=10; server_max_window_bits=10",
            "client_max_window_bits; client_max_window_bits=10",
            "client_max_window_bits; CLIENT_MAX_WINDOW_BITS",
        ] {
            assert_eq!(
                accept(&DEFAULT, &format!("permessage-deflate; {repeated}")),
                None,
                "{repeated}"
            );
        }
    }

    #[test]
    fn rfc7692_7_1_1_server_declines_a_value_on_no_context_takeover() {
        for valued in [
            "server_no_context_takeover=1",
            "client_no_context_takeover=true",
            "server_no_context_takeover=\"x\"",
        ] {
            assert_eq!(
                accept(&DEFAULT, &format!("permessage-deflate; {valued}")),
                None,
                "{valued}"
            );
        }
    }

    /// Values that are not a decimal 8 to 15 without leading zeros.
    const INVALID_BITS: [&str; 12] = [
        "7", "16", "0", "08", "+9", "-9", "010", "9.0", "1e1", "0x9", "ten", "150",
    ];

    #[test]
    fn rfc7692_7_1_2_server_declines_invalid_window_bits() {
        for parameter in ["server_max_window_bits", "client_max_window_bits"] {
            for value in INVALID_BITS {
                assert_eq!(
                    accept(
                        &DEFAULT,
                        &format!("permessage-deflate; {parameter}={value}")
                    ),
                    None,
                    "{parameter}={value}"
                );
            }
        }
        // §7.1.2.1: in an offer, server_max_window_bits needs a value.
        assert_eq!(
            accept(&DEFAULT, "permessage-deflate; server_max_window_bits"),
            None
        );
    }

    #[test]
    fn rfc7692_7_1_2_window_bits_are_8_to_15_quoted_or_not() {
        for bits in 8..=15u8 {
            for value in [bits.to_string(), format!("\"{bits}\"")] {
                let offer = format!(
                    "permessage-deflate; server_max_window_bits={value}; client_max_window_bits={value}"
                );
                let (params, _) = accept(&DEFAULT, &offer).unwrap();
                assert_eq!(agreed(false, false, bits, bits), params, "{offer}");
            }
        }
    }

    #[test]
    fn rfc7692_7_1_1_1_server_echoes_server_no_context_takeover() {
        for config in [DEFAULT, config(10, true)] {
            let (params, answer) =
                accept(&config, "permessage-deflate; server_no_context_takeover").unwrap();
            assert!(params.server_no_context_takeover);
            assert!(answer.contains("; server_no_context_takeover"), "{answer}");
        }
    }

    #[test]
    fn rfc7692_7_1_1_1_server_may_add_server_no_context_takeover() {
        let (params, answer) = accept(&config(15, false), "permessage-deflate").unwrap();
        assert!(params.server_no_context_takeover);
        assert!(answer.contains("; server_no_context_takeover"), "{answer}");
    }

    #[test]
    fn rfc7692_7_1_1_2_server_may_add_client_no_context_takeover() {
        let (params, answer) = accept(&config(15, false), "permessage-deflate").unwrap();
        assert!(params.client_no_context_takeover);
        assert!(answer.contains("; client_no_context_takeover"), "{answer}");
    }

    #[test]
    fn rfc7692_7_1_1_2_server_echoes_client_no_context_takeover() {
        let (params, answer) =
            accept(&DEFAULT, "permessage-deflate; client_no_context_takeover").unwrap();
        assert!(params.client_no_context_takeover);
        assert_eq!(answer, "permessage-deflate; client_no_context_takeover");
    }

    #[test]
    fn rfc7692_7_1_2_1_server_window_is_at_most_the_offer() {
        for ours in 8..=15 {
            for offered in 8..=15 {
                let (params, answer) = accept(
                    &config(ours, true),
                    &format!("permessage-deflate; server_max_window_bits={offered}"),
                )
                .unwrap();
                let used = ours.min(offered);
                assert_eq!(params.server_max_window_bits, used);
                // Accepting the parameter means answering it (§7.1.2.1).
                assert_eq!(
                    answer,
                    format!("permessage-deflate; server_max_window_bits={used}")
                );
            }
        }
    }

    #[test]
    fn rfc7692_7_1_2_1_server_may_add_server_max_window_bits() {
        assert_eq!(
            accept(&config(11, true), "permessage-deflate"),
            Some((
                agreed(false, false, 11, 15),
                "permessage-deflate; server_max_window_bits=11".to_owned()
            ))
        );
    }

    #[test]
    fn rfc7692_7_1_2_2_server_answers_client_max_window_bits_only_if_offered() {
        for ours in 8..=15 {
            let (params, answer) = accept(&config(ours, true), "permessage-deflate").unwrap();
            assert_eq!(params.client_max_window_bits, 15);
            assert!(!answer.contains("client_max_window_bits"), "{answer}");
        }
    }

    #[test]
    fn rfc7692_7_1_2_2_server_limits_the_client_within_its_offer() {
        for ours in 8..=15 {
            let (params, answer) = accept(
                &config(ours, true),
                "permessage-deflate; client_max_window_bits",
            )
            .unwrap();
            assert_eq!(params.client_max_window_bits, ours);
            assert_eq!(answer.contains("client_max_window_bits"), ours < 15);
            for offered in 8..=15 {
                let (params, answer) = accept(
                    &config(ours, true),
                    &format!("permessage-deflate; client_max_window_bits={offered}"),
                )
                .unwrap();
                let used = ours.min(offered);
                assert_eq!(params.client_max_window_bits, used);
                if used < 15 {
                    assert!(
                        answer.ends_with(&format!("; client_max_window_bits={used}")),
                        "{answer}"
                    );
                } else {
                    assert!(!answer.contains("client_max_window_bits"), "{answer}");
                }
            }
        }
    }

    #[test]
    fn rfc7692_7_names_compare_without_case() {
        assert_eq!(
            accept(
                &DEFAULT,
                "PerMessage-Deflate; Server_No_Context_Takeover; CLIENT_MAX_WINDOW_BITS=9"
            ),
            Some((
                agreed(true, false, 15, 9),
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"
                    .to_owned()
            ))
        );
        assert_eq!(
            check(&DEFAULT, "Permessage-Deflate; Server_Max_Window_Bits=10"),
            Ok(Some(agreed(false, false, 10, 15)))
        );
    }

    #[test]
    fn window_bits_outside_8_to_15_in_the_configuration_are_clamped() {
        for (bits, used) in [(0, 8), (7, 8), (16, 15), (255, 15)] {
            let (params, _) = accept(
                &config(bits, true),
                "permessage-deflate; client_max_window_bits",
            )
            .unwrap();
            assert_eq!(agreed(false, false, used, used), params);
            let offer = encode_extension(&client_offer(&config(bits, true)));
            if used < 15 {
                assert!(
                    offer.contains(&format!("server_max_window_bits={used}")),
                    "{offer}"
                );
            } else {
                assert!(!offer.contains("server_max_window_bits"), "{offer}");
            }
        }
    }

    // The client's side.

    #[test]
    fn rfc7692_7_client_offer_table() {
        let rows = [
            (DEFAULT, "permessage-deflate; client_max_window_bits"),
            (
                config(15, false),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 client_max_window_bits",
            ),
            (
                config(10, true),
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
            ),
            (
                config(8, false),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=8; client_max_window_bits=8",
            ),
        ];
        for (config, offer) in rows {
            let encoded = encode_extension(&client_offer(&config));
            assert_eq!(encoded, offer, "{config:?}");
            // And a server with the same configuration accepts it as it is.
            assert!(accept_offer(&elements(&encoded), &config).is_some());
        }
    }

    #[test]
    fn rfc7692_7_client_response_table() {
        use DeflateResponseError::*;
        let ok = |p| Ok(Some(p));
        let rows: [(DeflateConfig, &str, Checked); 13] = [
            (DEFAULT, "permessage-deflate", ok(PLAIN)),
            (
                DEFAULT,
                "permessage-deflate; client_max_window_bits=9",
                ok(agreed(false, false, 15, 9)),
            ),
            (
                DEFAULT,
                "permessage-deflate; server_max_window_bits=9",
                ok(agreed(false, false, 9, 15)),
            ),
            (
                DEFAULT,
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                ok(agreed(true, true, 15, 15)),
            ),
            (
                config(10, true),
                "permessage-deflate; server_max_window_bits=10",
                ok(agreed(false, false, 10, 10)),
            ),
            (
                config(10, true),
                "permessage-deflate; server_max_window_bits=8; client_max_window_bits=9",
                ok(agreed(false, false, 8, 9)),
            ),
            (
                config(10, true),
                "permessage-deflate; server_max_window_bits=11",
                refused(ServerWindowTooLarge {
                    offered: 10,
                    answered: 11,
                }),
            ),
            (
                config(10, true),
                "permessage-deflate",
                refused(MissingServerMaxWindowBits { offered: 10 }),
            ),
            (
                config(10, true),
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11",
                refused(ClientWindowTooLarge {
                    offered: 10,
                    answered: 11,
                }),
            ),
            (
                config(15, false),
                "permessage-deflate; server_no_context_takeover",
                ok(agreed(true, true, 15, 15)),
            ),
            (
                config(15, false),
                "permessage-deflate; client_no_context_takeover",
                refused(MissingServerNoContextTakeover),
            ),
            (
                DEFAULT,
                "permessage-deflate; client_max_window_bits",
                refused(InvalidWindowBits {
                    parameter: DeflateParameter::ClientMaxWindowBits,
                    value: None,
                }),
            ),
            (
                DEFAULT,
                "permessage-deflate, permessage-deflate",
                refused(AcceptedTwice),
            ),
        ];
        for (config, answer, expected) in rows {
            assert_eq!(check(&config, answer), expected, "{config:?} {answer}");
        }
    }

    #[test]
    fn rfc7692_5_client_without_an_answer_goes_uncompressed() {
        assert_eq!(check_response(&DEFAULT, &[]), Ok(None));
        assert_eq!(check_response(&config(9, false), &[]), Ok(None));
    }

    #[test]
    fn rfc7692_5_client_fails_on_permessage_deflate_accepted_twice() {
        assert_eq!(
            check(
                &DEFAULT,
                "permessage-deflate; client_max_window_bits=10, permessage-deflate"
            ),
            refused(DeflateResponseError::AcceptedTwice)
        );
    }

    #[test]
    fn rfc7692_7_client_fails_on_an_unknown_parameter() {
        assert_eq!(
            check(&DEFAULT, "permessage-deflate; mem_level=4"),
            refused(DeflateResponseError::UnknownParameter(
                "mem_level".to_owned()
            ))
        );
    }

    #[test]
    fn rfc7692_7_client_fails_on_a_repeated_parameter() {
        for parameter in DeflateParameter::ALL {
            let value = match parameter {
                DeflateParameter::ServerMaxWindowBits | DeflateParameter::ClientMaxWindowBits => {
                    "=10"
                }
                _ => "",
            };
            let name = parameter.name();
            assert_eq!(
                check(
                    &DEFAULT,
                    &format!("permessage-deflate; {name}{value}; {name}{value}")
                ),
                refused(DeflateResponseError::RepeatedParameter(parameter)),
                "{name}"
            );
        }
    }

    #[test]
    fn rfc7692_7_1_1_client_fails_on_a_value_on_no_context_takeover() {
        for parameter in [
            DeflateParameter::ServerNoContextTakeover,
            DeflateParameter::ClientNoContextTakeover,
        ] {
            assert_eq!(
                check(&DEFAULT, &format!("permessage-deflate; {parameter}=\"1\"")),
                refused(DeflateResponseError::UnexpectedValue {
                    parameter,
                    value: "1".to_owned()
                })
            );
        }
    }

    #[test]
    fn rfc7692_7_1_2_client_fails_on_invalid_window_bits() {
        for parameter in [
            DeflateParameter::ServerMaxWindowBits,
            DeflateParameter::ClientMaxWindowBits,
        ] {
            for value in INVALID_BITS {
                assert_eq!(
                    check(
                        &DEFAULT,
                        &format!("permessage-deflate; {parameter}={value}")
                    ),
                    refused(DeflateResponseError::InvalidWindowBits {
                        parameter,
                        value: Some(value.to_owned()),
                    }),
                    "{parameter}={value}"
                );
            }
            // §7.1.2.1, §7.1.2.2: in a response, both have a value.
            assert_eq!(
                check(&DEFAULT, &format!("permessage-deflate; {parameter}")),
                refused(DeflateResponseError::InvalidWindowBits {
                    parameter,
                    value: None,
                })
            );
        }
    }

    #[test]
    fn rfc7692_7_1_2_1_client_fails_on_a_server_window_above_its_offer() {
        for offered in 8..15 {
            for answered in offered + 1..=15 {
                assert_eq!(
                    check(
                        &config(offered, true),
                        &format!("permessage-deflate; server_max_window_bits={answered}")
                    ),
                    refused(DeflateResponseError::ServerWindowTooLarge { offered, answered })
                );
            }
        }
    }

    #[test]
    fn rfc7692_7_1_2_1_client_fails_when_its_server_window_is_not_answered() {
        assert_eq!(
            check(
                &config(12, true),
                "permessage-deflate; client_max_window_bits=12"
            ),
            refused(DeflateResponseError::MissingServerMaxWindowBits { offered: 12 })
        );
    }

    #[test]
    fn rfc7692_7_1_2_1_client_accepts_a_server_window_it_did_not_ask_for() {
        for answered in 8..=15 {
            assert_eq!(
                check(
                    &DEFAULT,
                    &format!("permessage-deflate; server_max_window_bits={answered}")
                ),
                Ok(Some(agreed(false, false, answered, 15)))
            );
        }
    }

    #[test]
    fn rfc7692_7_1_2_2_client_fails_on_a_client_window_above_its_offer() {
        assert_eq!(
            check(
                &config(9, true),
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=15"
            ),
            refused(DeflateResponseError::ClientWindowTooLarge {
                offered: 9,
                answered: 15
            })
        );
    }

    #[test]
    fn rfc7692_7_1_2_2_client_keeps_to_its_offered_window_when_not_answered() {
        for offered in 8..15 {
            assert_eq!(
                check(
                    &config(offered, true),
                    &format!("permessage-deflate; server_max_window_bits={offered}")
                ),
                Ok(Some(agreed(false, false, offered, offered)))
            );
        }
    }

    #[test]
    fn rfc7692_7_1_2_2_client_accepts_any_limit_on_an_unlimited_offer() {
        for answered in 8..=15 {
            assert_eq!(
                check(
                    &DEFAULT,
                    &format!("permessage-deflate; client_max_window_bits={answered}")
                ),
                Ok(Some(agreed(false, false, 15, answered)))
            );
        }
    }

    #[test]
    fn rfc7692_7_1_1_1_client_fails_when_server_no_context_takeover_is_not_accepted() {
        assert_eq!(
            check(&config(15, false), "permessage-deflate"),
            refused(DeflateResponseError::MissingServerNoContextTakeover)
        );
    }

    #[test]
    fn rfc7692_7_1_1_1_client_accepts_server_no_context_takeover_unasked() {
        assert_eq!(
            check(&DEFAULT, "permessage-deflate; server_no_context_takeover"),
            Ok(Some(agreed(true, false, 15, 15)))
        );
    }

    #[test]
    fn rfc7692_7_1_1_2_client_supports_client_no_context_takeover() {
        // Answered unasked: the client MUST support it.
        assert_eq!(
            check(&DEFAULT, "permessage-deflate; client_no_context_takeover"),
            Ok(Some(agreed(false, true, 15, 15)))
        );
        // Asked and not answered: the client keeps its word.
        assert_eq!(
            check(
                &config(15, false),
                "permessage-deflate; server_no_context_takeover"
            ),
            Ok(Some(agreed(true, true, 15, 15)))
        );
    }

    // Both sides.

    #[test]
    fn rfc7692_7_offer_and_answer_agree_for_every_configuration() {
        let windows = [0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 255];
        let configs: Vec<DeflateConfig> = windows
            .into_iter()
            .flat_map(|w| [config(w, true), config(w, false)])
            .collect();
        for client in &configs {
            let offer = encode_extension(&client_offer(client));
            for server in &configs {
                let (params, answer) = accept_offer(&elements(&offer), server)
                    .unwrap_or_else(|| panic!("{server:?} declines {offer}"));
                let answer = encode_extension(&answer);
                assert_eq!(
                    check(client, &answer),
                    Ok(Some(params)),
                    "{client:?} {server:?}: {offer} -> {answer}"
                );
                let window = window_bits(client).min(window_bits(server));
                let no_takeover = !client.context_takeover || !server.context_takeover;
                assert_eq!(params, agreed(no_takeover, no_takeover, window, window));
            }
        }
    }

    #[test]
    fn deflate_response_errors_cite_the_rfc() {
        use DeflateResponseError::*;
        let cases = [
            (
                AcceptedTwice,
                "permessage-deflate is accepted twice, and both would use RSV1 (RFC 7692 §5)",
            ),
            (
                UnknownParameter("x".to_owned()),
                "unknown parameter \"x\" (RFC 7692 §7)",
            ),
            (
                RepeatedParameter(DeflateParameter::ClientNoContextTakeover),
                "client_no_context_takeover appears more than once (RFC 7692 §7)",
            ),
            (
                UnexpectedValue {
                    parameter: DeflateParameter::ServerNoContextTakeover,
                    value: "1".to_owned(),
                },
                "server_no_context_takeover takes no value, but has \"1\" (RFC 7692 §7.1.1.1)",
            ),
            (
                InvalidWindowBits {
                    parameter: DeflateParameter::ServerMaxWindowBits,
                    value: Some("08".to_owned()),
                },
                "server_max_window_bits is \"08\", not a decimal 8 to 15 without leading zeros \
                 (RFC 7692 §7.1.2.1)",
            ),
            (
                InvalidWindowBits {
                    parameter: DeflateParameter::ClientMaxWindowBits,
                    value: None,
                },
                "client_max_window_bits has no value, where it needs 8 to 15 (RFC 7692 §7.1.2.2)",
            ),
            (
                MissingServerNoContextTakeover,
                "we asked for server_no_context_takeover and the answer lacks it \
                 (RFC 7692 §7.1.1.1)",
            ),
            (
                MissingServerMaxWindowBits { offered: 9 },
                "we offered server_max_window_bits=9 and the answer lacks it (RFC 7692 §7.1.2.1)",
            ),
            (
                ServerWindowTooLarge {
                    offered: 9,
                    answered: 10,
                },
                "server_max_window_bits=10 is above the 9 we offered (RFC 7692 §7.1.2.1)",
            ),
            (
                ClientWindowTooLarge {
                    offered: 9,
                    answered: 10,
                },
                "client_max_window_bits=10 is above the 9 we offered (RFC 7692 §7.1.2.2)",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
