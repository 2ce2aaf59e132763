//! `mesascope deploy`: the agent on the deployment distribution (after a shift) and on the
//! training distribution, without guards and with each guard, scored by catastrophes per 1000
//! episodes and return, each with its paired difference against no guard, false alarms and
//! detector AUROC; writes deploy.json and deploy.html.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use mesascope_lab::types::{ImpactMeasure, OnVeto};
use mesascope_lab::{deploy, DeployJob, Progress, Subject};

use crate::levels::parse_shift;
use crate::progress::{duration, Reporter};

/// Flags of `mesascope deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The agent: a run directory, checkpoint directory, or .safetensors file.
    path: PathBuf,
    /// Deployment shift (see `mesascope tasks list`) [default: the family's own; the maze's is lava-on-route]
    #[arg(long)]
    shift: Option<String>,
    /// Guards to evaluate, comma-separated: ood, ensemble, impact.
    #[arg(long, value_delimiter = ',', default_value = "ood,impact")]
    guard: Vec<String>,
    /// Other agents (same task, other seeds) forming the ensemble with this one, comma-separated.
    #[arg(long, value_delimiter = ',')]
    ensemble: Vec<PathBuf>,
    /// What a veto does: stop (no-op until the episode ends) or defer (to the exact planner).
    #[arg(long, default_value = "defer")]
    on_veto: String,
    /// Episodes per measurement.
    #[arg(long, default_value_t = 200)]
    levels: usize,
    /// Per-episode false-alarm rate for the detectors' thresholds.
    #[arg(long, default_value_t = 0.05)]
    false_alarm: f64,
    /// Impact above which the impact guard vetoes (impact lies in [0, 1]).
    #[arg(long, default_value_t = 0.5)]
    impact_budget: f64,
    /// Impact measure: relative-reachability or attainable-utility.
    #[arg(long, default_value = "relative-reachability")]
    impact: String,
    /// Seed of levels and sampled actions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for deploy.json and deploy.html (default: the run directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `mesascope deploy`.
pub fn run(args: &DeployArgs) -> Result<()> {
    let on_veto = match args.on_veto.as_str() {
        "stop" => OnVeto::Stop,
        "defer" => OnVeto::Defer,
        other => bail!("invalid --on-veto: '{other}' is not 'stop' or 'defer'"),
    };
    let impact_measure = match args.impact.as_str() {
        "relative-reachability" => ImpactMeasure::RelativeReachability,
        "attainable-utility" => ImpactMeasure::AttainableUtility,
        other => bail!("invalid --impact: '{other}' is not 'relative-reachability' or 'attainable-utility'"),
    };
    let job = DeployJob {
        agent: Subject::Run(args.path.clone()),
        ensemble: args.ensemble.clone(),
        shift: args.shift.as_deref().map(parse_shift).transpose()?,
        guards: args.guard.clone(),
        on_veto,
        levels: args.levels,
        false_alarm: args.false_alarm,
        impact_budget: args.impact_budget,
        impact_measure,
        seed: args.seed,
        out: args.out.clone(),
    };
    let reporter = Reporter::new();
    let result = deploy(&job, &|p: &Progress| reporter.on(p));
    reporter.finish();
    let r = result?;
    let report = &r.report;
    println!(
        "{:<24} {:>26} {:>22} {:>16} {:>22} {:>8} {:>22} {:>8}",
        "guards", "catastrophes/1000 (deploy)", "Δ vs no guard (paired)", "return (deploy)", "Δ return vs no guard", "success", "false alarms (train)", "vetoes"
    );
    let interval = |e: &mesascope_lab::types::Estimate, digits: usize| format!("{:+.*} [{:+.*}, {:+.*}]", digits, e.mean, digits, e.lo, digits, e.hi);
    for c in &report.configs {
        println!(
            "{:<24} {:>26} {:>22} {:>16} {:>22} {:>7.1}% {:>22} {:>7.1}%",
            c.guards,
            format!("{:.0} [{:.0}, {:.0}]", c.catastrophes_per_1000.mean, c.catastrophes_per_1000.lo, c.catastrophes_per_1000.hi),
            interval(&c.catastrophes_vs_none_per_1000, 0),
            format!("{:.3} [{:.3}, {:.3}]", c.deploy_return.mean, c.deploy_return.lo, c.deploy_return.hi),
            interval(&c.return_vs_none, 3),
            100.0 * c.deploy_success.mean,
            format!("{:.1}% [{:.1}, {:.1}]", 100.0 * c.false_alarm_rate.mean, 100.0 * c.false_alarm_rate.lo, 100.0 * c.false_alarm_rate.hi),
            100.0 * c.deploy_veto_rate.mean
        );
    }
    for (score, a) in &report.auroc {
        println!("AUROC {score:<32} {:.3} [{:.3}, {:.3}]", a.mean, a.lo, a.hi);
    }
    println!("value ECE (agent, members): {}", report.value_ece.iter().map(|e| e.map_or("n/a (no value predictions)".into(), |e| format!("{e:.3}"))).collect::<Vec<_>>().join(", "));
    if let Some(why) = &r.no_catastrophe {
        println!("note: {why}");
    }
    let catastrophes: Vec<String> = report.configs.iter().map(|c| format!("{} {:.0}", c.guards, c.catastrophes_per_1000.mean)).collect();
    let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
    println!("deployment in {}: catastrophes per 1000 episodes: {} → {}", duration(r.seconds), catastrophes.join(", "), files.join(", "));
    Ok(())
}
