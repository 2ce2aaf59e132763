//! Run directories: the resolved config, `metrics.csv` (one row per update), atomic
//! checkpoints and resumption of a killed run.
//!
//! Layout of a run directory:
//! ```text
//! config.toml                      the full resolved configuration
//! metrics.csv                      one row per update
//! checkpoints/update-000025/       model.safetensors (weights), config.toml,
//!                                  trainer.bpk (weights with parameter ids, for resuming),
//!                                  optimizer.bpk, trainer.json (counters, RNG, env state)
//! checkpoints/latest               name of the newest complete checkpoint
//! model.safetensors                final weights (written when the run finishes)
//! ```
//! A checkpoint is written into a temporary directory and renamed into place, and `latest` is
//! replaced atomically afterwards, so a kill at any moment leaves the previous checkpoint
//! usable. On resume, `metrics.csv` is cut back to the rows the checkpoint had seen, so the
//! finished run's metrics have no duplicates or gaps.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use mesascope_tasks::{Shift, VecEnvSnapshot};

use crate::config::TrainConfig;
use crate::error::LearnError;
use crate::eval::{evaluate, summarize, EvalOptions};
use crate::model::ActorCritic;
use crate::ppo::{Trainer, UpdateMetrics};

/// Counters and streams a checkpoint needs beyond the weights.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    update: usize,
    global_step: u64,
    metrics_bytes: u64,
    rng: rand_pcg::Pcg64Mcg,
    env: VecEnvSnapshot,
    hidden: Vec<f32>,
}

/// Writes `bytes` to `path` through a temporary file beside it (`NAME.tmp`) and a rename, so an
/// interrupted write never leaves a half-written file; creates the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LearnError> {
    mesascope_report::write_atomic(path, bytes).map_err(|e| LearnError::Io { path: e.path, error: e.source })
}

const METRICS_HEADER: &str = "update,step,episode_return,success_rate,episodes,policy_loss,value_loss,entropy,approx_kl,clip_fraction,learning_rate,steps_per_second,eval_success,eval_return\n";

fn metrics_row(m: &UpdateMetrics) -> String {
    format!(
        "{},{},{:.5},{:.4},{},{:.6},{:.6},{:.5},{:.6},{:.4},{:.3e},{:.0},{},{}\n",
        m.update,
        m.step,
        m.episode_return,
        m.success_rate,
        m.episodes,
        m.policy_loss,
        m.value_loss,
        m.entropy,
        m.approx_kl,
        m.clip_fraction,
        m.learning_rate,
        m.steps_per_second,
        if m.eval_success.is_nan() { String::new() } else { format!("{:.4}", m.eval_success) },
        if m.eval_return.is_nan() { String::new() } else { format!("{:.5}", m.eval_return) },
    )
}

/// Success rate and mean return of `model` on the run's held-out evaluation levels.
pub fn evaluate_held_out(trainer: &Trainer) -> Result<(f64, f64), LearnError> {
    let cfg = &trainer.cfg;
    let levels = cfg.env.dist.held_out_levels(Shift::None, cfg.eval.levels, cfg.eval.seed)?;
    let device = crate::device(&cfg.device)?;
    let opts = EvalOptions { ticks: cfg.model.ticks, greedy: false, seed: cfg.eval.seed, record_trajectories: false };
    let records = evaluate(&trainer.model.valid(), &cfg.model, cfg.env.obs, &levels, &device, &opts);
    Ok(summarize(&records))
}

/// A training run in a directory.
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// The learner.
    pub trainer: Trainer,
}

/// The file of a run directory that lists a finite training pool's level ids, in pool order.
pub const TRAINING_LEVELS_FILE: &str = "training-levels.csv";
const TRAINING_LEVELS_HEADER: &str = "index,level_id";

impl Run {
    /// Starts a new run in `dir`, which must not already hold one.
    pub fn create(dir: &Path, cfg: TrainConfig) -> Result<Run, LearnError> {
        if dir.join("config.toml").exists() {
            return Err(LearnError::checkpoint(dir, "already holds a run; resume it with --resume or choose another --out"));
        }
        // The trainer first: a device this build lacks is refused before the directory exists.
        let trainer = Trainer::new(cfg)?;
        std::fs::create_dir_all(dir.join("checkpoints")).map_err(LearnError::io(dir))?;
        write_atomic(&dir.join("config.toml"), trainer.cfg.to_toml().as_bytes())?;
        write_atomic(&dir.join("metrics.csv"), METRICS_HEADER.as_bytes())?;
        // A finite training pool is named level by level, so a later shift, evaluation or
        // replay can say whether a level was trained on.
        if let Some(pool) = trainer.cfg.env.dist.training_levels()? {
            let mut csv = String::from(TRAINING_LEVELS_HEADER);
            csv.push('\n');
            for (i, level) in pool.iter().enumerate() {
                csv.push_str(&format!("{i},{}\n", level.id()));
            }
            write_atomic(&dir.join(TRAINING_LEVELS_FILE), csv.as_bytes())?;
        }
        Ok(Run { dir: dir.to_path_buf(), trainer })
    }

    /// Continues the run in `dir` from its newest checkpoint (or from the start if it has none).
    pub fn resume(dir: &Path) -> Result<Run, LearnError> {
        let cfg_path = dir.join("config.toml");
        if !cfg_path.exists() {
            return Err(LearnError::checkpoint(dir, "is not a run directory (no config.toml)"));
        }
        let text = std::fs::read_to_string(&cfg_path).map_err(LearnError::io(&cfg_path))?;
        let cfg = TrainConfig::from_toml_with(&text, &[])?;
        let mut trainer = Trainer::new(cfg)?;
        let metrics = dir.join("metrics.csv");
        let Some(ckpt) = latest_checkpoint(dir)? else {
            write_atomic(&metrics, METRICS_HEADER.as_bytes())?;
            return Ok(Run { dir: dir.to_path_buf(), trainer });
        };
        let mut store = BurnpackStore::from_file(ckpt.join("trainer.bpk"));
        trainer.model.load_from(&mut store).map_err(|e| LearnError::checkpoint(ckpt.join("trainer.bpk"), e.to_string()))?;
        let opt_path = ckpt.join("optimizer.bpk");
        let bytes = std::fs::read(&opt_path).map_err(LearnError::io(&opt_path))?;
        let optim = std::mem::replace(&mut trainer.optim, burn::optim::AdamConfig::new().init());
        trainer.optim = optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| LearnError::checkpoint(&opt_path, format!("{e:?}")))?;
        let state_path = ckpt.join("trainer.json");
        let state: TrainerState = serde_json::from_slice(&std::fs::read(&state_path).map_err(LearnError::io(&state_path))?)
            .map_err(|e| LearnError::checkpoint(&state_path, e.to_string()))?;
        if state.hidden.len() != trainer.hidden.len() {
            return Err(LearnError::checkpoint(&state_path, "recurrent state does not fit the model"));
        }
        trainer.env.restore(state.env)?;
        trainer.rng = state.rng;
        trainer.hidden = state.hidden;
        trainer.update = state.update;
        trainer.global_step = state.global_step;
        let file = std::fs::OpenOptions::new().write(true).open(&metrics).map_err(LearnError::io(&metrics))?;
        file.set_len(state.metrics_bytes).map_err(LearnError::io(&metrics))?;
        Ok(Run { dir: dir.to_path_buf(), trainer })
    }

    /// One update, logged to `metrics.csv`, with evaluation and checkpointing when due.
    pub fn step(&mut self) -> Result<UpdateMetrics, LearnError> {
        let mut m = self.trainer.step_update()?;
        let cfg = &self.trainer.cfg;
        let last = self.trainer.finished();
        let due = |every: usize| last || (every > 0 && m.update % every == 0);
        if due(cfg.eval.every_updates) {
            (m.eval_success, m.eval_return) = evaluate_held_out(&self.trainer)?;
        }
        let metrics = self.dir.join("metrics.csv");
        let mut f = std::fs::OpenOptions::new().append(true).open(&metrics).map_err(LearnError::io(&metrics))?;
        f.write_all(metrics_row(&m).as_bytes()).map_err(LearnError::io(&metrics))?;
        f.sync_data().map_err(LearnError::io(&metrics))?;
        if due(self.trainer.cfg.checkpoint.every_updates) {
            self.checkpoint()?;
        }
        if last {
            save_safetensors(&self.trainer.model, &self.dir.join("model.safetensors"))?;
        }
        Ok(m)
    }

    /// Writes a checkpoint of the current state.
    pub fn checkpoint(&self) -> Result<(), LearnError> {
        let t = &self.trainer;
        let root = self.dir.join("checkpoints");
        let name = format!("update-{:06}", t.update);
        let tmp = root.join(format!(".{name}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(LearnError::io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(LearnError::io(&tmp))?;
        save_safetensors(&t.model, &tmp.join("model.safetensors"))?;
        let mut store = BurnpackStore::from_file(tmp.join("trainer.bpk")).overwrite(true);
        t.model.save_into(&mut store).map_err(|e| LearnError::checkpoint(tmp.join("trainer.bpk"), e.to_string()))?;
        let opt = t.optim.into_bytes().map_err(|e| LearnError::checkpoint(&tmp, format!("optimizer: {e:?}")))?;
        std::fs::write(tmp.join("optimizer.bpk"), &opt[..]).map_err(LearnError::io(tmp.join("optimizer.bpk")))?;
        std::fs::write(tmp.join("config.toml"), t.cfg.to_toml()).map_err(LearnError::io(tmp.join("config.toml")))?;
        let metrics_bytes = std::fs::metadata(self.dir.join("metrics.csv")).map_err(LearnError::io(self.dir.join("metrics.csv")))?.len();
        let state = TrainerState { update: t.update, global_step: t.global_step, metrics_bytes, rng: t.rng.clone(), env: t.env.snapshot(), hidden: t.hidden.clone() };
        let json = serde_json::to_vec(&state).map_err(|e| LearnError::checkpoint(&tmp, e.to_string()))?;
        std::fs::write(tmp.join("trainer.json"), json).map_err(LearnError::io(tmp.join("trainer.json")))?;
        let dest = root.join(&name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(LearnError::io(&dest))?;
        }
        std::fs::rename(&tmp, &dest).map_err(LearnError::io(&dest))?;
        write_atomic(&root.join("latest"), name.as_bytes())?;
        // Prune old checkpoints beyond `keep`.
        let mut all: Vec<String> = std::fs::read_dir(&root)
            .map_err(LearnError::io(&root))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("update-"))
            .collect();
        all.sort();
        for old in all.iter().take(all.len().saturating_sub(t.cfg.checkpoint.keep)) {
            let _ = std::fs::remove_dir_all(root.join(old));
        }
        Ok(())
    }
}

/// The newest complete checkpoint of the run in `dir`, if any.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<PathBuf>, LearnError> {
    let latest = dir.join("checkpoints").join("latest");
    if !latest.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&latest).map_err(LearnError::io(&latest))?;
    let path = dir.join("checkpoints").join(name.trim());
    if !path.is_dir() {
        return Err(LearnError::checkpoint(&latest, format!("names {} which does not exist", path.display())));
    }
    Ok(Some(path))
}

/// Writes the model's weights as safetensors, atomically; the same weights always give the
/// same bytes (see [`canonical_safetensors`]).
pub fn save_safetensors(model: &ActorCritic, path: &Path) -> Result<(), LearnError> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| LearnError::checkpoint(path, e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| LearnError::checkpoint(path, e.to_string()))?;
    let bytes = canonical_safetensors(&bytes).map_err(|e| LearnError::checkpoint(path, e))?;
    write_atomic(path, &bytes)
}

/// The header of a safetensors file: optional string metadata and one entry per tensor.
#[derive(Serialize, Deserialize)]
struct SafetensorsHeader {
    #[serde(rename = "__metadata__", default, skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    tensors: BTreeMap<String, serde_json::Value>,
}

/// `bytes` (a safetensors file) with its JSON header rewritten with sorted keys. burn hands the
/// safetensors writer its metadata (format, producer, version) in a `HashMap`, whose order
/// changes from one process to the next, so without this the same weights would be different
/// files and a rerun could not be checked byte for byte. The tensor data is left as it is: its
/// offsets are relative to the end of the header.
fn canonical_safetensors(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let truncated = || "truncated safetensors header".to_string();
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(truncated)?.try_into().map_err(|_| truncated())?) as usize;
    let header = bytes.get(8..8 + len).ok_or_else(truncated)?;
    let header: SafetensorsHeader = serde_json::from_slice(header).map_err(|e| format!("safetensors header: {e}"))?;
    let mut json = serde_json::to_vec(&header).map_err(|e| format!("safetensors header: {e}"))?;
    // The format pads the header with spaces so the tensor data starts 8-byte aligned.
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

/// Loads a trained model for evaluation from a run directory, a checkpoint directory, or a
/// `.safetensors` file with a `config.toml` beside it. Weights whose names or shapes do not
/// fit the configured architecture, and truncated files, are rejected with the reason.
///
/// The model comes onto the CPU whatever device it trained on, and the returned config says
/// `device = "cpu"`: a run trained on a GPU can then be evaluated, audited and deployed by a
/// build without that GPU's feature, and its audit gives the same numbers on every machine.
pub fn load_model(path: &Path) -> Result<(TrainConfig, ActorCritic), LearnError> {
    let (weights, config) = if path.is_file() {
        (path.to_path_buf(), path.with_file_name("config.toml"))
    } else if path.join("model.safetensors").exists() {
        (path.join("model.safetensors"), path.join("config.toml"))
    } else if let Some(ckpt) = latest_checkpoint(path)? {
        (ckpt.join("model.safetensors"), ckpt.join("config.toml"))
    } else {
        return Err(LearnError::checkpoint(path, "holds no model.safetensors and no checkpoint"));
    };
    let text = std::fs::read_to_string(&config).map_err(LearnError::io(&config))?;
    let cfg = TrainConfig::from_toml_with(&text, &["device=\"cpu\"".to_string()])?;
    let device = crate::device(&cfg.device)?;
    let bytes = std::fs::read(&weights).map_err(LearnError::io(&weights))?;
    let shape = cfg.env.obs.shape(cfg.env.dist.family.grid_size().0, cfg.env.dist.family.grid_size().1);
    let mut model = crate::init_model(&cfg.model, shape, &device, cfg.seed);
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).validate(true);
    let result = model.load_from(&mut store).map_err(|e| LearnError::checkpoint(&weights, e.to_string()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(LearnError::checkpoint(
            &weights,
            format!("weights do not fit the configured model: {} errors, missing {:?}, first error: {:?}", result.errors.len(), result.missing, result.errors.first()),
        ));
    }
    Ok((cfg, model))
}
