//! A long job's progress for a Python callback: lab's jobs report from worker threads without
//! the GIL; each report takes the GIL to call the callback with the report as JSON text.

use std::sync::Mutex;

use pyo3::prelude::*;

use crate::err;

/// Calls the Python callable `callback` (if any) with each report, keeping the first
/// exception it raises for the caller.
pub(crate) struct Progress {
    callback: Option<Py<PyAny>>,
    error: Mutex<Option<PyErr>>,
}

impl Progress {
    pub(crate) fn new(callback: Option<Py<PyAny>>) -> Progress {
        Progress { callback, error: Mutex::new(None) }
    }

    /// Reports `p` to the callback.
    pub(crate) fn report(&self, p: &mesascope_lab::Progress) {
        if let Some(callback) = &self.callback {
            let text = serde_json::to_string(p).unwrap_or_default();
            if let Err(e) = Python::attach(|py| callback.call1(py, (text,))) {
                self.error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
    }

    /// The job's result as JSON text, or the callback's exception.
    pub(crate) fn finish<T: serde::Serialize, E: std::fmt::Display>(self, result: Result<T, E>) -> PyResult<String> {
        if let Some(e) = self.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        serde_json::to_string(&result.map_err(err)?).map_err(err)
    }
}
