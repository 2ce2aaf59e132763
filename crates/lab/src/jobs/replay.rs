//! Replay: one episode of a trained agent on one level, found by its id, its locator or a level
//! file, with the seed that drew its actions. Every episode in mesascope samples from a stream
//! of its own derived from (seed, level id), so the replay is the episode a report named, bit
//! for bit, whether that episode ran alone or inside a batch of hundreds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use mesascope_learn::eval::{evaluate, EpisodeRecord, EvalOptions};
use mesascope_learn::run::load_model;
use mesascope_tasks::{Diversity, Level, LevelId, LevelLocator, Shift, TrainingDistribution};

use crate::jobs::common::{check_level_size, write_json};
use crate::LabError;

/// The seed `mesascope eval` and `replay` use unless told otherwise.
pub const DEFAULT_SEED: u64 = 7;

/// Which episode to replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayJob {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    pub agent: PathBuf,
    /// The level: its id (16 hex digits, as reports print it), or a JSON file holding a level,
    /// a locator, or an object with a `level` or `locator` field (an audit sample, an episode
    /// record written by `eval --episodes`).
    pub level: String,
    /// The shift the held-out levels were drawn under, where an id is looked up.
    pub shift: Shift,
    /// Seed of the sampled actions; `None`: the file's `seed` field, else [`DEFAULT_SEED`].
    pub seed: Option<u64>,
    /// Seed the held-out levels were drawn from, where an id is looked up; `None`: the seed.
    pub level_seed: Option<u64>,
    /// How many held-out levels to search for an id.
    pub search: usize,
    /// Take the most likely action instead of sampling.
    pub greedy: bool,
    /// Recurrent ticks per step; `None`: the model's own.
    pub ticks: Option<usize>,
    /// Where to write the replayed episode as JSON (a file `replay --level` reads back).
    #[serde(default)]
    pub json: Option<PathBuf>,
}

impl ReplayJob {
    /// A replay of `level` by the agent at `agent` with the defaults `mesascope eval` uses.
    pub fn new(agent: impl Into<PathBuf>, level: impl Into<String>) -> ReplayJob {
        ReplayJob { agent: agent.into(), level: level.into(), shift: Shift::None, seed: None, level_seed: None, search: 10_000, greedy: false, ticks: None, json: None }
    }
}

/// The replayed episode and where its level came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayResult {
    /// The level's id.
    pub level_id: LevelId,
    /// Where the level was found, in words.
    pub found: String,
    /// How to rebuild the level from its distribution, where it came from one.
    pub locator: Option<LevelLocator>,
    /// The seed the actions were drawn from.
    pub seed: u64,
    /// The level.
    pub level: Level,
    /// The episode, with its trajectory and actions.
    pub episode: EpisodeRecord,
    /// The JSON file written, where one was asked for.
    pub json_file: Option<PathBuf>,
}

/// Replays the episode `job` names.
pub fn replay(job: &ReplayJob) -> Result<ReplayResult, LabError> {
    let (cfg, model) = load_model(&job.agent)?;
    let level_seed = job.level_seed.or(job.seed).unwrap_or(DEFAULT_SEED);
    let found = find_level(&cfg.env.dist, &job.level, job.shift, level_seed, job.search)?;
    check_level_size(&cfg, &found.level)?;
    let seed = job.seed.or(found.seed).unwrap_or(DEFAULT_SEED);
    let device = mesascope_learn::device(&cfg.device)?;
    let opts = EvalOptions { ticks: job.ticks.unwrap_or(cfg.model.ticks), greedy: job.greedy, seed, record_trajectories: true };
    let episode = evaluate(&model, &cfg.model, cfg.env.obs, std::slice::from_ref(&found.level), &device, &opts).remove(0);
    let mut result = ReplayResult { level_id: found.level.id(), found: found.how, locator: found.locator, seed, level: found.level, episode, json_file: None };
    if let Some(path) = &job.json {
        result.json_file = Some(write_json(path.clone(), &result)?);
    }
    Ok(result)
}

/// A level read from a file or found by its id, and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The level.
    pub level: Level,
    /// Where it was found, in words.
    pub how: String,
    /// How to rebuild it from its distribution, where that is known.
    pub locator: Option<LevelLocator>,
    /// The action seed a file recorded with the level.
    pub seed: Option<u64>,
}

/// The level `named` names: a file if one exists at that path, else an id looked up among the
/// training levels of `dist` (finite N) and the first `search` of its held-out levels under
/// `shift` drawn from `level_seed`.
pub(crate) fn find_level(dist: &TrainingDistribution, named: &str, shift: Shift, level_seed: u64, search: usize) -> Result<Found, LabError> {
    let path = Path::new(named);
    if path.is_file() {
        return read_level(path);
    }
    let id: LevelId = named.parse().map_err(|e: mesascope_tasks::TaskError| LabError::Invalid {
        what: "--level".into(),
        message: format!("{e}; and no file '{named}' exists (a level may also be given as a JSON file)"),
    })?;
    if let Some(pool) = dist.training_located()? {
        if let Some((level, locator)) = pool.into_iter().find(|(l, _)| l.id() == id) {
            return Ok(Found { how: format!("training level {} of the run's {}", locator.index, diversity(dist.diversity)), level, locator: Some(locator), seed: None });
        }
    }
    if let Some((level, locator)) = dist.find_held_out(shift, id, search, level_seed)? {
        return Ok(Found { how: format!("held-out level {} under shift '{}', drawn from level seed {level_seed}", locator.index, shift.name()), level, locator: Some(locator), seed: None });
    }
    let training = match dist.diversity {
        Diversity::Finite(n) => format!("the run's {n} training levels nor "),
        Diversity::Infinite => String::new(),
    };
    Err(LabError::Refused(format!(
        "level {id} is not among {training}the first {search} held-out levels under shift '{}' drawn from level seed {level_seed}: give the shift and the seed the levels were drawn with (replay: --shift, --level-seed), search further (replay: --search), or give the level as a JSON file",
        shift.name()
    )))
}

fn diversity(d: Diversity) -> String {
    match d {
        Diversity::Finite(n) => format!("N = {n}"),
        Diversity::Infinite => "N = ∞".into(),
    }
}

/// The level in a JSON file: a level, a locator, or an object holding either under `level` or
/// `locator` (with the episode's `seed` where it has one), validated.
pub fn read_level(path: &Path) -> Result<Found, LabError> {
    let bad = |message: String| LabError::Invalid { what: "--level".into(), message: format!("{}: {message}", path.display()) };
    let text = std::fs::read_to_string(path).map_err(LabError::io(path))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let seed = value.get("seed").and_then(serde_json::Value::as_u64);
    let located = |v: &serde_json::Value| -> Result<Found, LabError> {
        let locator: LevelLocator = serde_json::from_value(v.clone()).map_err(|e| bad(format!("not a level locator: {e}")))?;
        let level = locator.level()?;
        Ok(Found { how: format!("{} (locator: {} level {})", path.display(), if locator.split == mesascope_tasks::Split::Train { "training" } else { "held-out" }, locator.index), level, locator: Some(locator), seed })
    };
    let as_level = |v: &serde_json::Value| -> Result<Found, LabError> {
        let level: Level = serde_json::from_value(v.clone()).map_err(|e| bad(format!("not a level: {e}")))?;
        level.validate().map_err(|m| bad(format!("not a valid level: {m}")))?;
        Ok(Found { how: path.display().to_string(), level, locator: None, seed })
    };
    match (value.get("tiles"), value.get("level"), value.get("locator"), value.get("stream")) {
        (Some(_), _, _, _) => as_level(&value),
        (_, Some(level), _, _) if level.is_object() => as_level(level),
        (_, _, Some(locator), _) if locator.is_object() => located(locator),
        (_, _, _, Some(_)) => located(&value),
        _ => Err(bad("holds no level: expected a level (with 'tiles'), a level locator (with 'stream'), or an object with a 'level' or 'locator' field".into())),
    }
}
