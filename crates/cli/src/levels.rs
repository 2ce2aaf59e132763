//! Flags that choose a task family, its parameters and a distribution, shared by every
//! subcommand that needs levels.

use anyhow::{Context, Result};
use clap::Args;
use mesascope_tasks::{
    grid::Feature, vecenv::CHANNELS, Diversity, FamilySpec, Shift, TrainingDistribution,
};

/// Which levels to use.
#[derive(Args, Clone, Debug)]
pub struct LevelArgs {
    /// Task family (see `mesascope tasks list`).
    #[arg(long, default_value = "maze")]
    pub family: String,
    /// Side length of the grid (maze: odd, 5..51).
    #[arg(long, default_value_t = 9)]
    pub size: u16,
    /// Where the cheese goes in training: `anywhere` or `top-right-K`.
    #[arg(long, default_value = "top-right-3")]
    pub goal: String,
    /// Where the agent starts: `bottom-left` or `anywhere`.
    #[arg(long, default_value = "bottom-left")]
    pub start: String,
    /// Episode horizon in steps (0: size²).
    #[arg(long, default_value_t = 0)]
    pub horizon: u32,
    /// Reward paid (as a cost) on every step.
    #[arg(long, default_value_t = 0.01)]
    pub step_cost: f64,
    /// Training diversity N: a whole number ≥ 1, or `inf` for a fresh level every episode.
    #[arg(long, default_value = "inf")]
    pub diversity: String,
    /// Seed the training levels derive from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl LevelArgs {
    /// The training distribution these flags describe, validated.
    pub fn distribution(&self) -> Result<TrainingDistribution> {
        let mut family = FamilySpec::from_name(&self.family)?;
        match &mut family {
            FamilySpec::Maze(p) => {
                p.size = self.size;
                p.goal = self.goal.parse()?;
                p.start = self.start.parse()?;
                p.horizon = self.horizon;
                p.step_cost = self.step_cost;
            }
        }
        let diversity: Diversity = self.diversity.parse()?;
        let dist = TrainingDistribution { family, diversity, level_seed: self.seed };
        dist.validate()?;
        Ok(dist)
    }
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
