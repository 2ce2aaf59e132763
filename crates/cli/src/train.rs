//! `mesascope train`: trains an agent from a TOML config (the built-in default when none is
//! given), with progress, CSV metrics, periodic held-out evaluation and atomic checkpoints;
//! `--resume RUN_DIR` continues a killed run.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::types::{default_toml, DEFAULT_FAMILY};
use mesascope_lab::{resume, train, Progress, ResumeJob, TrainJob, TrainResult};

use crate::progress::{duration, Reporter};

/// Flags of `mesascope train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Config file (TOML); fields it leaves out keep their defaults (see --print-default-config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override any config field, e.g. `--set ppo.learning_rate=3e-4 --set env.diversity=16`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    overrides: Vec<String>,
    /// Shorthand for `--set total_steps=N`.
    #[arg(long)]
    steps: Option<u64>,
    /// Shorthand for `--set seed=N`.
    #[arg(long)]
    seed: Option<u64>,
    /// Run directory to create.
    #[arg(long, default_value = "runs/default")]
    out: PathBuf,
    /// Continue the run in this directory from its last checkpoint instead of starting one.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "overrides", "steps", "seed"])]
    resume: Option<PathBuf>,
    /// Print the built-in default config, with every field's help, and exit (another
    /// family's with --set env.family=NAME).
    #[arg(long)]
    print_default_config: bool,
    /// Also write each update's numbers as a TensorBoard event file in the run directory
    /// (CleanRL's scalar names: charts/episodic_return, charts/SPS, losses/value_loss, …).
    #[arg(long)]
    tensorboard: bool,
    /// Stop after this many updates (the run stays resumable); for tests and quick looks.
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

/// Runs `mesascope train`.
pub fn run(args: &TrainArgs) -> Result<()> {
    if args.print_default_config {
        // The family's defaults: the last `--set env.family=NAME` names it.
        let family = args.overrides.iter().rev().find_map(|o| o.strip_prefix("env.family=")).map_or(DEFAULT_FAMILY, |f| f.trim_matches('"'));
        print!("{}", default_toml(family)?);
        return Ok(());
    }
    let reporter = Reporter::new();
    let on = |p: &Progress| reporter.on(p);
    let result = match &args.resume {
        Some(dir) => resume(&ResumeJob { dir: dir.clone(), stop_after: args.stop_after, tensorboard: args.tensorboard }, &on),
        None => {
            let mut overrides = args.overrides.clone();
            overrides.extend(args.steps.map(|s| format!("total_steps={s}")));
            overrides.extend(args.seed.map(|s| format!("seed={s}")));
            train(&TrainJob { config: args.config.clone(), overrides, out: args.out.clone(), stop_after: args.stop_after, tensorboard: args.tensorboard }, &on)
        }
    };
    reporter.finish();
    eprintln!("{}", headline(&result?));
    Ok(())
}

/// The last line of training: how it ended, its held-out success, and where the files are.
fn headline(r: &TrainResult) -> String {
    let dir = r.dir.display();
    let held_out = match (r.held_out_success, r.held_out_return) {
        (Some(s), Some(ret)) => format!("held-out success {:.1}% (return {ret:.3})", 100.0 * s),
        _ => "not evaluated yet".to_string(),
    };
    if r.finished {
        format!("done in {} after {} steps: {held_out}; weights in {dir}/model.safetensors, metrics in {dir}/metrics.csv", duration(r.seconds), r.steps)
    } else {
        format!("stopped early after {} steps ({held_out}); resumable with `mesascope train --resume {dir}`; metrics in {dir}/metrics.csv", r.steps)
    }
}
