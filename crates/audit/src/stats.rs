//! Confidence intervals. Every number an audit reports comes with one: a percentile bootstrap
//! over the sample (deterministic: the resampling stream is seeded).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// A mean with its 95% confidence interval and sample size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
    /// Sample size.
    pub n: usize,
}

/// Bootstrap resamples per interval.
const RESAMPLES: usize = 2000;

/// The mean of `xs` with a 95% percentile-bootstrap interval (seeded, so reproducible).
/// An empty sample gives NaNs and `n = 0`.
pub fn mean_ci(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let mut rng = Pcg64Mcg::seed_from_u64(0x5eed ^ n as u64);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| xs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Estimate { mean, lo: means[RESAMPLES * 25 / 1000], hi: means[RESAMPLES * 975 / 1000 - 1], n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_cover_the_mean_and_shrink_with_n() {
        let small: Vec<f64> = (0..20).map(|i| (i % 2) as f64).collect();
        let large: Vec<f64> = (0..2000).map(|i| (i % 2) as f64).collect();
        let (a, b) = (mean_ci(&small), mean_ci(&large));
        assert!(a.lo <= 0.5 && 0.5 <= a.hi && b.lo <= 0.5 && 0.5 <= b.hi);
        assert!(b.hi - b.lo < (a.hi - a.lo) / 4.0, "{a:?} vs {b:?}");
        assert_eq!(mean_ci(&[3.0; 5]), Estimate { mean: 3.0, lo: 3.0, hi: 3.0, n: 5 });
        assert!(mean_ci(&[]).mean.is_nan());
    }
}
