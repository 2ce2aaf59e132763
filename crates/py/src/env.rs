//! One environment, one episode at a time: what Gymnasium's `Env` wraps. It draws its levels
//! exactly as env 0 of a [`mesascope_tasks::VecEnv`] with the same seed does, so a single env
//! and the batched one tell the same story.

use numpy::{Element, PyArray3, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use mesascope_tasks::dist::mix_seed;
use mesascope_tasks::maze::empty_level;
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{reset, step, Level, LevelGenerator, LevelId, LevelSource, ObsKind, ObsScalar, State};

use crate::config::{action, Dtype, EnvSpec};
use crate::err;

/// A fresh `(C, H, W)` array holding the observation of `state`.
pub(crate) fn observation<'py, T: ObsScalar + Element>(py: Python<'py>, kind: ObsKind, level: &Level, state: &State) -> Bound<'py, PyArray3<T>> {
    let (c, h, w) = kind.shape(level.width, level.height);
    let array = PyArray3::<T>::zeros(py, [c, h, w], false);
    // SAFETY: the array was just made here, is contiguous and nothing else refers to it.
    write_observation(kind, level, state, unsafe { array.as_slice_mut() }.expect("a new array is contiguous"));
    array
}

/// One environment of a task family on one split.
#[pyclass(module = "mesascope._native")]
pub(crate) struct Env {
    source: LevelSource,
    kind: ObsKind,
    dtype: Dtype,
    rng: Pcg64Mcg,
    generator: LevelGenerator,
    level: Level,
    state: State,
    started: bool,
    trajectory: Vec<mesascope_tasks::Cell>,
}

impl Env {
    fn obs<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self.dtype {
            Dtype::U8 => observation::<u8>(py, self.kind, &self.level, &self.state).into_any(),
            Dtype::F32 => observation::<f32>(py, self.kind, &self.level, &self.state).into_any(),
        }
    }

    /// The level `named` names: a JSON level file, or the id of a level in the pool.
    fn named_level(&self, named: &str) -> PyResult<Level> {
        let path = std::path::Path::new(named);
        let level = if path.is_file() {
            mesascope_lab::read_level(path).map_err(|e| err(format!("reset option 'level': {e}")))?.level
        } else {
            let id: LevelId = named.parse().map_err(|e| err(format!("reset option 'level': {e}; and no file '{named}' exists")))?;
            match self.source.pool() {
                Some(pool) => pool.iter().find(|l| l.id() == id).cloned().ok_or_else(|| err(format!("reset option 'level': level {id} is not among this env's {} training levels; give other levels as a JSON file (env.level_json() writes one)", pool.len())))?,
                None => return Err(err(format!("reset option 'level': this env draws fresh levels (no finite pool to find id {id} in); give the level as a JSON file (env.level_json() writes one)"))),
            }
        };
        let (w, h) = self.source.family().grid_size();
        if (level.width, level.height) != (w, h) {
            return Err(err(format!("reset option 'level': the level is {}x{}, this env's levels are {w}x{h}", level.width, level.height)));
        }
        Ok(level)
    }

    fn require_started(&self) -> PyResult<()> {
        if self.started {
            Ok(())
        } else {
            Err(err("call reset() first: the environment has no episode yet"))
        }
    }
}

#[pymethods]
impl Env {
    /// `env`: task settings (the `[env]` fields of a training config); `split`: train,
    /// held-out or deployment; `shift`: the deployment shift; `dtype`: uint8 or float32.
    #[new]
    #[pyo3(signature = (env=None, split="train", shift=None, dtype="uint8"))]
    fn new(env: Option<&Bound<'_, PyDict>>, split: &str, shift: Option<&str>, dtype: &str) -> PyResult<Env> {
        let spec = EnvSpec::new(env, split, shift, dtype)?;
        let level = empty_level();
        Ok(Env {
            source: spec.source,
            kind: spec.obs,
            dtype: spec.dtype,
            rng: Pcg64Mcg::seed_from_u64(0),
            generator: LevelGenerator::default(),
            state: reset(&level),
            level,
            started: false,
            trajectory: Vec::new(),
        })
    }

    /// `(C, H, W)` of an observation.
    #[getter]
    fn obs_shape(&self) -> (usize, usize, usize) {
        let (w, h) = self.source.family().grid_size();
        self.kind.shape(w, h)
    }

    /// Steps before an episode is truncated.
    #[getter]
    fn horizon(&self) -> PyResult<u32> {
        self.require_started()?;
        Ok(self.level.horizon)
    }

    /// The current level's content fingerprint (its split is the top bit: 1 is held-out).
    #[getter]
    fn fingerprint(&self) -> PyResult<u64> {
        self.require_started()?;
        Ok(self.level.fingerprint())
    }

    /// The current level's id (16 hex digits), as reports and `mesascope replay` spell it.
    #[getter]
    fn level_id(&self) -> PyResult<String> {
        self.require_started()?;
        Ok(self.level.id().to_string())
    }

    /// The current level as JSON: a level file that `reset(level=...)` and `mesascope replay
    /// --level` read back.
    fn level_json(&self) -> PyResult<String> {
        self.require_started()?;
        serde_json::to_string(&self.level).map_err(|e| err(e.to_string()))
    }

    /// Starts an episode and returns its first observation. With `level` (an id of a level in
    /// the env's finite training pool, or the path of a JSON level file), the episode is on
    /// that level and the level stream is left as it was; otherwise on a new level: with a
    /// seed, the level stream restarts from it (the stream of env 0 of a `VecEnv` with that
    /// seed); without, it continues.
    #[pyo3(signature = (seed=None, level=None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>, level: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(seed) = seed {
            self.rng = Pcg64Mcg::seed_from_u64(mix_seed(seed, 0));
        }
        match level {
            Some(named) => self.level = self.named_level(named)?,
            None => self.source.sample_into(&mut self.rng, &mut self.generator, &mut self.level),
        }
        self.state = reset(&self.level);
        self.trajectory.clear();
        self.trajectory.push(self.state.agent);
        self.started = true;
        Ok(self.obs(py))
    }

    /// One step: `(observation, reward, terminated, truncated, success, catastrophe)`.
    #[allow(clippy::type_complexity)]
    fn step<'py>(&mut self, py: Python<'py>, action_index: i64) -> PyResult<(Bound<'py, PyAny>, f64, bool, bool, bool, bool)> {
        self.require_started()?;
        let a = action(action_index, 0).map_err(err)?;
        let tr = step(&self.level, &mut self.state, a);
        self.trajectory.push(self.state.agent);
        Ok((self.obs(py), tr.reward as f64, tr.terminated, tr.truncated, tr.success, tr.catastrophe))
    }

    /// The level and the agent as text (`#` wall, `.` floor, `~` lava, `@` agent, `C` cheese).
    fn ascii(&self) -> PyResult<String> {
        self.require_started()?;
        Ok(mesascope_tasks::render::ascii(&self.level, &self.state))
    }

    /// The level with the episode's path so far as an `(H, W, 3)` uint8 picture.
    fn rgb<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        self.require_started()?;
        let (h, w, pixels) = mesascope_tasks::render::rgb(&self.level, &self.state, &self.trajectory).map_err(err)?;
        numpy::PyArray1::from_vec(py, pixels).reshape([h, w, 3])
    }
}
