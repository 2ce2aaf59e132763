//! `mesascope-lab` turns the paper's hypotheses into evidence: an experiment is a TOML spec
//! (a base training config, a grid of conditions over any config field, seeds, and the
//! measurements to take); the runner trains and audits every point on the local cores, keeps
//! each run in its own directory and every result in one SQLite store, and resumes after a
//! kill without losing or repeating finished work; the report gives each measurement per
//! condition with a 95% interval over seeds, as `summary.csv` and as `report.html` with SVG
//! plots against the swept condition. The section-2.1 toy model lives here too, so theory and
//! measurement can be drawn side by side.

#![warn(missing_docs)]

pub mod report;
pub mod runner;
pub mod spec;
pub mod store;
pub mod toy;

use std::path::PathBuf;

use thiserror::Error;

pub use runner::{run_experiment, Event, Outcome, RunnerOptions};
pub use spec::ExperimentSpec;

/// Something an experiment cannot do.
#[derive(Debug, Error)]
pub enum LabError {
    /// The spec is malformed; `field` names where.
    #[error("experiment spec field '{field}': {message}")]
    Spec {
        /// Dotted field name.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The run store refused something.
    #[error("run store {}: {message}", path.display())]
    Store {
        /// The store's file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Training failed.
    #[error(transparent)]
    Learn(#[from] mesascope_learn::LearnError),
    /// An audit failed.
    #[error(transparent)]
    Audit(#[from] mesascope_audit::AuditError),
}

impl LabError {
    /// An [`LabError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |e| LabError::Io { path, message: e.to_string() }
    }
}
