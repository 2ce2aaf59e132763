//! Episode videos: a trained agent's episodes as one animated GIF, side by side with what to
//! compare them to: for each pair of levels, the agent on a level of its training
//! distribution, the agent on a level after the shift, and the exact planner on that same
//! shifted level. Every episode is the one `replay` reproduces (same level ids, same seed).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use mesascope_learn::eval::{evaluate, outcome, EpisodeRecord, EvalOptions};
use mesascope_learn::run::write_atomic;
use mesascope_tasks::render::{gif, EpisodeClip};
use mesascope_tasks::{LevelId, Shift};
#[cfg(doc)]
use mesascope_tasks::FamilySpec;

use crate::jobs::audit::known_agent;
use crate::jobs::common::model_agent;
use crate::jobs::replay::DEFAULT_SEED;
use crate::LabError;

/// Which episodes to show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShowJob {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    pub agent: PathBuf,
    /// The deployment shift; `None`: the family's first ([`FamilySpec::first_shift`]: the
    /// maze's goal-anywhere).
    pub shift: Option<Shift>,
    /// Rows of the video: each is one training-distribution level and one shifted level.
    pub levels: usize,
    /// Seed of the held-out levels and of the sampled actions (as `eval --seed`).
    pub seed: u64,
    /// The GIF to write.
    pub out: PathBuf,
}

impl ShowJob {
    /// Two rows of `agent`'s episodes under its family's shift, written to `out`.
    pub fn new(agent: impl Into<PathBuf>, out: impl Into<PathBuf>) -> ShowJob {
        ShowJob { agent: agent.into(), shift: None, levels: 2, seed: DEFAULT_SEED, out: out.into() }
    }
}

/// One episode of the video.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShownEpisode {
    /// Its panel's title.
    pub title: String,
    /// The level's id (with the seed, what `replay` takes).
    pub level_id: LevelId,
    /// What the episode did.
    pub episode: EpisodeRecord,
    /// What it came to, in words ([`outcome`]).
    pub outcome: String,
}

/// What the video shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShowResult {
    /// The episodes, row by row (agent on training distribution, agent after the shift, planner).
    pub episodes: Vec<ShownEpisode>,
    /// Frames in the video (the longest episode's steps, and its start).
    pub frames: usize,
    /// The GIF written.
    pub gif: PathBuf,
}

/// Renders the video `job` asks for.
pub fn show(job: &ShowJob) -> Result<ShowResult, LabError> {
    if job.levels == 0 || job.levels > 16 {
        return Err(LabError::Invalid { what: "--levels".into(), message: format!("{} rows; a video shows 1 to 16", job.levels) });
    }
    if job.out.extension().and_then(|e| e.to_str()) != Some("gif") {
        return Err(LabError::Invalid { what: "--out".into(), message: format!("{}: videos are GIF files; use a .gif name", job.out.display()) });
    }
    let agent = model_agent(&job.agent)?;
    let dist = &agent.cfg.env.dist;
    let training = dist.held_out_levels(Shift::None, job.levels, job.seed)?;
    let shift = job.shift.unwrap_or_else(|| dist.family.first_shift());
    let shifted = dist.held_out_levels(shift, job.levels, job.seed)?;
    let opts = EvalOptions { ticks: agent.ticks, greedy: false, seed: job.seed, record_trajectories: true };
    let on_training = evaluate(&agent.model, &agent.cfg.model, agent.cfg.env.obs, &training, &agent.device, &opts);
    let on_shifted = evaluate(&agent.model, &agent.cfg.model, agent.cfg.env.obs, &shifted, &agent.device, &opts);
    let planner = known_agent("planner", dist, job.seed)?.play(&shifted, job.seed);
    let name = shift.name().to_uppercase();
    let mut episodes = Vec::new();
    let shown = |title: String, level: &mesascope_tasks::Level, episode: &EpisodeRecord| ShownEpisode { title, level_id: level.id(), outcome: outcome(level, episode), episode: episode.clone() };
    for i in 0..job.levels {
        episodes.push(shown("AGENT: TRAINING".into(), &training[i], &on_training[i]));
        episodes.push(shown(format!("AGENT: {name}"), &shifted[i], &on_shifted[i]));
        episodes.push(shown(format!("PLANNER: {name}"), &shifted[i], &planner[i]));
    }
    let levels: Vec<_> = (0..job.levels).flat_map(|i| [&training[i], &shifted[i], &shifted[i]]).collect();
    let clips: Vec<EpisodeClip> = episodes.iter().zip(&levels).map(|(e, level)| EpisodeClip { title: e.title.clone(), level, actions: &e.episode.actions }).collect();
    let bytes = gif(&clips, 3).map_err(LabError::Refused)?;
    write_atomic(&job.out, &bytes)?;
    let frames = episodes.iter().map(|e| e.episode.actions.len()).max().unwrap_or(0) + 1;
    Ok(ShowResult { episodes, frames, gif: job.out.clone() })
}
