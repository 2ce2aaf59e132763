//! Flags that choose a task family, its parameters and a distribution, shared by every
//! subcommand that needs levels.

use anyhow::{anyhow, bail, Context, Result};
use mesascope_lab::types::{LearnError, TrainConfig};
use clap::Args;
use mesascope_tasks::{
    grid::Feature, vecenv::CHANNELS, FamilySpec, Shift, TrainingDistribution,
};

/// Which levels to use: a family with its own `[env]` defaults, changed by the maze's flags
/// (shortcuts for `--set env.size=…` and so on) or by `--set env.KEY=VALUE` for any family's
/// parameter, exactly as `mesascope train --set` would.
#[derive(Args, Clone, Debug)]
pub struct LevelArgs {
    /// Task family (see `mesascope tasks list`; `bench env` also takes `all`: every family at
    /// its defaults).
    #[arg(long, default_value = "maze")]
    pub family: String,
    /// Side length of the grid (maze: odd, 5..51; default 9).
    #[arg(long)]
    pub size: Option<u16>,
    /// Where the cheese goes in training: `anywhere` or `top-right-K` (default top-right-3).
    #[arg(long)]
    pub goal: Option<String>,
    /// Where the agent starts: `bottom-left` (default) or `anywhere`.
    #[arg(long)]
    pub start: Option<String>,
    /// Episode horizon in steps (default 0: size²).
    #[arg(long)]
    pub horizon: Option<u32>,
    /// Reward paid (as a cost) on every step (default 0.01).
    #[arg(long)]
    pub step_cost: Option<f64>,
    /// Training diversity N: a whole number ≥ 1, or `inf` for a fresh level every episode.
    #[arg(long, default_value = "inf")]
    pub diversity: String,
    /// Seed the training levels derive from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Any parameter of the family, as `env.KEY=VALUE` (repeatable), e.g. `--set env.lava="off-route-2"`.
    #[arg(long = "set", value_name = "env.KEY=VALUE")]
    pub set: Vec<String>,
}

impl LevelArgs {
    /// The training distribution these flags describe, validated.
    pub fn distribution(&self) -> Result<TrainingDistribution> {
        let mut overrides = vec![format!("env.family={}", toml_string(&self.family)), format!("env.diversity={}", toml_string(&self.diversity)), format!("env.level_seed={}", self.seed)];
        overrides.extend(self.size.map(|v| format!("env.size={v}")));
        overrides.extend(self.goal.as_deref().map(|v| format!("env.goal={}", toml_string(v))));
        overrides.extend(self.start.as_deref().map(|v| format!("env.start={}", toml_string(v))));
        overrides.extend(self.horizon.map(|v| format!("env.horizon={v}")));
        overrides.extend(self.step_cost.map(|v| format!("env.step_cost={v:?}")));
        for o in &self.set {
            if !o.starts_with("env.") || o.starts_with("env.reward") {
                bail!("--set {o}: levels take the family's parameters only (env.KEY=VALUE)");
            }
            overrides.push(o.clone());
        }
        // Levels need no held-out evaluation set: one level keeps the config's check that the
        // family has enough held-out levels from refusing small families.
        overrides.push("eval.levels=1".into());
        TrainConfig::from_toml_with("", &overrides).map(|c| c.env.dist).map_err(|e| {
            // A bad value that a flag set is named by the flag.
            let LearnError::Config { field, message } = &e else { return anyhow!(e) };
            let flags = [
                ("family", "env.family", true),
                ("diversity", "env.diversity", true),
                ("seed", "env.level_seed", true),
                ("size", "env.size", self.size.is_some()),
                ("goal", "env.goal", self.goal.is_some()),
                ("start", "env.start", self.start.is_some()),
                ("horizon", "env.horizon", self.horizon.is_some()),
                ("step-cost", "env.step_cost", self.step_cost.is_some()),
            ];
            match flags.iter().find(|(_, key, given)| *given && key == field) {
                Some((flag, _, _)) => anyhow!("--{flag}: {message}"),
                None => anyhow!(e),
            }
        })
    }
}

/// `v` as a TOML string.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// Parses a shift name with the flag named in the error.
pub fn parse_shift(name: &str) -> Result<Shift> {
    name.parse::<Shift>().context("--shift")
}

/// Prints everything a user can name: families, shifts, observation kinds, features.
pub fn list() {
    println!("Task families:");
    for (name, help) in mesascope_tasks::dist::FAMILIES {
        println!("  {name:<16} {help}");
        if let Ok(spec) = FamilySpec::from_name(name) {
            let roles = spec.roles();
            let proxies: Vec<String> = roles.proxies.iter().map(|p| format!("{} ({})", p.feature.name(), p.metric)).collect();
            let retarget = roles.retarget.map_or("none", |s| s.name());
            println!("  {:<16} levels {}; goal {}; known proxies: {}; retargeting: {retarget}", "", spec.version(), roles.goal.name(), proxies.join(", "));
        }
    }
    println!("\nShifts (training → deployment):");
    println!("  {:<16} {}", "none", mesascope_tasks::dist::NO_SHIFT_HELP);
    for (family, info) in mesascope_tasks::dist::all_shifts() {
        println!("  {:<16} {family}: {}", info.shift.name(), info.help);
    }
    println!("\nObservation kinds:");
    println!("  {:<16} one-hot channels over the whole grid [C, H, W]", "full");
    println!("  {:<16} one-hot channels over the V×V window centred on the agent (V odd)", "partial-V");
    println!("  channels: {}", CHANNELS.join(", "));
    println!("\nState features (rewards and candidate objectives are linear in these):");
    for f in Feature::ALL {
        println!("  {}", f.name());
    }
}
