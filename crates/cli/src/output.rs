//! Writing result files: atomically (temp file, then rename, by `mesascope_learn`'s
//! `write_atomic`) so an interrupted command never leaves a half-written file, with the
//! format chosen by the file extension.

use std::path::Path;

use anyhow::{bail, Result};
use mesascope_learn::run::write_atomic;
use mesascope_tasks::{render, Cell, Level, State};

/// Writes a picture of `level` in `state` with `trajectory`, as SVG or PNG by `path`'s extension.
pub fn write_picture(path: &Path, level: &Level, state: &State, trajectory: &[Cell]) -> Result<()> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => render::svg(level, state, trajectory).into_bytes(),
        Some("png") => render::png(level, state, trajectory).map_err(anyhow::Error::msg)?,
        _ => bail!("--out {}: unknown image format; use a .svg or .png file name", path.display()),
    };
    Ok(write_atomic(path, &bytes)?)
}
