//! The timer table: deadlines per timer, the earliest one first.

use super::*;
use crate::session::timer::{Timer, TimerTable};

#[test]
fn the_table_gives_the_earliest_armed_deadline() {
    let t0 = Instant::now();
    let mut t = TimerTable::default();
    assert_eq!(t.next_timeout(), None);
    t.set(Timer::Read, t0 + Duration::from_secs(4));
    t.set(Timer::Ping, t0 + Duration::from_secs(2));
    t.set(Timer::Retry, t0 + Duration::from_secs(3));
    assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(2)));
    assert!(!t.is_due(Timer::Ping, t0 + Duration::from_secs(1)));
    assert!(t.is_due(Timer::Ping, t0 + Duration::from_secs(2)));
    assert!(!t.is_due(Timer::Close, t0 + Duration::from_secs(9)));
    t.stop(Timer::Ping);
    assert_eq!(t.get(Timer::Ping), None);
    assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(3)));
    // Re-arming replaces the deadline.
    t.set(Timer::Retry, t0 + Duration::from_secs(5));
    assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(4)));
}

#[test]
fn every_timer_has_its_own_slot() {
    let t0 = Instant::now();
    let mut t = TimerTable::default();
    for (i, timer) in Timer::ALL.into_iter().enumerate() {
        t.set(timer, t0 + Duration::from_secs(i as u64));
    }
    for (i, timer) in Timer::ALL.into_iter().enumerate() {
        assert_eq!(t.get(timer), Some(t0 + Duration::from_secs(i as u64)));
    }
}
