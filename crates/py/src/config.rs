//! Task settings from Python keyword arguments. `size=9, goal="top-right-3"` become the
//! training config's overrides `env.size=9`, `env.goal="top-right-3"`, so Python accepts
//! exactly what `mesascope train --set` accepts, with the same defaults and the same errors.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use mesascope_learn::config::EnvConfig;
use mesascope_learn::TrainConfig;
use mesascope_tasks::{LevelSource, ObsKind, Shift, TrainingDistribution};

use crate::err;

/// `v` written as a TOML value, for the override of `key`.
pub(crate) fn toml_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(if v.is_instance_of::<PyBool>() {
        v.extract::<bool>()?.to_string()
    } else if v.is_instance_of::<PyInt>() {
        v.extract::<i64>()?.to_string()
    } else if v.is_instance_of::<PyFloat>() {
        format!("{:?}", v.extract::<f64>()?)
    } else if v.is_instance_of::<PyString>() {
        toml::Value::String(v.extract()?).to_string()
    } else {
        return Err(PyTypeError::new_err(format!("option '{key}' must be a bool, int, float or str, not {}", v.get_type().name()?)));
    })
}

/// `section.key=value` overrides, one per entry of `options`, with each value written as TOML.
pub(crate) fn overrides(section: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    let Some(options) = options else { return Ok(Vec::new()) };
    options
        .iter()
        .map(|(k, v)| {
            let key = format!("{section}.{}", k.extract::<String>()?);
            Ok(format!("{key}={}", toml_value(&key, &v)?))
        })
        .collect()
}

/// The training config's task settings with `env` applied over the defaults.
pub(crate) fn env_settings(env: Option<&Bound<'_, PyDict>>) -> PyResult<EnvConfig> {
    // An environment needs no held-out evaluation set: one level keeps the config's check
    // that the family has enough held-out levels for training's evaluations from refusing
    // small families (a 5×5 maze has 24 instances in all).
    let overrides: Vec<String> = ["eval.levels=1".to_string()].into_iter().chain(overrides("env", env)?).collect();
    Ok(TrainConfig::from_toml_with("", &overrides).map_err(err)?.env)
}

/// The task settings `env` gives, every field with its value, as TOML (for display).
#[pyfunction]
#[pyo3(signature = (env=None))]
pub(crate) fn env_config(env: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
    toml::to_string(&env_settings(env)?).map_err(err)
}

/// Where episodes come from: `train` (the training distribution: its N levels, or fresh
/// training-split levels when N is infinite), `held-out` (fresh levels of the training
/// family from the held-out split) or `deployment` (fresh held-out-split levels after
/// `shift`). Held-out and deployment levels are never training levels, by construction.
pub(crate) fn level_source(dist: &TrainingDistribution, split: &str, shift: Option<&str>) -> PyResult<LevelSource> {
    let shift = shift.map(str::parse::<Shift>).transpose().map_err(err)?;
    let source = match (split, shift) {
        ("train", None) => dist.source(),
        ("held-out", None) => dist.deployment(Shift::None),
        ("deployment", Some(shift)) => dist.deployment(shift),
        ("deployment", None) => return Err(err("invalid shift: split 'deployment' needs a shift (goal-anywhere, lava-on-route or none)")),
        ("train" | "held-out", Some(_)) => return Err(err(format!("invalid shift: split '{split}' has no shift; shifts make split='deployment'"))),
        _ => return Err(err(format!("unknown split '{split}' (known: train, held-out, deployment)"))),
    };
    source.map_err(err)
}

/// The observation element type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Dtype {
    U8,
    F32,
}

impl Dtype {
    pub(crate) fn parse(s: &str) -> PyResult<Dtype> {
        match s {
            "uint8" => Ok(Dtype::U8),
            "float32" => Ok(Dtype::F32),
            _ => Err(err(format!("unknown dtype '{s}' (known: uint8, float32)"))),
        }
    }
}

/// Everything an environment is made from.
pub(crate) struct EnvSpec {
    pub(crate) source: LevelSource,
    pub(crate) obs: ObsKind,
    pub(crate) dtype: Dtype,
}

impl EnvSpec {
    pub(crate) fn new(env: Option<&Bound<'_, PyDict>>, split: &str, shift: Option<&str>, dtype: &str) -> PyResult<EnvSpec> {
        let settings = env_settings(env)?;
        Ok(EnvSpec { source: level_source(&settings.dist, split, shift)?, obs: settings.obs, dtype: Dtype::parse(dtype)? })
    }
}

/// An action index from Python, checked.
pub(crate) fn action(index: i64, env: usize) -> Result<mesascope_tasks::Action, String> {
    usize::try_from(index)
        .ok()
        .and_then(mesascope_tasks::Action::from_index)
        .ok_or_else(|| format!("invalid actions: action {index} of env {env} is not in 0..5 (up, down, left, right, noop)"))
}
