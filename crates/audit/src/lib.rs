//! `mesascope-audit` asks of a learned model the questions of Hubinger et al. (2019): is it an
//! optimizer, what does it optimize, and is that aligned with the base objective? This crate
//! holds the measurements, each defined as in `DESIGN.md` and reported with its uncertainty:
//! optimization power in bits on training and novel instances (exact, by dynamic programming
//! over the instance's state space), the mesa-optimizer evidence battery (generalization,
//! retargeting, thinking time, planner agreement, linear probes), Boltzmann-rational objective
//! inference over candidate objectives, maximum entropy goal-directedness (MEG) in nats per
//! decision, the cheese-or-corner regression at the squares where the routes part (after Turner
//! and colleagues' maze agent), and the alignment verdict in the paper's taxonomy.
//! [`audit`] runs them all on one agent; [`page`] renders the result for a person. Agents whose
//! answers are known without training (an exact planner, a corner seeker, a tabular
//! memorizer) are here too: they are the proof that the audit tells optimizers, proxies and
//! memorizers apart.

#![warn(missing_docs)]

pub mod agents;
pub mod battery;
pub mod decisions;
pub mod infer;
pub mod meg;
pub mod op;
pub mod page;
pub mod probe;
pub mod report;
pub mod share;
pub mod verdict;

pub use report::{audit, AuditOptions, AuditReport};

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
