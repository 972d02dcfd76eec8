//! The builder's checks: settings that make no sense are refused at `build()` with an
//! [`Error::BadArgument`] saying which and why, rather than misbehaving (or panicking) later.
//!
//! Durations are otherwise taken as given, however large: every deadline saturates (a
//! century away means "never"), and the session timeout is clamped to what the wire can
//! carry (`i32::MAX` ms).

use crate::handler::Handler;
use crate::Error;

use super::ClientBuilder;

impl<H: Handler> ClientBuilder<H> {
    /// Refuses nonsense: a zero session timeout, a zero first backoff, a first backoff above
    /// the cap, a zero bound on requests in flight.
    pub(super) fn check_settings(&self) -> Result<(), Error> {
        if self.session_timeout.is_zero() {
            return Err(Error::BadArgument(
                "the session timeout must be positive".into(),
            ));
        }
        if self.backoff_initial.is_zero() {
            return Err(Error::BadArgument(
                "connection_backoff: the first delay must be positive (a zero delay would \
                 retry a dead host list in a tight loop)"
                    .into(),
            ));
        }
        if self.backoff_initial > self.backoff_max {
            return Err(Error::BadArgument(format!(
                "connection_backoff: the first delay ({:?}) is above the cap ({:?})",
                self.backoff_initial, self.backoff_max
            )));
        }
        if self.max_in_flight == 0 {
            return Err(Error::BadArgument(
                "max_in_flight must be at least 1 (no request could ever be sent)".into(),
            ));
        }
        Ok(())
    }
}
