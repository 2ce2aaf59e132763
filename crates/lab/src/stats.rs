//! Statistics over seeds: per condition, the mean of each measurement over its runs with a 95%
//! Student-t interval (few seeds, so not the bootstrap: with 3 values a bootstrap interval is
//! far too narrow).

use statrs::distribution::{ContinuousCDF, StudentsT};

use mesascope_audit::stats::Estimate;

/// The mean of `xs` with a 95% t-interval; NaN bounds with fewer than two values.
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
    fn matches_the_textbook_interval() {
        // n = 3, mean 2, s = 1: half-width t(0.975, 2)·1/√3 = 4.303/1.732 = 2.484.
        let e = t_interval(&[1.0, 2.0, 3.0]);
        assert!((e.mean - 2.0).abs() < 1e-12);
        assert!((e.hi - e.mean - 2.4841).abs() < 1e-3, "{e:?}");
        assert!(t_interval(&[1.0]).lo.is_nan());
    }
}
