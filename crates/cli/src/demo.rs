//! `mesascope demo`: the README's first command. Generates a training level and a deployment
//! level, draws them, computes the exact optimization power of the optimal policy, and steps a
//! batch of episodes with a random and an optimal policy on both distributions.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use mesascope_audit::agents::play_policy;
use mesascope_audit::op::optimization_power;
use mesascope_tasks::maze::empty_level;
use mesascope_tasks::{
    render, reset, Action, LevelGenerator, LevelSource, ObsKind, Policy, ShortestPathToGoal, UniformRandom, VecEnv,
};

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::levels::{parse_shift, LevelArgs};
use crate::output::write_picture;
use crate::render::trajectory;

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

/// Summary of a batch of episodes.
struct Outcome {
    episodes: usize,
    mean_return: f64,
    ci95: f64,
    success: f64,
    mean_length: f64,
}

/// Steps `envs` environments from `source` with one policy per env until every env has
/// finished `ceil(episodes / envs)` episodes; counting a fixed quota per env avoids the bias
/// towards short episodes that "stop after the first K episodes" would have.
fn run_batch(source: LevelSource, envs: usize, episodes: usize, seed: u64, mut policies: Vec<Box<dyn Policy>>) -> Result<Outcome> {
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
    Ok(Outcome {
        episodes: returns.len(),
        mean_return: mean,
        ci95: 1.96 * (var / n).sqrt(),
        success: successes as f64 / n,
        mean_length: lengths as f64 / n,
    })
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
    let (w, h) = dist.family.grid_size();
    println!("mesascope demo: {} {w}x{h}, training diversity N={}, deployment shift '{}'\n", dist.family.name(), dist.diversity, args.shift);

    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let train_level = match dist.training_levels()? {
        Some(levels) => levels[0].clone(),
        None => {
            let mut level = empty_level();
            dist.source()?.sample_into(&mut Pcg64Mcg::seed_from_u64(dist.level_seed), &mut LevelGenerator::default(), &mut level);
            level
        }
    };
    let deploy_level = dist.held_out_levels(shift, 1, dist.level_seed)?.remove(0);
    println!("{}", side_by_side("training level", &format!("deployment level ({})", args.shift), 4));
    println!("{}", side_by_side(&render::ascii(&train_level, &reset(&train_level)), &render::ascii(&deploy_level, &reset(&deploy_level)), 10));

    for (name, level) in [("train-level", &train_level), ("deploy-level", &deploy_level)] {
        let path = trajectory(level, &mut ShortestPathToGoal::default());
        for ext in ["svg", "png"] {
            write_picture(&args.out_dir.join(format!("{name}.{ext}")), level, &reset(level), &path)?;
        }
    }
    println!("pictures with the optimal path: {}/{{train,deploy}}-level.{{svg,png}}\n", args.out_dir.display());

    let ret = play_policy(&mut ShortestPathToGoal::default(), std::slice::from_ref(&train_level)).remove(0).ret;
    let bits = optimization_power(&train_level, ret, dist.level_seed)?.bits;
    println!("optimal policy on the training level: return {ret:.2}, optimization power {bits:.1} bits");
    println!("  (−log2 of the exact probability that the uniform-random policy does at least as well)\n");

    println!("{:<8} {:<15} {:>8} {:>18} {:>8} {:>8}", "policy", "distribution", "episodes", "mean return ±95%", "success", "length");
    let deploy = dist.deployment(shift)?;
    for (dname, source) in [("train", dist.source()?), (args.shift.as_str(), deploy)] {
        for pname in ["random", "optimal"] {
            let policies: Vec<Box<dyn Policy>> = (0..args.envs)
                .map(|i| -> Box<dyn Policy> {
                    match pname {
                        "random" => Box::new(UniformRandom::new(dist.level_seed ^ (i as u64 + 1))),
                        _ => Box::new(ShortestPathToGoal::default()),
                    }
                })
                .collect();
            let o = run_batch(source.clone(), args.envs, args.episodes, dist.level_seed, policies)?;
            println!(
                "{pname:<8} {dname:<15} {:>8} {:>11.3} ±{:.3} {:>7.1}% {:>8.1}",
                o.episodes,
                o.mean_return,
                o.ci95,
                100.0 * o.success,
                o.mean_length
            );
        }
    }
    Ok(())
}
