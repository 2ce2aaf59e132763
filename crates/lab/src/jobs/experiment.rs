//! Experiments from a TOML spec (every condition × seed trained and audited in parallel,
//! resumable), rewriting their reports from the run store, and the section-2.1 toy model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use mesascope_learn::run::write_atomic;
use mesascope_report::page::frame;
use mesascope_report::plot::{lines, Series, XAxis};
use mesascope_report::stats::Estimate;

use super::progress::{ExperimentTotals, OnProgress, Progress};
use crate::report::{summarize, SummaryRow, VerdictCounts};
use crate::runner::{point_steps, store_path};
use crate::store::Store;
use crate::toy::{solve, Cost, ToySolution};
use crate::{run_experiment, ExperimentSpec, LabError, Outcome, RunnerOptions};

/// Which experiment to run and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentJob {
    /// The spec's text (TOML).
    pub spec: String,
    /// Use the spec's `[quick]` variant (fewer seeds and steps).
    pub quick: bool,
    /// Experiment directory; `None`: `runs/NAME`, or `runs/NAME-quick`.
    pub out: Option<PathBuf>,
    /// Runs trained at once; `None`: one per core.
    pub jobs: Option<usize>,
    /// Stop after this many PPO updates in total, checkpointing unfinished runs (a time box).
    pub max_updates: Option<usize>,
}

/// How an experiment went, and where its results are.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentResult {
    /// The spec.
    pub spec: ExperimentSpec,
    /// The experiment directory.
    pub dir: PathBuf,
    /// Runs in the experiment.
    pub runs: usize,
    /// What this invocation finished, left pending, and saw fail.
    pub outcome: Outcome,
    /// Each measurement per condition over seeds, as in `summary.csv`, headline measurements first.
    pub summary: Vec<SummaryRow>,
    /// Each condition's verdicts with how many seeds got them.
    pub verdicts: VerdictCounts,
    /// The spec's predictions, judged (none in quick mode).
    pub predictions: Vec<crate::predict::Judgement>,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
    /// Files written: `report.html`, `summary.csv`, `runs.sqlite`.
    pub files: Vec<PathBuf>,
}

impl ExperimentResult {
    /// The summary rows of the spec's first headline measurement (of the first measurement
    /// recorded when the spec names none): the experiment's result in one line per condition.
    pub fn headline(&self) -> Vec<&SummaryRow> {
        let metric = self.spec.report.headline.first().or_else(|| self.summary.first().map(|r| &r.metric));
        self.summary.iter().filter(|r| Some(&r.metric) == metric).collect()
    }
}

/// Runs (or resumes) the experiment in `job.spec`.
pub fn experiment(job: &ExperimentJob, progress: OnProgress) -> Result<ExperimentResult, LabError> {
    let started = Instant::now();
    let spec = ExperimentSpec::parse(&job.spec)?.in_mode(job.quick);
    let dir = job.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/{}{}", spec.name, if job.quick { "-quick" } else { "" })));
    let points = spec.points(job.quick)?;
    let total: u64 = points.iter().map(point_steps).sum();
    let jobs = job.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(LabError::Invalid { what: "--jobs".into(), message: "must be at least 1".into() });
    }
    let what = format!(
        "experiment '{}': {} runs ({} conditions × {} seeds), {total} env steps, {jobs} at a time → {}",
        spec.name,
        points.len(),
        spec.conditions().len(),
        spec.seeds(job.quick).len(),
        dir.display()
    );
    progress(&Progress::Started { what, total, done: 0, unit: "steps" });
    let totals = ExperimentTotals::default();
    let opts = RunnerOptions { quick: job.quick, jobs, max_updates: job.max_updates };
    let outcome = run_experiment(&job.spec, &dir, &opts, &|e| totals.report(e, |id| id, progress))?;
    let store = Store::open(&store_path(&dir))?;
    let (summary, verdicts) = summarize(&spec, &store)?;
    let files = vec![dir.join("report.html"), dir.join("summary.csv"), store_path(&dir)];
    let predictions = crate::report::judge(&spec, &summary, job.quick);
    Ok(ExperimentResult { spec, dir, runs: points.len(), outcome, summary, verdicts, predictions, seconds: started.elapsed().as_secs_f64(), files })
}

/// An experiment directory's runs after its report was rewritten.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportResult {
    /// Runs finished.
    pub done: usize,
    /// Runs not finished yet.
    pub pending: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Files written: `report.html`, `summary.csv`.
    pub files: Vec<PathBuf>,
}

/// Rewrites `summary.csv` and `report.html` of the experiment in `dir` from its run store.
pub fn rewrite_report(dir: &Path) -> Result<ReportResult, LabError> {
    let path = store_path(dir);
    if !path.exists() {
        return Err(LabError::Refused(format!("{} is not an experiment directory (no runs.sqlite)", dir.display())));
    }
    let store = Store::open(&path)?;
    let Some(text) = store.spec_text()? else { return Err(LabError::Refused(format!("{} records no experiment spec", path.display()))) };
    // The store binds the spec text followed by the mode it ran in (see the runner).
    let quick = text.trim_end().ends_with("# mode: quick");
    let spec = ExperimentSpec::parse(&text)?.in_mode(quick);
    crate::report::write_all(&spec, &text, dir, &store, quick)?;
    let (pending, done, failed) = store.counts()?;
    Ok(ReportResult { done, pending, failed, files: vec![dir.join("report.html"), dir.join("summary.csv")] })
}

/// The toy model's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToyJob {
    /// Base-optimizer bits `x`.
    pub x: f64,
    /// Cost of a `y`-bit runtime optimizer.
    pub cost: Cost,
    /// Scale `c` of the cost function.
    pub scale: f64,
    /// Numbers of instances `N`.
    pub n: Vec<f64>,
    /// Write the plot here: an SVG of the bits, or (any other extension) an HTML page with
    /// both plots.
    pub out: Option<PathBuf>,
}

/// The toy model solved for each `N`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToyResult {
    /// One optimum per `N`, in the order asked for.
    pub solutions: Vec<ToySolution>,
    /// Files written: the plot, if asked for.
    pub files: Vec<PathBuf>,
}

/// Solves the toy model for every `N` in `job.n` and draws it if asked to.
pub fn toy_model(job: &ToyJob) -> Result<ToyResult, LabError> {
    let solutions = job.n.iter().map(|&n| solve(job.x, job.cost, job.scale, n)).collect::<Result<Vec<_>, _>>()?;
    let mut files = Vec::new();
    if let Some(out) = &job.out {
        let series = |name: &str, f: fn(&ToySolution) -> f64| Series::new(name, solutions.iter().map(|s| (s.n, Estimate { n: 0, ..Estimate::single(f(s)) })).collect());
        let title = format!("Toy model, x = {}, {} cost", job.x, job.cost.name());
        let bits = lines(&title, "instances N", "bits", &[series("optimal runtime bits y*", |s| s.y), series("per-instance optimization T(y*)", |s| s.per_instance)], &XAxis::Log);
        let share = lines("Runtime share y*/T(y*)", "instances N", "share", &[series("y*/T(y*)", |s| s.runtime_share)], &XAxis::Log);
        let page = if out.extension().and_then(|e| e.to_str()) == Some("svg") {
            bits
        } else {
            frame(&title, &format!("{bits}{share}"))
        };
        write_atomic(out, page.as_bytes())?;
        files.push(out.clone());
    }
    Ok(ToyResult { solutions, files })
}
