//! Training configuration. Two commented default files are compiled in, and together they
//! name every field once with its default and help: `configs/train-default.toml` (everything
//! but the family's own parameters) and the chosen family's `[env]` keys
//! (`configs/env/FAMILY.toml`, [`mesascope_tasks::Family::DEFAULT_TOML`]), spliced in after
//! `env.family`. A user's file and `--set` overrides are merged over the defaults of the family
//! they name (as Gymnasium's `make` merges a caller's kwargs over an id's registered ones), and
//! any key those defaults do not have is an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use mesascope_tasks::{Feature, ObsKind, RewardWeights, TrainingDistribution};

use crate::error::LearnError;
use crate::model::ModelConfig;
use crate::ppo::PpoConfig;

/// The built-in default configuration without the family's parameters, with comments.
const GLOBAL_TOML: &str = include_str!("../../../configs/train-default.toml");

/// The family a config names when it names none.
pub const DEFAULT_FAMILY: &str = "maze";

/// The built-in default configuration for `family`, with comments: the global defaults with
/// the family's `[env]` keys after the `family` line.
pub fn default_toml(family: &str) -> Result<String, LearnError> {
    let keys = mesascope_tasks::FamilySpec::default_toml(family).map_err(|e| LearnError::config("env.family", e.to_string()))?;
    let mut out = String::with_capacity(GLOBAL_TOML.len() + keys.len());
    let mut in_env = false;
    for line in GLOBAL_TOML.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_env = t.starts_with("[env]");
        }
        if in_env && t.starts_with("family") {
            out.push_str(&line.replacen(&format!("\"{DEFAULT_FAMILY}\""), &format!("\"{family}\""), 1));
            out.push_str(keys);
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// Everything a training run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of everything random in the run.
    pub seed: u64,
    /// Environment steps to train for.
    pub total_steps: u64,
    /// Tensor device name.
    pub device: String,
    /// The training distribution and the observation kind.
    pub env: EnvConfig,
    /// The model architecture.
    pub model: ModelConfig,
    /// PPO hyper-parameters.
    pub ppo: PpoConfig,
    /// Periodic evaluation on held-out levels.
    pub eval: EvalConfig,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
}

/// The training distribution plus what the agent observes and the reward it is trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvConfig {
    /// Family, parameters, diversity and level seed.
    #[serde(flatten)]
    pub dist: TrainingDistribution,
    /// Observation kind.
    pub obs: ObsKind,
    /// The reward PPO trains on, as weights over the family's named features (kebab-case
    /// [`Feature`] names); features not named weigh 0. Empty: the family's base objective.
    /// The levels keep their base objective, so evaluation and the audit still judge the
    /// agent by it: this is how an agent is trained on a proxy on purpose.
    #[serde(default)]
    pub reward: BTreeMap<String, f64>,
}

impl EnvConfig {
    /// The reward weights PPO trains on (see [`EnvConfig::reward`]), naming the first bad
    /// entry as `env.reward.NAME`.
    pub fn training_reward(&self) -> Result<RewardWeights, LearnError> {
        let family = self.dist.family;
        if self.reward.is_empty() {
            return Ok(family.base_reward());
        }
        let allowed = family.features();
        let listing = || format!("the {} family's features: {}", family.name(), allowed.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "));
        let mut weights = RewardWeights::ZERO;
        for (name, &w) in &self.reward {
            let field = format!("env.reward.{name}");
            let feature = Feature::from_name(name).ok_or_else(|| LearnError::config(&field, format!("unknown feature ({})", listing())))?;
            if !allowed.contains(&feature) {
                return Err(LearnError::config(&field, format!("these levels never fire '{name}' ({})", listing())));
            }
            if !(w as f32).is_finite() {
                return Err(LearnError::config(&field, format!("{w} is not a finite weight")));
            }
            weights = weights.with(feature, w as f32);
        }
        if weights == RewardWeights::ZERO {
            return Err(LearnError::config("env.reward", "every weight is 0: PPO would have nothing to learn (leave the table empty for the base objective)"));
        }
        Ok(weights)
    }
}

/// Periodic evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every this many updates (0: only at the end).
    pub every_updates: usize,
    /// Held-out levels per evaluation.
    pub levels: usize,
    /// Seed of the held-out levels.
    pub seed: u64,
}

/// Checkpointing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Checkpoint every this many updates (0: only at the end).
    pub every_updates: usize,
    /// Recent checkpoints kept on disk.
    pub keep: usize,
}

impl TrainConfig {
    /// The built-in default.
    pub fn default_config() -> TrainConfig {
        TrainConfig::from_toml_with("", &[]).expect("the built-in default configuration is valid")
    }

    /// A configuration from a user's TOML text merged over the default, then `overrides`
    /// (`section.field=value`) applied, then validated.
    pub fn from_toml_with(user: &str, overrides: &[String]) -> Result<TrainConfig, LearnError> {
        let mut over: toml::Table = user.parse().map_err(|e: toml::de::Error| {
            let at = e.span().map_or(0, |s| s.start).min(user.len());
            let before = &user[..at];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            LearnError::Syntax { file: "config".into(), line, column, message: e.message().trim().replace('\n', "; ") }
        })?;
        for o in overrides {
            set_override(&mut over, o)?;
        }
        // The family the user names decides which defaults the rest merges over.
        let family = match over.get("env").and_then(|env| env.get("family")) {
            None => DEFAULT_FAMILY.to_string(),
            Some(toml::Value::String(name)) => name.clone(),
            Some(other) => return Err(LearnError::config("env.family", format!("{other} is not a family name (mesascope tasks list)"))),
        };
        let base: toml::Table = default_toml(&family)?.parse().expect("default config parses");
        let mut merged = base.clone();
        merge(&mut merged, over, "").map_err(|e| {
            let registered: Vec<(&str, &str)> = mesascope_tasks::dist::FAMILIES.iter().filter_map(|(name, _)| Some((*name, mesascope_tasks::FamilySpec::default_toml(name).ok()?))).collect();
            another_familys_key(e, &family, &registered)
        })?;
        // Deserialising from text (not from the value tree) makes toml name the offending key.
        let text = toml::to_string(&merged).expect("a merged table serialises");
        let cfg: TrainConfig = toml::from_str(&text).map_err(|e: toml::de::Error| {
            let field = e.span().map_or_else(|| "(config)".to_string(), |span| key_at(&text, span.start));
            let field = culprit_in_table(&base, &merged, &field).unwrap_or(field);
            LearnError::config(field, e.message().to_string())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a configuration file and applies `overrides`.
    pub fn load(path: &std::path::Path, overrides: &[String]) -> Result<TrainConfig, LearnError> {
        let text = std::fs::read_to_string(path).map_err(LearnError::io(path))?;
        TrainConfig::from_toml_with(&text, overrides).map_err(|e| match e {
            LearnError::Config { field, message } => LearnError::config(field, format!("{message} (in {})", path.display())),
            LearnError::Syntax { line, column, message, .. } => LearnError::Syntax { file: path.display().to_string(), line, column, message },
            e => e,
        })
    }

    /// This configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("configs serialise")
    }

    /// Checks every value, naming the first impossible one.
    pub fn validate(&self) -> Result<(), LearnError> {
        // The task layer names its own parameters (`size`); users write them under `[env]`.
        self.env.dist.validate().map_err(|e| match e {
            mesascope_tasks::TaskError::Invalid { param, message } => LearnError::config(format!("env.{param}"), message),
            e => e.into(),
        })?;
        self.env.training_reward()?;
        self.model.validate()?;
        self.ppo.validate()?;
        if self.total_steps == 0 {
            return Err(LearnError::config("total_steps", "must be at least 1"));
        }
        if self.eval.levels == 0 {
            return Err(LearnError::config("eval.levels", "must be at least 1"));
        }
        // Small families have few distinct held-out levels; say so now, not at the first evaluation.
        if let Err(e) = self.env.dist.held_out_levels(mesascope_tasks::Shift::None, self.eval.levels, self.eval.seed) {
            return Err(LearnError::config("eval.levels", e.to_string()));
        }
        if self.checkpoint.keep == 0 {
            return Err(LearnError::config("checkpoint.keep", "must be at least 1"));
        }
        crate::device(&self.device)?;
        Ok(())
    }

    /// Number of PPO updates the run makes.
    pub fn num_updates(&self) -> usize {
        let batch = (self.ppo.num_envs * self.ppo.num_steps) as u64;
        self.total_steps.div_ceil(batch) as usize
    }
}

/// The key inside table `section` that makes `merged` fail to deserialise, when toml blamed
/// the whole table: serde buffers a flattened struct (`[env]`'s family fields) before parsing
/// it, so an out-of-range `env.coins` arrives with the span of all of `[env]`. The defaults
/// (`base`) deserialise, so the first of the table's values that breaks them when set over
/// the defaults' is the one to name.
fn culprit_in_table(base: &toml::Table, merged: &toml::Table, section: &str) -> Option<String> {
    let toml::Value::Table(fields) = merged.get(section)? else { return None };
    let mut trial = base.clone();
    for (key, value) in fields {
        let toml::Value::Table(slot) = trial.get_mut(section)? else { return None };
        slot.insert(key.clone(), value.clone());
        let text = toml::to_string(&trial).expect("a merged table serialises");
        if toml::from_str::<TrainConfig>(&text).is_err() {
            return Some(format!("{section}.{key}"));
        }
    }
    None
}

/// An unknown `env.KEY` that another of `families` (name, `[env]` defaults) takes, named as
/// that family's parameter rather than as an unknown field; any other error unchanged.
fn another_familys_key(e: LearnError, chosen: &str, families: &[(&str, &str)]) -> LearnError {
    let LearnError::Config { field, .. } = &e else { return e };
    let Some(key) = field.strip_prefix("env.").filter(|k| !k.contains('.')) else { return e };
    let keys_of = |toml: &str| toml.parse::<toml::Table>().map(|t| t.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let takes = families.iter().find(|(name, _)| *name == chosen).map(|(_, toml)| keys_of(toml)).unwrap_or_default();
    if takes.iter().any(|k| k == key) {
        return e;
    }
    let Some((owner, _)) = families.iter().find(|(name, toml)| *name != chosen && keys_of(toml).iter().any(|k| k == key)) else { return e };
    let takes = takes.join(", ");
    LearnError::config(field.clone(), format!("not a parameter of the {chosen} family (it is the {owner} family's; {chosen} takes: {takes})"))
}

/// Sets one `section.field=value` override in the user's table. The value is read as TOML
/// where it parses (`0.1`, `true`, `"cnn"`) and as a bare string otherwise (`cnn`); which keys
/// exist is checked later, against the defaults of the family the config names.
fn set_override(table: &mut toml::Table, o: &str) -> Result<(), LearnError> {
    let (key, value) = o.split_once('=').ok_or_else(|| LearnError::config(o, "an override must look like section.field=value"))?;
    let value: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let (last, sections) = parts.split_last().expect("split gives at least one part");
    let mut slot = table;
    for (i, part) in sections.iter().enumerate() {
        let entry = slot.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        slot = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(LearnError::config(parts[..=i].join("."), "must be a table")),
        };
    }
    slot.insert(last.to_string(), value);
    Ok(())
}

/// The dotted key of the TOML line containing byte `pos` of `text` (written by `toml::to_string`,
/// so sections are `[a]` headers and fields are `key = value` lines).
fn key_at(text: &str, pos: usize) -> String {
    let mut section = String::new();
    let mut key = String::new();
    let mut offset = 0;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').to_string();
            key.clear();
        } else if let Some((k, _)) = t.split_once('=') {
            key = k.trim().to_string();
        }
        offset += line.len() + 1;
        if offset > pos {
            break;
        }
    }
    match (section.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => section,
        (false, false) => format!("{section}.{key}"),
    }
}

/// Tables whose keys the user names (validation checks them, not the default's keys).
const OPEN_TABLES: [&str; 1] = ["env.reward"];

/// Merges `over` into `base`, refusing keys `base` does not have (except in [`OPEN_TABLES`]).
fn merge(base: &mut toml::Table, over: toml::Table, prefix: &str) -> Result<(), LearnError> {
    for (key, value) in over {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if OPEN_TABLES.contains(&prefix) && !base.contains_key(&key) {
            base.insert(key, value);
            continue;
        }
        match (base.get_mut(&key), value) {
            (None, _) => {
                let known: Vec<&str> = base.keys().map(String::as_str).collect();
                return Err(LearnError::config(path, format!("unknown field (known here: {})", known.join(", "))));
            }
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &path)?,
            (Some(toml::Value::Table(_)), _) => return Err(LearnError::config(path, "must be a table")),
            (Some(slot), v) => *slot = v,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesascope_tasks::{FamilySpec, GoalPlacement};

    #[test]
    fn default_parses_and_overrides_apply() {
        let d = TrainConfig::default_config();
        assert_eq!(d.model.kind, crate::model::ModelKind::Cnn);
        let FamilySpec::Maze(p) = d.env.dist.family else { panic!("the default family is the maze") };
        assert_eq!(p.goal, GoalPlacement::TopRight(3));
        let c = TrainConfig::from_toml_with("[model]\nkind = \"mlp\"\n", &["ppo.learning_rate=0.01".into(), "env.diversity=16".into()]).unwrap();
        assert_eq!(c.model.kind, crate::model::ModelKind::Mlp);
        assert_eq!(c.ppo.learning_rate, 0.01);
        assert_eq!(c.env.dist.diversity, mesascope_tasks::Diversity::Finite(16));
        let round_trip = TrainConfig::from_toml_with(&c.to_toml(), &[]).unwrap();
        assert_eq!(round_trip, c);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let cases = [
            ("[ppo]\nlearning_rat = 0.1\n", "ppo.learning_rat"),
            ("[model]\nkind = \"transformer\"\n", "transformer"),
            ("[env]\nsize = 8\n", "env.size"),
            ("[env]\nlava_penalty = 0\n", "env.lava_penalty"),
            ("[env]\ndiversity = 0\n", "diversity"),
            ("[ppo]\nnum_envs = 0\n", "ppo.num_envs"),
            ("[ppo]\nlearning_rate = \"fast\"\n", "learning_rate"),
            ("device = \"tpu\"\n", "device"),
            ("[env]\nsize = 5\n[eval]\nlevels = 500\n", "eval.levels"),
            ("this is not toml", "config:1:"),
            ("[env]\nsize = 9\n[ppo\n", "config:3:5: not valid TOML"),
            ("[env.reward]\nat-cheese = 1\n", "env.reward.at-cheese"),
            ("[env.reward]\nkey-picked = 1\n", "env.reward.key-picked"),
            ("[env.reward]\non-lava = -1\n", "env.reward.on-lava"),
            ("[env.reward]\nat-goal = nan\n", "env.reward.at-goal"),
            ("[env.reward]\nat-goal = 1e300\n", "env.reward.at-goal"),
            ("[env.reward]\nat-goal = \"lots\"\n", "env.reward.at-goal"),
            ("[env.reward]\nat-goal = 0\nstep = 0\n", "env.reward"),
            ("[env]\nreward = 1\n", "env.reward"),
            // Fields of the flattened family parameters are named too, not just `env`.
            ("[env]\ncoins = 300\n", "env.coins"),
            ("[env]\nloops = -1\n", "env.loops"),
            ("[env]\nkeys = \"two\"\n", "env.keys"),
            ("[env]\nlevel_seed = -3\n", "env.level_seed"),
        ];
        for (text, expected) in cases {
            let err = TrainConfig::from_toml_with(text, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: expected '{expected}' in '{err}'");
        }
    }

    #[test]
    fn each_family_brings_its_own_env_defaults() {
        for (name, _) in mesascope_tasks::dist::FAMILIES {
            // Its defaults sit after `family` in the printed default, every key with its help,
            // and a config naming the family starts from them.
            let text = default_toml(name).unwrap();
            let keys = mesascope_tasks::FamilySpec::default_toml(name).unwrap();
            assert!(text.contains(&format!("family = \"{name}\"")) && text.contains(keys), "{name}");
            assert!(keys.lines().all(|l| l.contains(" # ")), "{name}: every key has its help");
            let cfg = TrainConfig::from_toml_with(&format!("[env]\nfamily = \"{name}\"\n"), &[]).unwrap();
            assert_eq!(cfg.env.dist.family.name(), *name);
            let table: toml::Table = keys.parse().unwrap();
            let written: toml::Table = toml::from_str(&cfg.to_toml()).unwrap();
            for (key, value) in table {
                assert_eq!(written["env"].get(&key), Some(&value), "{name}: env.{key} keeps its default");
            }
        }
        // The maze's keys come from configs/env/maze.toml, nowhere else.
        assert!(!GLOBAL_TOML.contains("size ="));
        for (text, overrides, expected) in [
            ("[env]\nfamily = \"zoo\"\n", vec![], "config field 'env.family': unknown family 'zoo' (known: maze"),
            ("", vec!["env.family=zoo".to_string()], "unknown family 'zoo'"),
            ("[env]\nfamily = 3\n", vec![], "config field 'env.family': 3 is not a family name"),
            ("", vec!["env.size=7".to_string(), "env.size.x=1".to_string()], "config field 'env.size': must be a table"),
            ("", vec!["ppo.gama=0.9".to_string()], "config field 'ppo.gama': unknown field"),
        ] {
            let err = TrainConfig::from_toml_with(text, &overrides).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} {overrides:?}: expected '{expected}' in '{err}'");
        }
        // Overrides apply after the file, the last one winning.
        let c = TrainConfig::from_toml_with("[env]\nsize = 11\n", &["env.size=7".into(), "env.size=13".into()]).unwrap();
        assert_eq!(c.env.dist.family.grid_size(), (13, 13));
    }

    #[test]
    fn another_familys_parameter_is_named_as_that_familys() {
        // Two families as the registry would list them (the second is made up: the message
        // needs a family that has the key).
        let families = [("maze", "size = 9 # side\ngoal = \"top-right-3\" # where\n"), ("keys-chests", "size = 11 # side\nchests = 4 # how many\n")];
        let unknown = |key: &str| LearnError::config(format!("env.{key}"), "unknown field (known here: …)");
        let named = another_familys_key(unknown("chests"), "maze", &families).to_string();
        assert_eq!(named, "config field 'env.chests': not a parameter of the maze family (it is the keys-chests family's; maze takes: goal, size)");
        // A key no family has, a key of the chosen family's own, and other errors stay as they were.
        assert_eq!(another_familys_key(unknown("colour"), "maze", &families).to_string(), unknown("colour").to_string());
        assert_eq!(another_familys_key(unknown("size"), "maze", &families).to_string(), unknown("size").to_string());
        let other = LearnError::config("ppo.chests", "unknown field");
        assert_eq!(another_familys_key(other, "maze", &families).to_string(), "config field 'ppo.chests': unknown field");
        // And through the real registry, both ways.
        let err = TrainConfig::from_toml_with("", &["env.chests=3".into()]).unwrap_err().to_string();
        assert!(err.contains("config field 'env.chests': not a parameter of the maze family (it is the keys-chests family's"), "{err}");
        let err = TrainConfig::from_toml_with("[env]\nfamily = \"keys-chests\"\ngoal = \"anywhere\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("config field 'env.goal': not a parameter of the keys-chests family (it is the maze family's"), "{err}");
        let kc = TrainConfig::from_toml_with("", &["env.family=keys-chests".into(), "env.chests=3".into()]).unwrap();
        assert_eq!(kc.env.dist.family, mesascope_tasks::FamilySpec::KeysChests(mesascope_tasks::KeysChestsParams { chests: 3, ..Default::default() }));
    }

    #[test]
    fn the_reward_defaults_to_the_base_objective_and_names_features() {
        let d = TrainConfig::default_config();
        assert_eq!(d.env.training_reward().unwrap(), d.env.dist.family.base_reward());
        let c = TrainConfig::from_toml_with("[env.reward]\nat-goal = 1\n", &["env.reward.at-top-right-corner=0.05".into()]).unwrap();
        let w = c.env.training_reward().unwrap();
        assert_eq!(w, RewardWeights::only(Feature::AtGoal, 1.0).with(Feature::AtTopRightCorner, 0.05), "features not named weigh 0 (no step cost)");
        assert_eq!(TrainConfig::from_toml_with(&c.to_toml(), &[]).unwrap(), c, "the reward survives a round trip through TOML");
        // Lava can be weighed where the family puts some.
        let lava = TrainConfig::from_toml_with("[env]\nlava = \"off-route-2\"\n[env.reward]\non-lava = -2\nat-goal = 1\n", &[]).unwrap();
        assert_eq!(lava.env.training_reward().unwrap().weight(Feature::OnLava), -2.0);
    }

    #[test]
    fn rollout_rewards_follow_the_configured_weights() {
        use mesascope_tasks::{step, Action, VecEnv};
        // 5x5 mazes, the corner two rooms from the start: random actions reach it often enough.
        let weights = RewardWeights::only(Feature::AtTopRightCorner, 0.5).with(Feature::Step, -0.25);
        let overrides: Vec<String> = ["env.size=5", "env.goal=\"anywhere\"", "env.horizon=200", "model.kind=\"mlp\"", "model.hidden=8", "ppo.num_envs=8", "ppo.num_steps=60", "eval.levels=1", "env.reward.at-top-right-corner=0.5", "env.reward.step=-0.25"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cfg = TrainConfig::from_toml_with("", &overrides).unwrap();
        let mut trainer = crate::ppo::Trainer::new(cfg.clone()).unwrap();
        let r = trainer.rollout().unwrap();
        // Replay the same actions in a twin env that pays the levels' own reward, and score
        // each transition by the configured weights instead.
        let mut twin: VecEnv<f32> = VecEnv::new(cfg.env.dist.source().unwrap(), 8, cfg.env.obs, mesascope_tasks::dist::mix_seed(cfg.seed, 1)).unwrap();
        let (mut corner, mut cheese) = (0, 0);
        for t in 0..60 {
            let actions: Vec<Action> = (0..8).map(|i| Action::ALL[r.actions[t * 8 + i] as usize]).collect();
            for (i, &a) in actions.iter().enumerate() {
                let (level, mut s) = (&twin.levels()[i], twin.states()[i]);
                assert!(s.t < level.horizon, "no truncation, so no bootstrap term in the rollout's rewards");
                let tr = step(level, &mut s, a);
                corner += tr.features.has(Feature::AtTopRightCorner) as usize;
                cheese += tr.features.has(Feature::AtGoal) as usize;
                assert_eq!(r.rewards[t * 8 + i], weights.reward(tr.features), "step {t} env {i}");
                assert_ne!(r.rewards[t * 8 + i], tr.reward, "the base objective would pay something else");
            }
            twin.step(&actions).unwrap();
        }
        assert!(corner > 0 && cheese > 0, "the corner and the cheese must both be reached for this test to mean anything: {corner} {cheese}");
    }
}
