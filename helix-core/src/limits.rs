//! Rate limits and quotas for model calls.
//!
//! Requests and tokens per minute are token buckets (capacity = the per-minute limit,
//! refilled continuously) kept in this process, so with several replicas each applies
//! the limits on its own. A call needs one request token and a non-negative token
//! balance; its real token count is charged when it ends (so one large answer can take
//! the balance negative and delay the next call). The monthly token quota is counted
//! from stored usage, so it holds across replicas.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Limits that apply to one caller. `None`: unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute.
    pub requests_per_minute: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    pub tokens_per_minute: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    capacity: f64,
    at: DateTime<Utc>,
}

impl Bucket {
    fn level_at(&self, now: DateTime<Utc>) -> f64 {
        let secs = (now - self.at).num_milliseconds().max(0) as f64 / 1000.0;
        (self.level + secs * self.capacity / 60.0).min(self.capacity)
    }

    fn refill(&mut self, capacity: f64, now: DateTime<Utc>) {
        self.capacity = capacity;
        self.level = self.level_at(now);
        self.at = now;
    }

    /// Seconds until the level reaches `need`.
    fn wait_for(&self, need: f64, capacity: f64) -> u64 {
        let missing = (need - self.level).max(0.0);
        (missing * 60.0 / capacity).ceil().max(1.0) as u64
    }
}

/// In-process token buckets keyed by `"user:<id>:rpm"`, `"key:<id>:tpm"` and the like.
///
/// A bucket that has filled up again is the same as no bucket, so every
/// [`PRUNE_EVERY`] calls the full ones are dropped: memory follows the callers active in
/// the last minute, not every caller since the start.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    calls: std::sync::atomic::AtomicU64,
}

/// How many `acquire` calls pass between two prunings of full buckets.
pub const PRUNE_EVERY: u64 = 1024;

impl RateLimiter {
    /// Buckets held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the buckets that are full at `now` (they would be made the same again).
    pub fn prune(&self, now: DateTime<Utc>) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.retain(|_, b| b.level_at(now) < b.capacity);
    }

    /// Takes one request from every bucket in `checks` (`(key, requests/min, tokens/min)`),
    /// or none of them: `Err(seconds to wait)` when any is empty.
    pub fn acquire(&self, checks: &[(String, Limits)], now: DateTime<Utc>) -> Result<(), u64> {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune(now);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0;
        for (key, limits) in checks {
            if let Some(rpm) = limits.requests_per_minute {
                let b = bucket(&mut buckets, &format!("{key}:rpm"), rpm as f64, now);
                if b.level < 1.0 {
                    wait = wait.max(b.wait_for(1.0, rpm as f64));
                }
            }
            if let Some(tpm) = limits.tokens_per_minute {
                let b = bucket(&mut buckets, &format!("{key}:tpm"), tpm as f64, now);
                if b.level < 0.0 {
                    wait = wait.max(b.wait_for(0.0, tpm as f64));
                }
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        for (key, limits) in checks {
            if limits.requests_per_minute.is_some() {
                if let Some(b) = buckets.get_mut(&format!("{key}:rpm")) {
                    b.level -= 1.0;
                }
            }
        }
        Ok(())
    }

    /// Gives back the request taken from each requests-per-minute bucket in `checks`
    /// (for attempts that should not count after all, e.g. a successful sign-in).
    pub fn refund(&self, checks: &[(String, Limits)], now: DateTime<Utc>) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        for (key, limits) in checks {
            if let Some(rpm) = limits.requests_per_minute {
                let b = bucket(&mut buckets, &format!("{key}:rpm"), rpm as f64, now);
                b.level = (b.level + 1.0).min(b.capacity);
            }
        }
    }

    /// Charges a finished call's tokens.
    pub fn charge(&self, checks: &[(String, Limits)], tokens: u64, now: DateTime<Utc>) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        for (key, limits) in checks {
            if let Some(tpm) = limits.tokens_per_minute {
                bucket(&mut buckets, &format!("{key}:tpm"), tpm as f64, now).level -= tokens as f64;
            }
        }
    }
}

fn bucket<'a>(
    buckets: &'a mut HashMap<String, Bucket>,
    key: &str,
    capacity: f64,
    now: DateTime<Utc>,
) -> &'a mut Bucket {
    let b = buckets.entry(key.to_owned()).or_insert(Bucket {
        level: capacity,
        capacity,
        at: now,
    });
    b.refill(capacity, now);
    b
}

/// The first instant of `now`'s UTC month.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn checks(rpm: Option<u64>, tpm: Option<u64>) -> Vec<(String, Limits)> {
        vec![(
            "user:u".into(),
            Limits {
                requests_per_minute: rpm,
                tokens_per_minute: tpm,
            },
        )]
    }

    #[test]
    fn requests_per_minute_refill_continuously() {
        let l = RateLimiter::default();
        let t0 = Utc::now();
        let c = checks(Some(2), None);
        assert!(l.acquire(&c, t0).is_ok());
        assert!(l.acquire(&c, t0).is_ok());
        assert_eq!(
            l.acquire(&c, t0),
            Err(30),
            "one request every 30 s at 2/min"
        );
        assert!(l.acquire(&c, t0 + Duration::seconds(30)).is_ok());
        assert!(
            l.acquire(&checks(None, None), t0).is_ok(),
            "no limits, no refusal"
        );
    }

    #[test]
    fn tokens_are_charged_after_the_call() {
        let l = RateLimiter::default();
        let t0 = Utc::now();
        let c = checks(None, Some(600));
        assert!(l.acquire(&c, t0).is_ok());
        l.charge(&c, 1200, t0);
        // 600 tokens in debt at 10 tokens/s: 60 s until the balance is back to zero.
        assert_eq!(l.acquire(&c, t0), Err(60));
        assert!(l.acquire(&c, t0 + Duration::seconds(60)).is_ok());
    }

    #[test]
    fn a_refused_call_takes_nothing_from_other_buckets() {
        let l = RateLimiter::default();
        let t0 = Utc::now();
        let both = vec![
            (
                "user:u".to_owned(),
                Limits {
                    requests_per_minute: Some(10),
                    tokens_per_minute: None,
                },
            ),
            (
                "key:k".to_owned(),
                Limits {
                    requests_per_minute: Some(1),
                    tokens_per_minute: None,
                },
            ),
        ];
        assert!(l.acquire(&both, t0).is_ok());
        assert!(l.acquire(&both, t0).is_err());
        let user_only = vec![both[0].clone()];
        for _ in 0..9 {
            assert!(
                l.acquire(&user_only, t0).is_ok(),
                "the refused call did not use the user's budget"
            );
        }
        assert!(l.acquire(&user_only, t0).is_err());
    }

    #[test]
    fn full_buckets_are_pruned_and_busy_ones_kept() {
        let l = RateLimiter::default();
        let t0 = Utc::now();
        // One busy caller in debt, and many callers that made one call each.
        let busy = checks(Some(10), Some(600));
        l.acquire(&busy, t0).unwrap();
        l.charge(&busy, 6000, t0);
        for i in 0..500 {
            let c = vec![(
                format!("user:{i}"),
                Limits {
                    requests_per_minute: Some(60),
                    tokens_per_minute: None,
                },
            )];
            l.acquire(&c, t0).unwrap();
        }
        assert_eq!(l.len(), 502);
        // A minute later the one-call callers are full again; the busy caller's tokens
        // are still 4,800 in debt (5,400 less a minute at 10 tokens/s).
        l.prune(t0 + Duration::seconds(60));
        assert_eq!(l.len(), 1);
        assert_eq!(l.acquire(&busy, t0 + Duration::seconds(60)), Err(480));
        // Pruning runs by itself every PRUNE_EVERY calls.
        let other = checks(Some(1_000_000), None);
        let later = t0 + Duration::seconds(700);
        for _ in 0..PRUNE_EVERY {
            let _ = l.acquire(&other, later);
        }
        assert!(l.len() <= 2, "{}", l.len());
        // A pruned bucket comes back full: the limit still holds after pruning.
        let one = checks(Some(1), None);
        assert!(l.acquire(&one, later).is_ok());
        l.prune(later);
        assert_eq!(l.acquire(&one, later), Err(60));
    }

    #[test]
    fn months_start_at_midnight_on_the_first() {
        let t = "2026-11-22T15:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(month_start(t).to_rfc3339(), "2026-11-01T00:00:00+00:00");
    }
}
