//! `mesascope quickstart`, `mesascope run`, `mesascope report` and `mesascope toy-model`:
//! experiments from a TOML spec (every condition × seed trained and audited in parallel,
//! with progress, resumable), their reports, and the section-2.1 toy model.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use mesascope_lab::report::metric_title;
use mesascope_lab::spec::condition_label;
use mesascope_lab::toy::Cost;
use mesascope_lab::{experiment, quickstart, rewrite_report, toy_model, ExperimentJob, ExperimentResult, Progress, QuickstartJob, ToyJob};

use crate::progress::{duration, Reporter};

/// Flags of `mesascope run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The experiment spec (TOML), e.g. experiments/diversity.toml.
    spec: PathBuf,
    /// Use the spec's [quick] variant (fewer seeds and steps).
    #[arg(long)]
    quick: bool,
    /// Experiment directory (default: runs/NAME, or runs/NAME-quick).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs trained at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop after this many PPO updates in total, checkpointing unfinished runs (time box).
    #[arg(long)]
    max_updates: Option<usize>,
}

/// Flags of `mesascope quickstart`.
#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Experiment directory.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Runs trained at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

/// Prints the headline measurement per condition with its verdicts, then (on standard error,
/// after the progress) the last line: how many runs are done, the headline numbers, and where
/// the files are. Fails when runs failed.
fn conclude(r: &ExperimentResult) -> Result<()> {
    let headline = r.headline();
    if let Some(first) = headline.first() {
        println!("{}:", metric_title(&first.metric));
        for row in &headline {
            let verdicts = r.verdicts.iter().find(|(c, _)| *c == row.condition).map(|(_, v)| v.iter().map(|(label, n)| format!("{label} ×{n}")).collect::<Vec<_>>().join("; ")).unwrap_or_default();
            let e = row.estimate;
            println!("  {:<28} {:.3} [{:.3}, {:.3}] over {} seeds   {verdicts}", condition_label(&row.condition), e.mean, e.lo, e.hi, e.n);
        }
    }
    if !r.predictions.is_empty() {
        println!("predictions written into the spec before it ran (report.html says what decided each):");
        for j in &r.predictions {
            println!("  {:<4} {:<13} {}", j.id, j.outcome.label(), j.says);
        }
    }
    let numbers: Vec<String> = headline.iter().map(|row| format!("{} {:.2}", condition_label(&row.condition), row.estimate.mean)).collect();
    let o = &r.outcome;
    let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
    eprintln!(
        "{} of {} runs done ({} pending, {} failed) in {}; {}: {} → {}",
        o.done,
        r.runs,
        o.pending,
        o.failed.len(),
        duration(r.seconds),
        headline.first().map_or("no results yet", |row| row.metric.as_str()),
        numbers.join(", "),
        files.join(", ")
    );
    if !o.failed.is_empty() {
        bail!("{} runs failed (see the store's runs.error column); rerun to retry them", o.failed.len());
    }
    Ok(())
}

/// Runs `mesascope run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let spec = std::fs::read_to_string(&args.spec).with_context(|| format!("reading {}", args.spec.display()))?;
    let job = ExperimentJob { spec, quick: args.quick, out: args.out.clone(), jobs: args.jobs, max_updates: args.max_updates };
    let reporter = Reporter::new();
    let result = experiment(&job, &|p: &Progress| reporter.on(p));
    reporter.finish();
    conclude(&result?)
}

/// Runs `mesascope quickstart`.
pub fn run_quickstart(args: &QuickstartArgs) -> Result<()> {
    let reporter = Reporter::new();
    let result = quickstart(&QuickstartJob { out: args.out.clone(), jobs: args.jobs }, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    conclude(&r)?;
    println!("open {} for every measurement with its interval, the verdicts and the spec", r.dir.join("report.html").display());
    Ok(())
}

/// Flags of `mesascope report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// An experiment directory (holding runs.sqlite).
    dir: PathBuf,
}

/// Runs `mesascope report`: rewrites summary.csv and report.html from the store.
pub fn report(args: &ReportArgs) -> Result<()> {
    let r = rewrite_report(&args.dir)?;
    println!("{} runs done, {} pending, {} failed → {}", r.done, r.pending, r.failed, args.dir.join("report.html").display());
    Ok(())
}

/// Flags of `mesascope toy-model`.
#[derive(Args, Debug)]
pub struct ToyArgs {
    /// Base-optimizer bits x.
    #[arg(long, default_value_t = 100.0)]
    x: f64,
    /// Cost of a y-bit runtime optimizer: linear, quadratic or exponential.
    #[arg(long, default_value = "quadratic")]
    cost: String,
    /// Scale c of the cost function (f(y) = c·y, c·y², c·(2^y − 1)).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Numbers of instances N, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64,256,1024")]
    n: Vec<f64>,
    /// Write the plot here: an .svg, or an HTML page with both plots.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `mesascope toy-model`.
pub fn toy(args: &ToyArgs) -> Result<()> {
    let cost = Cost::from_name(&args.cost)?;
    let r = toy_model(&ToyJob { x: args.x, cost, scale: args.scale, n: args.n.clone(), out: args.out.clone() })?;
    println!("toy model: T(y) = (x − f(y))/N + y, x = {}, f = {} (scale {})", args.x, args.cost, args.scale);
    println!("{:>8} {:>10} {:>12} {:>12} {:>14}", "N", "y*", "T(y*)", "memorized", "runtime share");
    for s in &r.solutions {
        println!("{:>8} {:>10.3} {:>12.3} {:>12.3} {:>14.3}", s.n, s.y, s.per_instance, s.memorized, s.runtime_share);
    }
    for f in &r.files {
        println!("plot → {}", f.display());
    }
    Ok(())
}
