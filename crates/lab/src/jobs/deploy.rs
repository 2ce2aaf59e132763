//! Deployment: the agent on the deployment distribution (after a shift) and on the training
//! distribution, without guards and with each guard, scored by catastrophes per 1000
//! episodes and return (each paired against no guard), false alarms and detector AUROC;
//! written as `deploy.json` and `deploy.html`.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use mesascope_guard::chain::{evaluate_chain, DeployOptions, DeployReport, OnVeto};
use mesascope_guard::impact::ImpactMeasure;
use mesascope_learn::run::write_atomic;
use mesascope_tasks::Shift;

use super::common::{default_out, model_agent, write_json};
use super::progress::{OnProgress, Progress};
use crate::LabError;

/// What to deploy, under which shift, with which guards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployJob {
    /// The agent: a run directory, checkpoint directory, or .safetensors file.
    pub agent: PathBuf,
    /// Other agents (same task, other seeds) forming the ensemble with this one.
    pub ensemble: Vec<PathBuf>,
    /// The deployment shift.
    pub shift: Shift,
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
            agent: PathBuf::from("runs/default"),
            ensemble: Vec::new(),
            shift: o.shift,
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
}

/// Deploys the agent as `job` says and writes `deploy.json` and `deploy.html`.
pub fn deploy(job: &DeployJob, progress: OnProgress) -> Result<DeployResult, LabError> {
    let started = Instant::now();
    if !(0.0..1.0).contains(&job.false_alarm) {
        return Err(LabError::Invalid { what: "--false-alarm".into(), message: format!("{} must be in [0, 1)", job.false_alarm) });
    }
    let agent = model_agent(&job.agent)?;
    let members = job.ensemble.iter().map(|p| model_agent(p)).collect::<Result<Vec<_>, _>>()?;
    for (m, p) in members.iter().zip(&job.ensemble) {
        if m.cfg.env != agent.cfg.env {
            return Err(LabError::Invalid { what: "--ensemble".into(), message: format!("{} was trained on a different task than {}", p.display(), job.agent.display()) });
        }
    }
    // The OOD guard watches the model's last hidden layer.
    let layer = if agent.cfg.model.recurrent() { "gru.hidden" } else { "dense" }.to_string();
    let opts = DeployOptions {
        shift: job.shift,
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
    let out = job.out.clone().unwrap_or_else(|| default_out(&job.agent));
    // Stages of `evaluate_chain`: levels, fitting, calibration, random and optimal returns,
    // then the agent without guards, with each guard alone, and with all of them when there
    // are several.
    let stages = 4 + 1 + job.guards.len() + usize::from(job.guards.len() > 1);
    progress(&Progress::Started { what: format!("deploying {} with guards {} → {}", job.agent.display(), job.guards.join(", "), out.display()), total: stages as u64, done: 0, unit: "stages" });
    let mut done = 0;
    let dist = agent.cfg.env.dist;
    let report = evaluate_chain(&job.agent.display().to_string(), &agent, &members, &dist, &opts, &mut |stage| {
        progress(&Progress::Stage { done, name: stage.to_string() });
        done += 1;
    })?;
    let html = out.join("deploy.html");
    write_atomic(&html, mesascope_guard::page::html(&report).as_bytes())?;
    let files = vec![write_json(out.join("deploy.json"), &report)?, html];
    Ok(DeployResult { report, seconds: started.elapsed().as_secs_f64(), files })
}
