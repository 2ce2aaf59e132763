//! Benchmarks that print numbers. `mesascope bench env`: environment steps per second on one
//! core for the batched env with uniform-random actions, for each observation kind, element
//! type and batch size asked for. `mesascope bench train`: environment steps per second of
//! whole PPO training (acting and learning) for each model family.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use mesascope_tasks::{Action, ObsKind, ObsScalar, VecEnv};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::levels::LevelArgs;
use mesascope_learn::{TrainConfig, Trainer};

/// Flags of `mesascope bench env`.
#[derive(Args, Debug)]
pub struct EnvBenchArgs {
    #[command(flatten)]
    levels: LevelArgs,
    /// Batch sizes M to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,256")]
    envs: Vec<usize>,
    /// Observation kinds to measure, comma-separated (`full`, `partial-V`).
    #[arg(long, value_delimiter = ',', default_value = "full,partial-5")]
    obs: Vec<String>,
    /// Observation element types to measure, comma-separated (`u8`, `f32`).
    #[arg(long, value_delimiter = ',', default_value = "u8,f32")]
    dtype: Vec<String>,
    /// Seconds to measure each configuration for (after a short warm-up).
    #[arg(long, default_value_t = 1.5)]
    seconds: f64,
}

/// Steps per second of one configuration, single-threaded.
fn measure<T: ObsScalar>(args: &EnvBenchArgs, kind: ObsKind, m: usize) -> Result<f64> {
    let source = args.levels.distribution()?.source()?;
    let mut env: VecEnv<T> = VecEnv::new(source, m, kind, 0)?;
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let mut actions = vec![Action::Noop; m];
    let mut run = |iters: usize| -> Result<()> {
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
    let budget = Duration::from_secs_f64(args.seconds);
    let start = Instant::now();
    let mut steps = 0usize;
    while start.elapsed() < budget {
        run(chunk)?;
        steps += chunk * m;
    }
    Ok(steps as f64 / start.elapsed().as_secs_f64())
}

/// Runs `mesascope bench env`.
pub fn run(args: &EnvBenchArgs) -> Result<()> {
    if args.seconds <= 0.0 || !args.seconds.is_finite() {
        bail!("--seconds must be a positive number");
    }
    let dist = args.levels.distribution()?;
    println!(
        "batched {} env, {}x{}, diversity {}, uniform-random actions, one thread\n",
        dist.family.name(),
        dist.family.grid_size().0,
        dist.family.grid_size().1,
        dist.diversity
    );
    println!("{:<12} {:<6} {:>6} {:>16} {:>10}", "obs", "dtype", "M", "steps/s/core", "ns/step");
    for obs in &args.obs {
        let kind: ObsKind = obs.parse()?;
        for dtype in &args.dtype {
            for &m in &args.envs {
                if m == 0 {
                    bail!("--envs: batch sizes must be at least 1");
                }
                let sps = match dtype.as_str() {
                    "u8" => measure::<u8>(args, kind, m)?,
                    "f32" => measure::<f32>(args, kind, m)?,
                    other => bail!("--dtype: unknown element type '{other}' (known: u8, f32)"),
                };
                println!("{obs:<12} {dtype:<6} {m:>6} {sps:>16.0} {:>10.1}", 1e9 / sps);
            }
        }
    }
    Ok(())
}

/// Flags of `mesascope bench train`.
#[derive(Args, Debug)]
pub struct TrainBenchArgs {
    /// Model families to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
    models: Vec<String>,
    /// Updates timed per model (after one warm-up update).
    #[arg(long, default_value_t = 4)]
    updates: usize,
    /// Config overrides applied to the built-in default, e.g. `--set env.size=15`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    overrides: Vec<String>,
}

/// Runs `mesascope bench train`.
pub fn run_train(args: &TrainBenchArgs) -> Result<()> {
    if args.updates == 0 {
        bail!("--updates must be at least 1");
    }
    println!("{:<10} {:>8} {:>14} {:>12}", "model", "batch", "steps/s", "s/update");
    for model in &args.models {
        let mut overrides = args.overrides.clone();
        overrides.push(format!("model.kind=\"{model}\""));
        let cfg = TrainConfig::from_toml_with("", &overrides)?;
        let batch = cfg.ppo.num_envs * cfg.ppo.num_steps;
        let mut trainer = Trainer::new(cfg)?;
        trainer.step_update()?;
        let start = Instant::now();
        for _ in 0..args.updates {
            trainer.step_update()?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{model:<10} {batch:>8} {:>14.0} {:>12.2}", (batch * args.updates) as f64 / secs, secs / args.updates as f64);
    }
    Ok(())
}
