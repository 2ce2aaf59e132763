//! `mesascope tasks split-report`: how much of a distribution's held-out levels (or of another
//! level seed's training levels) its training levels already hold, by id and by layout.

use anyhow::Result;
use clap::Args;
use mesascope_lab::{split_report, Against, SplitReportJob};

use crate::levels::{parse_shift, LevelArgs};

/// Flags of `mesascope tasks split-report`.
#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    dist: LevelArgs,
    /// Compare with held-out levels after this shift (see `mesascope tasks list`).
    #[arg(long, default_value = "none")]
    shift: String,
    /// Compare with the training levels of this other level seed instead of held-out levels.
    #[arg(long)]
    against_seed: Option<u64>,
    /// Levels drawn where a list is not a finite pool (held-out levels; training at N = inf).
    #[arg(long, default_value_t = 1000)]
    levels: usize,
    /// Seed of the held-out levels.
    #[arg(long, default_value_t = 7)]
    held_out_seed: u64,
}

/// Runs `mesascope tasks split-report`.
pub fn run(args: &SplitArgs) -> Result<()> {
    let against = match args.against_seed {
        Some(seed) => Against::TrainingSeed(seed),
        None => Against::HeldOut(parse_shift(&args.shift)?),
    };
    let r = split_report(&SplitReportJob { dist: args.dist.distribution()?, against, levels: args.levels, seed: args.held_out_seed })?;
    let o = &r.overlap;
    let pct = |k: usize| 100.0 * k as f64 / o.second.max(1) as f64;
    println!("first:  {} ({} distinct layouts)", r.first, o.first_layouts);
    println!("second: {} ({} distinct layouts)", r.second, o.second_layouts);
    println!("second's levels also in the first, by id:     {:>6} of {} ({:.1}%)", o.shared_ids, o.second, pct(o.shared_ids));
    println!("second's levels whose layout the first holds: {:>6} of {} ({:.1}%)", o.shared_layouts, o.second, pct(o.shared_layouts));
    if o.shared_layouts * 2 > o.second {
        println!("most of the second's levels show the agent walls and floor it trained on: only their objects (cheese, start) are new");
    }
    Ok(())
}
