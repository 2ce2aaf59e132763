//! The split report: how much of one level distribution another already holds, by id (the
//! same instance: 0 between any training distribution and its held-out levels, by
//! construction) and by layout (the same walls and floor, which is most of what an agent sees:
//! a small maze family has few layouts, so "held-out" levels can look like trained ones).

use serde::{Deserialize, Serialize};

use mesascope_tasks::{overlap, Diversity, Overlap, Shift, TrainingDistribution};

use crate::LabError;

/// Which two level lists to compare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitReportJob {
    /// The training distribution: its pool when N is finite, else its first `levels` draws.
    pub dist: TrainingDistribution,
    /// What to compare it with.
    pub against: Against,
    /// Levels drawn where a list is not a finite pool.
    pub levels: usize,
    /// Seed of the held-out levels.
    pub seed: u64,
}

/// The second list of a split report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Against {
    /// Held-out levels after this shift (what eval, audit and deploy play).
    HeldOut(Shift),
    /// The training levels of the same distribution derived from another level seed.
    TrainingSeed(u64),
}

/// The two lists and their overlap.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitReport {
    /// The first list, in words.
    pub first: String,
    /// The second list, in words.
    pub second: String,
    /// How much of the second the first holds.
    pub overlap: Overlap,
}

/// Compares the two lists `job` names.
pub fn split_report(job: &SplitReportJob) -> Result<SplitReport, LabError> {
    if job.levels == 0 {
        return Err(LabError::Invalid { what: "--levels".into(), message: "must be at least 1".into() });
    }
    let pool = |dist: &TrainingDistribution| -> Result<(Vec<mesascope_tasks::Level>, String), LabError> {
        let (d, words) = match dist.diversity {
            Diversity::Finite(n) => (*dist, format!("the N = {n} training levels of level seed {}", dist.level_seed)),
            Diversity::Infinite => (TrainingDistribution { diversity: Diversity::Finite(job.levels as u32), ..*dist }, format!("the first {} training levels drawn from level seed {} (N = ∞)", job.levels, dist.level_seed)),
        };
        Ok((d.training_levels()?.map(|p| p.to_vec()).unwrap_or_default(), words))
    };
    let (first, first_words) = pool(&job.dist)?;
    let (second, second_words) = match job.against {
        Against::HeldOut(shift) => (job.dist.held_out_levels(shift, job.levels, job.seed)?, format!("{} held-out levels under shift '{}' (seed {})", job.levels, shift.name(), job.seed)),
        Against::TrainingSeed(seed) => pool(&TrainingDistribution { level_seed: seed, ..job.dist })?,
    };
    Ok(SplitReport { first: first_words, second: second_words, overlap: overlap(&first, &second) })
}
