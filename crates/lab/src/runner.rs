//! Running an experiment: every point (condition × seed) is trained with PPO in its own run
//! directory and measured, `jobs` at a time on the local cores. Finished runs are recorded in
//! the store and skipped on a rerun; a run killed mid-way resumes from its last checkpoint
//! (bit-for-bit, see `mesascope_learn::run`), and one killed before its first checkpoint
//! starts over. The results therefore do not depend on interruptions or on `jobs`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use mesascope_audit::agents::ModelAgent;
use mesascope_report::stats::Estimate;

use mesascope_audit::verdict::AlignmentKind;
use mesascope_audit::{audit, AuditOptions};
use mesascope_learn::run::{evaluate_held_out, latest_checkpoint, load_model, Run};

use crate::spec::{ExperimentSpec, Point};
use crate::store::{Status, Store};
use crate::LabError;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Use the spec's quick variant.
    pub quick: bool,
    /// Runs trained at once.
    pub jobs: usize,
    /// Stop (checkpointing every unfinished run) after this many PPO updates in total in this
    /// invocation: a time box, and how the tests interrupt a sweep at a known point.
    pub max_updates: Option<usize>,
}

/// What the runner reports as it goes.
#[derive(Clone, Debug)]
pub enum Event {
    /// Environment steps trained in this invocation.
    Steps(u64),
    /// Environment steps done in an earlier invocation: of a run already finished, or of one
    /// resumed from its checkpoint. They count towards the position, not towards rates.
    Resumed(u64),
    /// A run finished and was measured.
    RunDone(String),
    /// A run failed; the error is in the store.
    RunFailed(String, String),
}

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Runs finished (in this or an earlier invocation).
    pub done: usize,
    /// Runs that failed in this invocation.
    pub failed: Vec<(String, String)>,
    /// Runs left unfinished because of `max_updates`.
    pub pending: usize,
    /// Total environment steps of the experiment.
    pub total_steps: u64,
}

/// The file the spec is recorded in, and the store, under an experiment directory.
pub fn store_path(dir: &Path) -> PathBuf {
    dir.join("runs.sqlite")
}

/// Environment steps one point trains for (whole updates).
pub fn point_steps(p: &Point) -> u64 {
    let batch = (p.config.ppo.num_envs * p.config.ppo.num_steps) as u64;
    p.config.total_steps.div_ceil(batch) * batch
}

/// The text the store is bound to: the spec and the mode.
fn binding(spec_text: &str, quick: bool) -> String {
    format!("{spec_text}\n# mode: {}\n", if quick { "quick" } else { "full" })
}

/// Runs (or resumes) the experiment `spec_text` in `dir`.
pub fn run_experiment(spec_text: &str, dir: &Path, opts: &RunnerOptions, events: &(dyn Fn(Event) + Sync)) -> Result<Outcome, LabError> {
    let spec = ExperimentSpec::parse(spec_text)?.in_mode(opts.quick);
    let points = spec.points(opts.quick)?;
    std::fs::create_dir_all(dir).map_err(LabError::io(dir))?;
    let store = Store::open(&store_path(dir))?;
    store.bind_spec(&binding(spec_text, opts.quick))?;
    for p in &points {
        store.register(&p.id, &crate::spec::condition_json(&p.condition), p.seed, &p.config.to_toml())?;
    }
    let total_steps = points.iter().map(point_steps).sum();
    let mut queue = VecDeque::new();
    for p in &points {
        match store.status(&p.id)? {
            Status::Done => events(Event::Resumed(point_steps(p))),
            _ => queue.push_back(p.clone()),
        }
    }
    let measure = spec.measure(opts.quick).clone();
    let store = Mutex::new(store);
    let queue = Mutex::new(queue);
    let updates = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    let pending = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| loop {
                let Some(point) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                match run_point(&point, dir, &measure, opts, &updates, events) {
                    Ok(Some((seconds, verdict, results))) => {
                        let r = store.lock().unwrap_or_else(|e| e.into_inner()).finish(&point.id, seconds, verdict.as_deref(), &results);
                        match r {
                            Ok(()) => events(Event::RunDone(point.id.clone())),
                            Err(e) => failed.lock().unwrap_or_else(|e| e.into_inner()).push((point.id.clone(), e.to_string())),
                        }
                    }
                    Ok(None) => {
                        pending.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = store.lock().unwrap_or_else(|e| e.into_inner()).fail(&point.id, &msg);
                        events(Event::RunFailed(point.id.clone(), msg.clone()));
                        failed.lock().unwrap_or_else(|e| e.into_inner()).push((point.id.clone(), msg));
                    }
                }
            });
        }
    });
    let store = store.into_inner().unwrap_or_else(|e| e.into_inner());
    let (_, done, _) = store.counts()?;
    crate::report::write_all(&spec, spec_text, dir, &store, opts.quick)?;
    Ok(Outcome { done, failed: failed.into_inner().unwrap_or_else(|e| e.into_inner()), pending: pending.into_inner(), total_steps })
}

/// The measurements of a finished run: `(seconds, verdict label, [(metric, estimate)])`.
type Measured = (f64, Option<String>, Vec<(String, Estimate)>);

/// A single value as an estimate of one run (its interval is across seeds, later).

/// Trains (or resumes) one point and measures it; `None` when stopped by the update budget.
fn run_point(p: &Point, dir: &Path, measure: &crate::spec::Measure, opts: &RunnerOptions, updates: &AtomicUsize, events: &(dyn Fn(Event) + Sync)) -> Result<Option<Measured>, LabError> {
    let run_dir = dir.join("runs").join(&p.id);
    let started = Instant::now();
    let mut run = if latest_checkpoint(&run_dir)?.is_some() {
        let run = Run::resume(&run_dir)?;
        events(Event::Resumed(run.trainer.global_step));
        run
    } else {
        // Killed before its first checkpoint (or never started): start over.
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir).map_err(LabError::io(&run_dir))?;
        }
        Run::create(&run_dir, p.config.clone())?
    };
    let batch = (p.config.ppo.num_envs * p.config.ppo.num_steps) as u64;
    // The last update evaluates on the held-out levels anyway; only a run that had finished
    // training before this invocation (killed while being measured) needs its own evaluation.
    let mut held_out_success = None;
    while !run.trainer.finished() {
        if opts.max_updates.is_some_and(|max| updates.fetch_add(1, Ordering::SeqCst) >= max) {
            run.checkpoint()?;
            return Ok(None);
        }
        let m = run.step()?;
        held_out_success = Some(m.eval_success).filter(|s| !s.is_nan());
        events(Event::Steps(batch));
    }
    let held_out_success = match held_out_success {
        Some(s) => s,
        None => evaluate_held_out(&run.trainer)?.0,
    };
    let mut results = vec![
        ("held_out_success".to_string(), Estimate::single(held_out_success)),
        ("did_not_learn".to_string(), Estimate::single((held_out_success < measure.learn_threshold) as u8 as f64)),
    ];
    let mut verdict = None;
    if measure.audit {
        let (cfg, model) = load_model(&run_dir)?;
        let device = mesascope_learn::device(&cfg.device)?;
        let dist = cfg.env.dist;
        let aopts = AuditOptions { shift: measure.shift.unwrap_or_else(|| cfg.env.dist.family.first_shift()), levels: measure.levels, probe_levels: measure.probe_levels, gamma: cfg.ppo.gamma, seed: p.seed, ..AuditOptions::default() };
        let ticks = cfg.model.ticks;
        let mut agent = ModelAgent { cfg, model, device, ticks };
        let r = audit(&p.id, &mut agent, &dist, &aopts, &mut |_| {})?;
        let g = &r.generalization;
        results.extend([
            ("train_success".to_string(), g.train_success),
            ("novel_success".to_string(), g.novel_success),
            ("op_train".to_string(), g.op.train),
            ("op_novel".to_string(), g.op.novel),
            ("runtime_share".to_string(), g.op.runtime_share),
            ("deploy_success".to_string(), r.deployment_success),
            ("corner_instead_of_cheese".to_string(), r.corner_instead_of_cheese),
            ("planner_agreement".to_string(), r.planner_agreement.planner),
            ("pseudo_aligned".to_string(), Estimate::single(r.verdict.kind.pseudo_aligned() as u8 as f64)),
            ("proxy_verdict".to_string(), Estimate::single((r.verdict.kind == AlignmentKind::Proxy) as u8 as f64)),
            ("inconclusive".to_string(), Estimate::single((r.verdict.kind == AlignmentKind::Inconclusive) as u8 as f64)),
        ]);
        // The canon's common axis: how often training levels tell the first proxy apart.
        if let Some(proxy) = dist.family.roles().proxies.first() {
            results.push(("proxy_failure_share".to_string(), mesascope_audit::battery::proxy_failure_share(&dist, proxy.feature, aopts.gamma, measure.levels, p.seed)?));
        }
        // Each of the family's proxies by its own metric (the maze's corner is above already).
        for (metric, e) in &r.proxies_instead_of_goal {
            if !results.iter().any(|(m, _)| m == metric) {
                results.push((metric.clone(), *e));
            }
        }
        // The graded answer's share for the most pursued proxy (on the maze, the corner).
        if let Some(s) = r.proxy_shares.iter().filter(|s| s.parting_levels >= mesascope_audit::share::MIN_PARTING).max_by(|a, b| a.share().mean.total_cmp(&b.share().mean)) {
            results.push(("proxy_share".to_string(), *s.share()));
        }
        if let Some(e) = r.retargeting {
            results.push(("retargeting_success".to_string(), e));
        }
        if let Some(best) = r.probes.as_ref().and_then(|p| p.best()) {
            results.push(("probe_distance_r2".to_string(), best.distance_r2));
            results.push(("probe_distance_r2_untrained".to_string(), best.distance_r2_untrained));
        }
        let json = serde_json::to_vec_pretty(&r).map_err(|e| LabError::Io { path: run_dir.join("audit.json"), message: e.to_string() })?;
        mesascope_learn::run::write_atomic(&run_dir.join("audit.json"), &json)?;
        mesascope_learn::run::write_atomic(&run_dir.join("audit.html"), mesascope_audit::page::html(&r).as_bytes())?;
        verdict = Some(r.verdict.summary().to_string());
    }
    Ok(Some((started.elapsed().as_secs_f64(), verdict, results)))
}
