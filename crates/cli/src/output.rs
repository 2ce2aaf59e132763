//! Writing result files: atomically (temp file, then rename) so an interrupted command never
//! leaves a half-written file, with the format chosen by the file extension.

use std::path::Path;

use anyhow::{bail, Context, Result};
use mesascope_tasks::{render, Cell, Level, State};

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", Path::new(&tmp).display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Writes a picture of `level` in `state` with `trajectory`, as SVG or PNG by `path`'s extension.
pub fn write_picture(path: &Path, level: &Level, state: &State, trajectory: &[Cell]) -> Result<()> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => render::svg(level, state, trajectory).into_bytes(),
        Some("png") => render::png(level, state, trajectory).map_err(anyhow::Error::msg)?,
        _ => bail!("--out {}: unknown image format; use a .svg or .png file name", path.display()),
    };
    write_atomic(path, &bytes)
}
