//! How long to wait before the next pass over the hosts, and time arithmetic that cannot
//! overflow.
//!
//! The wait is an exponential backoff with jitter, never above the configured cap, and never
//! longer than half the time left before the client-side expiry: a blip shorter than the
//! session timeout must not cost the session (the server keeps it for T after it last heard
//! from us, PROTOCOL.md §9), so the attempts grow denser as the deadline nears and the last
//! ones fall inside T.

use std::time::{Duration, Instant};

/// The shortest wait between two passes over the hosts when the expiry deadline is near: a
/// few attempts fit in the last tenth of even a 1 s session timeout, and a pass of refused
/// connections cannot spin.
pub(super) const RETRY_FLOOR: Duration = Duration::from_millis(20);

/// The jitter: the wait is the backoff times a factor in [0.6, 1.4).
const JITTER_LOW: f64 = 0.6;
const JITTER_SPAN: f64 = 0.8;

/// The wait before the next pass.
///
/// `backoff` is the current (un-jittered) backoff, `unit` a random number in [0, 1), `max`
/// the configured cap, and `left` the time left before the client-side expiry, if the
/// session has one. The result is at most `max` and at most `max(left / 2, RETRY_FLOOR)`.
pub(super) fn next_wait(
    backoff: Duration,
    max: Duration,
    unit: f64,
    left: Option<Duration>,
) -> Duration {
    let factor = JITTER_LOW + JITTER_SPAN * unit.clamp(0.0, 1.0);
    // `mul_f64` panics when the product does not fit a Duration; the cap bounds it anyway.
    let jittered = Duration::try_from_secs_f64(backoff.as_secs_f64() * factor).unwrap_or(max);
    let wait = jittered.min(max);
    match left {
        Some(left) => wait.min((left / 2).max(RETRY_FLOOR)),
        None => wait,
    }
}

/// The backoff after `current`: doubled, up to `max`, without overflow.
pub(super) fn next_backoff(current: Duration, max: Duration) -> Duration {
    current.saturating_mul(2).min(max)
}

/// About a century: what "never" becomes when a deadline would not fit an [`Instant`].
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `t + d`, or, when that does not fit an [`Instant`], the latest of `t + d` clamped to
/// about a century from `t` (which, for any deadline a program can wait for, means never).
pub(super) fn add_saturating(t: Instant, d: Duration) -> Instant {
    t.checked_add(d.min(FAR_FUTURE))
        .or_else(|| t.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_never_exceeds_the_cap() {
        let max = Duration::from_secs(10);
        for i in 0..1000 {
            let unit = i as f64 / 1000.0;
            let w = next_wait(Duration::from_secs(10), max, unit, None);
            assert!(w <= max, "{w:?}");
        }
    }

    #[test]
    fn waits_never_exceed_half_the_time_left() {
        let w = next_wait(
            Duration::from_secs(5),
            Duration::from_secs(10),
            0.99,
            Some(Duration::from_secs(2)),
        );
        assert_eq!(w, Duration::from_secs(1));
        let w = next_wait(
            Duration::from_secs(5),
            Duration::from_secs(10),
            0.99,
            Some(Duration::from_millis(10)),
        );
        assert_eq!(w, RETRY_FLOOR);
    }

    #[test]
    fn huge_durations_saturate() {
        assert_eq!(
            next_backoff(Duration::MAX, Duration::MAX),
            Duration::MAX,
            "no overflow"
        );
        let w = next_wait(Duration::MAX, Duration::MAX, 0.99, None);
        assert!(w > Duration::from_secs(3600));
    }
}
