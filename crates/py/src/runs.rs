//! Rust-trained runs from Python: train one (lab's train job), read its weights into numpy
//! arrays (from its safetensors file), use its model as a policy, and deploy it, or a Python
//! policy, with guards (lab's deploy job).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::prelude::{Tensor, TensorData};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray4, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use mesascope_guard::chain::{Actor, ActorStep};
use mesascope_guard::GuardError;
use mesascope_lab::types::OnVeto;
use mesascope_lab::{DeployJob, Subject, TrainJob};
use mesascope_tasks::ObsKind;
use mesascope_audit::agents::ModelAgent;

use crate::audit::POLICY_NAME;
use crate::policy::{action_rows, activation_matrices, call, state_shape, Output};
use crate::config::{env_settings, overrides, toml_value};
use crate::err;
use crate::progress::Progress;

/// The `field=value` overrides of a `{"section.field": value}` mapping.
fn dotted_overrides(settings: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    let Some(settings) = settings else { return Ok(Vec::new()) };
    settings.iter().map(|(k, v)| Ok(format!("{}={}", k.extract::<String>()?, toml_value(&k.extract::<String>()?, &v)?))).collect()
}

/// Trains a run into `out` from the built-in default config (or the TOML file `config`) with
/// `settings` (`{"section.field": value}`) applied (and TensorBoard event files with
/// `tensorboard`); returns lab's `TrainResult` as JSON text.
#[pyfunction]
#[pyo3(signature = (out, settings=None, *, config=None, stop_after=None, tensorboard=false, progress=None))]
pub(crate) fn train(
    py: Python<'_>,
    out: PathBuf,
    settings: Option<&Bound<'_, PyDict>>,
    config: Option<PathBuf>,
    stop_after: Option<usize>,
    tensorboard: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let job = TrainJob { config, overrides: dotted_overrides(settings)?, out, stop_after, tensorboard };
    let progress = Progress::new(progress);
    let result = py.detach(|| mesascope_lab::train(&job, &|p| progress.report(p)));
    progress.finish(result)
}

/// Replays one episode of the run at `run` on `level` (an id or a JSON level file), as
/// `mesascope replay`; returns lab's `ReplayResult` as JSON text.
#[pyfunction]
#[pyo3(signature = (run, level, *, shift=None, seed=None, level_seed=None, search=10_000, greedy=false, ticks=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn replay(py: Python<'_>, run: PathBuf, level: String, shift: Option<&str>, seed: Option<u64>, level_seed: Option<u64>, search: usize, greedy: bool, ticks: Option<usize>) -> PyResult<String> {
    let shift = shift.map(str::parse).transpose().map_err(err)?.unwrap_or(mesascope_tasks::Shift::None);
    let job = mesascope_lab::ReplayJob { shift, seed, level_seed, search, greedy, ticks, ..mesascope_lab::ReplayJob::new(run, level) };
    let result = py.detach(|| mesascope_lab::replay(&job)).map_err(err)?;
    serde_json::to_string(&result).map_err(err)
}

/// The policy vector fields of the run at `run` (and of `against`, or the planner) on one
/// level, drawn into the SVG `out`, as `mesascope vector-field`; returns lab's `FieldResult`
/// as JSON text.
#[pyfunction]
#[pyo3(signature = (run, out, *, level=None, shift=None, seed=None, against=None))]
pub(crate) fn vector_field(py: Python<'_>, run: PathBuf, out: PathBuf, level: Option<String>, shift: Option<&str>, seed: Option<u64>, against: Option<PathBuf>) -> PyResult<String> {
    let mut job = mesascope_lab::FieldJob { level, against, ..mesascope_lab::FieldJob::new(run, out) };
    if let Some(shift) = shift {
        job.shift = Some(shift.parse().map_err(err)?);
    }
    if let Some(seed) = seed {
        job.seed = seed;
    }
    let result = py.detach(|| mesascope_lab::vector_fields(&job)).map_err(err)?;
    serde_json::to_string(&result).map_err(err)
}

/// The episodes of the run at `run` as an animated GIF `out` (training distribution, after the
/// shift, the planner on the same levels), as `mesascope show`; returns lab's `ShowResult` as
/// JSON text.
#[pyfunction]
#[pyo3(signature = (run, out, *, shift=None, levels=2, seed=None))]
pub(crate) fn show(py: Python<'_>, run: PathBuf, out: PathBuf, shift: Option<&str>, levels: usize, seed: Option<u64>) -> PyResult<String> {
    let mut job = mesascope_lab::ShowJob { levels, ..mesascope_lab::ShowJob::new(run, out) };
    if let Some(shift) = shift {
        job.shift = Some(shift.parse().map_err(err)?);
    }
    if let Some(seed) = seed {
        job.seed = seed;
    }
    let result = py.detach(|| mesascope_lab::show(&job)).map_err(err)?;
    serde_json::to_string(&result).map_err(err)
}

/// The weights file of a run directory, a checkpoint directory or a .safetensors file.
fn weights_file(path: &Path) -> PyResult<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join("model.safetensors").exists() {
        return Ok(path.join("model.safetensors"));
    }
    match mesascope_learn::run::latest_checkpoint(path).map_err(err)? {
        Some(ckpt) => Ok(ckpt.join("model.safetensors")),
        None => Err(err(format!("{}: holds no model.safetensors and no checkpoint", path.display()))),
    }
}

/// A run's weights as `{name: float32 array}`, named and shaped as the run's safetensors file
/// stores them (burn's layout: a linear layer's weight is `[in, out]`).
#[pyfunction]
pub(crate) fn load_weights<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let file = weights_file(&path)?;
    let bytes = std::fs::read(&file).map_err(|e| err(format!("{}: {e}", file.display())))?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| err(format!("{}: not a safetensors file: {e}", file.display())))?;
    let out = PyDict::new(py);
    let mut named = tensors.tensors();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in named {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(err(format!("{}: tensor '{name}' is {:?}, not float32", file.display(), view.dtype())));
        }
        let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.set_item(name, PyArray1::from_vec(py, values).reshape(view.shape())?)?;
    }
    Ok(out)
}

/// A Rust-trained model as a Python policy: called on a float32 batch `[n, C, H, W]`, it
/// returns the action logits `[n, 5]`, as the Rust evaluation computes them, and with
/// `activations=True` also its named activations, as the audit's probes read them. A recurrent
/// model (convgru) takes its state `[n, channels, H, W]` beside the observations and returns
/// the next one after the logits. The forward pass runs without the GIL.
#[pyclass(module = "mesascope._native", frozen)]
pub(crate) struct Model(Box<ModelAgent>);

// The model is boxed: burn's types ask for more alignment (64 bytes) than Python's allocator
// gives a Python object.

impl Model {
    /// `(channels, H, W)` of one row of the recurrent state (`None`: not recurrent).
    fn state_shape(&self) -> Option<[usize; 3]> {
        let (_, h, w) = self.obs_shape();
        self.0.cfg.model.recurrent().then_some([self.0.cfg.model.channels, h, w])
    }
}

#[pymethods]
impl Model {
    /// Loads the model at `path` (a run directory, a checkpoint directory, or a .safetensors
    /// file with config.toml beside it).
    #[new]
    fn new(path: PathBuf) -> PyResult<Model> {
        let (cfg, model) = mesascope_learn::run::load_model(&path).map_err(err)?;
        let device = mesascope_learn::device(&cfg.device).map_err(err)?;
        Ok(Model(Box::new(ModelAgent { ticks: cfg.model.ticks, cfg, model, device })))
    }

    /// The run's configuration as TOML.
    #[getter]
    fn config(&self) -> String {
        self.0.cfg.to_toml()
    }

    /// `(C, H, W)` of the observations the model takes.
    #[getter]
    fn obs_shape(&self) -> (usize, usize, usize) {
        let (w, h) = self.0.cfg.env.dist.family.grid_size();
        self.0.cfg.env.obs.shape(w, h)
    }

    /// Whether the model carries a recurrent state from step to step.
    #[getter]
    fn recurrent(&self) -> bool {
        self.state_shape().is_some()
    }

    /// The state of `n` episodes at their start, `[n, channels, H, W]` zeros, as the Rust
    /// evaluation starts them (recurrent models only).
    fn initial_state<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        let Some([c, h, w]) = self.state_shape() else {
            return Err(err("the model is not recurrent: it has no state (call model(obs))"));
        };
        Ok(PyArray1::from_vec(py, vec![0.0f32; n * c * h * w]).reshape([n, c, h, w])?.into_any())
    }

    /// The same architecture with fresh weights, as the audit draws it for a run's probes'
    /// baseline (seeded from the run's seed): `untrained=` for auditing this model as a Python
    /// policy.
    fn untrained(&self) -> Model {
        let model = self.0.untrained(self.obs_shape());
        Model(Box::new(ModelAgent { model, ..(*self.0).clone() }))
    }

    /// Action logits `[n, 5]` of a float32 batch of observations `[n, C, H, W]`; a recurrent
    /// model takes `state` `[n, channels, H, W]` and returns `(logits, next state)`. With
    /// `activations`, `{name: [n, features]}`, the model's named activations in its order, come
    /// last: `(logits, activations)` or `(logits, next state, activations)`.
    #[pyo3(signature = (obs, state=None, *, activations=false))]
    fn __call__<'py>(&self, py: Python<'py>, obs: PyReadonlyArray4<'_, f32>, state: Option<PyReadonlyArray4<'_, f32>>, activations: bool) -> PyResult<Bound<'py, PyAny>> {
        let shape = obs.shape().to_vec();
        let n = shape[0];
        let (c, h, w) = self.obs_shape();
        if shape[1..] != [c, h, w] {
            return Err(err(format!("invalid obs: shape {shape:?}; the model takes [n, {c}, {h}, {w}]")));
        }
        let hidden = match (self.state_shape(), state) {
            (None, None) => None,
            (None, Some(_)) => return Err(err("invalid state: the model is not recurrent (call model(obs))")),
            (Some([sc, sh, sw]), None) => return Err(err(format!("missing state: the model is recurrent; call model(obs, state) with state [n, {sc}, {sh}, {sw}] (model.initial_state(n) at an episode's start)"))),
            (Some(expected), Some(state)) => {
                if state.shape() != [n, expected[0], expected[1], expected[2]] {
                    return Err(err(format!("invalid state: shape {:?}; the model's state is [{n}, {}, {}, {}] for {n} observations", state.shape(), expected[0], expected[1], expected[2])));
                }
                Some((state.as_array().iter().copied().collect::<Vec<f32>>(), expected))
            }
        };
        let values = obs.as_array().iter().copied().collect::<Vec<f32>>();
        let agent = &*self.0;
        let out = py.detach(move || {
            let x = Tensor::<4>::from_data(TensorData::new(values, [n, c, h, w]), &agent.device);
            let hx = hidden.map(|(v, [sc, sh, sw])| Tensor::<4>::from_data(TensorData::new(v, [n, sc, sh, sw]), &agent.device));
            let out = agent.model.forward(x, hx, agent.ticks, activations);
            let floats = |t: TensorData| t.try_into_vec::<f32>().map_err(|e| format!("{e:?}"));
            let logits = floats(out.logits.into_data())?;
            let next = out.hidden.map(|t| floats(t.into_data())).transpose()?;
            let named = out.activations.into_iter().map(|(name, t)| { let [_, f] = t.dims(); Ok((name, f, floats(t.into_data())?)) }).collect::<Result<Vec<_>, String>>()?;
            Ok::<_, String>((logits, next, named))
        });
        let (logits, next, named) = out.map_err(err)?;
        let mut parts = vec![PyArray1::from_vec(py, logits).reshape([n, mesascope_tasks::Action::COUNT])?.into_any()];
        if let (Some(next), Some([sc, sh, sw])) = (next, self.state_shape()) {
            parts.push(PyArray1::from_vec(py, next).reshape([n, sc, sh, sw])?.into_any());
        }
        if activations {
            let dict = PyDict::new(py);
            for (name, f, values) in named {
                dict.set_item(name, PyArray1::from_vec(py, values).reshape([n, f])?)?;
            }
            parts.push(dict.into_any());
        }
        if parts.len() == 1 {
            return Ok(parts.remove(0));
        }
        Ok(pyo3::types::PyTuple::new(py, parts)?.into_any())
    }
}

/// A Python policy (a batch of observations → action logits, or the pair of them and
/// `{name: activations [n, features]}`) as an agent of the deployment chain. A recurrent one
/// (`state_shape`: one row of its state) is called `policy(obs, state)` and returns the next
/// state after the logits. It makes no value predictions. A Python exception stops the chain
/// and is raised when the deployment returns.
struct PolicyActor {
    policy: Py<PyAny>,
    obs: ObsKind,
    state_shape: Option<Vec<usize>>,
    error: Mutex<Option<PyErr>>,
}

impl PolicyActor {
    /// The policy `policy`, recurrent when `initial_state` is given (see [`state_shape`]).
    fn new(py: Python<'_>, policy: Py<PyAny>, obs: ObsKind, initial_state: Option<&Py<PyAny>>, who: &str) -> PyResult<PolicyActor> {
        if !policy.bind(py).is_callable() {
            return Err(err(format!("invalid {who}: it must be callable (a batch of observations → action logits)")));
        }
        Ok(PolicyActor { policy, obs, state_shape: state_shape(py, initial_state)?, error: Mutex::new(None) })
    }

    /// The first Python exception the policy raised.
    fn take_error(&self) -> Option<PyErr> {
        self.error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

impl Actor for PolicyActor {
    fn obs(&self) -> ObsKind {
        self.obs
    }

    fn state_size(&self, _shape: (usize, usize, usize)) -> usize {
        self.state_shape.as_ref().map_or(0, |s| s.iter().product())
    }

    fn step(&self, obs: Vec<f32>, (c, h, w): (usize, usize, usize), state: &mut [f32], record: bool) -> Result<ActorStep, GuardError> {
        let n = obs.len() / (c * h * w);
        let stepped = Python::attach(|py| -> PyResult<ActorStep> {
            let (returned, named) = call(py, &self.policy, obs, [n, c, h, w], self.state_shape.as_deref().map(|row| (state, row)))?;
            let logits = action_rows(py, returned, n, Output::Logits)?.concat();
            let activations = match (record, named) {
                (true, Some(named)) => activation_matrices(py, &named, n, "policy")?
                    .into_iter()
                    .map(|(name, m)| (name, (0..m.nrows()).flat_map(|i| m.row(i).iter().map(|&v| v as f32).collect::<Vec<_>>()).collect()))
                    .collect(),
                _ => Vec::new(),
            };
            Ok(ActorStep { logits, values: None, activations })
        });
        stepped.map_err(|e| {
            let failure = GuardError::Invalid { what: "policy", message: e.to_string() };
            self.error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_or_insert(e);
            failure
        })
    }
}

/// Deploys `agent` with `guards` (ood, ensemble, impact) under `shift` and writes
/// `deploy.json` and `deploy.html`, as `mesascope deploy` does; returns lab's `DeployResult` as
/// JSON text. The agent is a run's path, or a Python policy (logits, and named activations for
/// the OOD guard, which watches `layer`, by default the last one named; recurrent with
/// `initial_state`) trained on the task `env` (discount `gamma` for the impact measure, the
/// training default unless given), with `members` (further Python policies) beside the runs
/// of `ensemble` as its ensemble. Options left out (`None`) take lab's defaults.
#[pyfunction]
#[pyo3(signature = (agent, env=None, *, name=None, initial_state=None, members=None, ensemble=None, layer=None, gamma=None, shift=None, guards=None, on_veto=None, levels=None, false_alarm=None, impact_budget=None, seed=None, out=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn deploy(
    py: Python<'_>,
    agent: Py<PyAny>,
    env: Option<&Bound<'_, PyDict>>,
    name: Option<&str>,
    initial_state: Option<Py<PyAny>>,
    members: Option<Vec<Py<PyAny>>>,
    ensemble: Option<Vec<PathBuf>>,
    layer: Option<String>,
    gamma: Option<f64>,
    shift: Option<&str>,
    guards: Option<Vec<String>>,
    on_veto: Option<&str>,
    levels: Option<usize>,
    false_alarm: Option<f64>,
    impact_budget: Option<f64>,
    seed: Option<u64>,
    out: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let defaults = DeployJob::default();
    let mut job = DeployJob {
        agent: defaults.agent.clone(),
        ensemble: ensemble.unwrap_or_default(),
        shift: match shift {
            Some(name) => Some(name.parse().map_err(err)?),
            None => defaults.shift,
        },
        guards: guards.unwrap_or(defaults.guards),
        on_veto: match on_veto {
            Some(name) => serde_json::from_value::<OnVeto>(serde_json::Value::String(name.to_string())).map_err(|_| err(format!("unknown on_veto '{name}' (known: stop, defer)")))?,
            None => defaults.on_veto,
        },
        levels: levels.unwrap_or(defaults.levels),
        false_alarm: false_alarm.unwrap_or(defaults.false_alarm),
        impact_budget: impact_budget.unwrap_or(defaults.impact_budget),
        impact_measure: defaults.impact_measure,
        seed: seed.unwrap_or(defaults.seed),
        out,
    };
    let progress = Progress::new(progress);
    if !agent.bind(py).is_callable() {
        let path: PathBuf = agent.extract(py).map_err(|_| err("invalid agent: give a run's path or a Python policy (a callable)"))?;
        if env.is_some_and(|e| !e.is_empty()) || members.is_some() || layer.is_some() || gamma.is_some() || name.is_some() || initial_state.is_some() {
            return Err(err("task settings, members, layer, gamma, name and initial_state apply to a Python policy only (a run brings its own)"));
        }
        job.agent = Subject::Run(path);
        let result = py.detach(|| mesascope_lab::deploy(&job, &|p| progress.report(p)));
        return progress.finish(result);
    }
    let obs = env_settings(env)?.obs;
    let agent = PolicyActor::new(py, agent, obs, initial_state.as_ref(), "policy")?;
    let members: Vec<PolicyActor> = members.unwrap_or_default().into_iter().enumerate().map(|(i, m)| PolicyActor::new(py, m, obs, None, &format!("member {}", i + 1))).collect::<PyResult<_>>()?;
    let mut overrides = overrides("env", env)?;
    if let Some(g) = gamma {
        overrides.push(format!("ppo.gamma={g:?}"));
    }
    job.agent = Subject::External { name: name.unwrap_or(POLICY_NAME).to_string(), overrides };
    let result = py.detach(|| {
        let others: Vec<&dyn Actor> = members.iter().map(|m| m as &dyn Actor).collect();
        mesascope_lab::deploy_external(&job, &agent, &others, layer, &|p| progress.report(p))
    });
    if let Some(e) = std::iter::once(&agent).chain(&members).find_map(PolicyActor::take_error) {
        return Err(e);
    }
    progress.finish(result)
}

/// A TensorBoard event file for a Python training loop, written as `train --tensorboard`
/// writes its own (so a CleanRL-style script logs the same way without TensorBoard installed).
#[pyclass(module = "mesascope._native")]
pub(crate) struct EventWriter(mesascope_report::tensorboard::EventWriter);

#[pymethods]
impl EventWriter {
    /// Creates a new event file in the directory `dir`.
    #[new]
    fn new(dir: PathBuf) -> PyResult<EventWriter> {
        Ok(EventWriter(mesascope_report::tensorboard::EventWriter::create(&dir).map_err(err)?))
    }

    /// The event file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }

    /// Appends `{tag: value}` at `step` (non-finite values are left out) and flushes.
    fn scalars(&mut self, step: u64, scalars: std::collections::BTreeMap<String, f64>) -> PyResult<()> {
        let pairs: Vec<(&str, f64)> = scalars.iter().map(|(t, v)| (t.as_str(), *v)).collect();
        self.0.scalars(step, &pairs).map_err(err)
    }
}
