//! The intervals the guard reports. Rates (catastrophes, false alarms, vetoes, cheese) are
//! counts, so they get Wilson score intervals, which never collapse to a point at 0 or n
//! events; means over episodes get a bootstrap over episodes; a paired difference of two rates
//! on the same episodes (a guard against no guard, common random numbers) gets Newcombe's
//! score interval for paired proportions.
//!
//! Wilson intervals, bootstrap means and paired differences come from the shared reporting
//! layer; the paired-rate interval and scaling are the guard's own.

pub use mesascope_report::stats::{mean_ci, paired_difference, rate, wilson, Estimate};

/// `P(a) − P(b)` for paired binary outcomes `(a, b)` (the same episode under two treatments),
/// with Newcombe's (1998, method 10) score interval: Wilson intervals of both rates combined
/// with the pairs' correlation. A bootstrap over pairs would give the point `[0, 0]` whenever
/// no pair differs, claiming certainty that 200 episodes cannot give; this interval still
/// spans about ±1.9% there.
pub fn paired_rate_difference(pairs: &[(bool, bool)]) -> Estimate {
    let n = pairs.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let count = |x: bool, y: bool| pairs.iter().filter(|p| **p == (x, y)).count() as f64;
    let (both, only_a, only_b, neither) = (count(true, true), count(true, false), count(false, true), count(false, false));
    let (ka, kb) = ((both + only_a) as usize, (both + only_b) as usize);
    let (ea, eb) = (wilson(ka, n), wilson(kb, n));
    // φ: the correlation of the two outcomes over pairs (0 when a margin is constant).
    let margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither);
    let phi = if margins > 0.0 { (both * neither - only_a * only_b) / margins.sqrt() } else { 0.0 };
    let d = ea.mean - eb.mean;
    let (la, ua, lb, ub) = (ea.mean - ea.lo, ea.hi - ea.mean, eb.mean - eb.lo, eb.hi - eb.mean);
    let below = (la * la - 2.0 * phi * la * ub + ub * ub).max(0.0).sqrt();
    let above = (ua * ua - 2.0 * phi * ua * lb + lb * lb).max(0.0).sqrt();
    Estimate { mean: d, lo: (d - below).max(-1.0), hi: (d + above).min(1.0), n }
}

/// `e` with mean and bounds multiplied by `k` (a rate per 1000, say).
pub fn scaled(e: Estimate, k: f64) -> Estimate {
    Estimate { mean: e.mean * k, lo: e.lo * k, hi: e.hi * k, n: e.n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_an_interval_at_zero_and_all_events() {
        // Item 1 of the numbers issue: 0 events in 200 still allows up to ≈ 1.9%.
        let zero = wilson(0, 200);
        assert!(zero.mean == 0.0 && zero.lo.abs() < 1e-12, "{zero:?}");
        assert!((zero.hi - 0.0188).abs() < 5e-4, "{zero:?}");
        let all = wilson(200, 200);
        assert!(all.lo < 0.99 && all.hi == 1.0, "{all:?}");
        assert_eq!(rate([true, false, false, false]).mean, 0.25);
    }

    #[test]
    fn paired_rate_differences_are_not_a_point_when_no_pair_differs() {
        let same = paired_rate_difference(&vec![(false, false); 200]);
        assert_eq!(same.mean, 0.0);
        assert!(same.lo < -0.015 && same.hi > 0.015, "{same:?}");
        // A guard that prevents 50 of 100 catastrophes in 200 episodes: −25% with an interval
        // excluding 0 and including the truth.
        let mut pairs = vec![(false, true); 50];
        pairs.extend(vec![(true, true); 50]);
        pairs.extend(vec![(false, false); 100]);
        let d = paired_rate_difference(&pairs);
        assert_eq!(d.mean, -0.25);
        assert!(d.hi < 0.0 && d.lo < -0.25 && d.lo > -0.4, "{d:?}");
    }
}
