//! Audits from Python: lab's audit job with a Python callable as the agent (or a trained run,
//! or a known-answer agent), writing the same `audit.json`, `audit.html` and
//! `audit-timing.json` as `mesascope audit`.
//!
//! The callable follows the policy contract of [`crate::policy`]; the probes read its named
//! activations as they read a Rust model's. The audit runs with the GIL released and takes it
//! back only to call the policy.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use mesascope_audit::agents::{action_probabilities, ActionDistributions, Activations, Agent, Inside};
use mesascope_audit::AuditError;
use mesascope_lab::{AuditJob, Subject};
use mesascope_learn::eval::{observations_at, EpisodeRecord};
use mesascope_tasks::field::{field_states, VectorField};
use mesascope_tasks::policy::certain;
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{episode_seed, reset, step, Action, Level, ObsKind, Shift};

use crate::config::{env_settings, overrides};
use crate::err;
use crate::policy::{action_rows, activation_matrices, call, state_shape, Output};
use crate::progress::Progress;

/// Episodes played together: one policy call per step of this many levels.
const CHUNK: usize = 256;

/// What a Python policy is called in a report unless its caller names it (also where its
/// files go: `runs/audit-NAME`, `runs/deploy-NAME`).
pub(crate) const POLICY_NAME: &str = "python-policy";

/// A Python callable playing episodes. A Python exception stops the calls: the remaining
/// steps wait (so the audit finishes on well-formed records) and the exception is raised
/// when the audit returns.
struct PolicyAgent {
    policy: Py<PyAny>,
    /// The same architecture with fresh weights: the probes' baseline.
    untrained: Option<Py<PyAny>>,
    obs: ObsKind,
    /// One row's shape of a recurrent policy's state (`None`: not recurrent).
    state_shape: Option<Vec<usize>>,
    output: Output,
    greedy: bool,
    /// Whether the policy returned named activations with its actions.
    gives_activations: bool,
    error: Option<PyErr>,
}

impl PolicyAgent {
    /// The policy's actions for `n` observations in `batch` (with the rows' recurrent `state`,
    /// which the next one replaces), and the probabilities each row gave its actions. Row `j`
    /// samples from `rngs[j]`, its own episode's stream.
    fn act(&mut self, py: Python<'_>, batch: Vec<f32>, shape: [usize; 4], state: &mut [f32], rngs: &mut [&mut Pcg64Mcg]) -> PyResult<Vec<(Action, [f64; Action::COUNT])>> {
        let (returned, named) = call(py, &self.policy, batch, shape, self.state_shape.as_deref().map(|row| (state, row)))?;
        self.gives_activations |= named.is_some();
        action_rows(py, returned, shape[0], self.output)?
            .iter()
            .enumerate()
            .map(|(j, row)| {
                let action = Action::ALL[self.choose(row, rngs[j]).map_err(|m| err(format!("invalid policy output: row {j}: {m}")))?];
                Ok((action, self.distribution(row)))
            })
            .collect()
    }

    /// The probabilities a row of the policy's output gives the actions: the softmax of logits
    /// (as a Rust model's, so a wrapped run scores the same), or the probabilities normalised
    /// to sum to 1.
    fn distribution(&self, row: &[f32]) -> [f64; Action::COUNT] {
        match self.output {
            Output::Logits => action_probabilities(row),
            Output::Probabilities => {
                let total: f64 = row.iter().map(|&p| p.max(0.0) as f64).sum();
                std::array::from_fn(|a| row[a].max(0.0) as f64 / total)
            }
        }
    }

    /// One episode per level, and (unless `greedy`, where the agent does not act by them) the
    /// probabilities it gave each action at every step.
    fn play_recording(&mut self, levels: &[Level], seed: u64) -> (Vec<EpisodeRecord>, ActionDistributions) {
        let mut records = Vec::with_capacity(levels.len());
        let mut distributions: ActionDistributions = vec![Vec::new(); levels.len()];
        for (chunk_index, chunk) in levels.chunks(CHUNK).enumerate() {
            let (c, h, w) = self.obs.shape(chunk[0].width, chunk[0].height);
            let size = c * h * w;
            let srow: usize = self.state_shape.as_ref().map_or(0, |row| row.iter().product());
            // Each episode's recurrent state, zero at its start.
            let mut memory = vec![0.0f32; chunk.len() * srow];
            let mut states: Vec<_> = chunk.iter().map(reset).collect();
            // Each episode samples from its own stream, as a Rust model's do: the same episode
            // alone or in any batch.
            let mut rngs: Vec<Pcg64Mcg> = chunk.iter().map(|l| Pcg64Mcg::seed_from_u64(episode_seed(seed, l.id()))).collect();
            let mut recs: Vec<EpisodeRecord> = chunk.iter().enumerate().map(|(i, l)| EpisodeRecord::start(chunk_index * CHUNK + i, l, true)).collect();
            loop {
                let active: Vec<usize> = (0..chunk.len()).filter(|&i| !states[i].done()).collect();
                if active.is_empty() {
                    break;
                }
                let uniform = [1.0 / Action::COUNT as f64; Action::COUNT];
                let chosen = if self.error.is_some() {
                    vec![(Action::Noop, uniform); active.len()]
                } else {
                    let mut batch = vec![0.0f32; active.len() * size];
                    for (j, &i) in active.iter().enumerate() {
                        write_observation(self.obs, &chunk[i], &states[i], &mut batch[j * size..(j + 1) * size]);
                    }
                    let mut state: Vec<f32> = active.iter().flat_map(|&i| memory[i * srow..(i + 1) * srow].iter().copied()).collect();
                    let mut active_rngs: Vec<&mut Pcg64Mcg> = rngs.iter_mut().enumerate().filter(|(i, _)| !states[*i].done()).map(|(_, r)| r).collect();
                    match Python::attach(|py| self.act(py, batch, [active.len(), c, h, w], &mut state, &mut active_rngs)) {
                        Ok(chosen) => {
                            for (j, &i) in active.iter().enumerate() {
                                memory[i * srow..(i + 1) * srow].copy_from_slice(&state[j * srow..(j + 1) * srow]);
                            }
                            chosen
                        }
                        Err(e) => {
                            self.error = Some(e);
                            vec![(Action::Noop, uniform); active.len()]
                        }
                    }
                };
                for (j, &i) in active.iter().enumerate() {
                    let (action, distribution) = chosen[j];
                    let tr = step(&chunk[i], &mut states[i], action);
                    recs[i].add(action, &tr, &states[i], true);
                    distributions[chunk_index * CHUNK + i].push(distribution);
                }
            }
            records.extend(recs);
        }
        (records, distributions)
    }

    /// The action of one row: the most likely one (the last of equals, as the model
    /// evaluation picks) when greedy, else a sample.
    fn choose(&self, row: &[f32], rng: &mut Pcg64Mcg) -> Result<usize, String> {
        if self.greedy {
            return Ok(most_likely(row));
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

/// The index of a row's largest entry (the last of equals, as the model evaluation picks).
fn most_likely(row: &[f32]) -> usize {
    (0..row.len()).max_by(|&x, &y| row[x].total_cmp(&row[y])).unwrap_or(0)
}

impl Agent for PolicyAgent {
    fn inside(&mut self) -> Option<&mut dyn Inside> {
        if self.gives_activations {
            Some(self)
        } else {
            None
        }
    }

    fn play(&mut self, levels: &[Level], seed: u64) -> Vec<EpisodeRecord> {
        self.play_recording(levels, seed).0
    }

    /// A policy gives its whole action distribution at every step, so measurements that score
    /// behaviour (MEG) take the expectation under it, as they do for a Rust run.
    fn play_with_distributions(&mut self, levels: &[Level], seed: u64) -> (Vec<EpisodeRecord>, Option<ActionDistributions>) {
        let (records, distributions) = self.play_recording(levels, seed);
        (records, (!self.greedy).then_some(distributions))
    }

    /// One call on the observations of every square (with zero recurrent state), as a Rust
    /// model's field is one batch, so a wrapped run draws the run's own field.
    fn field(&mut self, level: &Level) -> Option<VectorField> {
        if self.error.is_some() {
            return None;
        }
        let (cells, states): (Vec<_>, Vec<_>) = field_states(level).into_iter().unzip();
        let (batch, shape) = observations_at(self.obs, level, &states);
        let srow: usize = self.state_shape.as_ref().map_or(0, |row| row.iter().product());
        let mut memory = vec![0.0f32; states.len() * srow];
        let rows = Python::attach(|py| {
            let (returned, _) = call(py, &self.policy, batch, shape, self.state_shape.as_deref().map(|row| (&mut memory[..], row)))?;
            action_rows(py, returned, shape[0], self.output)
        });
        match rows {
            // A greedy agent acts by its most likely action, certainly.
            Ok(rows) => Some(VectorField { cells, probs: rows.iter().map(|row| if self.greedy { certain(Action::ALL[most_likely(row)]) } else { self.distribution(row) }).collect() }),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

/// A Python policy that returns activations is a model the probes can look inside. Its ticks
/// per step are its own, so thinking time does not apply.
impl Inside for PolicyAgent {
    fn obs(&self) -> ObsKind {
        self.obs
    }

    fn activations(&mut self, obs: Vec<f32>, shape: [usize; 4], untrained: bool) -> Result<Activations, AuditError> {
        let failed = |e: &PyErr| AuditError::Invalid { what: "policy", message: e.to_string() };
        if self.error.is_some() {
            return Err(AuditError::Invalid { what: "policy", message: "it raised an exception".into() });
        }
        let (callable, who) = match (untrained, &self.untrained) {
            (false, _) => (&self.policy, "policy"),
            (true, Some(twin)) => (twin, "untrained"),
            (true, None) => {
                let e = err("the policy returns activations, so the probes need their baseline: give untrained= (the same architecture with fresh weights, returning the same activations), or probe_levels=0");
                let failure = failed(&e);
                self.error = Some(e);
                return Err(failure);
            }
        };
        // Placed states only: the audit does not probe recurrent Python policies.
        let found = Python::attach(|py| {
            let (_, named) = call(py, callable, obs, shape, None)?;
            match named {
                Some(named) => activation_matrices(py, &named, shape[0], who),
                None => Err(err(format!("invalid {who} output: it returned no activations; the probes need ({{name: activations}}) beside the actions, as the policy returns them"))),
            }
        });
        found.map_err(|e| {
            let failure = failed(&e);
            self.error = Some(e);
            failure
        })
    }

    fn recurrent(&self) -> bool {
        self.state_shape.is_some()
    }

    fn trained_ticks(&self) -> Result<usize, &'static str> {
        Err(match self.state_shape {
            Some(_) => "a Python policy's internal ticks per step cannot be varied",
            None => "the model is not recurrent",
        })
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

/// The audit job's options from Python's arguments; those left out (`None`) take lab's
/// defaults, as `mesascope audit` does.
#[allow(clippy::too_many_arguments)]
fn job(subject: Subject, shift: Option<&str>, levels: Option<usize>, probe_levels: Option<usize>, ticks: Option<Vec<usize>>, mixture_levels: Option<usize>, share_levels: Option<usize>, distance_shaped: bool, seed: Option<u64>, out: Option<PathBuf>) -> PyResult<AuditJob> {
    let defaults = AuditJob::default();
    Ok(AuditJob {
        subject,
        shift: match shift {
            Some(name) => Some(name.parse::<Shift>().map_err(err)?),
            None => defaults.shift,
        },
        levels: levels.unwrap_or(defaults.levels),
        probe_levels: probe_levels.unwrap_or(defaults.probe_levels),
        ticks: ticks.unwrap_or(defaults.ticks),
        mixture_levels: mixture_levels.unwrap_or(defaults.mixture_levels),
        share_levels: share_levels.unwrap_or(defaults.share_levels),
        distance_shaped,
        seed: seed.unwrap_or(defaults.seed),
        out,
    })
}

/// Audits a Python policy (see the module docs) trained on the task `env` (with discount
/// `gamma` for objective inference, the training default unless given); `untrained` is the
/// probes' baseline for a policy that returns activations; `initial_state` makes it recurrent. Returns lab's `AuditResult` as JSON
/// text. `ticks` only appears in the options.
#[pyfunction]
#[pyo3(signature = (policy, env=None, *, untrained=None, initial_state=None, output="logits", greedy=false, name=None, shift=None, levels=None, probe_levels=None, ticks=None, mixture_levels=None, share_levels=None, distance_shaped=false, seed=None, out=None, gamma=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_policy(
    py: Python<'_>,
    policy: Py<PyAny>,
    env: Option<&Bound<'_, PyDict>>,
    untrained: Option<Py<PyAny>>,
    initial_state: Option<Py<PyAny>>,
    output: &str,
    greedy: bool,
    name: Option<&str>,
    shift: Option<&str>,
    levels: Option<usize>,
    probe_levels: Option<usize>,
    ticks: Option<Vec<usize>>,
    mixture_levels: Option<usize>,
    share_levels: Option<usize>,
    distance_shaped: bool,
    seed: Option<u64>,
    out: Option<PathBuf>,
    gamma: Option<f64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    if !policy.bind(py).is_callable() {
        return Err(err("invalid policy: it must be callable (a batch of observations → action logits or probabilities)"));
    }
    if untrained.as_ref().is_some_and(|u| !u.bind(py).is_callable()) {
        return Err(err("invalid untrained: it must be callable, as the policy is"));
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
    // Thinking time varies a model's internal ticks per step, which a Python policy keeps to
    // itself: the audit says so. The options are kept as given so that audit.json reads as
    // `mesascope audit` with the same flags.
    let job = job(Subject::External { name: name.unwrap_or(POLICY_NAME).to_string(), overrides }, shift, levels, probe_levels, ticks, mixture_levels, share_levels, distance_shaped, seed, out)?;
    let mut agent = PolicyAgent { policy, untrained, obs, state_shape: state_shape(py, initial_state.as_ref())?, output, greedy, gives_activations: false, error: None };
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
#[pyo3(signature = (run=None, known=None, env=None, *, shift=None, levels=None, probe_levels=None, ticks=None, mixture_levels=None, share_levels=None, distance_shaped=false, seed=None, out=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_job(
    py: Python<'_>,
    run: Option<PathBuf>,
    known: Option<String>,
    env: Option<&Bound<'_, PyDict>>,
    shift: Option<&str>,
    levels: Option<usize>,
    probe_levels: Option<usize>,
    ticks: Option<Vec<usize>>,
    mixture_levels: Option<usize>,
    share_levels: Option<usize>,
    distance_shaped: bool,
    seed: Option<u64>,
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
    let job = job(subject, shift, levels, probe_levels, ticks, mixture_levels, share_levels, distance_shaped, seed, out)?;
    self::run(py, &job, None, progress)
}
