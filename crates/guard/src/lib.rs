//! `mesascope-guard` is the deployment layer of the paper's threat model
//! (threat-model-and-interventions.txt): interventions between a distribution shift and
//! unanticipated behaviour (out-of-distribution detection on observations and activations,
//! ensemble disagreement as uncertainty, with calibration) and between unanticipated behaviour
//! and catastrophe (exact impact measures, shutdown or deferral to an overseer). A guard
//! watches the agent step by step and vetoes an action when its score passes a threshold; on a
//! veto the agent stops (no-ops until the episode ends) or defers to a fallback (the exact
//! planner for the base objective, standing in for a human overseer). [`chain`] runs the agent
//! with and without each guard on the training and the deployment distribution and reports
//! catastrophes per 1000 episodes, base-objective return kept, false alarms and AUROC.

#![warn(missing_docs)]

pub mod chain;
pub mod ensemble;
pub mod impact;
pub mod ood;
pub mod page;

use thiserror::Error;

/// Something a guard evaluation cannot do.
#[derive(Debug, Error)]
pub enum GuardError {
    /// The task layer refused something.
    #[error(transparent)]
    Task(#[from] mesascope_tasks::TaskError),
    /// The learning layer refused something.
    #[error(transparent)]
    Learn(#[from] mesascope_learn::LearnError),
    /// Impossible inputs.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        message: String,
    },
}

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
    }
}
