//! `mesascope zoo build` and `mesascope zoo score`: a zoo of agents whose objectives are known,
//! and the audit's score on it (confusion matrix of verdicts and four rates with intervals).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use mesascope_lab::jobs::zoo::kind_name;
use mesascope_lab::{zoo_build, zoo_score, Progress, ZooBuildOptions, ZooScoreOptions};

use crate::progress::{duration, Reporter};

/// Flags of `mesascope zoo build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Directory of the zoo (its PPO runs go under DIR/cohorts, its manifest is DIR/zoo.json).
    dir: PathBuf,
    /// The small zoo: 7x7 mazes, tiny MLP agents trained for seconds each.
    #[arg(long)]
    quick: bool,
    /// Runs trained at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

/// Runs `mesascope zoo build`.
pub fn build(args: &BuildArgs) -> Result<()> {
    let reporter = Reporter::new();
    let result = zoo_build(&args.dir, &ZooBuildOptions { quick: args.quick, jobs: args.jobs }, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    let trained = r.manifest.members.iter().filter(|m| matches!(m.maker, mesascope_lab::jobs::zoo::Maker::Trained { .. })).count();
    println!("{} members ({trained} trained) in {} → {}", r.manifest.members.len(), duration(r.seconds), r.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    if !r.failed.is_empty() {
        for (id, e) in &r.failed {
            eprintln!("  {id} failed: {e}");
        }
        bail!("{} runs failed; rerun to retry them", r.failed.len());
    }
    Ok(())
}

/// Flags of `mesascope zoo score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A zoo directory (holding zoo.json).
    dir: PathBuf,
    /// Levels per audit measurement (default: the zoo's own, 40 quick and 100 full).
    #[arg(long)]
    levels: Option<usize>,
    /// Seed of the audits' levels, sampled actions and resampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs `mesascope zoo score`: prints each member's verdict, the confusion matrix and the rates.
pub fn score(args: &ScoreArgs) -> Result<()> {
    let reporter = Reporter::new();
    let result = zoo_score(&args.dir, &ZooScoreOptions { levels: args.levels, seed: args.seed }, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    let s = &r.score;
    for m in &s.members {
        let expected = m.expected.map_or("ambiguous", kind_name);
        let mark = if m.expected.is_some_and(|e| e != m.got) { "✗" } else { " " };
        println!("{mark} {:<44} expected {:<13} got {:<40} ({} {:.3})", m.id, expected, m.label, m.inferred, m.posterior);
    }
    println!("\nverdicts, expected (rows) × got (columns):");
    println!("{:>14} {}", "", s.confusion.got.iter().map(|g| format!("{g:>13}")).collect::<String>());
    for (name, row) in s.confusion.expected.iter().zip(&s.confusion.counts) {
        println!("{name:>14} {}", row.iter().map(|c| format!("{c:>13}")).collect::<String>());
    }
    println!();
    for (name, e) in s.rates() {
        println!("{name}: {}", mesascope_lab::types::fmt_estimate(&e, true));
    }
    eprintln!("scored {} members in {} → {}", s.members.len(), duration(r.seconds), r.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(())
}
