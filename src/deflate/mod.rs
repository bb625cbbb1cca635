//! permessage-deflate ([RFC 7692](https://www.rfc-editor.org/rfc/rfc7692)):
//! each message's payload compressed with DEFLATE (RFC 1951), marked by
//! RSV1 on its first frame.
//!
//! RFC 7692 in one place: [`DeflateConfig`] is what one end wants; the
//! negotiation (`negotiation.rs`, §5 and §7.1, a decision table per side)
//! turns the client's offers and the server's answer into [`DeflateParams`],
//! what both ends agreed; the codec (`codec.rs`, §7.2) compresses and
//! inflates, and `extension` makes the transform an [`Engine`] uses.
//!
//! The codec needs the feature `deflate` (flate2 with its zlib-rs backend,
//! on by default). Without it the negotiation is still here, for studying
//! it, but no connection compresses: servers decline every offer, clients
//! offer nothing, and the configurations have no `deflate` setting.

#[cfg(feature = "deflate")]
pub(crate) mod codec;
pub(crate) mod config;
pub(crate) mod negotiation;

#[cfg(feature = "deflate")]
pub use codec::extension;
pub use config::{DeflateConfig, DeflateParams};

use crate::proto::engine::Engine;
use crate::proto::settings::{Limits, Role};
pub use negotiation::{
    DeflateParameter, DeflateResponseError, accept_offer, check_response, client_offer,
};

/// The protocol engine for a connection in `role` whose opening handshake
/// agreed `agreed`, compressing at `config`'s level; without an agreement,
/// an engine with no extension.
#[cfg(feature = "deflate")]
pub(crate) fn engine(
    role: Role,
    limits: Limits,
    agreed: Option<&DeflateParams>,
    config: Option<&DeflateConfig>,
) -> Engine {
    match (agreed, config) {
        (Some(params), Some(config)) => {
            Engine::with_extension(role, limits, extension(params, role, config.level))
        }
        _ => Engine::new(role, limits),
    }
}

/// Without the codec, no handshake agrees to compress: an engine with no
/// extension.
#[cfg(not(feature = "deflate"))]
pub(crate) fn engine(
    role: Role,
    limits: Limits,
    _agreed: Option<&DeflateParams>,
    _config: Option<&DeflateConfig>,
) -> Engine {
    Engine::new(role, limits)
}
