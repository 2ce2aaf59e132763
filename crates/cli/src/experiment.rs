//! `mesascope run`, `mesascope report` and `mesascope toy-model`: experiments from a TOML spec
//! (every condition × seed trained and audited in parallel, one progress bar, resumable),
//! their reports, and the section-2.1 toy model.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use mesascope_report::page::frame;
use mesascope_report::plot::{lines, Series, XAxis};
use mesascope_report::stats::Estimate;
use mesascope_lab::runner::store_path;
use mesascope_lab::store::Store;
use mesascope_lab::toy::{solve, Cost};
use mesascope_lab::{run_experiment, Event, ExperimentSpec, RunnerOptions};

use mesascope_learn::run::write_atomic;

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

/// Runs `mesascope run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("reading {}", args.spec.display()))?;
    let spec = ExperimentSpec::parse(&text)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/{}{}", spec.name, if args.quick { "-quick" } else { "" })));
    let points = spec.points(args.quick)?;
    let total: u64 = points.iter().map(mesascope_lab::runner::point_steps).sum();
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("invalid --jobs: must be at least 1");
    }
    eprintln!("experiment '{}': {} runs ({} conditions × {} seeds), {} env steps, {jobs} at a time → {}", spec.name, points.len(), spec.conditions().len(), spec.seeds(args.quick).len(), total, out.display());
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template("{bar:30} {percent:>3}% {pos}/{len} steps  {elapsed_precise} (eta {eta})  {msg}").expect("valid template"));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let outcome = run_experiment(&text, &out, &RunnerOptions { quick: args.quick, jobs, max_updates: args.max_updates }, &|e| match e {
        Event::Steps(n) => bar.inc(n),
        Event::RunDone(id) => {
            let k = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            bar.set_message(format!("{k} runs measured, last {id}"));
        }
        Event::RunFailed(id, err) => bar.println(format!("run {id} failed: {err}")),
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{} of {} runs done ({} pending, {} failed) in {:.0} s → {}, {}, {}",
        outcome.done,
        points.len(),
        outcome.pending,
        outcome.failed.len(),
        started.elapsed().as_secs_f64(),
        out.join("report.html").display(),
        out.join("summary.csv").display(),
        store_path(&out).display()
    );
    if !outcome.failed.is_empty() {
        bail!("{} runs failed (see the store's runs.error column); rerun to retry them", outcome.failed.len());
    }
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
    let path = store_path(&args.dir);
    if !path.exists() {
        bail!("{} is not an experiment directory (no runs.sqlite)", args.dir.display());
    }
    let store = Store::open(&path)?;
    let Some(text) = store.spec_text()? else { bail!("{} records no experiment spec", path.display()) };
    let quick = text.trim_end().ends_with("# mode: quick");
    let spec = ExperimentSpec::parse(&text)?;
    mesascope_lab::report::write_all(&spec, &text, &args.dir, &store, quick)?;
    let (pending, done, failed) = store.counts()?;
    println!("{done} runs done, {pending} pending, {failed} failed → {}", args.dir.join("report.html").display());
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
    /// Write the plot (SVG) here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `mesascope toy-model`.
pub fn toy(args: &ToyArgs) -> Result<()> {
    let cost = Cost::from_name(&args.cost)?;
    println!("toy model: T(y) = (x − f(y))/N + y, x = {}, f = {} (scale {})", args.x, args.cost, args.scale);
    println!("{:>8} {:>10} {:>12} {:>12} {:>14}", "N", "y*", "T(y*)", "memorized", "runtime share");
    let mut ys = Vec::new();
    let mut ts = Vec::new();
    let mut shares = Vec::new();
    for &n in &args.n {
        let s = solve(args.x, cost, args.scale, n)?;
        println!("{:>8} {:>10.3} {:>12.3} {:>12.3} {:>14.3}", n, s.y, s.per_instance, s.memorized, s.runtime_share);
        let point = |v: f64| (n, Estimate { n: 0, ..Estimate::single(v) });
        ys.push(point(s.y));
        ts.push(point(s.per_instance));
        shares.push(point(s.runtime_share));
    }
    if let Some(out) = &args.out {
        let title = format!("Toy model, x = {}, {} cost", args.x, args.cost);
        let bits = lines(&title, "instances N", "bits", &[Series::new("optimal runtime bits y*", ys), Series::new("per-instance optimization T(y*)", ts)], &XAxis::Log);
        let share = lines("Runtime share y*/T(y*)", "instances N", "share", &[Series::new("y*/T(y*)", shares)], &XAxis::Log);
        let page = if out.extension().and_then(|e| e.to_str()) == Some("svg") {
            bits
        } else {
            frame(&title, &format!("{bits}{share}"))
        };
        write_atomic(out, page.as_bytes())?;
        println!("plot → {}", out.display());
    }
    Ok(())
}
