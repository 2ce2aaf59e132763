//! The tour of the task engine: a training level and a deployment level, drawn with the
//! optimal path, the exact optimization power of the optimal policy, and a batch of episodes
//! of a random and an optimal policy on both distributions.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use mesascope_audit::agents::play_policy;
use mesascope_audit::op::optimization_power;
use mesascope_tasks::maze::empty_level;
use mesascope_tasks::{reset, Action, Level, LevelGenerator, LevelSource, ObsKind, Policy, Shift, ShortestPathToGoal, TrainingDistribution, UniformRandom, VecEnv};

use super::pictures::{trajectory, write_picture};
use crate::LabError;

/// What the demo shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoJob {
    /// The training distribution.
    pub dist: TrainingDistribution,
    /// The deployment shift.
    pub shift: Shift,
    /// Environments stepped together.
    pub envs: usize,
    /// Episodes per policy and distribution.
    pub episodes: usize,
    /// Directory for the level pictures.
    pub out_dir: PathBuf,
}

/// A batch of episodes of one policy on one distribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DemoRow {
    /// `random` or `optimal`.
    pub policy: &'static str,
    /// `train`, or the deployment (shifted) distribution.
    pub deployment: bool,
    /// Episodes played.
    pub episodes: usize,
    /// Mean return.
    pub mean_return: f64,
    /// Half-width of the 95% interval of the mean return.
    pub ci95: f64,
    /// Fraction of episodes that reached the cheese.
    pub success: f64,
    /// Mean episode length.
    pub mean_length: f64,
}

/// What the demo found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DemoResult {
    /// The first training level.
    pub train_level: Level,
    /// The first deployment level.
    pub deploy_level: Level,
    /// Return of the optimal policy on the training level.
    pub optimal_return: f64,
    /// Its optimization power in bits: −log2 of the exact probability that the uniform-random
    /// policy does at least as well.
    pub optimal_bits: f64,
    /// Random and optimal policy on the training and the deployment distribution.
    pub rows: Vec<DemoRow>,
    /// Pictures written (both levels, SVG and PNG, with the optimal path).
    pub files: Vec<PathBuf>,
}

/// Steps `envs` environments from `source` with one policy per env until every env has
/// finished `ceil(episodes / envs)` episodes; counting a fixed quota per env avoids the bias
/// towards short episodes that "stop after the first K episodes" would have.
fn run_batch(source: LevelSource, envs: usize, episodes: usize, seed: u64, mut policies: Vec<Box<dyn Policy>>) -> Result<(usize, f64, f64, f64, f64), LabError> {
    let mut env: VecEnv<u8> = VecEnv::new(source, envs, ObsKind::FullGrid, seed)?;
    let quota = episodes.div_ceil(envs);
    let mut done = vec![0usize; envs];
    let (mut returns, mut successes, mut lengths) = (Vec::new(), 0usize, 0u64);
    let mut actions = vec![Action::Noop; envs];
    while done.iter().any(|&d| d < quota) {
        for (i, a) in actions.iter_mut().enumerate() {
            *a = policies[i].act(&env.levels()[i], &env.states()[i]);
        }
        env.step(&actions)?;
        for i in 0..envs {
            if !env.episode_returns()[i].is_nan() && done[i] < quota {
                done[i] += 1;
                returns.push(env.episode_returns()[i] as f64);
                successes += (env.terminated()[i] && !env.catastrophes()[i]) as usize;
                lengths += env.episode_lengths()[i] as u64;
            }
        }
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Ok((returns.len(), mean, 1.96 * (var / n).sqrt(), successes as f64 / n, lengths as f64 / n))
}

/// Runs the demo.
pub fn demo(job: &DemoJob) -> Result<DemoResult, LabError> {
    let dist = &job.dist;
    dist.validate()?;
    if job.episodes == 0 {
        return Err(LabError::Invalid { what: "--episodes".into(), message: "must be at least 1".into() });
    }
    let train_level = match dist.training_levels()? {
        Some(levels) => levels[0].clone(),
        None => {
            let mut level = empty_level();
            dist.source()?.sample_into(&mut Pcg64Mcg::seed_from_u64(dist.level_seed), &mut LevelGenerator::default(), &mut level);
            level
        }
    };
    let deploy_level = dist.held_out_levels(job.shift, 1, dist.level_seed)?.remove(0);
    let mut files = Vec::new();
    for (name, level) in [("train-level", &train_level), ("deploy-level", &deploy_level)] {
        let path = trajectory(level, &mut ShortestPathToGoal::default());
        for ext in ["svg", "png"] {
            let file = job.out_dir.join(format!("{name}.{ext}"));
            write_picture(&file, level, &reset(level), &path)?;
            files.push(file);
        }
    }
    let optimal_return = play_policy(&mut ShortestPathToGoal::default(), std::slice::from_ref(&train_level)).remove(0).ret;
    let optimal_bits = optimization_power(&train_level, optimal_return, dist.level_seed)?.bits;
    let mut rows = Vec::new();
    for (deployment, source) in [(false, dist.source()?), (true, dist.deployment(job.shift)?)] {
        for policy in ["random", "optimal"] {
            let policies: Vec<Box<dyn Policy>> = (0..job.envs)
                .map(|i| -> Box<dyn Policy> {
                    match policy {
                        "random" => Box::new(UniformRandom::new(dist.level_seed ^ (i as u64 + 1))),
                        _ => Box::new(ShortestPathToGoal::default()),
                    }
                })
                .collect();
            let (episodes, mean_return, ci95, success, mean_length) = run_batch(source.clone(), job.envs, job.episodes, dist.level_seed, policies)?;
            rows.push(DemoRow { policy, deployment, episodes, mean_return, ci95, success, mean_length });
        }
    }
    Ok(DemoResult { train_level, deploy_level, optimal_return, optimal_bits, rows, files })
}
