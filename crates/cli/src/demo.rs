//! `mesascope demo`: a tour of the task engine. Generates a training level and a deployment
//! level, draws them, computes the exact optimization power of the optimal policy, and steps a
//! batch of episodes with a random and an optimal policy on both distributions.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::{demo, DemoJob};
use mesascope_tasks::{render, reset};

use crate::levels::{parse_shift, LevelArgs};

/// Flags of `mesascope demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    levels: LevelArgs,
    /// Deployment shift (see `mesascope tasks list`).
    #[arg(long, default_value = "goal-anywhere")]
    shift: String,
    /// Environments stepped together.
    #[arg(long, default_value_t = 64)]
    envs: usize,
    /// Episodes per policy and distribution.
    #[arg(long, default_value_t = 1024)]
    episodes: usize,
    /// Directory for the level pictures.
    #[arg(long, default_value = "mesascope-demo")]
    out_dir: PathBuf,
}

fn side_by_side(left: &str, right: &str, gap: usize) -> String {
    let width = left.lines().map(str::len).max().unwrap_or(0);
    left.lines()
        .zip(right.lines())
        .map(|(l, r)| format!("{l:<width$}{:gap$}{r}\n", ""))
        .collect()
}

/// Runs `mesascope demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    let dist = args.levels.distribution()?;
    let shift = parse_shift(&args.shift)?;
    let r = demo(&DemoJob { dist, shift, envs: args.envs, episodes: args.episodes, out_dir: args.out_dir.clone() })?;
    let (w, h) = dist.family.grid_size();
    println!("mesascope demo: {} {w}x{h}, training diversity N={}, deployment shift '{}'\n", dist.family.name(), dist.diversity, args.shift);
    println!("{}", side_by_side("training level", &format!("deployment level ({})", args.shift), 4));
    let (train, deploy) = (&r.train_level, &r.deploy_level);
    println!("{}", side_by_side(&render::ascii(train, &reset(train)), &render::ascii(deploy, &reset(deploy)), 10));
    println!("pictures with the optimal path: {}/{{train,deploy}}-level.{{svg,png}}\n", args.out_dir.display());
    println!("optimal policy on the training level: return {:.2}, optimization power {:.1} bits", r.optimal_return, r.optimal_bits);
    println!("  (−log2 of the exact probability that the uniform-random policy does at least as well)\n");
    println!("{:<8} {:<15} {:>8} {:>18} {:>8} {:>8}", "policy", "distribution", "episodes", "mean return ±95%", "success", "length");
    for o in &r.rows {
        let dname = if o.deployment { args.shift.as_str() } else { "train" };
        println!("{:<8} {dname:<15} {:>8} {:>11.3} ±{:.3} {:>7.1}% {:>8.1}", o.policy, o.episodes, o.mean_return, o.ci95, 100.0 * o.success, o.mean_length);
    }
    Ok(())
}
