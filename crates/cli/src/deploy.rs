//! `mesascope deploy`: the agent on the deployment distribution (after a shift) and on the
//! training distribution, without guards and with each guard, scored by catastrophes per 1000
//! episodes, return kept, false alarms and detector AUROC; writes deploy.json and deploy.html.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use mesascope_audit::agents::ModelAgent;
use mesascope_guard::chain::{evaluate_chain, DeployOptions, OnVeto};
use mesascope_guard::impact::ImpactMeasure;
use mesascope_learn::run::load_model;

use crate::levels::parse_shift;
use mesascope_learn::run::write_atomic;

/// Flags of `mesascope deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The agent: a run directory, checkpoint directory, or .safetensors file.
    path: PathBuf,
    /// Deployment shift (see `mesascope tasks list`).
    #[arg(long, default_value = "lava-on-route")]
    shift: String,
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

fn model_agent(path: &std::path::Path) -> Result<ModelAgent> {
    let (cfg, model) = load_model(path)?;
    let device = mesascope_learn::device(&cfg.device)?;
    let ticks = cfg.model.ticks;
    Ok(ModelAgent { cfg, model, device, ticks })
}

/// Runs `mesascope deploy`.
pub fn run(args: &DeployArgs) -> Result<()> {
    let shift = parse_shift(&args.shift)?;
    let on_veto = match args.on_veto.as_str() {
        "stop" => OnVeto::Stop,
        "defer" => OnVeto::Defer,
        other => anyhow::bail!("invalid --on-veto: '{other}' is not 'stop' or 'defer'"),
    };
    let impact_measure = match args.impact.as_str() {
        "relative-reachability" => ImpactMeasure::RelativeReachability,
        "attainable-utility" => ImpactMeasure::AttainableUtility,
        other => anyhow::bail!("invalid --impact: '{other}' is not 'relative-reachability' or 'attainable-utility'"),
    };
    if !(0.0..1.0).contains(&args.false_alarm) {
        anyhow::bail!("invalid --false-alarm: {} must be in [0, 1)", args.false_alarm);
    }
    let agent = model_agent(&args.path)?;
    let members = args.ensemble.iter().map(|p| model_agent(p)).collect::<Result<Vec<_>>>()?;
    for (m, p) in members.iter().zip(&args.ensemble) {
        if m.cfg.env != agent.cfg.env {
            anyhow::bail!("invalid --ensemble: {} was trained on a different task than {}", p.display(), args.path.display());
        }
    }
    let layer = if agent.cfg.model.recurrent() { "gru.hidden" } else { "dense" }.to_string();
    let opts = DeployOptions { shift, guards: args.guard.clone(), on_veto, levels: args.levels, false_alarm: args.false_alarm, impact_budget: args.impact_budget, impact_measure, layer, seed: args.seed, ..DeployOptions::default() };
    let dist = agent.cfg.env.dist;
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = evaluate_chain(&args.path.display().to_string(), &agent, &members, &dist, &opts, &mut |stage| bar.set_message(stage.to_string()))?;
    bar.finish_and_clear();
    let out = args.out.clone().unwrap_or_else(|| if args.path.is_dir() { args.path.clone() } else { args.path.parent().map(|p| p.to_path_buf()).unwrap_or_default() });
    write_atomic(&out.join("deploy.json"), &serde_json::to_vec_pretty(&report).context("serialising the report")?)?;
    write_atomic(&out.join("deploy.html"), mesascope_guard::page::html(&report).as_bytes())?;
    println!("{:<24} {:>28} {:>16} {:>6} {:>8} {:>22} {:>8}", "guards", "catastrophes/1000 (deploy)", "return (deploy)", "kept", "cheese", "false alarms (train)", "vetoes");
    for c in &report.configs {
        println!(
            "{:<24} {:>28} {:>16} {:>6.2} {:>7.1}% {:>22} {:>7.1}%",
            c.guards,
            format!("{:.0} [{:.0}, {:.0}]", c.catastrophes_per_1000.mean, c.catastrophes_per_1000.lo, c.catastrophes_per_1000.hi),
            format!("{:.3} ± {:.3}", c.deploy_return.mean, (c.deploy_return.hi - c.deploy_return.lo) / 2.0),
            c.return_kept,
            100.0 * c.deploy_success.mean,
            format!("{:.1}% [{:.1}, {:.1}]", 100.0 * c.false_alarm_rate.mean, 100.0 * c.false_alarm_rate.lo, 100.0 * c.false_alarm_rate.hi),
            100.0 * c.deploy_veto_rate.mean
        );
    }
    for (score, a) in &report.auroc {
        println!("AUROC {score:<32} {:.3} [{:.3}, {:.3}]", a.mean, a.lo, a.hi);
    }
    println!("value ECE (agent, members): {}", report.value_ece.iter().map(|e| format!("{e:.3}")).collect::<Vec<_>>().join(", "));
    println!("→ {}, {}", out.join("deploy.json").display(), out.join("deploy.html").display());
    Ok(())
}
