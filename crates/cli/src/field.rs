//! `mesascope vector-field`: a trained agent's policy at every square of a level as arrows,
//! beside the exact planner's (or another agent's), and their difference, as one SVG.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mesascope_lab::{vector_fields, FieldJob};
use mesascope_tasks::solve::argmax;

use crate::levels::parse_shift;

/// Flags of `mesascope vector-field`.
#[derive(Args, Debug)]
pub struct FieldArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    path: PathBuf,
    /// The level: an id or a JSON level file, as `replay` takes (default: the first held-out
    /// level under --shift drawn from --seed).
    #[arg(long)]
    level: Option<String>,
    /// Shift of the held-out levels [default: the family's first: the maze's goal-anywhere]
    #[arg(long)]
    shift: Option<String>,
    /// Seed of the held-out levels.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Another agent to compare with (default: the exact planner).
    #[arg(long)]
    against: Option<PathBuf>,
    /// The SVG to write.
    #[arg(long, default_value = "vector-field.svg")]
    out: PathBuf,
}

/// Runs `mesascope vector-field`.
pub fn run(args: &FieldArgs) -> Result<()> {
    let job = FieldJob { level: args.level.clone(), shift: args.shift.as_deref().map(parse_shift).transpose()?, seed: args.seed, against: args.against.clone(), ..FieldJob::new(args.path.clone(), args.out.clone()) };
    let r = vector_fields(&job)?;
    let other = r.against.as_ref().unwrap_or(&r.planner);
    // Where the agent's most likely move is not one the other takes.
    let parting = r.agent.probs.iter().zip(&other.probs).filter(|(a, b)| b[argmax(&a[..])] < 0.01).count();
    println!("level {}: {} squares; the agent's most likely move is one the {} takes with probability under 1% on {parting} of them", r.level_id, r.agent.cells.len(), if r.against.is_some() { "other agent" } else { "planner" });
    println!("wrote {}", r.svg.display());
    Ok(())
}
