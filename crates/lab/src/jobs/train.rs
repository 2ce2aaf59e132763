//! Training: start a run from a config (the built-in default when none is given), or resume a
//! killed run from its last checkpoint. Either way the run writes `config.toml`, `metrics.csv`
//! (one row per update), atomic checkpoints and, when it finishes, `model.safetensors`; with
//! `tensorboard`, the same numbers as TensorBoard event files under CleanRL's scalar names.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use mesascope_learn::run::Run;
use mesascope_learn::{TrainConfig, UpdateMetrics};
use mesascope_report::tensorboard::EventWriter;
use mesascope_tasks::FamilySpec;

use super::progress::{OnProgress, Progress};
use crate::LabError;

/// How to start a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainJob {
    /// A TOML config file; the fields it leaves out keep their defaults. `None`: the built-in
    /// default config.
    pub config: Option<PathBuf>,
    /// `field=value` overrides applied on top, e.g. `ppo.learning_rate=3e-4`.
    pub overrides: Vec<String>,
    /// The run directory to create; it must not hold a run already.
    pub out: PathBuf,
    /// Stop after this many updates, with a checkpoint, leaving the run resumable.
    pub stop_after: Option<usize>,
    /// Also write each update's numbers as a TensorBoard event file in the run directory.
    #[serde(default)]
    pub tensorboard: bool,
}

/// How to continue a killed or stopped run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResumeJob {
    /// The run directory.
    pub dir: PathBuf,
    /// Stop after this many more updates, with a checkpoint.
    pub stop_after: Option<usize>,
    /// Also write each update's numbers as a TensorBoard event file (a new file beside the
    /// ones written before the resume).
    #[serde(default)]
    pub tensorboard: bool,
}

/// What a training job did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainResult {
    /// The run directory.
    pub dir: PathBuf,
    /// Whether training reached its last update (else it stopped early and can be resumed).
    pub finished: bool,
    /// Environment steps trained in all (including before a resume).
    pub steps: u64,
    /// Success on the held-out evaluation levels at the last evaluation, if there was one.
    pub held_out_success: Option<f64>,
    /// Mean return on the held-out evaluation levels at the last evaluation.
    pub held_out_return: Option<f64>,
    /// Wall-clock seconds of this job.
    pub seconds: f64,
    /// Files written: the config, the metrics, the newest checkpoint, and the final weights
    /// when training finished.
    pub files: Vec<PathBuf>,
}

/// Starts a training run as `job` says and trains it to the end (or `stop_after` updates).
pub fn train(job: &TrainJob, progress: OnProgress) -> Result<TrainResult, LabError> {
    let cfg = match &job.config {
        Some(path) => TrainConfig::load(path, &job.overrides)?,
        None => TrainConfig::from_toml_with("", &job.overrides)?,
    };
    drive(Run::create(&job.out, cfg)?, job.stop_after, job.tensorboard, progress)
}

/// Continues the run in `job.dir` from its newest checkpoint.
pub fn resume(job: &ResumeJob, progress: OnProgress) -> Result<TrainResult, LabError> {
    drive(Run::resume(&job.dir)?, job.stop_after, job.tensorboard, progress)
}

/// One line saying what `cfg` trains and where.
fn describe(cfg: &TrainConfig, steps: u64, updates: usize, dir: &Path) -> String {
    let family = &cfg.env.dist.family;
    let (w, h) = family.grid_size();
    let what = match family {
        FamilySpec::Maze(p) => format!("goal {}", p.goal),
        FamilySpec::KeysChests(p) => format!("{} keys, {} chests", p.keys, p.chests),
        FamilySpec::Corridor(p) => format!("coin elsewhere on {}% of levels", p.coin_random_fraction * 100.0),
        FamilySpec::MonsterShield(p) => format!("{} apples, {} shields, {} monsters", p.apples, p.shields, p.monsters),
    };
    format!(
        "training {:?} on {} {w}x{h} ({what}, N={}) for {steps} steps in {updates} updates → {}",
        cfg.model.kind,
        family.name(),
        cfg.env.dist.diversity,
        dir.display()
    )
}

/// An update's numbers under the scalar names CleanRL's scripts log (so dashboards made for
/// them work), plus this project's own.
fn tensorboard_scalars(m: &UpdateMetrics) -> [(&'static str, f64); 11] {
    [
        ("charts/episodic_return", m.episode_return),
        ("charts/success_rate", m.success_rate),
        ("charts/learning_rate", m.learning_rate),
        ("charts/SPS", m.steps_per_second),
        ("losses/value_loss", m.value_loss),
        ("losses/policy_loss", m.policy_loss),
        ("losses/entropy", m.entropy),
        ("losses/approx_kl", m.approx_kl),
        ("losses/clipfrac", m.clip_fraction),
        ("eval/held_out_success", m.eval_success),
        ("eval/held_out_return", m.eval_return),
    ]
}

/// Trains `run` until it finishes or has made `stop_after` updates.
fn drive(mut run: Run, stop_after: Option<usize>, tensorboard: bool, progress: OnProgress) -> Result<TrainResult, LabError> {
    let tb_error = |e: mesascope_report::WriteError| LabError::Io { path: e.path, message: e.source.to_string() };
    let mut events = if tensorboard { Some(EventWriter::create(&run.dir).map_err(tb_error)?) } else { None };
    let t = &run.trainer;
    let updates = t.num_updates();
    if t.finished() {
        return Err(LabError::Refused(format!("the run in {} has already finished ({updates} updates)", run.dir.display())));
    }
    let total = updates as u64 * (t.cfg.ppo.num_envs * t.cfg.ppo.num_steps) as u64;
    progress(&Progress::Started { what: describe(&t.cfg, total, updates, &run.dir), total, done: t.global_step, unit: "steps" });
    let started = Instant::now();
    let (mut held_out_success, mut held_out_return) = (None, None);
    let mut made = 0;
    while !run.trainer.finished() {
        if stop_after.is_some_and(|n| made >= n) {
            run.checkpoint()?;
            break;
        }
        let m = run.step()?;
        made += 1;
        if let Some(events) = &mut events {
            events.scalars(m.step, &tensorboard_scalars(&m)).map_err(tb_error)?;
        }
        if !m.eval_success.is_nan() {
            (held_out_success, held_out_return) = (Some(m.eval_success), Some(m.eval_return));
        }
        progress(&Progress::Update {
            step: m.step,
            episode_return: m.episode_return,
            success_rate: m.success_rate,
            steps_per_second: m.steps_per_second,
            held_out_success: Some(m.eval_success).filter(|s| !s.is_nan()),
        });
    }
    let finished = run.trainer.finished();
    let mut files = vec![run.dir.join("config.toml"), run.dir.join("metrics.csv")];
    files.extend(events.map(|e| e.path().to_path_buf()));
    files.extend(mesascope_learn::run::latest_checkpoint(&run.dir)?);
    if finished {
        files.push(run.dir.join("model.safetensors"));
    }
    Ok(TrainResult { dir: run.dir.clone(), finished, steps: run.trainer.global_step, held_out_success, held_out_return, seconds: started.elapsed().as_secs_f64(), files })
}
