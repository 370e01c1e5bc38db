//! In-memory rate limits: token buckets keyed on tokens (team token, status token) and global
//! budgets — never on client addresses, which the server does not look at.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::AppError;

/// One budget: `per_second` sustained, up to `burst` at once. `per_second = 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub per_second: f64,
    pub burst: f64,
}

impl Budget {
    const fn new(per_second: f64, burst: f64) -> Budget {
        Budget { per_second, burst }
    }

    fn unlimited(&self) -> bool {
        self.per_second <= 0.0
    }
}

/// The limits, all configurable (`[rate_limits]` in the config). The defaults are far above
/// what one team and its researchers do (a team pulling a thousand reports in a burst stays
/// under them) and low enough to blunt a flood.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Report submissions, all researchers together (anonymous: there is no key to split on).
    pub submissions: Budget,
    /// Status lookups per status token.
    pub status_per_token: Budget,
    /// Status lookups, all together.
    pub status: Budget,
    /// Team requests per team token.
    pub team_per_token: Budget,
    /// Requests with a wrong or missing token, all together.
    pub auth_failures: Budget,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            submissions: Budget::new(100.0, 1000.0),
            status_per_token: Budget::new(5.0, 60.0),
            status: Budget::new(500.0, 5000.0),
            team_per_token: Budget::new(500.0, 10_000.0),
            auth_failures: Budget::new(50.0, 500.0),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(budget: &Budget, now: Instant) -> Bucket {
        Bucket {
            tokens: budget.burst,
            at: now,
        }
    }

    /// Takes one token, or says how long until one is there.
    fn take(&mut self, budget: &Budget, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * budget.per_second).min(budget.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / budget.per_second,
            ))
        }
    }

    /// Gives back one token taken for a request that turned out not to count.
    fn give_back(&mut self, budget: &Budget) {
        self.tokens = (self.tokens + 1.0).min(budget.burst);
    }

    fn is_full(&self, budget: &Budget, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * budget.per_second >= budget.burst
    }
}

fn refuse(wait: Duration) -> AppError {
    AppError::RateLimited {
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

struct Global {
    budget: Budget,
    bucket: Mutex<Bucket>,
}

impl Global {
    fn new(budget: Budget) -> Global {
        Global {
            budget,
            bucket: Mutex::new(Bucket::full(&budget, Instant::now())),
        }
    }

    fn take(&self) -> Result<(), AppError> {
        if self.budget.unlimited() {
            return Ok(());
        }
        self.bucket
            .lock()
            .expect("rate limit lock")
            .take(&self.budget, Instant::now())
            .map_err(refuse)
    }
}

impl Global {
    fn give_back(&self) {
        if !self.budget.unlimited() {
            self.bucket
                .lock()
                .expect("rate limit lock")
                .give_back(&self.budget);
        }
    }
}

/// Buckets per key; idle (full) buckets are forgotten so the map stays small.
struct Keyed<K> {
    budget: Budget,
    buckets: Mutex<HashMap<K, Bucket>>,
}

const PRUNE_ABOVE: usize = 10_000;

impl<K: Eq + Hash> Keyed<K> {
    fn new(budget: Budget) -> Keyed<K> {
        Keyed {
            budget,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, key: K) -> Result<(), AppError> {
        if self.budget.unlimited() {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.buckets.lock().expect("rate limit lock");
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| !b.is_full(&self.budget, now));
        }
        map.entry(key)
            .or_insert_with(|| Bucket::full(&self.budget, now))
            .take(&self.budget, now)
            .map_err(refuse)
    }
}

/// One token of a budget, given back when dropped unless kept.
pub(crate) struct Charge<'a> {
    global: &'a Global,
    kept: bool,
}

impl Charge<'_> {
    /// The request counted: the token stays spent.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.global.give_back();
        }
    }
}

/// Every limiter the server applies.
pub(crate) struct RateLimiter {
    submissions: Global,
    status: Global,
    status_per_token: Keyed<u128>,
    team_per_token: Keyed<usize>,
    auth_failures: Global,
}

impl RateLimiter {
    pub(crate) fn new(config: &RateLimitConfig) -> RateLimiter {
        RateLimiter {
            submissions: Global::new(config.submissions),
            status: Global::new(config.status),
            status_per_token: Keyed::new(config.status_per_token),
            team_per_token: Keyed::new(config.team_per_token),
            auth_failures: Global::new(config.auth_failures),
        }
    }

    /// Charged once a submission's headers are valid (an Idempotency-Key, a size under the
    /// limit); the returned charge is given back unless [`Charge::keep`] is called, so a body
    /// refused for what it is (not OpenPGP, not to the team, a reused key) costs nothing:
    /// junk cannot spend the budget of real reports.
    pub(crate) fn submission(&self) -> Result<Charge<'_>, AppError> {
        self.submissions.take()?;
        Ok(Charge {
            global: &self.submissions,
            kept: false,
        })
    }

    pub(crate) fn status_lookup(&self) -> Result<(), AppError> {
        self.status.take()
    }

    /// Keyed on the report the (verified) status token belongs to.
    pub(crate) fn status_token(&self, receipt_bits: u128) -> Result<(), AppError> {
        self.status_per_token.take(receipt_bits)
    }

    /// Keyed on which configured team token was presented.
    pub(crate) fn team_token(&self, index: usize) -> Result<(), AppError> {
        self.team_per_token.take(index)
    }

    pub(crate) fn auth_failure(&self) -> Result<(), AppError> {
        self.auth_failures.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_refilled() {
        let budget = Budget::new(10.0, 3.0);
        let start = Instant::now();
        let mut b = Bucket::full(&budget, start);
        for _ in 0..3 {
            b.take(&budget, start).unwrap();
        }
        let wait = b.take(&budget, start).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        b.take(&budget, start + Duration::from_millis(100)).unwrap();
    }

    #[test]
    fn a_charge_not_kept_is_given_back() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            submissions: Budget::new(0.001, 2.0),
            ..RateLimitConfig::default()
        });
        for _ in 0..10 {
            drop(limiter.submission().unwrap());
        }
        limiter.submission().unwrap().keep();
        limiter.submission().unwrap().keep();
        assert!(
            limiter.submission().is_err(),
            "two kept: the burst is spent"
        );
    }

    #[test]
    fn keys_have_their_own_buckets_and_zero_means_unlimited() {
        let keyed: Keyed<usize> = Keyed::new(Budget::new(1.0, 1.0));
        keyed.take(1).unwrap();
        assert!(matches!(
            keyed.take(1),
            Err(AppError::RateLimited { retry_after: 1 })
        ));
        keyed.take(2).unwrap();
        let open = Global::new(Budget::new(0.0, 0.0));
        for _ in 0..10_000 {
            open.take().unwrap();
        }
    }
}
