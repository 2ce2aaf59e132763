//! `mesascope replay`: one episode of a trained agent on one level, found by its id (as eval,
//! audit and deploy print it), a locator or a level file, drawn with a given seed: the same
//! actions the episode took wherever it first ran.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::{replay as replay_job, write_picture, ReplayJob};
use mesascope_tasks::{render, reset, step};

use crate::levels::parse_shift;

/// Flags of `mesascope replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    path: PathBuf,
    /// The level: its id (16 hex digits, as `eval --episodes` and audit.json give it), or a
    /// JSON file holding a level, a level locator, or an audit sample.
    #[arg(long)]
    level: String,
    /// Shift the held-out levels were drawn under, to look an id up (as given to eval).
    #[arg(long, default_value = "none")]
    shift: String,
    /// Seed of the sampled actions (eval's --seed); default: the file's seed, else 7.
    #[arg(long)]
    seed: Option<u64>,
    /// Seed the held-out levels were drawn from, to look an id up (default: --seed).
    #[arg(long)]
    level_seed: Option<u64>,
    /// How many held-out levels to search for the id.
    #[arg(long, default_value_t = 10_000)]
    search: usize,
    /// Take the most likely action instead of sampling.
    #[arg(long)]
    greedy: bool,
    /// Recurrent ticks per step (default: the model's own).
    #[arg(long)]
    ticks: Option<usize>,
    /// Write the episode (level, locator, seed, actions, trajectory) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw the level with the episode's path as a .svg or .png picture.
    #[arg(long)]
    picture: Option<PathBuf>,
}

/// Runs `mesascope replay`.
pub fn run(args: &ReplayArgs) -> Result<()> {
    let job = ReplayJob {
        shift: parse_shift(&args.shift)?,
        seed: args.seed,
        level_seed: args.level_seed,
        search: args.search,
        greedy: args.greedy,
        ticks: args.ticks,
        json: args.json.clone(),
        ..ReplayJob::new(args.path.clone(), args.level.clone())
    };
    let r = replay_job(&job)?;
    let e = &r.episode;
    println!("level {} ({})", r.level_id, r.found);
    let mut state = reset(&r.level);
    print!("{}", render::ascii(&r.level, &state));
    let arrows: String = e.actions.iter().map(|a| ["↑", "↓", "←", "→", "·"][a.index()]).collect();
    println!("seed {}: {} steps: {arrows}", r.seed, e.length);
    for a in &e.actions {
        step(&r.level, &mut state, *a);
    }
    print!("{}", render::ascii(&r.level, &state));
    println!("return {}, reached the cheese: {}, visited the top-right corner: {}, lava: {}", e.ret, yes(e.success), yes(e.reached_corner), yes(e.catastrophe));
    if let Some(path) = &r.json_file {
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.picture {
        write_picture(path, &r.level, &reset(&r.level), &e.trajectory)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
