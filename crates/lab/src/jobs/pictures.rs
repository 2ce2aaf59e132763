//! Pictures of levels with a trajectory drawn on them, as SVG or PNG by the file name.

use std::path::Path;

use mesascope_audit::agents::play_policy;
use mesascope_learn::run::write_atomic;
use mesascope_tasks::{render, Cell, Level, Policy, State};

use crate::LabError;

/// The tiles the agent visits in one episode of `policy` on `level`.
pub fn trajectory(level: &Level, policy: &mut dyn Policy) -> Vec<Cell> {
    play_policy(policy, std::slice::from_ref(level)).remove(0).trajectory
}

/// Writes a picture of `level` in `state` with `trajectory` drawn on it, as SVG or PNG by
/// `path`'s extension, atomically (temp file, then rename), so an interrupted command never
/// leaves a half-written file.
pub fn write_picture(path: &Path, level: &Level, state: &State, trajectory: &[Cell]) -> Result<(), LabError> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => render::svg(level, state, trajectory).into_bytes(),
        Some("png") => render::png(level, state, trajectory).map_err(|e| LabError::Io { path: path.to_path_buf(), message: e.to_string() })?,
        _ => return Err(LabError::Invalid { what: "--out".into(), message: format!("{}: unknown image format; use a .svg or .png file name", path.display()) }),
    };
    Ok(write_atomic(path, &bytes)?)
}
