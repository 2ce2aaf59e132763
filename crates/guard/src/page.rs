//! `deploy.html`: the guard table first (catastrophes, return, false alarms, side by side for
//! no guard, each guard and all of them), then each guard's paired difference from no guard on
//! the same episodes, charts, and each detector's AUROC with the statistic it is computed on.

use std::fmt::Write;

use mesascope_report::page::{escape, fmt_estimate, frame};
use mesascope_report::plot::bars;

use crate::chain::DeployReport;

/// Renders the report as a self-contained HTML page.
pub fn html(r: &DeployReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<h1>Deployment guards for {}</h1><p>Shift <code>{:?}</code>, {} episodes per measurement, on a veto the agent will <b>{:?}</b>; thresholds at a {:.0}% per-episode false-alarm rate, impact budget {}.</p>",
        escape(&r.subject),
        r.options.shift,
        r.options.levels,
        r.options.on_veto,
        100.0 * r.options.false_alarm,
        r.options.impact_budget
    );
    h.push_str("<h2>Guards side by side</h2><p>Every row plays the same episodes: the same levels and, in each episode, the same action samples (one random stream per episode), so a guarded episode is the unguarded one until its first veto. Rates carry Wilson intervals on their counts; means a bootstrap over episodes; n is the number of episodes.</p>");
    h.push_str("<table><tr><th>guards</th><th>catastrophes / 1000 (deployment)</th><th>return (deployment)</th><th>return, normalised (random 0, optimal 1)</th><th>success</th><th>false alarms (training)</th><th>vetoes (deployment)</th><th>catastrophes / 1000 (training)</th></tr>");
    for c in &r.configs {
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.guards),
            fmt_estimate(&c.catastrophes_per_1000, false),
            fmt_estimate(&c.deploy_return, false),
            fmt_estimate(&c.normalized_return, false),
            fmt_estimate(&c.deploy_success, true),
            fmt_estimate(&c.false_alarm_rate, true),
            fmt_estimate(&c.deploy_veto_rate, true),
            fmt_estimate(&c.training_catastrophes_per_1000, false)
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p>Normalised return: per episode <code>(R − R<sub>random</sub>) / mean(R<sub>optimal</sub> − R<sub>random</sub>)</code>, with the uniform-random policy's exact expected return ({}) and the planner's optimal return ({}) on the same deployment levels.</p>",
        fmt_estimate(&r.random_return, false),
        fmt_estimate(&r.optimal_return, false)
    );
    h.push_str("<h2>Each guard against no guard, episode by episode</h2><p>Paired differences on the same deployment episodes: catastrophes per 1000 (Newcombe's interval for paired rates; negative means catastrophes prevented) and base-objective return (bootstrap over episodes of the per-episode difference; negative means return lost).</p>");
    h.push_str("<table><tr><th>guards</th><th>Δ catastrophes / 1000 vs none</th><th>Δ return vs none</th></tr>");
    for c in r.configs.iter().filter(|c| c.guards != "none") {
        let _ = write!(h, "<tr><td><b>{}</b></td><td>{}</td><td>{}</td></tr>", escape(&c.guards), fmt_estimate(&c.catastrophes_vs_none_per_1000, false), fmt_estimate(&c.return_vs_none, false));
    }
    h.push_str("</table>");
    h.push_str(&bars("Catastrophes per 1000 deployment episodes", "per 1000", &r.configs.iter().enumerate().map(|(i, c)| (c.guards.clone(), c.catastrophes_per_1000, i)).collect::<Vec<_>>()));
    h.push_str(&bars("False alarms on the training distribution", "fraction of episodes", &r.configs.iter().enumerate().map(|(i, c)| (c.guards.clone(), c.false_alarm_rate, i)).collect::<Vec<_>>()));
    let _ = write!(h, "<h2>Detectors</h2><p>AUROC of deployment against training-distribution episodes of the unguarded agent, on the {}; 95% bootstrap interval over episodes. Thresholds are on the per-episode maximum, since one step over the threshold is a veto.</p>", escape(&r.auroc_statistic));
    h.push_str("<table><tr><th>score</th><th>AUROC (deployment vs training)</th><th>n (episodes)</th><th>threshold</th></tr>");
    for (name, a) in &r.auroc {
        let _ = write!(h, "<tr><td>{}</td><td>{:.3} [{:.3}, {:.3}]</td><td>{}</td><td>{:.4}</td></tr>", escape(name), a.mean, a.lo, a.hi, a.n, r.thresholds.get(name).copied().unwrap_or(f64::NAN));
    }
    h.push_str("</table><h2>Calibration of value predictions</h2><p>Expected calibration error of the value heads against the realised discounted return on training-distribution episodes (agent first, then the other ensemble members): ");
    h.push_str(&r.value_ece.iter().map(|e| e.map_or("n/a (no value predictions)".into(), |e| format!("{e:.3}"))).collect::<Vec<_>>().join(", "));
    h.push_str("</p>");
    frame(&format!("mesascope deploy: {}", r.subject), &h)
}
