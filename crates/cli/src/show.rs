//! `mesascope show`: a trained agent's episodes as an animated GIF: on its training
//! distribution, after a shift, and the exact planner on the same shifted levels.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::{show, ShowJob};

use crate::levels::parse_shift;

/// Flags of `mesascope show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    path: PathBuf,
    /// Deployment shift (see `mesascope tasks list`) [default: the family's first: the maze's goal-anywhere]
    #[arg(long)]
    shift: Option<String>,
    /// Rows of the video: each plays one training-distribution level and one shifted level.
    #[arg(long, default_value_t = 2)]
    levels: usize,
    /// Seed of the levels and of the sampled actions (as eval's --seed).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The GIF to write.
    #[arg(long, default_value = "episodes.gif")]
    out: PathBuf,
}

/// Runs `mesascope show`.
pub fn run(args: &ShowArgs) -> Result<()> {
    let job = ShowJob { shift: args.shift.as_deref().map(parse_shift).transpose()?, levels: args.levels, seed: args.seed, ..ShowJob::new(args.path.clone(), args.out.clone()) };
    let r = show(&job)?;
    for e in &r.episodes {
        println!("{:<26} level {}  {:>3} steps  return {:>6.2}  {}", e.title.to_lowercase(), e.level_id, e.episode.length, e.episode.ret, e.outcome);
    }
    println!("wrote {} ({} frames; replay any episode with `mesascope replay {} --level ID --shift ... --seed {}`)", r.gif.display(), r.frames, args.path.display(), args.seed);
    Ok(())
}
