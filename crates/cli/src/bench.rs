//! Benchmarks that print numbers. `mesascope bench env`: environment steps per second on one
//! core for the batched env with uniform-random actions, for each observation kind, element
//! type and batch size asked for. `mesascope bench train`: environment steps per second of
//! whole PPO training for each model family, the milliseconds of an update spent acting and
//! learning, and the model GFLOP/s achieved.

use anyhow::{anyhow, Result};
use clap::Args;
use mesascope_lab::{bench_env, bench_train, Dtype, EnvBenchJob, TrainBenchJob};
use mesascope_tasks::ObsKind;

use crate::levels::LevelArgs;

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

/// Runs `mesascope bench env`: for the family asked for, or with `--family all` for every
/// registered family at its defaults, one block each.
pub fn run(args: &EnvBenchArgs) -> Result<()> {
    let families: Vec<String> = match args.levels.family.as_str() {
        "all" => mesascope_tasks::dist::FAMILIES.iter().map(|f| f.0.to_string()).collect(),
        one => vec![one.to_string()],
    };
    for (i, family) in families.iter().enumerate() {
        if i > 0 {
            println!();
        }
        run_family(args, LevelArgs { family: family.clone(), ..args.levels.clone() })?;
    }
    Ok(())
}

/// `bench env` on one family's distribution.
fn run_family(args: &EnvBenchArgs, levels: LevelArgs) -> Result<()> {
    let dist = levels.distribution()?;
    let obs = args.obs.iter().map(|o| o.parse::<ObsKind>()).collect::<Result<Vec<_>, _>>()?;
    let dtypes = args
        .dtype
        .iter()
        .map(|d| match d.as_str() {
            "u8" => Ok(Dtype::U8),
            "f32" => Ok(Dtype::F32),
            other => Err(anyhow!("--dtype: unknown element type '{other}' (known: u8, f32)")),
        })
        .collect::<Result<Vec<_>>>()?;
    let job = EnvBenchJob { dist, envs: args.envs.clone(), obs, dtypes, seconds: args.seconds };
    println!(
        "batched {} env, {}x{}, diversity {}, uniform-random actions, one thread\n",
        dist.family.name(),
        dist.family.grid_size().0,
        dist.family.grid_size().1,
        dist.diversity
    );
    println!("{:<12} {:<6} {:>6} {:>16} {:>10}", "obs", "dtype", "M", "steps/s/core", "ns/step");
    bench_env(&job, &mut |r| {
        let dtype = match r.dtype {
            Dtype::U8 => "u8",
            Dtype::F32 => "f32",
        };
        println!("{:<12} {dtype:<6} {:>6} {:>16.0} {:>10.1}", String::from(r.obs), r.envs, r.steps_per_second, 1e9 / r.steps_per_second);
    })?;
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
    /// Tensor device to train on: `cpu`, or `wgpu` / `cuda` in a binary built with that cargo
    /// feature; the same as `--set device="…"`, which it overrides.
    #[arg(long)]
    device: Option<String>,
}

/// Runs `mesascope bench train`.
pub fn run_train(args: &TrainBenchArgs) -> Result<()> {
    println!("ms/update = acting (rollout) + learning; GFLOP/s = the model's analytic FLOPs (forward per env step, forward + 2x backward per trained sample) / wall time\n");
    println!("{:<10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}", "model", "batch", "steps/s", "ms/update", "acting", "learning", "GFLOP/upd", "GFLOP/s");
    let mut overrides = args.overrides.clone();
    if let Some(device) = &args.device {
        // Later overrides win, so this one beats a `--set device`.
        overrides.push(format!("device=\"{device}\""));
    }
    let job = TrainBenchJob { models: args.models.clone(), updates: args.updates, overrides };
    bench_train(&job, &mut |r| {
        println!(
            "{:<10} {:>8} {:>10.0} {:>10.1} {:>10.1} {:>10.1} {:>10.2} {:>9.1}",
            r.model,
            r.batch,
            r.steps_per_second,
            1e3 * r.seconds_per_update,
            1e3 * r.acting_seconds,
            1e3 * r.learning_seconds,
            r.flops_per_update / 1e9,
            r.gflops
        )
    })?;
    Ok(())
}
