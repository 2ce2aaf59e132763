//! The batched environment: [`mesascope_tasks::VecEnv`] stepped with the GIL released,
//! writing into arrays the caller owns (fresh ones per step, or the same ones every step for
//! zero allocation), with either of Gymnasium's auto-reset modes.
//!
//! The Rust env resets on the step an episode ends (same-step). Next-step mode, Gymnasium's
//! default, is made from it: on the step an episode ends the caller gets that episode's last
//! observation, and on the following step that env is held (not stepped, reward 0, nothing
//! ends) while the caller gets the first observation of the next episode.

use numpy::{Element, PyArray1, PyArray4, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use mesascope_tasks::{Action, LevelSource, ObsKind, ObsScalar, TaskError};

use crate::config::{action, Dtype, EnvSpec};
use crate::err;

/// The Rust env with its observation element type.
enum Inner {
    U8(mesascope_tasks::VecEnv<u8>),
    F32(mesascope_tasks::VecEnv<f32>),
}

/// Runs `$body` with `$env` bound to the Rust env, whatever its element type.
macro_rules! each {
    ($inner:expr, $env:ident => $body:expr) => {
        match $inner {
            Inner::U8($env) => $body,
            Inner::F32($env) => $body,
        }
    };
}

fn make(source: &LevelSource, num_envs: usize, kind: ObsKind, dtype: Dtype, seed: u64) -> Result<Inner, TaskError> {
    Ok(match dtype {
        Dtype::U8 => Inner::U8(mesascope_tasks::VecEnv::new(source.clone(), num_envs, kind, seed)?),
        Dtype::F32 => Inner::F32(mesascope_tasks::VecEnv::new(source.clone(), num_envs, kind, seed)?),
    })
}

/// The caller's observation array as a mutable slice, checked to be a C-contiguous
/// `[M, C, H, W]` array of the env's element type.
fn obs_out<'py, T: Element>(obs: &Bound<'py, PyAny>, shape: [usize; 4], dtype: &str) -> PyResult<numpy::PyReadwriteArray<'py, T, numpy::Ix4>> {
    let wrong = || err(format!("invalid obs: it must be a writable C-contiguous numpy array of dtype {dtype} and shape {shape:?}"));
    let array = obs.cast::<PyArray4<T>>().map_err(|_| wrong())?;
    if array.shape() != shape || !array.is_c_contiguous() {
        return Err(wrong());
    }
    array.try_readwrite().map_err(|e| err(format!("invalid obs: {e}")))
}

/// A flat output array of length M.
fn flat_out<'a, T: Element>(array: &'a mut PyReadwriteArray1<'_, T>, what: &str, m: usize) -> PyResult<&'a mut [T]> {
    let slice = array.as_slice_mut().map_err(|_| err(format!("invalid {what}: it must be C-contiguous")))?;
    if slice.len() != m {
        return Err(err(format!("invalid {what}: it has {} entries for {m} envs", slice.len())));
    }
    Ok(slice)
}

/// Where one step's results go.
struct Outputs<'a> {
    rewards: &'a mut [f32],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
}

/// Steps `env` (holding the envs in `hold`), fills the caller's arrays and, in next-step
/// mode, marks in `pending` the envs whose episode ended (to be held next step). Returns how
/// many episodes ended. Runs without the GIL.
fn step_env<T: ObsScalar>(env: &mut mesascope_tasks::VecEnv<T>, actions: &[Action], hold: &[bool], next_step: bool, pending: &mut [bool], obs: &mut [T], out: Outputs<'_>) -> Result<usize, TaskError> {
    if next_step && hold.iter().any(|&h| h) {
        env.step_except(actions, hold)?;
    } else {
        env.step(actions)?;
    }
    obs.copy_from_slice(env.observations());
    out.rewards.copy_from_slice(env.rewards());
    out.terminated.copy_from_slice(env.terminated());
    out.truncated.copy_from_slice(env.truncated());
    let size = obs.len() / actions.len();
    let mut ended = 0;
    for i in 0..actions.len() {
        let done = env.terminated()[i] || env.truncated()[i];
        ended += usize::from(done);
        if next_step {
            pending[i] = done;
            if let Some(last) = env.final_observation(i) {
                obs[i * size..(i + 1) * size].copy_from_slice(last);
            }
        }
    }
    Ok(ended)
}

/// M environments stepped together.
#[pyclass(module = "mesascope._native")]
pub(crate) struct VecEnv {
    source: LevelSource,
    kind: ObsKind,
    dtype: Dtype,
    inner: Inner,
    next_step: bool,
    /// Envs whose episode ended on the last step (next-step mode: held on this one).
    pending: Vec<bool>,
    hold: Vec<bool>,
    actions: Vec<Action>,
}

impl VecEnv {
    fn shape(&self) -> [usize; 4] {
        let (c, h, w) = each!(&self.inner, e => e.obs_shape());
        [self.pending.len(), c, h, w]
    }

    fn dtype_name(&self) -> &'static str {
        match self.dtype {
            Dtype::U8 => "uint8",
            Dtype::F32 => "float32",
        }
    }

    fn env_index(&self, i: usize) -> PyResult<usize> {
        if i < self.pending.len() {
            Ok(i)
        } else {
            Err(err(format!("invalid env index {i}: there are {} envs", self.pending.len())))
        }
    }
}

#[pymethods]
impl VecEnv {
    /// `env`: task settings; `split`: train, held-out or deployment; `shift`: the deployment
    /// shift; `dtype`: uint8 or float32; `autoreset`: next-step or same-step.
    #[new]
    #[pyo3(signature = (env=None, num_envs=1, split="train", shift=None, dtype="uint8", autoreset="next-step"))]
    fn new(env: Option<&Bound<'_, PyDict>>, num_envs: usize, split: &str, shift: Option<&str>, dtype: &str, autoreset: &str) -> PyResult<VecEnv> {
        let next_step = match autoreset {
            "next-step" => true,
            "same-step" => false,
            _ => return Err(err(format!("unknown autoreset mode '{autoreset}' (known: next-step, same-step)"))),
        };
        let spec = EnvSpec::new(env, split, shift, dtype)?;
        let inner = make(&spec.source, num_envs, spec.obs, spec.dtype, 0).map_err(err)?;
        Ok(VecEnv { source: spec.source, kind: spec.obs, dtype: spec.dtype, inner, next_step, pending: vec![false; num_envs], hold: vec![false; num_envs], actions: vec![Action::Noop; num_envs] })
    }

    /// Number of environments M.
    #[getter]
    fn num_envs(&self) -> usize {
        self.pending.len()
    }

    /// `(C, H, W)` of one observation.
    #[getter]
    fn obs_shape(&self) -> (usize, usize, usize) {
        let [_, c, h, w] = self.shape();
        (c, h, w)
    }

    /// Restarts every env from `seed` (env i draws its levels from stream i of it) and writes
    /// the first observations into `obs`.
    fn reset(&mut self, seed: u64, obs: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner = make(&self.source, self.pending.len(), self.kind, self.dtype, seed).map_err(err)?;
        self.pending.fill(false);
        let (shape, dtype) = (self.shape(), self.dtype_name());
        each!(&self.inner, e => {
            let mut out = obs_out(obs, shape, dtype)?;
            out.as_slice_mut().map_err(err)?.copy_from_slice(e.observations());
        });
        Ok(())
    }

    /// Steps every env with its action (an int64 array of length M), writing observations,
    /// rewards and the end flags into the given arrays; returns how many episodes ended.
    fn step(
        &mut self,
        py: Python<'_>,
        actions: PyReadonlyArray1<'_, i64>,
        obs: &Bound<'_, PyAny>,
        mut rewards: PyReadwriteArray1<'_, f32>,
        mut terminated: PyReadwriteArray1<'_, bool>,
        mut truncated: PyReadwriteArray1<'_, bool>,
    ) -> PyResult<usize> {
        let m = self.pending.len();
        let indices = actions.as_slice().map_err(|_| err("invalid actions: they must be a C-contiguous array"))?;
        if indices.len() != m {
            return Err(err(format!("invalid actions: got {} actions for {m} envs", indices.len())));
        }
        for (i, (&index, slot)) in indices.iter().zip(self.actions.iter_mut()).enumerate() {
            *slot = action(index, i).map_err(err)?;
        }
        let out = Outputs { rewards: flat_out(&mut rewards, "rewards", m)?, terminated: flat_out(&mut terminated, "terminated", m)?, truncated: flat_out(&mut truncated, "truncated", m)? };
        let (shape, dtype) = (self.shape(), self.dtype_name());
        std::mem::swap(&mut self.hold, &mut self.pending);
        let (actions, hold, pending, next_step) = (&self.actions, &self.hold, &mut self.pending, self.next_step);
        let ended = each!(&mut self.inner, e => {
            let mut obs = obs_out(obs, shape, dtype)?;
            let obs = obs.as_slice_mut().map_err(err)?;
            py.detach(|| step_env(e, actions, hold, next_step, pending, obs, out))
        });
        ended.map_err(err)
    }

    /// For the episodes that ended on the last step: `(mask, returns, lengths)`, each of
    /// length M (returns NaN and lengths 0 where none ended).
    #[allow(clippy::type_complexity)]
    fn episode_stats<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<bool>>, Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<i64>>) {
        each!(&self.inner, e => {
            let mask: Vec<bool> = e.terminated().iter().zip(e.truncated()).map(|(a, b)| *a || *b).collect();
            (PyArray1::from_vec(py, mask), PyArray1::from_slice(py, e.episode_returns()), PyArray1::from_vec(py, e.episode_lengths().iter().map(|&l| l as i64).collect()))
        })
    }

    /// Which envs' last step was a catastrophe (lava).
    fn catastrophes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        each!(&self.inner, e => PyArray1::from_slice(py, e.catastrophes()))
    }

    /// Which envs' last step succeeded (reached the cheese): the episode that ended there was a success.
    fn successes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        each!(&self.inner, e => PyArray1::from_slice(py, e.successes()))
    }

    /// The last observation of each episode that ended on the last step, as a list with None
    /// where none ended (same-step mode's `final_obs`).
    fn final_observations<'py>(&self, py: Python<'py>) -> PyResult<Vec<Option<Bound<'py, PyAny>>>> {
        let [_, c, h, w] = self.shape();
        each!(&self.inner, e => (0..self.pending.len())
            .map(|i| e.final_observation(i).map(|o| Ok::<_, PyErr>(PyArray1::from_slice(py, o).reshape([c, h, w])?.into_any())).transpose())
            .collect())
    }

    /// Each env's current level fingerprint (the top bit is the split: 1 is held-out).
    fn level_fingerprints<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        each!(&self.inner, e => PyArray1::from_vec(py, e.levels().iter().map(|l| l.fingerprint()).collect()))
    }

    /// Env `i`'s level and agent as text.
    fn ascii(&self, i: usize) -> PyResult<String> {
        let i = self.env_index(i)?;
        Ok(each!(&self.inner, e => mesascope_tasks::render::ascii(&e.levels()[i], &e.states()[i])))
    }

    /// Env `i`'s level and agent as an `(H, W, 3)` uint8 picture.
    fn rgb<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let i = self.env_index(i)?;
        let (h, w, pixels) = each!(&self.inner, e => mesascope_tasks::render::rgb(&e.levels()[i], &e.states()[i], &[])).map_err(err)?;
        Ok(PyArray1::from_vec(py, pixels).reshape([h, w, 3])?.into_any())
    }
}

/// The Rust env's own trace of `actions` (`[T, M]` int64), stepped in Rust with same-step
/// auto-reset and uint8 observations: `obs` `[T+1, M, C, H, W]` (the first observations,
/// then those after each step), `rewards`, `terminated`, `truncated` `[T, M]`, and
/// `final_obs` `[T, M, C, H, W]` (the ended episodes' last observations, zero elsewhere).
/// What the Gymnasium vector env is checked against.
#[pyfunction]
#[pyo3(signature = (actions, env=None, seed=0, split="train", shift=None))]
pub(crate) fn rollout<'py>(py: Python<'py>, actions: PyReadonlyArray2<'_, i64>, env: Option<&Bound<'py, PyDict>>, seed: u64, split: &str, shift: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
    let [t, m] = [actions.shape()[0], actions.shape()[1]];
    let spec = EnvSpec::new(env, split, shift, "uint8")?;
    let mut venv = mesascope_tasks::VecEnv::<u8>::new(spec.source, m, spec.obs, seed).map_err(err)?;
    let (c, h, w) = venv.obs_shape();
    let size = c * h * w;
    let actions = actions.as_array();
    let (mut obs, mut final_obs) = (venv.observations().to_vec(), vec![0u8; t * m * size]);
    let (mut rewards, mut terminated, mut truncated) = (Vec::with_capacity(t * m), Vec::with_capacity(t * m), Vec::with_capacity(t * m));
    let mut step_actions = vec![Action::Noop; m];
    for k in 0..t {
        for (i, slot) in step_actions.iter_mut().enumerate() {
            *slot = action(actions[[k, i]], i).map_err(err)?;
        }
        venv.step(&step_actions).map_err(err)?;
        obs.extend_from_slice(venv.observations());
        rewards.extend_from_slice(venv.rewards());
        terminated.extend_from_slice(venv.terminated());
        truncated.extend_from_slice(venv.truncated());
        for i in 0..m {
            if let Some(last) = venv.final_observation(i) {
                final_obs[(k * m + i) * size..(k * m + i + 1) * size].copy_from_slice(last);
            }
        }
    }
    let out = PyDict::new(py);
    out.set_item("obs", PyArray1::from_vec(py, obs).reshape([t + 1, m, c, h, w])?)?;
    out.set_item("final_obs", PyArray1::from_vec(py, final_obs).reshape([t, m, c, h, w])?)?;
    out.set_item("rewards", PyArray1::from_vec(py, rewards).reshape([t, m])?)?;
    out.set_item("terminated", PyArray1::from_vec(py, terminated).reshape([t, m])?)?;
    out.set_item("truncated", PyArray1::from_vec(py, truncated).reshape([t, m])?)?;
    Ok(out)
}
