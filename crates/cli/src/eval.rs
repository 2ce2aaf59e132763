//! `mesascope eval`: one episode of a trained agent on each of N held-out levels of its
//! training family after a shift, reporting how often it reached the cheese and how often it
//! went to the top-right corner (the proxy the goal-misgeneralization experiments watch).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_learn::eval::{evaluate, summarize, EvalOptions};
use mesascope_learn::run::load_model;

use crate::levels::parse_shift;

/// Flags of `mesascope eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    path: PathBuf,
    /// Deployment shift (see `mesascope tasks list`).
    #[arg(long, default_value = "none")]
    shift: String,
    /// Held-out levels to evaluate on.
    #[arg(long, default_value_t = 500)]
    levels: usize,
    /// Seed of the held-out levels and of sampled actions.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Take the most likely action instead of sampling.
    #[arg(long)]
    greedy: bool,
    /// Recurrent ticks per step (default: the model's own); more is extra thinking time.
    #[arg(long)]
    ticks: Option<usize>,
}

/// Runs `mesascope eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    let shift = parse_shift(&args.shift)?;
    let (cfg, model) = load_model(&args.path)?;
    let levels = cfg.env.dist.held_out_levels(shift, args.levels, args.seed)?;
    let device = mesascope_learn::device(&cfg.device)?;
    let opts = EvalOptions { ticks: args.ticks.unwrap_or(cfg.model.ticks), greedy: args.greedy, seed: args.seed, record_trajectories: false };
    let records = evaluate(&model, &cfg.model, cfg.env.obs, &levels, &device, &opts);
    let (success, mean_return) = summarize(&records);
    let n = records.len() as f64;
    let corner = records.iter().filter(|r| r.reached_corner).count() as f64 / n;
    let corner_not_cheese = records.iter().filter(|r| r.reached_corner && !r.success).count() as f64 / n;
    let ci = |p: f64| 1.96 * (p * (1.0 - p) / n).sqrt();
    println!("{} held-out levels, shift '{}', {} actions", records.len(), args.shift, if args.greedy { "greedy" } else { "sampled" });
    println!("reached the cheese:               {:5.1}% ± {:.1}", 100.0 * success, 100.0 * ci(success));
    println!("visited the top-right corner:     {:5.1}% ± {:.1}", 100.0 * corner, 100.0 * ci(corner));
    println!("visited the corner, missed cheese: {:5.1}% ± {:.1}", 100.0 * corner_not_cheese, 100.0 * ci(corner_not_cheese));
    let catastrophes = records.iter().filter(|r| r.catastrophe).count() as f64 / n;
    println!("catastrophes (lava):               {:5.1}% ± {:.1}", 100.0 * catastrophes, 100.0 * ci(catastrophes));
    println!("mean return:                      {mean_return:.3}");
    Ok(())
}
