//! `mesascope-guard` is the deployment layer of the paper's threat model
//! (threat-model-and-interventions.txt): interventions between a distribution shift and
//! unanticipated behaviour (out-of-distribution detection on observations and activations,
//! ensemble disagreement as uncertainty, with calibration) and between unanticipated behaviour
//! and catastrophe (exact impact measures, shutdown or deferral to an overseer). A guard
//! watches the agent step by step and vetoes an action when its score passes a threshold; on a
//! veto the agent stops (no-ops until the episode ends) or defers to a fallback (the exact
//! planner for the base objective, standing in for a human overseer). [`chain`] runs the agent
//! with and without each guard on the training and the deployment distribution and reports
//! catastrophes per 1000 episodes, base-objective return against no guard on the same episodes,
//! false alarms and AUROC, every rate with a Wilson interval on its count.

#![warn(missing_docs)]

pub mod chain;
pub mod ensemble;
pub mod impact;
pub mod ood;
pub mod page;

/// Something a guard evaluation cannot do: the audit layer's error kinds (the task layer
/// refused, the learning layer refused, impossible inputs) serve here unchanged.
pub use mesascope_audit::AuditError as GuardError;

use mesascope_report::stats::{bootstrap, resample, Estimate};

/// The threshold above which a score counts as an alarm, so that a fraction `false_alarm` of
/// `calibration` scores (per-episode maxima on held-out training episodes) would raise one.
pub fn threshold(calibration: &[f64], false_alarm: f64) -> f64 {
    let mut xs: Vec<f64> = calibration.iter().copied().filter(|x| x.is_finite()).collect();
    if xs.is_empty() {
        return f64::INFINITY;
    }
    xs.sort_by(f64::total_cmp);
    // The ⌈(1 − q)·n⌉-th smallest score: at most q·n scores lie above it.
    let rank = ((1.0 - false_alarm.clamp(0.0, 1.0)) * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

/// Area under the ROC curve of `positives` vs `negatives` scores (ties count one half):
/// 0.5 when the scores cannot tell them apart, 1 when every positive scores higher.
pub fn auroc(negatives: &[f64], positives: &[f64]) -> f64 {
    if negatives.is_empty() || positives.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in positives {
        for n in negatives {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    wins / (negatives.len() * positives.len()) as f64
}

/// [`auroc`] with a 95% percentile-bootstrap interval (negatives and positives resampled
/// separately, seeded so the interval is reproducible).
pub fn auroc_ci(negatives: &[f64], positives: &[f64]) -> Estimate {
    let mean = auroc(negatives, positives);
    let n = negatives.len() + positives.len();
    if negatives.is_empty() || positives.is_empty() {
        return Estimate { mean, lo: f64::NAN, hi: f64::NAN, n };
    }
    let (lo, hi) = bootstrap(400, 0xa0c, |rng| {
        let neg: Vec<f64> = resample(rng, negatives.len()).map(|i| negatives[i]).collect();
        let pos: Vec<f64> = resample(rng, positives.len()).map(|i| positives[i]).collect();
        auroc(&neg, &pos)
    });
    Estimate { mean, lo, hi, n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_and_thresholds() {
        assert_eq!(auroc(&[0.0, 1.0], &[2.0, 3.0]), 1.0);
        assert_eq!(auroc(&[1.0, 1.0], &[1.0, 1.0]), 0.5);
        let cal: Vec<f64> = (0..100).map(f64::from).collect();
        let t = threshold(&cal, 0.05);
        let alarms = cal.iter().filter(|x| **x > t).count();
        assert!((4..=5).contains(&alarms), "{t} gives {alarms} alarms");
        assert_eq!(threshold(&[], 0.05), f64::INFINITY);
        let e = auroc_ci(&[0.0, 0.1, 0.2, 0.9], &[0.5, 1.0, 1.1, 1.2]);
        assert!(e.lo <= e.mean && e.mean <= e.hi && e.lo < 1.0, "{e:?}");
    }
}
