//! `mesascope-lab` turns the paper's hypotheses into evidence: an experiment is a TOML spec
//! (a base training config, a grid of conditions over any config field, seeds, and the
//! measurements to take); the runner trains and audits every point on the local cores, keeps
//! each run in its own directory and every result in one SQLite store, and resumes after a
//! kill without losing or repeating finished work; the report gives each measurement per
//! condition with a 95% interval over seeds, as `summary.csv` and as `report.html` with SVG
//! plots against the swept condition. The section-2.1 toy model lives here too, so theory and
//! measurement can be drawn side by side.
//!
//! [`jobs`] is the front door: one function per user-facing job (train, resume, eval, audit,
//! deploy, replay, episode videos, vector fields, split report, experiment, report, toy model, zoo, benchmarks, demo, quickstart) over plain option and
//! result structs, reporting progress through a callback. The command line and the Python
//! package are thin layers over it.

#![warn(missing_docs)]

pub mod jobs;
pub mod predict;
pub mod report;
pub mod runner;
pub mod spec;
pub mod store;
pub mod toy;

use std::path::PathBuf;

use thiserror::Error;

pub use runner::{run_experiment, Event, Outcome, RunnerOptions};
pub use spec::ExperimentSpec;

pub use jobs::audit::{audit, audit_external, bench_audit, AuditJob, AuditResult, Subject, KNOWN_AGENTS};
pub use jobs::bench::{bench_env, bench_train, update_flops, Dtype, EnvBenchJob, EnvBenchRow, TrainBenchJob, TrainBenchRow};
pub use jobs::demo::{demo, DemoJob, DemoResult, DemoRow};
pub use jobs::deploy::{deploy, deploy_external, DeployJob, DeployResult};
pub use jobs::eval::{eval, EvalJob, EvalResult};
pub use jobs::experiment::{experiment, rewrite_report, toy_model, ExperimentJob, ExperimentResult, ReportResult, ToyJob, ToyResult};
pub use jobs::pictures::{trajectory, write_picture};
pub use jobs::progress::{OnProgress, Progress};
pub use jobs::field::{model_field, vector_fields, FieldJob, FieldResult};
pub use jobs::show::{show, ShowJob, ShowResult, ShownEpisode};
pub use jobs::replay::{read_level, replay, Found, ReplayJob, ReplayResult};
pub use jobs::split::{split_report, Against, SplitReport, SplitReportJob};
pub use jobs::quickstart::{quickstart, QuickstartJob, QUICKSTART_SPEC};
pub use jobs::train::{resume, train, ResumeJob, TrainJob, TrainResult};
pub use jobs::zoo::{zoo_build, zoo_score, ZooBuildOptions, ZooBuildResult, ZooScore, ZooScoreOptions, ZooScoreResult};

/// Types of the lower layers that appear in the jobs' options and results, so a front end
/// needs no other crate to build an option or read a result.
pub mod types {
    pub use mesascope_audit::report::STAGES;
    pub use mesascope_audit::AuditReport;
    pub use mesascope_guard::chain::{DeployReport, OnVeto};
    pub use mesascope_guard::impact::ImpactMeasure;
    pub use mesascope_report::page::fmt_estimate;
    pub use mesascope_report::stats::Estimate;
    pub use mesascope_learn::config::{default_toml, DEFAULT_FAMILY};
    pub use mesascope_learn::{LearnError, TrainConfig};
}

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
    /// An option has a value the job cannot use; `what` names the option as the command
    /// line spells it.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// The option.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The job cannot be done as asked (the run has already finished, the directory is not an
    /// experiment, the agent is unknown); the message says why.
    #[error("{0}")]
    Refused(String),
    /// The task layer refused (a bad family, shift or distribution).
    #[error(transparent)]
    Task(#[from] mesascope_tasks::TaskError),
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
