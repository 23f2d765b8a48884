//! Rate limits per visitor and per team key, and on new widget sessions
//! per client address and in all: a burst, then a steady rate (GCRA, from
//! `governor`). A request costs one, and each mutation field it selects
//! beyond the first costs one more, so aliasing a mutation buys nothing. A
//! refused request is answered RATE_LIMITED with how long to wait; it runs
//! nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tahc_app::{Principal, PrincipalKind};
use uuid::Uuid;

/// A steady rate with a burst on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per minute, sustained.
    pub per_minute: NonZeroU32,
    /// Requests allowed at once after a quiet spell.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_minute` sustained with `burst` on top (`None` if either is 0).
    #[must_use]
    pub fn new(per_minute: u32, burst: u32) -> Option<Rate> {
        Some(Rate {
            per_minute: NonZeroU32::new(per_minute)?,
            burst: NonZeroU32::new(burst)?,
        })
    }
}

/// The limits of one node; `None` switches a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Per visitor token.
    pub visitor: Option<Rate>,
    /// Per team member's key.
    pub team: Option<Rate>,
    /// New widget sessions per client address.
    pub sessions_per_address: Option<Rate>,
    /// New widget sessions on the node, from every address together.
    pub sessions: Option<Rate>,
}

impl RateLimitSettings {
    /// No limit at all (benchmarks, in-process tools).
    pub const OFF: RateLimitSettings = RateLimitSettings {
        visitor: None,
        team: None,
        sessions_per_address: None,
        sessions: None,
    };
}

impl Default for RateLimitSettings {
    /// A chatting visitor sends far less than 2 requests a second; a busy
    /// agent console or bot stays well under 20. A browser opens one widget
    /// session per visitor and keeps its token for 30 days: 20 a minute
    /// from one address is an office behind one NAT reloading; 600 a
    /// minute in all is a very busy site.
    fn default() -> Self {
        RateLimitSettings {
            visitor: Rate::new(120, 30),
            team: Rate::new(1_200, 200),
            sessions_per_address: Rate::new(20, 20),
            sessions: Rate::new(600, 200),
        }
    }
}

/// A request refused for going too fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry in {} ms", retry_after.as_millis())]
pub struct RateLimited {
    /// How long until the next request would be let in.
    pub retry_after: Duration,
}

/// Admits or refuses a caller's next request, and new widget sessions.
pub trait Admission: Send + Sync {
    /// `Ok` to run a request of `cost` (1, and 1 more for each mutation
    /// field past the first) now. A cost over the caller's burst takes the
    /// whole burst.
    fn charge(&self, principal: &Principal, cost: NonZeroU32) -> Result<(), RateLimited>;

    /// `Ok` to run a request of cost 1 now.
    fn admit(&self, principal: &Principal) -> Result<(), RateLimited> {
        self.charge(principal, NonZeroU32::MIN)
    }

    /// `Ok` to open a new widget session for a client at `address` now.
    fn admit_session(&self, address: Option<IpAddr>) -> Result<(), RateLimited>;
}

type Keyed<K, C> =
    RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// How many admissions between sweeps of idle callers' state.
const SWEEP_EVERY: u64 = 10_000;

/// Rate limits kept in memory, per node, over a clock (the real one in
/// service, a manual one in tests).
pub struct RateLimits<C: Clock = DefaultClock> {
    visitor: Option<Keyed<Uuid, C>>,
    team: Option<Keyed<Uuid, C>>,
    sessions_per_address: Option<Keyed<IpAddr, C>>,
    /// Every session under one key.
    sessions: Option<Keyed<(), C>>,
    admissions: AtomicU64,
}

fn keyed<K: std::hash::Hash + Eq + Clone, C: Clock + Clone>(
    rate: Option<Rate>,
    clock: &C,
) -> Option<Keyed<K, C>> {
    rate.map(|rate| {
        let quota = Quota::per_minute(rate.per_minute).allow_burst(rate.burst);
        RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
    })
}

impl RateLimits<DefaultClock> {
    /// Limits on the real clock.
    #[must_use]
    pub fn new(settings: RateLimitSettings) -> Self {
        Self::with_clock(settings, &DefaultClock::default())
    }
}

impl RateLimits<FakeRelativeClock> {
    /// Limits on a clock the caller advances (tests).
    #[must_use]
    pub fn manual(settings: RateLimitSettings, clock: &FakeRelativeClock) -> Self {
        Self::with_clock(settings, clock)
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    fn with_clock(settings: RateLimitSettings, clock: &C) -> Self {
        RateLimits {
            visitor: keyed(settings.visitor, clock),
            team: keyed(settings.team, clock),
            sessions_per_address: keyed(settings.sessions_per_address, clock),
            sessions: keyed(settings.sessions, clock),
            admissions: AtomicU64::new(0),
        }
    }
}

impl<C: Clock> RateLimits<C> {
    /// Takes `cost` (at most the whole burst) from `key`'s allowance,
    /// sweeping idle keys' state now and then.
    fn spend<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &Option<Keyed<K, C>>,
        key: &K,
        cost: NonZeroU32,
    ) -> Result<(), RateLimited> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self.admissions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        let checked = match limiter.check_key_n(key, cost) {
            Ok(checked) => checked,
            // A cost over the burst takes the whole burst (which always fits).
            Err(governor::InsufficientCapacity(burst)) => limiter
                .check_key_n(key, NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
                .unwrap_or(Ok(())),
        };
        checked.map_err(|not_until| RateLimited {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        })
    }
}

impl<C: Clock + Send + Sync> Admission for RateLimits<C>
where
    C::Instant: Send + Sync,
{
    fn charge(&self, principal: &Principal, cost: NonZeroU32) -> Result<(), RateLimited> {
        let (limiter, key) = match principal.kind {
            PrincipalKind::Visitor { visitor_id } => (&self.visitor, visitor_id),
            PrincipalKind::Team { agent_id, .. } => (&self.team, agent_id),
            PrincipalKind::System => return Ok(()),
        };
        self.spend(limiter, &key, cost)
    }

    fn admit_session(&self, address: Option<IpAddr>) -> Result<(), RateLimited> {
        if let Some(address) = address {
            self.spend(&self.sessions_per_address, &address, NonZeroU32::MIN)?;
        }
        self.spend(&self.sessions, &(), NonZeroU32::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32, burst: u32) -> RateLimitSettings {
        let rate = Rate {
            per_minute: NonZeroU32::new(per_minute).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        };
        RateLimitSettings {
            visitor: Some(rate),
            team: None,
            sessions_per_address: Rate::new(60, 2),
            sessions: Rate::new(60, 3),
        }
    }

    #[test]
    fn a_visitor_gets_its_burst_then_waits_for_the_steady_rate() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::manual(settings(60, 3), &clock);
        let visitor = Principal::visitor(Uuid::nil(), Uuid::now_v7());
        for _ in 0..3 {
            assert!(limits.admit(&visitor).is_ok());
        }
        let refused = limits.admit(&visitor).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        clock.advance(Duration::from_millis(999));
        assert!(limits.admit(&visitor).is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limits.admit(&visitor).is_ok());
        assert!(limits.admit(&visitor).is_err());
    }

    #[test]
    fn callers_are_limited_separately_and_off_means_off() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::manual(settings(60, 1), &clock);
        let (a, b) = (
            Principal::visitor(Uuid::nil(), Uuid::now_v7()),
            Principal::visitor(Uuid::nil(), Uuid::now_v7()),
        );
        assert!(limits.admit(&a).is_ok());
        assert!(limits.admit(&a).is_err());
        assert!(limits.admit(&b).is_ok());
        let agent = Principal::team(Uuid::nil(), Uuid::now_v7(), tahc_events::Role::Agent);
        for _ in 0..1_000 {
            assert!(limits.admit(&agent).is_ok());
        }
    }

    #[test]
    fn a_cost_is_taken_whole_and_a_cost_over_the_burst_takes_the_burst() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::manual(settings(60, 5), &clock);
        let visitor = Principal::visitor(Uuid::nil(), Uuid::now_v7());
        let cost = |n| NonZeroU32::new(n).unwrap();
        assert!(limits.charge(&visitor, cost(4)).is_ok());
        assert!(limits.charge(&visitor, cost(2)).is_err(), "one left");
        assert!(limits.admit(&visitor).is_ok());
        clock.advance(Duration::from_secs(5));
        assert!(
            limits.charge(&visitor, cost(300)).is_ok(),
            "the whole burst"
        );
        assert!(limits.admit(&visitor).is_err());
    }

    #[test]
    fn sessions_are_limited_per_address_and_in_all() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::manual(settings(60, 1), &clock);
        let (a, b, c) = (
            Some(IpAddr::from([10, 0, 0, 1])),
            Some(IpAddr::from([10, 0, 0, 2])),
            Some(IpAddr::from([10, 0, 0, 3])),
        );
        assert!(limits.admit_session(a).is_ok());
        assert!(limits.admit_session(a).is_ok());
        assert!(limits.admit_session(a).is_err(), "two per address");
        assert!(limits.admit_session(b).is_ok());
        assert!(limits.admit_session(c).is_err(), "three in all");
        clock.advance(Duration::from_secs(1));
        assert!(limits.admit_session(c).is_ok());
    }
}
