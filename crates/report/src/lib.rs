//! `mesascope-report` is the one reporting layer under audit, guard and lab, so every number and
//! page of the lab is made the same way: [`stats`] gives every estimate its 95% interval and
//! sample size (bootstrap over the right unit, Student-t over seeds, Wilson for rates), [`plot`]
//! draws the chart kinds the pages use (bars and lines with error bars, each seed's own point
//! beside the mean), [`page`] holds the HTML frame and formatting, [`write_atomic`] /
//! [`write_json`] write result files so an interrupted command never leaves half a file, and
//! [`tensorboard`] writes training scalars as TensorBoard event files.
//! It depends on no other mesascope crate.

#![warn(missing_docs)]

pub mod page;
pub mod plot;
pub mod stats;
pub mod tensorboard;

use std::path::{Path, PathBuf};

pub use stats::Estimate;

/// A result file could not be written.
#[derive(Debug)]
pub struct WriteError {
    /// The file (or its temporary sibling, or its directory).
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, creating the parent
/// directory, so readers see the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let err = |p: &Path| {
        let path = p.to_path_buf();
        move |source: std::io::Error| WriteError { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err(dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(err(path))
}

/// Writes `value` as pretty-printed JSON (a trailing newline, fields in declaration order, maps
/// in key order when they are `BTreeMap`s), atomically: the same value gives the same bytes.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), WriteError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| WriteError { path: path.to_path_buf(), source: e.into() })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_create_the_directory_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("mesascope-report-{}", std::process::id()));
        let path = dir.join("sub").join("x.json");
        write_json(&path, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1\n}\n");
        assert!(!dir.join("sub").join("x.json.tmp").exists());
        let blocked = path.join("below-a-file");
        let e = write_atomic(&blocked, b"x").unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
