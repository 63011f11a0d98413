//! Failed-authentication limits (SPEC §5 `rate_limited`): `limit` 401s from one client
//! address, or `limit` wrong secrets for one client id (a brute force spread over many
//! addresses), within a sliding minute block further `/v1` requests from that address or for
//! that client id until the oldest failure leaves the window.
//!
//! A sliding log of failure instants is used rather than a token-bucket crate (`governor`):
//! those consume a cell on every check, and here the checks (every request) and the counted
//! events (failures only) differ.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, idle ones are dropped on the next failure.
const PRUNE_ABOVE: usize = 10_000;

/// Both limits of one app.
pub struct Limiters {
    pub by_address: FailureLimiter<IpAddr>,
    pub by_client: FailureLimiter<String>,
}

impl Limiters {
    pub fn new(per_address: u32, per_client: u32) -> Self {
        Limiters {
            by_address: FailureLimiter::new(per_address),
            by_client: FailureLimiter::new(per_client),
        }
    }

    /// Seconds to wait when the address or the client id is blocked now.
    pub fn blocked(&self, addr: Option<IpAddr>, client_id: Option<&str>) -> Option<u64> {
        let by_address = addr.and_then(|a| self.by_address.blocked(a));
        let by_client = client_id.and_then(|c| self.by_client.blocked(c.to_owned()));
        by_address.max(by_client)
    }
}

pub struct FailureLimiter<K> {
    limit: usize,
    failures: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq> FailureLimiter<K> {
    /// `limit` 0 disables the limiter.
    pub fn new(limit: u32) -> Self {
        FailureLimiter {
            limit: limit as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when `addr` is blocked now, else `None`.
    pub fn blocked(&self, addr: K) -> Option<u64> {
        self.blocked_at(addr, Instant::now())
    }

    /// Counts one failed authentication from `addr`.
    pub fn record_failure(&self, addr: K) {
        self.record_at(addr, Instant::now());
    }

    fn blocked_at(&self, addr: K, now: Instant) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let mut failures = self.failures.lock().expect("limiter lock");
        let recent = failures.get_mut(&addr)?;
        expire(recent, now);
        if recent.len() < self.limit {
            return None;
        }
        let oldest = *recent.front()?;
        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
        Some(wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    fn record_at(&self, addr: K, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut failures = self.failures.lock().expect("limiter lock");
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, recent| {
                expire(recent, now);
                !recent.is_empty()
            });
        }
        let recent = failures.entry(addr).or_default();
        expire(recent, now);
        recent.push_back(now);
        if recent.len() > self.limit {
            recent.pop_front();
        }
    }
}

fn expire(recent: &mut VecDeque<Instant>, now: Instant) {
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        recent.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn an_address_is_blocked_after_limit_failures_and_others_are_not() {
        let limiter = FailureLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..2 {
            limiter.record_at(A, t0);
        }
        assert_eq!(limiter.blocked_at(A, t0), None);
        limiter.record_at(A, t0);
        assert_eq!(limiter.blocked_at(A, t0), Some(60));
        assert_eq!(limiter.blocked_at(B, t0), None);
    }

    #[test]
    fn the_block_lifts_when_failures_leave_the_window() {
        let limiter = FailureLimiter::new(1);
        let t0 = Instant::now();
        limiter.record_at(A, t0);
        assert_eq!(
            limiter.blocked_at(A, t0 + Duration::from_secs(45)),
            Some(15)
        );
        assert_eq!(limiter.blocked_at(A, t0 + WINDOW), None);
    }

    #[test]
    fn a_client_id_is_blocked_whatever_the_address() {
        let limiters = Limiters::new(0, 2);
        limiters.by_client.record_failure("victim".to_owned());
        limiters.by_client.record_failure("victim".to_owned());
        assert!(limiters.blocked(Some(A), Some("victim")).is_some());
        assert!(limiters.blocked(Some(B), Some("victim")).is_some());
        assert_eq!(limiters.blocked(Some(A), Some("other")), None);
        assert_eq!(limiters.blocked(Some(A), None), None);
    }

    #[test]
    fn zero_disables() {
        let limiter = FailureLimiter::new(0);
        limiter.record_at(A, Instant::now());
        assert_eq!(limiter.blocked(A), None);
    }
}
