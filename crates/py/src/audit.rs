//! Audits from Python: lab's audit job with a Python callable as the agent (or a trained run,
//! or a known-answer agent), writing the same `audit.json`, `audit.html` and
//! `audit-timing.json` as `mesascope audit`.
//!
//! The callable sees a float32 batch of observations `[n, C, H, W]` and returns `[n, 5]`
//! action logits or probabilities (anything `numpy.asarray` turns into that). The audit runs
//! with the GIL released and takes it back only to call the policy.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use mesascope_audit::agents::Agent;
use mesascope_lab::{AuditJob, Subject};
use mesascope_learn::eval::EpisodeRecord;
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{reset, step, Action, Level, ObsKind, Shift};

use crate::config::{env_settings, overrides};
use crate::err;
use crate::progress::Progress;

/// Episodes played together: one policy call per step of this many levels.
const CHUNK: usize = 256;

/// What the policy's rows are.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Logits,
    Probabilities,
}

/// A Python callable playing episodes. A Python exception stops the calls: the remaining
/// steps wait (so the audit finishes on well-formed records) and the exception is raised
/// when the audit returns.
struct PolicyAgent {
    policy: Py<PyAny>,
    obs: ObsKind,
    output: Output,
    greedy: bool,
    error: Option<PyErr>,
}

impl PolicyAgent {
    /// The policy's actions for `n` observations in `batch`.
    fn act(&self, py: Python<'_>, batch: Vec<f32>, shape: [usize; 4], rng: &mut Pcg64Mcg) -> PyResult<Vec<Action>> {
        let n = shape[0];
        let obs = PyArray1::from_vec(py, batch).reshape(shape)?;
        let returned = self.policy.call1(py, (obs,))?;
        let array = py
            .import("numpy")?
            .call_method1("asarray", (returned, "float32"))
            .map_err(|e| err(format!("invalid policy output: numpy.asarray cannot make float32 {} of it: {e}", self.output_name())))?;
        let rows: PyReadonlyArray2<'_, f32> = array.extract().map_err(|_| {
            let shape = array.getattr("shape").map(|s| s.to_string()).unwrap_or_default();
            err(format!("invalid policy output: it returned shape {shape}; expected ({n}, 5), one row of action {} per observation", self.output_name()))
        })?;
        if rows.shape() != [n, Action::COUNT] {
            return Err(err(format!("invalid policy output: it returned shape {:?}; expected ({n}, 5), one row of action {} per observation", rows.shape(), self.output_name())));
        }
        let rows = rows.as_array();
        (0..n)
            .map(|j| {
                let row: Vec<f32> = rows.row(j).to_vec();
                if row.iter().any(|x| x.is_nan()) || (self.output == Output::Probabilities && row.iter().any(|&p| p < 0.0 || !p.is_finite())) {
                    return Err(err(format!("invalid policy output: row {j} is {row:?}; {} must be numbers{}", self.output_name(), if self.output == Output::Probabilities { " ≥ 0" } else { "" })));
                }
                Ok(Action::ALL[self.choose(&row, rng).map_err(|m| err(format!("invalid policy output: row {j}: {m}")))?])
            })
            .collect()
    }

    fn output_name(&self) -> &'static str {
        match self.output {
            Output::Logits => "logits",
            Output::Probabilities => "probabilities",
        }
    }

    /// The action of one row: the most likely one (the last of equals, as the model
    /// evaluation picks) when greedy, else a sample.
    fn choose(&self, row: &[f32], rng: &mut Pcg64Mcg) -> Result<usize, String> {
        if self.greedy {
            return Ok((0..row.len()).max_by(|&x, &y| row[x].total_cmp(&row[y])).unwrap_or(0));
        }
        match self.output {
            Output::Logits => Ok(mesascope_learn::ppo::sample_action(row, rng).0),
            Output::Probabilities => {
                let total: f32 = row.iter().sum();
                if total <= 0.0 {
                    return Err("the probabilities sum to 0".into());
                }
                let u = rng.random::<f32>() * total;
                let mut acc = 0.0;
                Ok(row.iter().position(|p| {
                    acc += p;
                    u < acc
                })
                .unwrap_or_else(|| row.iter().rposition(|&p| p > 0.0).unwrap_or(0)))
            }
        }
    }
}

impl Agent for PolicyAgent {
    fn play(&mut self, levels: &[Level], seed: u64) -> Vec<EpisodeRecord> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut records = Vec::with_capacity(levels.len());
        for (chunk_index, chunk) in levels.chunks(CHUNK).enumerate() {
            let (c, h, w) = self.obs.shape(chunk[0].width, chunk[0].height);
            let size = c * h * w;
            let mut states: Vec<_> = chunk.iter().map(reset).collect();
            let mut recs: Vec<EpisodeRecord> = chunk.iter().enumerate().map(|(i, l)| EpisodeRecord::start(chunk_index * CHUNK + i, l, true)).collect();
            loop {
                let active: Vec<usize> = (0..chunk.len()).filter(|&i| !states[i].done()).collect();
                if active.is_empty() {
                    break;
                }
                let actions = if self.error.is_some() {
                    vec![Action::Noop; active.len()]
                } else {
                    let mut batch = vec![0.0f32; active.len() * size];
                    for (j, &i) in active.iter().enumerate() {
                        write_observation(self.obs, &chunk[i], &states[i], &mut batch[j * size..(j + 1) * size]);
                    }
                    match Python::attach(|py| self.act(py, batch, [active.len(), c, h, w], &mut rng)) {
                        Ok(actions) => actions,
                        Err(e) => {
                            self.error = Some(e);
                            vec![Action::Noop; active.len()]
                        }
                    }
                };
                for (j, &i) in active.iter().enumerate() {
                    let tr = step(&chunk[i], &mut states[i], actions[j]);
                    recs[i].add(actions[j], &tr, &states[i], true);
                }
            }
            records.extend(recs);
        }
        records
    }
}

/// Runs `job` (with `agent` for an external subject) without the GIL, reporting progress to
/// the Python callable `progress`, and returns the result as JSON text.
fn run(py: Python<'_>, job: &AuditJob, agent: Option<&mut PolicyAgent>, progress: Option<Py<PyAny>>) -> PyResult<String> {
    let progress = Progress::new(progress);
    let result = py.detach(|| match agent {
        Some(agent) => mesascope_lab::audit_external(job, agent, &|p| progress.report(p)),
        None => mesascope_lab::audit(job, &|p| progress.report(p)),
    });
    progress.finish(result)
}

/// The audit job's options from Python's arguments.
#[allow(clippy::too_many_arguments)]
fn job(subject: Subject, shift: &str, levels: usize, probe_levels: usize, ticks: Option<Vec<usize>>, seed: u64, out: Option<PathBuf>) -> PyResult<AuditJob> {
    let defaults = AuditJob::default();
    Ok(AuditJob { subject, shift: shift.parse::<Shift>().map_err(err)?, levels, probe_levels, ticks: ticks.unwrap_or(defaults.ticks), seed, out })
}

/// Audits a Python policy (see the module docs) trained on the task `env` (with discount
/// `gamma` for objective inference, the training default unless given); returns lab's
/// `AuditResult` as JSON text. `probe_levels` and `ticks` only appear in the options.
#[pyfunction]
#[pyo3(signature = (policy, env=None, *, output="logits", greedy=false, name="python-policy", shift="goal-anywhere", levels=200, probe_levels=160, ticks=None, seed=0, out=None, gamma=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_policy(
    py: Python<'_>,
    policy: Py<PyAny>,
    env: Option<&Bound<'_, PyDict>>,
    output: &str,
    greedy: bool,
    name: &str,
    shift: &str,
    levels: usize,
    probe_levels: usize,
    ticks: Option<Vec<usize>>,
    seed: u64,
    out: Option<PathBuf>,
    gamma: Option<f64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    if !policy.bind(py).is_callable() {
        return Err(err("invalid policy: it must be callable (a batch of observations → action logits or probabilities)"));
    }
    let output = match output {
        "logits" => Output::Logits,
        "probs" | "probabilities" => Output::Probabilities,
        _ => return Err(err(format!("unknown policy output '{output}' (known: logits, probs)"))),
    };
    let mut overrides = overrides("env", env)?;
    if let Some(g) = gamma {
        overrides.push(format!("ppo.gamma={g:?}"));
    }
    let obs = env_settings(env)?.obs;
    // Probes need a Rust model's activations and thinking time its recurrent ticks: the
    // audit reports both as not applicable for a Python policy. The options are kept as
    // given so that audit.json reads as `mesascope audit` with the same flags.
    let job = job(Subject::External { name: name.to_string(), overrides }, shift, levels, probe_levels, ticks, seed, out)?;
    let mut agent = PolicyAgent { policy, obs, output, greedy, error: None };
    let result = run(py, &job, Some(&mut agent), progress);
    if let Some(e) = agent.error.take() {
        return Err(e);
    }
    result
}

/// Audits a trained run (`run`: its directory, a checkpoint directory or a .safetensors file)
/// or a known-answer agent (`known`, on the task `env`), exactly as `mesascope audit` does;
/// returns lab's `AuditResult` as JSON text.
#[pyfunction]
#[pyo3(signature = (run=None, known=None, env=None, *, shift="goal-anywhere", levels=200, probe_levels=160, ticks=None, seed=0, out=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_job(
    py: Python<'_>,
    run: Option<PathBuf>,
    known: Option<String>,
    env: Option<&Bound<'_, PyDict>>,
    shift: &str,
    levels: usize,
    probe_levels: usize,
    ticks: Option<Vec<usize>>,
    seed: u64,
    out: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let subject = match (run, known) {
        (Some(path), None) => {
            if env.is_some_and(|e| !e.is_empty()) {
                return Err(err("invalid env: a trained run brings its own task; task settings apply to known-answer agents and policies"));
            }
            Subject::Run(path)
        }
        (None, Some(name)) => Subject::Known { name, overrides: overrides("env", env)? },
        _ => return Err(err("give exactly one of run= (a trained run) and known= (a known-answer agent)")),
    };
    let job = job(subject, shift, levels, probe_levels, ticks, seed, out)?;
    self::run(py, &job, None, progress)
}
