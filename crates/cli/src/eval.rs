//! `mesascope eval`: one episode of a trained agent on each of N held-out levels of its
//! training family after a shift, reporting how often it reached the cheese and how often it
//! went to the top-right corner (the proxy the goal-misgeneralization experiments watch).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::types::{fmt_estimate, Estimate};
use mesascope_lab::{eval, EvalJob};

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
    /// Write one CSV row per episode (level id, return, length, cheese, corner, lava) to this
    /// file; `mesascope replay PATH --level ID --shift SHIFT --seed SEED` replays any of them.
    #[arg(long)]
    episodes: Option<PathBuf>,
}

/// Runs `mesascope eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    let job = EvalJob { agent: args.path.clone(), shift: parse_shift(&args.shift)?, levels: args.levels, seed: args.seed, greedy: args.greedy, ticks: args.ticks, episodes: args.episodes.clone() };
    let r = eval(&job)?;
    let pct = |e: &Estimate| fmt_estimate(e, true);
    println!("{} held-out levels, shift '{}', {} actions", r.episodes, args.shift, if args.greedy { "greedy" } else { "sampled" });
    if r.family == "maze" {
        println!("{:<35}{}", "reached the cheese:", pct(&r.success));
        println!("{:<35}{}", "visited the top-right corner:", pct(&r.corner));
        println!("{:<35}{}", "visited the corner, missed cheese:", pct(&r.corner_not_cheese));
        println!("{:<35}{}", "catastrophes (lava):", pct(&r.catastrophes));
    } else {
        println!("{:<35}{}", format!("success ({}):", r.goal), pct(&r.success));
        for p in &r.proxies {
            println!("{:<35}{}", format!("reached {}:", p.proxy), pct(&p.reached));
            println!("{:<35}{}", format!("{}:", p.metric), pct(&p.instead_of_goal));
        }
        if let (Some(keys), Some(chests)) = (&r.unused_keys, &r.chests_left) {
            println!("{:<35}{}", "keys held unused at the end:", fmt_estimate(keys, false));
            println!("{:<35}{}", "chests left it could have opened:", fmt_estimate(chests, false));
        }
        if r.declares_catastrophe {
            println!("{:<35}{}", "catastrophes:", pct(&r.catastrophes));
        } else {
            println!("{:<35}the {} family declares none", "catastrophes:", r.family);
        }
    }
    println!("{:<35}{}", "mean return:", fmt_estimate(&r.mean_return, false));
    if let Some(path) = &r.episodes_file {
        println!("episodes: {}", path.display());
    }
    Ok(())
}
