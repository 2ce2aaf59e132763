//! `mesascope-audit` asks of a learned model the questions of Hubinger et al. (2019): is it an
//! optimizer, what does it optimize, and is that aligned with the base objective? This crate
//! holds the measurements, each defined as in `DESIGN.md` and reported with its uncertainty:
//! so far, optimization power in bits on training and novel instances (exact, by dynamic
//! programming over the instance's state space, with a Monte Carlo fallback), agents whose
//! answers are known without training (an exact planner, a corner seeker, a tabular
//! memorizer) that prove the audit tells them apart, and bootstrap confidence intervals.

pub mod agents;
pub mod op;
pub mod stats;

use thiserror::Error;

/// Something an audit cannot do.
#[derive(Debug, Error)]
pub enum AuditError {
    /// The task layer refused something.
    #[error(transparent)]
    Task(#[from] mesascope_tasks::TaskError),
    /// The learning layer refused something (e.g. a checkpoint).
    #[error(transparent)]
    Learn(#[from] mesascope_learn::LearnError),
    /// A measurement was asked for with impossible inputs.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        message: String,
    },
}
