//! Estimates with 95% intervals. Which interval fits depends on what was sampled:
//! - a rate (k events in n trials) gets [`wilson`]'s score interval on the count: it never
//!   collapses to a point, so 0 events in 200 still allows up to ~1.9%;
//! - a mean over many units (episodes, levels, decision points grouped by episode) gets a
//!   percentile bootstrap that resamples those units ([`mean_ci`], [`ratio_ci`],
//!   [`paired_difference`], or [`bootstrap`] for any other statistic);
//! - a difference of two rates on the same units (a guard against no guard on the same
//!   episodes) gets Newcombe's paired score interval ([`paired_rate_difference`]);
//! - a mean over a handful of seeds gets a Student-t interval ([`t_interval`]): with 3 values a
//!   bootstrap interval is far too narrow.
//!
//! Every resampling stream is seeded, so the same data give the same interval.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A point estimate with its 95% interval and sample size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate (a sample mean, a rate k/n, a ratio of sums).
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
    /// Sample size: the number of units the interval is over.
    pub n: usize,
}

impl Estimate {
    /// A value measured once, with no interval (NaN bounds) and `n = 1`.
    pub fn single(value: f64) -> Estimate {
        Estimate { mean: value, lo: f64::NAN, hi: f64::NAN, n: 1 }
    }

    /// The interval clipped to `[lo, hi]`, where the measurement can lie.
    pub fn clipped(self, lo: f64, hi: f64) -> Estimate {
        Estimate { lo: self.lo.clamp(lo, hi), hi: self.hi.clamp(lo, hi), ..self }
    }

    /// Whether the interval lies wholly above `x` (so the evidence decides "greater than x").
    pub fn above(&self, x: f64) -> bool {
        self.lo > x
    }
}

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;

/// The 95% percentile interval of a statistic over `resamples` draws: `draw` resamples the
/// data with the stream it is given and returns the statistic (non-finite draws are dropped).
pub fn bootstrap(resamples: usize, seed: u64, mut draw: impl FnMut(&mut Pcg64Mcg) -> f64) -> (f64, f64) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut stats: Vec<f64> = (0..resamples).map(|_| draw(&mut rng)).filter(|x| x.is_finite()).collect();
    if stats.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    stats.sort_by(f64::total_cmp);
    let r = stats.len();
    (stats[r * 25 / 1000], stats[(r * 975 / 1000).max(1) - 1])
}

/// `n` indices drawn uniformly with replacement from `0..n`.
pub fn resample(rng: &mut Pcg64Mcg, n: usize) -> impl Iterator<Item = usize> + '_ {
    (0..n).map(move |_| rng.random_range(0..n))
}

/// The mean of `xs` with a 95% percentile-bootstrap interval over its elements.
/// An empty sample gives NaNs and `n = 0`.
pub fn mean_ci(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let (lo, hi) = bootstrap(RESAMPLES, 0x5eed ^ n as u64, |rng| resample(rng, n).map(|i| xs[i]).sum::<f64>() / n as f64);
    Estimate { mean, lo, hi, n }
}

/// The ratio of sums `Σ num / Σ den` over units (e.g. moves on a shortest path / decision
/// points, one pair per episode), with a 95% bootstrap interval that resamples whole units, so
/// correlated observations inside a unit are not counted as independent. `n` is the number of
/// units with a positive denominator.
pub fn ratio_ci(units: &[(f64, f64)]) -> Estimate {
    let units: Vec<(f64, f64)> = units.iter().copied().filter(|(_, d)| *d > 0.0).collect();
    let n = units.len();
    let ratio = |it: &mut dyn Iterator<Item = (f64, f64)>| {
        let (a, b) = it.fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        a / b
    };
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let mean = ratio(&mut units.iter().copied());
    let (lo, hi) = bootstrap(RESAMPLES, 0x7a71 ^ n as u64, |rng| ratio(&mut resample(rng, n).map(|i| units[i])));
    Estimate { mean, lo, hi, n }
}

/// `mean(num) / mean(den)` of two independent samples (e.g. OP on novel levels over OP on
/// training levels), with a bootstrap interval that resamples each sample on its own. A ratio
/// whose denominator is 0 is infinite (or NaN for 0/0): reported as it is, not dropped.
pub fn ratio_of_means(num: &[f64], den: &[f64]) -> Estimate {
    let (a, b) = (num.len(), den.len());
    let n = a.min(b);
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let point = (num.iter().sum::<f64>() / a as f64) / (den.iter().sum::<f64>() / b as f64);
    if !point.is_finite() {
        return Estimate { mean: point, lo: f64::NAN, hi: f64::NAN, n };
    }
    let (lo, hi) = bootstrap(RESAMPLES, 0x7a7e ^ n as u64, |rng| {
        let x = resample(rng, a).map(|i| num[i]).sum::<f64>() / a as f64;
        x / (resample(rng, b).map(|i| den[i]).sum::<f64>() / b as f64)
    });
    Estimate { mean: point, lo, hi, n }
}

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

/// The mean of the paired differences `a[i] − b[i]` (the same episode under two treatments,
/// common random numbers), with a bootstrap interval over pairs.
pub fn paired_difference(a: &[f64], b: &[f64]) -> Estimate {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    mean_ci(&d)
}

/// The rate `k / n` with its 95% Wilson score interval (Wilson 1927): correct coverage near 0
/// and 1 where a bootstrap or normal interval collapses to a point. `n = 0` gives NaNs.
pub fn wilson(k: usize, n: usize) -> Estimate {
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let z = 1.959_963_984_540_054_f64;
    let (nf, p) = (n as f64, k.min(n) as f64 / n as f64);
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    // At 0 or n events the bound on that side is exactly 0 or 1; rounding would leave 1e-18.
    let lo = if k == 0 { 0.0 } else { (centre - half).max(0.0) };
    let hi = if k >= n { 1.0 } else { (centre + half).min(1.0) };
    Estimate { mean: p, lo, hi, n }
}

/// The rate of `true` among `events` with its Wilson interval.
pub fn rate(events: impl IntoIterator<Item = bool>) -> Estimate {
    let (k, n) = events.into_iter().fold((0, 0), |(k, n), e| (k + e as usize, n + 1));
    wilson(k, n)
}

/// The mean of `xs` with a 95% Student-t interval (for few values, e.g. one per seed); NaN
/// bounds with fewer than two values.
pub fn t_interval(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate { mean, lo: f64::NAN, hi: f64::NAN, n };
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let q = StudentsT::new(0.0, 1.0, (n - 1) as f64).map(|t| t.inverse_cdf(0.975)).unwrap_or(f64::NAN);
    let half = q * (var / n as f64).sqrt();
    Estimate { mean, lo: mean - half, hi: mean + half, n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_intervals_cover_the_mean_and_shrink_with_n() {
        let small: Vec<f64> = (0..20).map(|i| (i % 2) as f64).collect();
        let large: Vec<f64> = (0..2000).map(|i| (i % 2) as f64).collect();
        let (a, b) = (mean_ci(&small), mean_ci(&large));
        assert!(a.lo <= 0.5 && 0.5 <= a.hi && b.lo <= 0.5 && 0.5 <= b.hi);
        assert!(b.hi - b.lo < (a.hi - a.lo) / 4.0, "{a:?} vs {b:?}");
        assert_eq!(mean_ci(&[3.0; 5]), Estimate { mean: 3.0, lo: 3.0, hi: 3.0, n: 5 });
        assert!(mean_ci(&[]).mean.is_nan());
    }

    #[test]
    fn wilson_never_collapses_at_zero_or_all_events() {
        // 0/200: the upper bound is z²/n / (1 + z²/n) = 3.8415/203.8415 = 0.018846.
        let none = wilson(0, 200);
        assert_eq!((none.mean, none.lo, none.n), (0.0, 0.0, 200));
        assert!((none.hi - 0.018846).abs() < 1e-5, "{none:?}");
        let all = wilson(200, 200);
        assert_eq!((all.mean, all.hi), (1.0, 1.0));
        assert!((all.lo - (1.0 - 0.018846)).abs() < 1e-5, "{all:?}");
        // A textbook case: 81 of 263 → [0.2553, 0.3662] (Wilson 1927; Newcombe 1998, table I).
        let e = wilson(81, 263);
        assert!((e.lo - 0.2553).abs() < 5e-4 && (e.hi - 0.3662).abs() < 5e-4, "{e:?}");
        assert!(wilson(0, 0).mean.is_nan());
        assert_eq!(rate([true, false, false, true]), wilson(2, 4));
    }

    #[test]
    fn ratio_intervals_resample_whole_units() {
        // One unit holds 100 identical observations: as units, there are only 2 of them, and the
        // interval must be wide; as 200 independent observations it would be narrow.
        let units = [(100.0, 100.0), (0.0, 100.0)];
        let e = ratio_ci(&units);
        assert_eq!((e.mean, e.n), (0.5, 2));
        assert!(e.lo <= 0.0 + 1e-12 && e.hi >= 1.0 - 1e-12, "{e:?}");
        let flat: Vec<f64> = (0..200).map(|i| (i < 100) as u8 as f64).collect();
        let f = mean_ci(&flat);
        assert!(f.hi - f.lo < 0.2, "{f:?}");
    }

    #[test]
    fn ratios_of_means_have_intervals_or_say_they_are_undefined() {
        let num: Vec<f64> = (0..100).map(|i| 4.0 + (i % 5) as f64).collect();
        let den: Vec<f64> = (0..100).map(|i| 10.0 + (i % 3) as f64).collect();
        let e = ratio_of_means(&num, &den);
        let expected = (num.iter().sum::<f64>() / 100.0) / (den.iter().sum::<f64>() / 100.0);
        assert!((e.mean - expected).abs() < 1e-12 && e.lo < e.mean && e.mean < e.hi && e.hi - e.lo < 0.1, "{e:?}");
        let inf = ratio_of_means(&[1.0], &[0.0, 0.0]);
        assert!(inf.mean.is_infinite() && inf.lo.is_nan());
        assert!(ratio_of_means(&[0.0], &[0.0]).mean.is_nan());
    }

    #[test]
    fn t_interval_matches_the_textbook() {
        // n = 3, mean 2, s = 1: half-width t(0.975, 2)·1/√3 = 4.303/1.732 = 2.484.
        let e = t_interval(&[1.0, 2.0, 3.0]);
        assert!((e.mean - 2.0).abs() < 1e-12);
        assert!((e.hi - e.mean - 2.4841).abs() < 1e-3, "{e:?}");
        assert!(t_interval(&[1.0]).lo.is_nan());
    }

    #[test]
    fn paired_differences_of_equal_outcomes_are_exactly_zero() {
        let a = [1.0, -0.5, 0.25];
        assert_eq!(paired_difference(&a, &a), Estimate { mean: 0.0, lo: 0.0, hi: 0.0, n: 3 });
        let d = paired_difference(&[1.0, 1.0, 1.0, 0.0], &[0.0, 0.0, 0.0, 0.0]);
        assert_eq!(d.mean, 0.75);
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
