//! Benchmarks: environment steps per second on one core for the batched env with
//! uniform-random actions, and environment steps per second of whole PPO training (acting and
//! learning) per model family. (`bench_audit`, seconds per audit stage, is in
//! [`super::audit`].)

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use mesascope_learn::{TrainConfig, Trainer};
use mesascope_tasks::{Action, ObsKind, ObsScalar, TrainingDistribution, VecEnv};

use crate::LabError;

/// Element type of observations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// One byte per channel.
    U8,
    /// Four-byte floats, what a network consumes.
    F32,
}

/// Which env configurations to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvBenchJob {
    /// The training distribution levels come from.
    pub dist: TrainingDistribution,
    /// Batch sizes M.
    pub envs: Vec<usize>,
    /// Observation kinds.
    pub obs: Vec<ObsKind>,
    /// Observation element types.
    pub dtypes: Vec<Dtype>,
    /// Seconds to measure each configuration for (after a short warm-up).
    pub seconds: f64,
}

/// Throughput of one env configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnvBenchRow {
    /// Observation kind.
    pub obs: ObsKind,
    /// Element type.
    pub dtype: Dtype,
    /// Batch size.
    pub envs: usize,
    /// Environment steps per second on one thread.
    pub steps_per_second: f64,
}

/// Steps per second of one configuration, single-threaded.
fn measure<T: ObsScalar>(job: &EnvBenchJob, kind: ObsKind, m: usize) -> Result<f64, LabError> {
    let mut env: VecEnv<T> = VecEnv::new(job.dist.source()?, m, kind, 0)?;
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let mut actions = vec![Action::Noop; m];
    let mut run = |iters: usize| -> Result<(), LabError> {
        for _ in 0..iters {
            for a in actions.iter_mut() {
                *a = Action::ALL[rng.random_range(0..Action::COUNT)];
            }
            env.step(&actions)?;
        }
        Ok(())
    };
    // Iterations per timing check: about 64k env steps, so the clock is read rarely.
    let chunk = (65_536 / m).max(1);
    run(chunk)?;
    let budget = Duration::from_secs_f64(job.seconds);
    let start = Instant::now();
    let mut steps = 0usize;
    while start.elapsed() < budget {
        run(chunk)?;
        steps += chunk * m;
    }
    Ok(steps as f64 / start.elapsed().as_secs_f64())
}

/// Measures every configuration of `job`, calling `on_row` as each is done.
pub fn bench_env(job: &EnvBenchJob, on_row: &mut dyn FnMut(&EnvBenchRow)) -> Result<Vec<EnvBenchRow>, LabError> {
    if job.seconds <= 0.0 || !job.seconds.is_finite() {
        return Err(LabError::Invalid { what: "--seconds".into(), message: format!("{} must be a positive number", job.seconds) });
    }
    if job.envs.contains(&0) {
        return Err(LabError::Invalid { what: "--envs".into(), message: "batch sizes must be at least 1".into() });
    }
    job.dist.validate()?;
    let mut rows = Vec::new();
    for &obs in &job.obs {
        for &dtype in &job.dtypes {
            for &envs in &job.envs {
                let steps_per_second = match dtype {
                    Dtype::U8 => measure::<u8>(job, obs, envs)?,
                    Dtype::F32 => measure::<f32>(job, obs, envs)?,
                };
                let row = EnvBenchRow { obs, dtype, envs, steps_per_second };
                on_row(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// Which models to time in training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainBenchJob {
    /// Model families (`mlp`, `cnn`, `convgru`).
    pub models: Vec<String>,
    /// Updates timed per model, after one warm-up update.
    pub updates: usize,
    /// Config overrides applied to the built-in default.
    pub overrides: Vec<String>,
}

/// Training throughput of one model family.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainBenchRow {
    /// The model family.
    pub model: String,
    /// Environment steps per update.
    pub batch: usize,
    /// Environment steps per second, acting and learning.
    pub steps_per_second: f64,
    /// Seconds per PPO update.
    pub seconds_per_update: f64,
    /// Of which acting (the rollout), seconds per update.
    pub acting_seconds: f64,
    /// Of which learning (minibatch forward, backward, optimizer), seconds per update.
    pub learning_seconds: f64,
    /// Model FLOPs of one update (see [`update_flops`]).
    pub flops_per_update: f64,
    /// Achieved model GFLOP/s over the whole update.
    pub gflops: f64,
}

/// Model FLOPs of one PPO update of `cfg`, counted from the architecture
/// ([`mesascope_learn::ModelConfig::forward_flops`]): acting is one forward pass per
/// environment step; learning is `update_epochs` passes over the batch, each sample a forward
/// and a backward (twice the forward) pass. The extra forward passes that bootstrap truncated
/// episodes and the rollout's last value are a fraction of a percent and left out.
pub fn update_flops(cfg: &TrainConfig, obs_shape: (usize, usize, usize)) -> f64 {
    let batch = (cfg.ppo.num_envs * cfg.ppo.num_steps) as f64;
    let forward = cfg.model.forward_flops(obs_shape);
    batch * forward * (1.0 + 3.0 * cfg.ppo.update_epochs as f64)
}

/// Times whole PPO updates of each model in `job`, calling `on_row` as each is done.
pub fn bench_train(job: &TrainBenchJob, on_row: &mut dyn FnMut(&TrainBenchRow)) -> Result<Vec<TrainBenchRow>, LabError> {
    if job.updates == 0 {
        return Err(LabError::Invalid { what: "--updates".into(), message: "must be at least 1".into() });
    }
    let mut rows = Vec::new();
    for model in &job.models {
        let mut overrides = job.overrides.clone();
        overrides.push(format!("model.kind=\"{model}\""));
        let cfg = TrainConfig::from_toml_with("", &overrides)?;
        let batch = cfg.ppo.num_envs * cfg.ppo.num_steps;
        let mut trainer = Trainer::new(cfg)?;
        let flops_per_update = update_flops(&trainer.cfg, trainer.obs_shape());
        trainer.step_update()?;
        let (mut acting, mut learning) = (0.0, 0.0);
        let start = Instant::now();
        for _ in 0..job.updates {
            trainer.step_update()?;
            acting += trainer.last_timing.acting_seconds;
            learning += trainer.last_timing.learning_seconds;
        }
        let secs = start.elapsed().as_secs_f64();
        let n = job.updates as f64;
        let row = TrainBenchRow {
            model: model.clone(),
            batch,
            steps_per_second: (batch * job.updates) as f64 / secs,
            seconds_per_update: secs / n,
            acting_seconds: acting / n,
            learning_seconds: learning / n,
            flops_per_update,
            gflops: flops_per_update * n / secs / 1e9,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row's parts add up: acting and learning are measured and together make up (almost all
    /// of) the update, and GFLOP/s is the update's FLOPs over its time.
    #[test]
    fn train_bench_splits_the_update_and_reports_its_flop_rate() {
        let overrides = ["ppo.num_envs=4", "ppo.num_steps=8", "ppo.num_minibatches=2", "ppo.update_epochs=2", "model.hidden=8", "model.channels=2", "env.size=5", "eval.levels=1"];
        let job = TrainBenchJob { models: vec!["cnn".into()], updates: 2, overrides: overrides.iter().map(|s| s.to_string()).collect() };
        let rows = bench_train(&job, &mut |_| {}).unwrap();
        let r = &rows[0];
        assert_eq!(r.batch, 32);
        assert!(r.acting_seconds > 0.0 && r.learning_seconds > 0.0, "{r:?}");
        assert!(r.acting_seconds + r.learning_seconds <= r.seconds_per_update * 1.0001, "{r:?}");
        let cfg = TrainConfig::from_toml_with("", &job.overrides.iter().cloned().chain(["model.kind=\"cnn\"".to_string()]).collect::<Vec<_>>()).unwrap();
        assert_eq!(r.flops_per_update, update_flops(&cfg, (8, 5, 5)));
        assert!((r.gflops - r.flops_per_update / r.seconds_per_update / 1e9).abs() <= 1e-9 * r.gflops, "{r:?}");
        assert!(bench_train(&TrainBenchJob { updates: 0, ..job }, &mut |_| {}).is_err());
    }
}
