//! What several jobs share: loading a trained agent, choosing where its files go, writing JSON.

use std::path::{Path, PathBuf};

use mesascope_audit::agents::ModelAgent;
use mesascope_learn::run::load_model;
use mesascope_learn::TrainConfig;
use mesascope_tasks::Level;

use crate::LabError;

/// The trained agent at `path` (a run directory, a checkpoint directory, or a .safetensors
/// file with config.toml beside it), on the CPU (see `load_model`), with its own ticks.
pub(crate) fn model_agent(path: &Path) -> Result<ModelAgent, LabError> {
    let (cfg, model) = load_model(path)?;
    let device = mesascope_learn::device(&cfg.device)?;
    let ticks = cfg.model.ticks;
    Ok(ModelAgent { cfg, model, device, ticks })
}

/// Refuses a level of another size than the agent's training levels, the only size its
/// observations take (`--level` is where a user can hand it one).
pub(crate) fn check_level_size(cfg: &TrainConfig, level: &Level) -> Result<(), LabError> {
    let (width, height) = cfg.env.dist.family.grid_size();
    if (level.width, level.height) != (width, height) {
        return Err(LabError::Invalid {
            what: "--level".into(),
            message: format!("the level is {}x{} but the agent was trained on {width}x{height} levels, the only size its observations take", level.width, level.height),
        });
    }
    Ok(())
}

/// Where results about the agent at `path` go unless the caller says otherwise: the run
/// directory itself, or the directory holding the weights file.
pub(crate) fn default_out(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Writes `value` to `path` as pretty JSON, atomically (the reporting layer's writer), and
/// returns the path.
pub(crate) fn write_json<T: serde::Serialize>(path: PathBuf, value: &T) -> Result<PathBuf, LabError> {
    mesascope_report::write_json(&path, value).map_err(|e| LabError::Io { path: e.path, message: e.source.to_string() })?;
    Ok(path)
}
