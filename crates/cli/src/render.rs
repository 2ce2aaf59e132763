//! `mesascope tasks render`: one level as ASCII, and as an SVG or PNG picture with a
//! policy's trajectory drawn on it.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use mesascope_lab::{trajectory, write_picture};
use mesascope_tasks::{render, reset, Diversity, Level, ShortestPathToGoal, TrainingDistribution, UniformRandom};

use crate::levels::{parse_shift, LevelArgs};

/// Which split a rendered level comes from.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SplitArg {
    /// The training levels derived from --seed.
    Train,
    /// Held-out (novel) levels after --shift.
    HeldOut,
}

/// Which trajectory to draw.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum PathArg {
    /// The exact shortest path to the cheese.
    Optimal,
    /// One episode of the uniform-random policy.
    Random,
    /// No trajectory.
    None,
}

/// Flags that pick one level: a distribution, a split, a shift and an index.
#[derive(Args, Debug)]
pub struct LevelChoice {
    #[command(flatten)]
    pub levels: LevelArgs,
    /// Which split to take the level from.
    #[arg(long, value_enum, default_value = "train")]
    split: SplitArg,
    /// Shift applied to held-out levels (see `mesascope tasks list`).
    #[arg(long, default_value = "none")]
    shift: String,
    /// Which level of the split (0 = the first derived from the seed).
    #[arg(long, default_value_t = 0)]
    index: usize,
}

impl LevelChoice {
    /// The chosen level.
    pub fn level(&self) -> Result<Level> {
        pick_level(&self.levels.distribution()?, self.split, &self.shift, self.index)
    }
}

/// Flags of `mesascope tasks render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    choice: LevelChoice,
    /// Trajectory drawn on the picture.
    #[arg(long, value_enum, default_value = "optimal")]
    path: PathArg,
    /// Picture to write: a .svg or .png file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The `index`-th level of a split.
fn pick_level(dist: &TrainingDistribution, split: SplitArg, shift: &str, index: usize) -> Result<Level> {
    let shift = parse_shift(shift)?;
    let mut levels = match split {
        SplitArg::Train => {
            if let Diversity::Finite(n) = dist.diversity {
                if index >= n as usize {
                    bail!("--index {index} is out of range: the training distribution has N={n} levels");
                }
            }
            let d = TrainingDistribution { diversity: Diversity::Finite(index as u32 + 1), ..*dist };
            d.training_levels()?.map(|l| l.to_vec()).unwrap_or_default()
        }
        SplitArg::HeldOut => dist.held_out_levels(shift, index + 1, dist.level_seed)?,
    };
    Ok(levels.swap_remove(index))
}

/// Runs `mesascope tasks render`.
pub fn run(args: &RenderArgs) -> Result<()> {
    let level = args.choice.level()?;
    let traj = match args.path {
        PathArg::Optimal => trajectory(&level, &mut ShortestPathToGoal::default()),
        PathArg::Random => trajectory(&level, &mut UniformRandom::new(args.choice.levels.seed)),
        PathArg::None => Vec::new(),
    };
    let start = reset(&level);
    print!("{}", render::ascii(&level, &start));
    if let Some(out) = &args.out {
        write_picture(out, &level, &start, &traj)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
