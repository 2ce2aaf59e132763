//! `mesascope audit`: the whole audit of one agent — optimization power, the mesa-optimizer
//! evidence battery, objective inference under a shift, the alignment verdict — with a
//! progress bar, written as `audit.json` (every number with its interval and sample size) and
//! `audit.html` (verdict first, charts, sample trajectories). The agent is a trained run (a
//! run directory, checkpoint, or .safetensors file) or, with `--known`, one of the
//! known-answer agents on the default training distribution, for calibration.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use mesascope_audit::agents::{Agent, CornerSeeker, ModelAgent, PolicyAgent, TabularAgent};
use mesascope_audit::page::html;
use mesascope_report::page::fmt_estimate;
use mesascope_audit::report::STAGES;
use mesascope_audit::{audit, AuditOptions, AuditReport};
use mesascope_learn::run::load_model;
use mesascope_learn::TrainConfig;
use mesascope_tasks::{ShortestPathToGoal, TrainingDistribution, UniformRandom};

use crate::levels::parse_shift;
use mesascope_learn::run::write_atomic;

/// Known-answer agents `--known` accepts.
const KNOWN: [&str; 4] = ["planner", "corner-seeker", "memorizer", "random"];

/// Flags of `mesascope audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    #[arg(required_unless_present = "known")]
    path: Option<PathBuf>,
    /// Audit a known-answer agent instead (planner, corner-seeker, memorizer, random) on the
    /// default training distribution (`--set` changes it, as for `train`).
    #[arg(long, conflicts_with = "path")]
    known: Option<String>,
    /// Config overrides for `--known`, `field=value` (e.g. `env.diversity=1`).
    #[arg(long = "set", requires = "known")]
    set: Vec<String>,
    /// Deployment shift whose episodes objective inference explains.
    #[arg(long, default_value = "goal-anywhere")]
    shift: String,
    /// Levels per measurement (training, novel, retargeting, deployment).
    #[arg(long, default_value_t = 200)]
    levels: usize,
    /// Levels the probes are fitted on (scored on half as many others).
    #[arg(long, default_value_t = 160)]
    probe_levels: usize,
    /// Thinking-time ticks to try for recurrent models, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4,8")]
    ticks: Vec<usize>,
    /// Seed of levels, sampled actions and resampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for audit.json and audit.html (default: the run directory, or
    /// runs/audit-NAME for --known).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What is audited: the agent, its training distribution, its discount, its name and where
/// the files go.
struct Subject {
    agent: Box<dyn Agent>,
    dist: TrainingDistribution,
    gamma: f64,
    name: String,
    out: PathBuf,
}

/// The subject and the audit options the flags ask for.
fn subject(args: &AuditArgs) -> Result<(Subject, AuditOptions)> {
    let shift = parse_shift(&args.shift)?;
    let s = load_subject(args)?;
    let opts = AuditOptions { shift, levels: args.levels, ticks: args.ticks.clone(), probe_levels: args.probe_levels, gamma: s.gamma, seed: args.seed, ..AuditOptions::default() };
    Ok((s, opts))
}

fn load_subject(args: &AuditArgs) -> Result<Subject> {
    if let Some(name) = &args.known {
        let cfg = TrainConfig::from_toml_with("", &args.set)?;
        let dist = cfg.env.dist;
        let agent: Box<dyn Agent> = match name.as_str() {
            "planner" => Box::new(PolicyAgent(ShortestPathToGoal::default())),
            "corner-seeker" => Box::new(PolicyAgent(CornerSeeker::default())),
            "memorizer" => {
                let Some(pool) = dist.training_levels()? else {
                    bail!("invalid --known memorizer: it memorizes a finite training set; add --set env.diversity=N");
                };
                Box::new(PolicyAgent(TabularAgent::fit(&pool, args.seed)))
            }
            "random" => Box::new(PolicyAgent(UniformRandom::new(args.seed))),
            _ => bail!("unknown known-answer agent '{name}' (known: {})", KNOWN.join(", ")),
        };
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/audit-{name}")));
        return Ok(Subject { agent, dist, gamma: cfg.ppo.gamma, name: format!("known-answer agent '{name}'"), out });
    }
    let path = args.path.as_ref().expect("clap requires a path without --known");
    let (cfg, model) = load_model(path)?;
    let device = mesascope_learn::device(&cfg.device)?;
    let out = args.out.clone().unwrap_or_else(|| if path.is_dir() { path.clone() } else { path.parent().map(|p| p.to_path_buf()).unwrap_or_default() });
    let dist = cfg.env.dist;
    let gamma = cfg.ppo.gamma;
    let ticks = cfg.model.ticks;
    Ok(Subject { agent: Box::new(ModelAgent { cfg, model, device, ticks }), dist, gamma, name: path.display().to_string(), out })
}

/// Prints the verdict and the battery's numbers.
fn summary(r: &AuditReport) {
    let g = &r.generalization;
    println!("verdict: {}", r.verdict.label);
    for e in &r.verdict.evidence {
        println!("  - {e}");
    }
    println!("success, training levels:          {}", fmt_estimate(&g.train_success, true));
    println!("success, novel levels:             {}", fmt_estimate(&g.novel_success, true));
    println!("OP training levels (bits):         {}", fmt_estimate(&g.op.train, false));
    println!("OP novel levels (bits):            {}", fmt_estimate(&g.op.novel, false));
    println!("runtime share OP(novel)/OP(train): {}", fmt_estimate(&g.op.runtime_share, false));
    match &r.retargeting {
        Some(e) => println!("retargeting success:               {}", fmt_estimate(e, true)),
        None => println!("retargeting success:               not applicable"),
    }
    if let Some(t) = &r.thinking_time {
        for (k, e) in &t.points {
            println!("success with {k} ticks:              {}", fmt_estimate(e, true));
        }
    }
    let pa = &r.planner_agreement;
    println!(
        "planner agreement ({} decision pts): {} (chance {:.1}%, greedy {:.1}%, wall-follow {:.1}%; where both heuristics are wrong: {})",
        pa.decision_points,
        fmt_estimate(&pa.planner, true),
        100.0 * pa.chance.mean,
        100.0 * pa.greedy.mean,
        100.0 * pa.wall_follow.mean,
        fmt_estimate(&pa.planner_where_all_wrong, true)
    );
    if let Some(p) = &r.probes {
        for l in &p.layers {
            println!(
                "probe {:<12} distance R² {:.2} (untrained {:.2}), goal accuracy {:.1}% (untrained {:.1}%)",
                l.name,
                l.distance_r2.mean,
                l.distance_r2_untrained.mean,
                100.0 * l.goal_accuracy.mean,
                100.0 * l.goal_accuracy_untrained.mean
            );
        }
    }
    println!("success under the shift:           {}", fmt_estimate(&r.deployment_success, true));
    println!("corner instead of cheese:          {}", fmt_estimate(&r.corner_instead_of_cheese, true));
}

/// Runs `mesascope audit`.
pub fn run(args: &AuditArgs) -> Result<()> {
    let (Subject { mut agent, dist, name, out, .. }, opts) = subject(args)?;
    let bar = ProgressBar::new(STAGES.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise}  {msg}").expect("valid template"));
    let start = Instant::now();
    let mut first = true;
    let report = audit(&name, agent.as_mut(), &dist, &opts, &mut |stage| {
        if !std::mem::take(&mut first) {
            bar.inc(1);
        }
        bar.set_message(stage.to_string());
    })?;
    bar.finish_and_clear();
    let json = serde_json::to_vec_pretty(&report).context("serialising the audit")?;
    write_atomic(&out.join("audit.json"), &json)?;
    write_atomic(&out.join("audit.html"), html(&report).as_bytes())?;
    summary(&report);
    println!("audit of {name} in {:.1} s → {} and {}", start.elapsed().as_secs_f64(), out.join("audit.json").display(), out.join("audit.html").display());
    Ok(())
}

/// Runs `mesascope bench audit`: the same audit, timed per stage, nothing written.
pub fn bench(args: &AuditArgs) -> Result<()> {
    let (Subject { mut agent, dist, name, .. }, opts) = subject(args)?;
    let start = Instant::now();
    let report = audit(&name, agent.as_mut(), &dist, &opts, &mut |_| {})?;
    let total = start.elapsed().as_secs_f64();
    println!("audit of {name}: {} levels per measurement, {} rayon threads", args.levels, rayon_threads());
    for stage in STAGES {
        println!("{stage:<22} {:>7.2} s", report.seconds.get(stage).copied().unwrap_or(0.0));
    }
    println!("{:<22} {total:>7.2} s", "total");
    Ok(())
}

/// Threads the tensor backend may use (`RAYON_NUM_THREADS`, else the machine's cores).
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
