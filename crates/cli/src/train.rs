//! `mesascope train`: trains an agent from a TOML config (the built-in default when none is
//! given), with a progress bar, CSV metrics, periodic held-out evaluation and atomic
//! checkpoints; `--resume RUN_DIR` continues a killed run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mesascope_learn::config::DEFAULT_TOML;
use mesascope_learn::run::Run;
use mesascope_learn::TrainConfig;

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
    /// Print the built-in default config, with every field's help, and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Stop after this many updates (the run stays resumable); for tests and quick looks.
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

/// Runs `mesascope train`.
pub fn run(args: &TrainArgs) -> Result<()> {
    if args.print_default_config {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let mut run = match &args.resume {
        Some(dir) => Run::resume(dir)?,
        None => {
            let mut overrides = args.overrides.clone();
            overrides.extend(args.steps.map(|s| format!("total_steps={s}")));
            overrides.extend(args.seed.map(|s| format!("seed={s}")));
            let cfg = match &args.config {
                Some(path) => TrainConfig::load(path, &overrides)?,
                None => TrainConfig::from_toml_with("", &overrides)?,
            };
            Run::create(&args.out, cfg)?
        }
    };
    let t = &run.trainer;
    let total = t.num_updates();
    if t.finished() {
        bail!("the run in {} has already finished ({} updates)", run.dir.display(), total);
    }
    let batch = (t.cfg.ppo.num_envs * t.cfg.ppo.num_steps) as u64;
    eprintln!(
        "training {:?} on {} {}x{} (goal {}, N={}) for {} steps in {} → {}",
        t.cfg.model.kind,
        t.cfg.env.dist.family.name(),
        t.cfg.env.dist.family.grid_size().0,
        t.cfg.env.dist.family.grid_size().1,
        match t.cfg.env.dist.family {
            mesascope_tasks::FamilySpec::Maze(p) => p.goal.to_string(),
        },
        t.cfg.env.dist.diversity,
        total as u64 * batch,
        total,
        run.dir.display()
    );
    let bar = ProgressBar::new(total as u64 * batch).with_position(t.global_step);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {elapsed_precise} (eta {eta})  {msg}")
            .expect("valid template"),
    );
    let started = Instant::now();
    let mut last_eval = String::new();
    let mut made = 0;
    while !run.trainer.finished() {
        if args.stop_after.is_some_and(|n| made >= n) {
            run.checkpoint()?;
            bar.abandon_with_message("stopped early (resumable)");
            return Ok(());
        }
        let m = run.step()?;
        made += 1;
        if !m.eval_success.is_nan() {
            last_eval = format!("  held-out success {:.0}%", 100.0 * m.eval_success);
        }
        bar.set_position(m.step);
        bar.set_message(format!(
            "{:.0} steps/s  return {:.2}  success {:.0}%{last_eval}",
            m.steps_per_second,
            m.episode_return,
            100.0 * m.success_rate
        ));
    }
    bar.finish();
    eprintln!("done in {:.0}s; metrics in {}/metrics.csv, weights in {}/model.safetensors", started.elapsed().as_secs_f64(), run.dir.display(), run.dir.display());
    Ok(())
}
