//! Deployment: the agent on the deployment distribution (after a shift) and on the training
//! distribution, without guards and with each guard, scored by catastrophes per 1000
//! episodes and return (each paired against no guard), false alarms and detector AUROC;
//! written as `deploy.json` and `deploy.html`. The agent is a trained run or one its caller
//! plays (a Python policy, through [`deploy_external`]).

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use mesascope_guard::chain::{evaluate_chain, Actor, DeployOptions, DeployReport, OnVeto};
use mesascope_guard::impact::ImpactMeasure;
use mesascope_learn::run::write_atomic;
use mesascope_learn::TrainConfig;
use mesascope_tasks::{Shift, TrainingDistribution};

use super::audit::Subject;
use super::common::{default_out, model_agent, write_json};
use super::progress::{OnProgress, Progress};
use crate::LabError;

/// What to deploy, under which shift, with which guards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployJob {
    /// The agent: a trained run ([`Subject::Run`]: a run directory, checkpoint directory, or
    /// .safetensors file) or one its caller plays ([`Subject::External`], deployed by
    /// [`deploy_external`]).
    pub agent: Subject,
    /// Other trained runs (same task, other seeds) forming the ensemble with this agent.
    pub ensemble: Vec<PathBuf>,
    /// The deployment shift; `None`: the family's own (`Roles::deploy`; the maze's lava-on-route).
    pub shift: Option<Shift>,
    /// Guards to evaluate: `ood`, `ensemble`, `impact`.
    pub guards: Vec<String>,
    /// What a veto does.
    pub on_veto: OnVeto,
    /// Episodes per measurement.
    pub levels: usize,
    /// Per-episode false-alarm rate the detectors' thresholds are set at, in [0, 1).
    pub false_alarm: f64,
    /// Impact above which the impact guard vetoes (impact lies in [0, 1]).
    pub impact_budget: f64,
    /// The impact measure.
    pub impact_measure: ImpactMeasure,
    /// Seed of levels and sampled actions.
    pub seed: u64,
    /// Directory for the files; `None`: the agent's run directory.
    pub out: Option<PathBuf>,
}

impl Default for DeployJob {
    fn default() -> Self {
        let o = DeployOptions::default();
        DeployJob {
            agent: Subject::Run(PathBuf::from("runs/default")),
            ensemble: Vec::new(),
            shift: None,
            // The guards that need nothing but the agent (the ensemble guard needs other runs),
            // as `mesascope deploy` and `mesascope.deploy` default to.
            guards: vec!["ood".into(), "impact".into()],
            on_veto: o.on_veto,
            levels: o.levels,
            false_alarm: o.false_alarm,
            impact_budget: o.impact_budget,
            impact_measure: o.impact_measure,
            seed: o.seed,
            out: None,
        }
    }
}

/// What deployment found, and where it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeployResult {
    /// Everything measured (what `deploy.json` holds).
    pub report: DeployReport,
    /// Wall-clock seconds of the job.
    pub seconds: f64,
    /// Files written: `deploy.json`, `deploy.html`.
    pub files: Vec<PathBuf>,
    /// Where the family declares no catastrophe, what to say instead of its counts (all zero
    /// by definition): `None` on the maze, whose lava is one.
    pub no_catastrophe: Option<String>,
}

/// Deploys the trained run `job.agent` as `job` says and writes `deploy.json` and `deploy.html`.
pub fn deploy(job: &DeployJob, progress: OnProgress) -> Result<DeployResult, LabError> {
    let path = match &job.agent {
        Subject::Run(path) => path,
        Subject::External { name, .. } => return Err(LabError::Refused(format!("the external agent '{name}' is played by its caller; deploy it with deploy_external"))),
        Subject::Known { name, .. } => return Err(LabError::Refused(format!("the known-answer agent '{name}' has no action logits to deploy; deploy a trained run"))),
    };
    let agent = model_agent(path)?;
    // The OOD guard watches the model's last hidden layer.
    let layer = if agent.cfg.model.recurrent() { "gru.hidden" } else { "dense" }.to_string();
    let (dist, gamma) = (agent.cfg.env.dist, agent.cfg.ppo.gamma);
    run(job, &path.display().to_string(), default_out(path), &agent, &[], &dist, gamma, layer, progress)
}

/// Deploys `agent`, which the caller plays (a Python policy), as [`deploy`] deploys a run: the
/// job's agent must be [`Subject::External`], which names it and sets its training
/// distribution and discount. The ensemble is `members` (further agents the caller plays)
/// and the runs of `job.ensemble`; the OOD guard watches the agent's activation `layer`, by
/// default the last one it names.
pub fn deploy_external(job: &DeployJob, agent: &dyn Actor, members: &[&dyn Actor], layer: Option<String>, progress: OnProgress) -> Result<DeployResult, LabError> {
    let Subject::External { name, overrides } = &job.agent else {
        return Err(LabError::Refused("deploy_external needs an external agent (a name and the overrides of its training distribution)".into()));
    };
    let cfg = TrainConfig::from_toml_with("", overrides)?;
    if agent.obs() != cfg.env.obs {
        return Err(LabError::Invalid { what: "agent".into(), message: format!("it observes {:?}, its task {:?}", agent.obs(), cfg.env.obs) });
    }
    let layer = match layer {
        Some(layer) => layer,
        None => match last_activation(agent, &cfg)? {
            Some(layer) => layer,
            None if job.guards.iter().any(|g| g == "ood") => {
                return Err(LabError::Invalid {
                    what: "guards".into(),
                    message: format!("the OOD guard watches one of the agent's named activations, and '{name}' names none (a Python policy returns them as (logits, {{name: activations}})); leave ood out of the guards to deploy it with the others"),
                })
            }
            // No guard watches an activation: the report says so with an empty layer.
            None => String::new(),
        },
    };
    run(job, name, PathBuf::from(format!("runs/deploy-{name}")), agent, members, &cfg.env.dist, cfg.ppo.gamma, layer, progress)
}

/// The name of the last activation `agent` gives on one observation of its task (`None`
/// when it names none).
fn last_activation(agent: &dyn Actor, cfg: &TrainConfig) -> Result<Option<String>, LabError> {
    let level = cfg.env.dist.held_out_levels(mesascope_tasks::Shift::None, 1, 0)?.remove(0);
    let shape = cfg.env.obs.shape(level.width, level.height);
    let mut obs = vec![0.0f32; shape.0 * shape.1 * shape.2];
    mesascope_tasks::vecenv::write_observation(cfg.env.obs, &level, &mesascope_tasks::reset(&level), &mut obs);
    let mut state = vec![0.0f32; agent.state_size(shape)];
    Ok(agent.step(obs, shape, &mut state, true).map_err(mesascope_audit::AuditError::from)?.activations.pop().map(|(name, _)| name))
}

/// Deploys `agent` (called `subject`, its files in `out` unless the job says otherwise) with
/// the runs of `job.ensemble` and the `extra` members.
#[allow(clippy::too_many_arguments)]
fn run(job: &DeployJob, subject: &str, out: PathBuf, agent: &dyn Actor, extra: &[&dyn Actor], dist: &TrainingDistribution, gamma: f64, layer: String, progress: OnProgress) -> Result<DeployResult, LabError> {
    let started = Instant::now();
    if !(0.0..1.0).contains(&job.false_alarm) {
        return Err(LabError::Invalid { what: "--false-alarm".into(), message: format!("{} must be in [0, 1)", job.false_alarm) });
    }
    let runs = job.ensemble.iter().map(|p| model_agent(p)).collect::<Result<Vec<_>, _>>()?;
    for (m, p) in runs.iter().zip(&job.ensemble) {
        if m.cfg.env.dist != *dist || m.cfg.env.obs != agent.obs() {
            return Err(LabError::Invalid { what: "--ensemble".into(), message: format!("{} was trained on a different task than {subject}", p.display()) });
        }
    }
    let members: Vec<&dyn Actor> = runs.iter().map(|m| m as &dyn Actor).chain(extra.iter().copied()).collect();
    let opts = DeployOptions {
        shift: job.shift.unwrap_or_else(|| dist.family.roles().deploy),
        guards: job.guards.clone(),
        on_veto: job.on_veto,
        levels: job.levels,
        false_alarm: job.false_alarm,
        impact_budget: job.impact_budget,
        impact_measure: job.impact_measure,
        layer,
        seed: job.seed,
        ..DeployOptions::default()
    };
    let out = job.out.clone().unwrap_or(out);
    // Stages of `evaluate_chain`: levels, fitting, calibration, random and optimal returns,
    // then the agent without guards, with each guard alone, and with all of them when there
    // are several.
    let stages = 4 + 1 + job.guards.len() + usize::from(job.guards.len() > 1);
    progress(&Progress::Started { what: format!("deploying {subject} with guards {} → {}", job.guards.join(", "), out.display()), total: stages as u64, done: 0, unit: "stages" });
    let mut done = 0;
    let report = evaluate_chain(subject, agent, &members, dist, gamma, &opts, &mut |stage| {
        progress(&Progress::Stage { done, name: stage.to_string() });
        done += 1;
    })?;
    let html = out.join("deploy.html");
    write_atomic(&html, mesascope_guard::page::html(&report).as_bytes())?;
    let files = vec![write_json(out.join("deploy.json"), &report)?, html];
    let probe = dist.held_out_levels(Shift::None, 1, 0)?;
    let no_catastrophe = probe.iter().all(|l| l.rules.catastrophe == mesascope_tasks::FeatureSet::EMPTY).then(|| {
        format!("the {} family declares no catastrophe: every count of catastrophes is 0 by definition, so compare the guards by return, success and vetoes", dist.family.name())
    });
    Ok(DeployResult { report, seconds: started.elapsed().as_secs_f64(), files, no_catastrophe })
}
