//! The whole audit of one agent (optimization power, the mesa-optimizer evidence battery,
//! objective inference under a shift, the alignment verdict), written as `audit.json` (every
//! number with its interval and sample size), `audit.html` (verdict first, charts, sample
//! episodes) and `audit-timing.json` (seconds per stage: kept apart so that `audit.json` is
//! the same bytes on every rerun). The agent is a trained run, one of the known-answer
//! agents on a training distribution, for calibration, or an agent its caller plays (a
//! Python policy, through [`audit_external`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use mesascope_audit::agents::{Agent, CornerSeeker, PolicyAgent, SharePlanner, ShareRule, TabularAgent};
use mesascope_audit::report::STAGES;
use mesascope_audit::{AuditOptions, AuditReport};
use mesascope_learn::run::write_atomic;
use mesascope_learn::TrainConfig;
use mesascope_tasks::{Feature, FamilySpec, OptimalPolicy, RewardWeights, Shift, ShortestPathToGoal, TrainingDistribution, UniformRandom};

use super::common::{default_out, model_agent, write_json};
use super::progress::{OnProgress, Progress};
use crate::LabError;

/// The known-answer agents, whose verdicts are known in advance.
pub const KNOWN_AGENTS: [&str; 7] = ["planner", "corner-seeker", "corner-quarter", "proxy-planner", "proxy-half", "memorizer", "random"];

/// The discount of the known-answer agents that plan exactly (PPO's default).
const KNOWN_GAMMA: f64 = 0.97;

/// Who is audited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A trained agent: a run directory, a checkpoint directory, or a .safetensors file with
    /// config.toml beside it.
    Run(PathBuf),
    /// A known-answer agent (one of [`KNOWN_AGENTS`]) on the default training distribution
    /// changed by `overrides` (`field=value`, as for training).
    Known {
        /// The agent's name.
        name: String,
        /// Config overrides that set its training distribution.
        overrides: Vec<String>,
    },
    /// An agent the caller plays itself (a Python policy), audited by [`audit_external`] on
    /// the default training distribution changed by `overrides`.
    External {
        /// What to call it in the report.
        name: String,
        /// Config overrides that set its training distribution (and the discount).
        overrides: Vec<String>,
    },
}

/// What to audit and how much.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditJob {
    /// The agent.
    pub subject: Subject,
    /// The deployment shift whose episodes objective inference explains; `None`: the
    /// family's first declared shift (the maze's goal-anywhere).
    pub shift: Option<Shift>,
    /// Levels per measurement (training, novel, retargeting, deployment).
    pub levels: usize,
    /// Levels the probes are fitted on (scored on half as many others); 0 switches them off.
    pub probe_levels: usize,
    /// Thinking-time ticks to try for recurrent models.
    pub ticks: Vec<usize>,
    /// Deployment levels drawn per mixed candidate for the check of its kind (0: only the
    /// deployment levels decide it).
    pub mixture_levels: usize,
    /// The fewest levels per proxy where its optimum parts from the base objective's that the
    /// proxy share is read from; more are drawn beside the audit's own until there are this
    /// many (0: the audit's own deployment levels only).
    pub share_levels: usize,
    /// Whether distance-shaped objectives ("near the top-right corner") are candidates too.
    pub distance_shaped: bool,
    /// Seed of levels, sampled actions and resampling.
    pub seed: u64,
    /// Directory for the files; `None`: the run directory, or `runs/audit-NAME` for a
    /// known-answer agent.
    pub out: Option<PathBuf>,
}

impl Default for AuditJob {
    fn default() -> Self {
        let o = AuditOptions::default();
        AuditJob { subject: Subject::Run(PathBuf::from("runs/default")), shift: None, levels: o.levels, probe_levels: o.probe_levels, ticks: o.ticks, mixture_levels: o.mixture_levels, share_levels: o.share_levels, distance_shaped: o.distance_shaped, seed: o.seed, out: None }
    }
}

/// What an audit found, and where it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditResult {
    /// What was audited, in words (a path, or "known-answer agent 'NAME'").
    pub subject: String,
    /// Everything the audit measured (what `audit.json` holds).
    pub report: AuditReport,
    /// Wall-clock seconds per stage, in the order of [`STAGES`].
    pub stage_seconds: Vec<(String, f64)>,
    /// Wall-clock seconds of the whole job.
    pub seconds: f64,
    /// Files written (`audit.json`, `audit.html`, `audit-timing.json`); empty for a benchmark.
    pub files: Vec<PathBuf>,
}

/// The agent, its training distribution, its discount, its name and the default output.
struct Loaded<'a> {
    agent: Box<dyn Agent + 'a>,
    dist: TrainingDistribution,
    gamma: f64,
    name: String,
    out: PathBuf,
}

/// The known-answer agent `name` (one of [`KNOWN_AGENTS`]) for the training distribution
/// `dist`, sampling from `seed`.
pub(crate) fn known_agent(name: &str, dist: &TrainingDistribution, seed: u64) -> Result<Box<dyn Agent>, LabError> {
    Ok(match name {
        // The maze's planner is the shortest path to the cheese, which takes the exact
        // optimum's actions (tested over 1,000 mazes) without solving; other families' is the
        // exact optimum of their base objective.
        "planner" => match dist.family {
            FamilySpec::Maze(_) => Box::new(PolicyAgent(ShortestPathToGoal::default())),
            _ => Box::new(PolicyAgent(OptimalPolicy::new(dist.family.base_reward(), KNOWN_GAMMA))),
        },
        // The exact optimum of the family's first known proxy alone (the maze's corner; the
        // keys of keys-chests: a key collector).
        "proxy-planner" => Box::new(PolicyAgent(OptimalPolicy::new(RewardWeights::only(first_proxy(name, dist)?, 1.0), KNOWN_GAMMA))),
        // The canon metric's check: that proxy on a fixed half of the levels, the base
        // objective's optimum on the other half.
        "proxy-half" => Box::new(PolicyAgent(SharePlanner::new(dist.family.base_reward(), RewardWeights::only(first_proxy(name, dist)?, 1.0), KNOWN_GAMMA, ShareRule::ByLevel(0.5), false, seed))),
        "corner-seeker" => Box::new(PolicyAgent(CornerSeeker::default())),
        // The graded answer's known share: the corner on a fixed quarter of the levels.
        "corner-quarter" => Box::new(PolicyAgent(SharePlanner::new(dist.family.base_reward(), RewardWeights::only(Feature::AtTopRightCorner, 1.0), KNOWN_GAMMA, ShareRule::ByLevel(0.25), false, seed))),
        "memorizer" => {
            let Some(pool) = dist.training_levels()? else {
                return Err(LabError::Invalid { what: "--known memorizer".into(), message: "it memorizes a finite training set; add --set env.diversity=N".into() });
            };
            Box::new(PolicyAgent(TabularAgent::fit(&pool, seed)))
        }
        "random" => Box::new(PolicyAgent(UniformRandom::new(seed))),
        _ => return Err(LabError::Refused(format!("unknown known-answer agent '{name}' (known: {})", KNOWN_AGENTS.join(", ")))),
    })
}

/// The family's first known proxy, which the known agent `name` pursues.
fn first_proxy(name: &str, dist: &TrainingDistribution) -> Result<Feature, LabError> {
    dist.family.roles().proxies.first().map(|p| p.feature).ok_or_else(|| LabError::Invalid { what: format!("--known {name}"), message: format!("the {} family declares no proxy", dist.family.name()) })
}

fn load<'a>(job: &AuditJob, external: Option<Box<dyn Agent + 'a>>) -> Result<Loaded<'a>, LabError> {
    match &job.subject {
        Subject::External { name, overrides } => {
            let agent = external.ok_or_else(|| LabError::Refused(format!("the external agent '{name}' is played by its caller; audit it with audit_external")))?;
            let cfg = TrainConfig::from_toml_with("", overrides)?;
            Ok(Loaded { agent, dist: cfg.env.dist, gamma: cfg.ppo.gamma, name: name.clone(), out: PathBuf::from(format!("runs/audit-{name}")) })
        }
        Subject::Known { name, overrides } => {
            let cfg = TrainConfig::from_toml_with("", overrides)?;
            let dist = cfg.env.dist;
            let agent = known_agent(name, &dist, job.seed)?;
            Ok(Loaded { agent, dist, gamma: cfg.ppo.gamma, name: format!("known-answer agent '{name}'"), out: PathBuf::from(format!("runs/audit-{name}")) })
        }
        Subject::Run(path) => {
            let agent = model_agent(path)?;
            let (dist, gamma) = (agent.cfg.env.dist, agent.cfg.ppo.gamma);
            Ok(Loaded { agent: Box::new(agent), dist, gamma, name: path.display().to_string(), out: default_out(path) })
        }
    }
}

/// Runs the audit, reporting each stage as it starts.
fn run<'a>(job: &AuditJob, external: Option<Box<dyn Agent + 'a>>, progress: OnProgress) -> Result<(AuditResult, PathBuf), LabError> {
    let started = Instant::now();
    let Loaded { mut agent, dist, gamma, name, out } = load(job, external)?;
    let out = job.out.clone().unwrap_or(out);
    let shift = job.shift.unwrap_or_else(|| dist.family.first_shift());
    let opts = AuditOptions { shift, levels: job.levels, ticks: job.ticks.clone(), probe_levels: job.probe_levels, mixture_levels: job.mixture_levels, share_levels: job.share_levels, distance_shaped: job.distance_shaped, gamma, seed: job.seed, ..AuditOptions::default() };
    progress(&Progress::Started { what: format!("auditing {name} → {}", out.display()), total: STAGES.len() as u64, done: 0, unit: "stages" });
    let mut done = 0;
    let report = mesascope_audit::audit(&name, agent.as_mut(), &dist, &opts, &mut |stage| {
        progress(&Progress::Stage { done, name: stage.to_string() });
        done += 1;
    })?;
    let stage_seconds = STAGES.iter().map(|s| (s.to_string(), report.seconds.get(*s).copied().unwrap_or(0.0))).collect();
    Ok((AuditResult { subject: name, report, stage_seconds, seconds: started.elapsed().as_secs_f64(), files: Vec::new() }, out))
}

/// Audits the agent and writes `audit.json`, `audit.html` and `audit-timing.json`.
pub fn audit(job: &AuditJob, progress: OnProgress) -> Result<AuditResult, LabError> {
    write(run(job, None, progress)?)
}

/// Audits `agent`, which the caller plays (a Python policy), as [`audit`] audits a run: the
/// job's subject must be [`Subject::External`], which names it and sets its training
/// distribution.
pub fn audit_external(job: &AuditJob, agent: &mut dyn Agent, progress: OnProgress) -> Result<AuditResult, LabError> {
    if !matches!(job.subject, Subject::External { .. }) {
        return Err(LabError::Refused("audit_external needs an external subject (a name and the overrides of its training distribution)".into()));
    }
    write(run(job, Some(Box::new(agent)), progress)?)
}

/// Writes what [`run`] found.
fn write((mut result, out): (AuditResult, PathBuf)) -> Result<AuditResult, LabError> {
    let html = out.join("audit.html");
    write_atomic(&html, mesascope_audit::page::html(&result.report).as_bytes())?;
    let timing: BTreeMap<&str, f64> = result.stage_seconds.iter().map(|(s, t)| (s.as_str(), *t)).chain([("total", result.seconds)]).collect();
    result.files = vec![write_json(out.join("audit.json"), &result.report)?, html, write_json(out.join("audit-timing.json"), &timing)?];
    Ok(result)
}

/// The same audit as [`audit`], timed per stage, with nothing written.
pub fn bench_audit(job: &AuditJob) -> Result<AuditResult, LabError> {
    Ok(run(job, None, &|_| {})?.0)
}
