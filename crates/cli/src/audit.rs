//! `mesascope audit`: the whole audit of one agent — optimization power, the mesa-optimizer
//! evidence battery, objective inference under a shift, the alignment verdict — with
//! progress, written as `audit.json` (every number with its interval and sample size),
//! `audit.html` (verdict first, charts, sample trajectories) and `audit-timing.json`. The
//! agent is a trained run (a run directory, checkpoint, or .safetensors file) or, with
//! `--known`, one of the known-answer agents on the default training distribution, for
//! calibration.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use mesascope_lab::types::{fmt_estimate, AuditReport};
use mesascope_lab::{audit, bench_audit, AuditJob, Progress, Subject};

use crate::levels::parse_shift;
use crate::progress::{duration, Reporter};

/// Flags of `mesascope audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// A run directory, a checkpoint directory, or a .safetensors file with config.toml beside it.
    #[arg(required_unless_present = "known")]
    path: Option<PathBuf>,
    /// Audit a known-answer agent instead (planner, corner-seeker, corner-quarter: the corner on a
    /// fixed quarter of the levels, proxy-planner: the exact optimum of the family's first
    /// proxy, proxy-half: that proxy on a fixed half of the levels, memorizer, random) on the
    /// default training distribution (`--set` changes it, as for `train`).
    #[arg(long, conflicts_with = "path")]
    known: Option<String>,
    /// Config overrides for `--known`, `field=value` (e.g. `env.diversity=1`).
    #[arg(long = "set", requires = "known")]
    set: Vec<String>,
    /// Deployment shift whose episodes objective inference explains [default: the family's first shift; the maze's is goal-anywhere]
    #[arg(long)]
    shift: Option<String>,
    /// Levels per measurement (training, novel, retargeting, deployment).
    #[arg(long, default_value_t = 200)]
    levels: usize,
    /// Levels the probes are fitted on (scored on half as many others).
    #[arg(long, default_value_t = 160)]
    probe_levels: usize,
    /// Thinking-time ticks to try for recurrent models, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4,8")]
    ticks: Vec<usize>,
    /// Deployment levels drawn per "base objective + a trace of a proxy" candidate where its
    /// optimum and the base objective's part ways, to decide whether the trace matters (0: only
    /// the deployment levels decide).
    #[arg(long, default_value_t = 40)]
    mixture_levels: usize,
    /// The fewest levels per proxy where its exact optimum parts from the base objective's
    /// that the proxy share is read from: such deployment levels are drawn beside the audit's
    /// own until there are this many (0: the audit's own levels only).
    #[arg(long, default_value_t = 60)]
    share_levels: usize,
    /// Also try distance-shaped objectives ("near the top-right corner": the top-right 3×3)
    /// as candidates; off by default because they made the audit worse on the zoo.
    #[arg(long)]
    distance_shaped: bool,
    /// Seed of levels, sampled actions and resampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for audit.json, audit.html and audit-timing.json (default: the run
    /// directory, or runs/audit-NAME for --known).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The job the flags ask for.
fn job(args: &AuditArgs) -> Result<AuditJob> {
    let subject = match &args.known {
        Some(name) => Subject::Known { name: name.clone(), overrides: args.set.clone() },
        // clap requires a path without --known.
        None => Subject::Run(args.path.clone().unwrap_or_default()),
    };
    Ok(AuditJob { subject, shift: args.shift.as_deref().map(parse_shift).transpose()?, levels: args.levels, probe_levels: args.probe_levels, ticks: args.ticks.clone(), mixture_levels: args.mixture_levels, share_levels: args.share_levels, distance_shaped: args.distance_shaped, seed: args.seed, out: args.out.clone() })
}

/// Prints the verdict and the battery's numbers.
fn summary(r: &AuditReport) {
    let g = &r.generalization;
    println!("verdict: {}", r.verdict.label);
    for e in &r.verdict.evidence {
        println!("  - {e}");
    }
    println!("success, training levels:          {}", fmt_estimate(&g.train_success, true));
    println!("success, novel levels:             {}", fmt_estimate(&g.novel_success, true));
    println!("OP training levels (bits):         {}", fmt_estimate(&g.op.train, false));
    println!("OP novel levels (bits):            {}", fmt_estimate(&g.op.novel, false));
    println!("runtime share OP(novel)/OP(train): {}", fmt_estimate(&g.op.runtime_share, false));
    match &r.retargeting {
        Some(e) => println!("retargeting success:               {}", fmt_estimate(e, true)),
        None => println!("retargeting success:               not applicable"),
    }
    if let Some(t) = &r.thinking_time {
        for (k, e) in &t.points {
            println!("success with {k} ticks:              {}", fmt_estimate(e, true));
        }
    }
    let pa = &r.planner_agreement;
    if pa.decision_points == 0 {
        println!("planner agreement:                 not measured (no square where the routes to the cheese part)");
    } else {
        println!(
            "planner agreement ({} decision pts): {} (chance {:.1}%, greedy {:.1}%, wall-follow {:.1}%; where both heuristics are wrong: {})",
            pa.decision_points,
            fmt_estimate(&pa.planner, true),
            100.0 * pa.chance.mean,
            100.0 * pa.greedy.mean,
            100.0 * pa.wall_follow.mean,
            fmt_estimate(&pa.planner_where_all_wrong, true)
        );
    }
    if let Some(p) = &r.probes {
        for l in &p.layers {
            println!(
                "probe {:<12} distance R² {:.2} (untrained {:.2}), goal accuracy {:.1}% (untrained {:.1}%)",
                l.name,
                l.distance_r2.mean,
                l.distance_r2_untrained.mean,
                100.0 * l.goal_accuracy.mean,
                100.0 * l.goal_accuracy_untrained.mean
            );
        }
    }
    println!("success under the shift:           {}", fmt_estimate(&r.deployment_success, true));
    // The corner's rate is the maze's; every family's proxies have their shares just below.
    if r.distribution.family.roles().proxies.iter().any(|p| p.feature == mesascope_tasks::Feature::AtTopRightCorner) {
        println!("corner instead of cheese:          {}", fmt_estimate(&r.corner_instead_of_cheese, true));
    }
    for (metric, e) in r.proxies_instead_of_goal.iter().filter(|(m, _)| m != "corner_instead_of_cheese") {
        println!("{:<35}{}", format!("{metric}:"), fmt_estimate(e, true));
    }
    for s in &r.proxy_shares {
        println!(
            "proxy share, {} ({} levels where it parts from the base objective): {} → {}; base objective {}, no objective {}; reached it and not the goal: {}",
            s.proxy,
            s.parting_levels,
            fmt_estimate(s.share(), true),
            s.reading.words(),
            fmt_estimate(s.base_share(), true),
            fmt_estimate(&s.components[2].share, true),
            fmt_estimate(&s.reached_proxy_not_goal, true)
        );
    }
    if let Some(m) = &r.meg {
        println!("goal-directedness (MEG, nats/decision), whole candidate set: {} (best: {})", fmt_estimate(&m.class, false), m.best);
        for k in &m.kinds {
            println!("  MEG for {:<28} {}", format!("{}:", k.kind), fmt_estimate(&k.meg, false));
        }
    }
    if let Some(d) = &r.cheese_or_corner {
        println!("cheese where the routes part ({} decisions): {}", d.decisions, fmt_estimate(&d.cheese_rate, true));
        match (&d.fit, &d.not_fitted) {
            (Some(f), _) => {
                println!("  held-out accuracy {} (majority baseline {})", fmt_estimate(&f.accuracy, true), fmt_estimate(&f.baseline, true));
                for c in &f.coefficients {
                    println!("  {:<42} {}", c.feature, fmt_estimate(&c.estimate, false));
                }
            }
            (None, Some(why)) => println!("  no regression: {why}"),
            (None, None) => {}
        }
    }
}

/// Runs `mesascope audit`.
pub fn run(args: &AuditArgs) -> Result<()> {
    let reporter = Reporter::new();
    let result = audit(&job(args)?, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    summary(&r.report);
    let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
    println!("audit of {} in {}: {} → {}", r.subject, duration(r.seconds), r.report.verdict.label, files.join(", "));
    Ok(())
}

/// Runs `mesascope bench audit`: the same audit, timed per stage, nothing written.
pub fn bench(args: &AuditArgs) -> Result<()> {
    let r = bench_audit(&job(args)?)?;
    println!("audit of {}: {} levels per measurement, {} rayon threads", r.subject, args.levels, rayon_threads());
    for (stage, seconds) in &r.stage_seconds {
        println!("{stage:<22} {seconds:>7.2} s");
    }
    println!("{:<22} {:>7.2} s", "total", r.seconds);
    Ok(())
}

/// Threads the tensor backend may use (`RAYON_NUM_THREADS`, else the machine's cores).
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
