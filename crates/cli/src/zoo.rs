//! `mesascope zoo build` and `mesascope zoo score`: a zoo of agents whose objectives are known,
//! and the audit's score on it (confusion matrix of verdicts and four rates with intervals).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use mesascope_lab::jobs::zoo::{kind_name, RATE_NAMES};
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
    /// Audit seeds (the audits' levels, sampled actions and resampling), e.g. `0-6` or `0,3,5`:
    /// every member is audited once per seed and the score pools the audits.
    #[arg(long, default_value = "0", value_parser = parse_seeds)]
    audit_seeds: Seeds,
}

/// A list of audit seeds.
#[derive(Clone, Debug)]
struct Seeds(Vec<u64>);

/// Parses `0-6`, `3`, `0,2,5` or a mix (`0-2,7`) into seeds, in the order given.
fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim) {
        let number = |s: &str| s.trim().parse::<u64>().map_err(|_| format!("'{s}' in '{text}' is not a seed (a whole number ≥ 0); write seeds as 0-6 or 0,3,5"));
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(format!("the range '{part}' in '{text}' runs backwards"));
                }
                seeds.extend(lo..=hi);
            }
            None => seeds.push(number(part)?),
        }
    }
    Ok(Seeds(seeds))
}

/// Runs `mesascope zoo score`: prints each audit's verdict, each seed's rates, the pooled
/// confusion matrix and the pooled rates.
pub fn score(args: &ScoreArgs) -> Result<()> {
    let reporter = Reporter::new();
    let result = zoo_score(&args.dir, &ZooScoreOptions { levels: args.levels, seeds: args.audit_seeds.0.clone() }, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    let s = &r.score;
    if !s.pending.is_empty() {
        eprintln!("partial zoo: the cohorts {} are not built yet, so their members are not scored (`mesascope zoo build` continues it)", s.pending.join(", "));
    }
    for m in &s.members {
        let expected = m.expected.map_or("ambiguous", kind_name);
        let mark = if m.expected.is_some_and(|e| e != m.got) { "✗" } else { " " };
        println!("{mark} {:<44} seed {:<3} expected {:<13} got {:<40} ({} {:.3})", m.id, m.seed, expected, m.label, m.inferred, m.posterior);
    }
    println!("\neach audit seed: confusion (rows expected, columns got) and {}:", RATE_NAMES.map(|n| n.split(" (").next().unwrap_or(n)).join(" · "));
    for p in &s.per_seed {
        let matrix = p.confusion.counts.iter().map(|row| row.iter().map(usize::to_string).collect::<Vec<_>>().join("/")).collect::<Vec<_>>().join(" ");
        println!("  seed {:<3} {matrix}   {}", p.seed, p.rates().iter().map(|e| mesascope_lab::types::fmt_estimate(e, true)).collect::<Vec<_>>().join(" · "));
    }
    println!("\nverdicts pooled over {} audit seeds, expected (rows) × got (columns):", s.seeds.len());
    println!("{:>14} {}", "", s.confusion.got.iter().map(|g| format!("{g:>13}")).collect::<String>());
    for (name, row) in s.confusion.expected.iter().zip(&s.confusion.counts) {
        println!("{name:>14} {}", row.iter().map(|c| format!("{c:>13}")).collect::<String>());
    }
    println!();
    for (name, e) in s.rates() {
        println!("{name}: {}", mesascope_lab::types::fmt_estimate(&e, true));
    }
    eprintln!("scored {} audits in {} → {}", s.members.len(), duration(r.seconds), r.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(())
}
