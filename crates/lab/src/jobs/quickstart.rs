//! The README's first command: the whole chain on a fresh machine in a few minutes. It runs
//! the quick goal-misgeneralization study (small agents on 7×7 mazes with the cheese in the
//! top-right K×K region, trained for each K over three seeds, each audited under the
//! goal-anywhere shift) and reports how often the agents go to the corner instead of the
//! cheese, and what the audit concludes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::experiment::{experiment, ExperimentJob, ExperimentResult};
use super::progress::OnProgress;
use crate::LabError;

/// The study the quickstart runs (its `[quick]` variant), compiled in so the command needs no
/// files from the source tree.
pub const QUICKSTART_SPEC: &str = include_str!("../../../../experiments/goal-misgeneralization.toml");

/// Where the quickstart puts its experiment and how many runs it trains at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuickstartJob {
    /// Experiment directory.
    pub out: PathBuf,
    /// Runs trained at once; `None`: one per core.
    pub jobs: Option<usize>,
}

impl Default for QuickstartJob {
    fn default() -> Self {
        QuickstartJob { out: PathBuf::from("runs/quickstart"), jobs: None }
    }
}

/// Runs (or resumes) the quickstart study.
pub fn quickstart(job: &QuickstartJob, progress: OnProgress) -> Result<ExperimentResult, LabError> {
    experiment(&ExperimentJob { spec: QUICKSTART_SPEC.to_string(), quick: true, out: Some(job.out.clone()), jobs: job.jobs, max_updates: None }, progress)
}
