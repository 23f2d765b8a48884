//! Rate limits per visitor and per team key: a burst, then a steady rate
//! (GCRA, from `governor`). A refused request is answered RATE_LIMITED with
//! how long to wait; it runs nothing.

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

/// The limits of one node; `None` switches a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Per visitor token.
    pub visitor: Option<Rate>,
    /// Per team member's key.
    pub team: Option<Rate>,
}

impl Default for RateLimitSettings {
    /// A chatting visitor sends far less than 2 requests a second; a busy
    /// agent console or bot stays well under 20.
    fn default() -> Self {
        RateLimitSettings {
            visitor: Some(Rate {
                per_minute: NonZeroU32::new(120).expect("non-zero"),
                burst: NonZeroU32::new(30).expect("non-zero"),
            }),
            team: Some(Rate {
                per_minute: NonZeroU32::new(1_200).expect("non-zero"),
                burst: NonZeroU32::new(200).expect("non-zero"),
            }),
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

/// Admits or refuses a caller's next request.
pub trait Admission: Send + Sync {
    /// `Ok` to run the request now.
    fn admit(&self, principal: &Principal) -> Result<(), RateLimited>;
}

type Keyed<C> =
    RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// How many admissions between sweeps of idle callers' state.
const SWEEP_EVERY: u64 = 10_000;

/// Rate limits kept in memory, per node, over a clock (the real one in
/// service, a manual one in tests).
pub struct RateLimits<C: Clock = DefaultClock> {
    visitor: Option<Keyed<C>>,
    team: Option<Keyed<C>>,
    admissions: AtomicU64,
}

fn keyed<C: Clock + Clone>(rate: Option<Rate>, clock: &C) -> Option<Keyed<C>> {
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
            admissions: AtomicU64::new(0),
        }
    }
}

impl<C: Clock + Send + Sync> Admission for RateLimits<C>
where
    C::Instant: Send + Sync,
{
    fn admit(&self, principal: &Principal) -> Result<(), RateLimited> {
        let (limiter, key) = match principal.kind {
            PrincipalKind::Visitor { visitor_id } => (&self.visitor, visitor_id),
            PrincipalKind::Team { agent_id, .. } => (&self.team, agent_id),
            PrincipalKind::System => return Ok(()),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self.admissions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(&key).map_err(|not_until| RateLimited {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        })
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
}
