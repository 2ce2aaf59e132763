//! Policy vector fields of trained agents: the agent's action distribution at every square of a
//! level (placed there at the episode's start, with a fresh recurrent state), beside the exact
//! planner's, and the difference field between the agent and another agent (or the planner).
//! Where a goal-misgeneralizing agent parts from the planner, the difference field lights up
//! along the way to the corner.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use mesascope_audit::agents::ModelAgent;
use mesascope_tasks::field::{field_svg, planner_field, VectorField};
use mesascope_tasks::{Level, LevelId, Shift};

use crate::jobs::common::{check_level_size, model_agent};
use crate::jobs::replay::{find_level, DEFAULT_SEED};
use crate::LabError;

/// Which fields to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldJob {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    pub agent: PathBuf,
    /// The level (an id or a JSON file, as `replay` takes); `None`: the first held-out level
    /// under `shift` drawn from `seed`.
    pub level: Option<String>,
    /// The shift of the held-out levels; `None`: the family's first (the maze's goal-anywhere).
    pub shift: Option<Shift>,
    /// Seed of the held-out levels.
    pub seed: u64,
    /// Another agent to compare with; `None`: the difference is taken from the planner.
    pub against: Option<PathBuf>,
    /// The SVG to write.
    pub out: PathBuf,
}

impl FieldJob {
    /// The fields of `agent` on the first held-out level under its family's first shift,
    /// written to `out`.
    pub fn new(agent: impl Into<PathBuf>, out: impl Into<PathBuf>) -> FieldJob {
        FieldJob { agent: agent.into(), level: None, shift: None, seed: DEFAULT_SEED, against: None, out: out.into() }
    }
}

/// The fields drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldResult {
    /// The level's id.
    pub level_id: LevelId,
    /// The level.
    pub level: Level,
    /// The agent's field.
    pub agent: VectorField,
    /// The other agent's field, where one was given.
    pub against: Option<VectorField>,
    /// The exact planner's field.
    pub planner: VectorField,
    /// The picture: agent, planner (or the other agent) and their difference, side by side.
    pub svg: PathBuf,
}

/// Draws the fields `job` asks for.
pub fn vector_fields(job: &FieldJob) -> Result<FieldResult, LabError> {
    let agent = model_agent(&job.agent)?;
    let shift = job.shift.unwrap_or_else(|| agent.cfg.env.dist.family.first_shift());
    let level = match &job.level {
        Some(named) => find_level(&agent.cfg.env.dist, named, shift, job.seed, 10_000)?.level,
        None => agent.cfg.env.dist.held_out_levels(shift, 1, job.seed)?.remove(0),
    };
    let field = model_field(&agent, &level)?;
    let planner = planner_field(&level);
    let against = match &job.against {
        Some(path) => Some(model_field(&model_agent(path)?, &level)?),
        None => None,
    };
    let (other_name, other) = match &against {
        Some(f) => ("other agent", f),
        None => ("exact planner", &planner),
    };
    let difference = field.difference(other).map_err(LabError::Refused)?;
    let svg = field_svg(&level, &[("agent", field.arrows()), (other_name, other.arrows()), (&format!("agent − {other_name}"), difference)]);
    mesascope_learn::run::write_atomic(&job.out, svg.as_bytes())?;
    Ok(FieldResult { level_id: level.id(), level, agent: field, against, planner, svg: job.out.clone() })
}

/// A trained model's field on `level` ([`ModelAgent::field`]), refusing a level of another size.
pub fn model_field(agent: &ModelAgent, level: &Level) -> Result<VectorField, LabError> {
    check_level_size(&agent.cfg, level)?;
    Ok(agent.field(level))
}
