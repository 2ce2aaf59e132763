//! Reports: per condition, each measurement's mean over seeds with a 95% t-interval, written
//! as `summary.csv` (the table a test or a notebook reads) and `report.html` (a plot per
//! measurement against the swept condition with error bars, the verdicts, the experiment's
//! spec beside them, and the section-2.1 toy model when the spec asks for it).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use mesascope_audit::page::{escape, STYLE};
use mesascope_audit::plot::{lines, XAxis};
use mesascope_audit::stats::Estimate;

use crate::spec::{condition_json, value_label, Condition, ExperimentSpec};
use crate::stats::t_interval;
use crate::store::Store;
use crate::toy::solve;
use crate::LabError;

/// Titles of the measurements a run records.
pub fn metric_title(metric: &str) -> &str {
    match metric {
        "held_out_success" => "Success on held-out training-distribution levels (end of training)",
        "train_success" => "Success on training levels",
        "novel_success" => "Success on novel levels (generalization)",
        "op_train" => "Optimization power on training levels (bits)",
        "op_novel" => "Optimization power on novel levels (bits)",
        "runtime_share" => "Runtime share OP(novel)/OP(train)",
        "deploy_success" => "Success under the deployment shift (cheese reached)",
        "corner_instead_of_cheese" => "Under the shift: top-right corner instead of the cheese",
        "planner_agreement" => "Planner agreement at decision points",
        "pseudo_aligned" => "Fraction of seeds inferred pseudo-aligned (posterior ≥ 0.95)",
        "proxy_verdict" => "Fraction of seeds with a proxy verdict",
        "retargeting_success" => "Retargeting success (goal on cells never used in training)",
        "probe_distance_r2" => "Best linear-probe R² for the distance-to-goal map",
        other => other,
    }
}

/// Every measurement a run records, in the order the report shows them unless the spec's
/// `[report] headline` puts some first.
pub const METRICS: [&str; 13] = [
    "op_train",
    "op_novel",
    "runtime_share",
    "novel_success",
    "deploy_success",
    "corner_instead_of_cheese",
    "proxy_verdict",
    "pseudo_aligned",
    "retargeting_success",
    "planner_agreement",
    "held_out_success",
    "train_success",
    "probe_distance_r2",
];

/// Where a measurement's values can lie; intervals are clipped to it.
fn support(metric: &str) -> (f64, f64) {
    match metric {
        "op_train" | "op_novel" | "runtime_share" => (0.0, f64::INFINITY),
        "probe_distance_r2" => (f64::NEG_INFINITY, 1.0),
        _ => (0.0, 1.0),
    }
}

/// One row of the summary: a condition, a metric, and its estimate over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The condition.
    pub condition: Condition,
    /// The metric.
    pub metric: String,
    /// Mean over seeds with its 95% t-interval.
    pub estimate: Estimate,
}

/// Each condition's verdict labels with how many seeds got them.
pub type VerdictCounts = Vec<(Condition, BTreeMap<String, usize>)>;

/// The summary table and each condition's verdict counts, from the store, in spec order.
pub fn summarize(spec: &ExperimentSpec, store: &Store) -> Result<(Vec<SummaryRow>, VerdictCounts), LabError> {
    let runs = store.done_runs()?;
    let mut by_condition: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
    for r in runs {
        by_condition.entry(r.condition.clone()).or_default().push((r.id, r.verdict));
    }
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for condition in spec.conditions() {
        let Some(runs) = by_condition.get(&condition_json(&condition)) else { continue };
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (id, verdict) in runs {
            for (metric, v) in store.results(id)? {
                if v.is_finite() {
                    values.entry(metric).or_default().push(v);
                }
            }
            if let Some(v) = verdict {
                *counts.entry(v.clone()).or_insert(0) += 1;
            }
        }
        let rank = |m: &str| match spec.report.headline.iter().position(|h| h == m) {
            Some(i) => i,
            None => spec.report.headline.len() + METRICS.iter().position(|o| *o == m).unwrap_or(METRICS.len()),
        };
        let mut values: Vec<(String, Vec<f64>)> = values.into_iter().collect();
        values.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        for (metric, xs) in values {
            let mut estimate = t_interval(&xs);
            let (lo, hi) = support(&metric);
            (estimate.lo, estimate.hi) = (estimate.lo.clamp(lo, hi), estimate.hi.clamp(lo, hi));
            rows.push(SummaryRow { condition: condition.clone(), metric, estimate });
        }
        verdicts.push((condition, counts));
    }
    Ok((rows, verdicts))
}

/// `summary.csv`: one row per condition and metric (intervals clipped to where the measurement
/// can lie: t-intervals over three seeds of a fraction can otherwise leave [0, 1]).
pub fn summary_csv(spec: &ExperimentSpec, rows: &[SummaryRow]) -> String {
    let keys: Vec<&String> = spec.grid.keys().collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    header.extend(["metric", "mean", "lo", "hi", "n"].map(String::from));
    let _ = w.write_record(&header);
    let num = |x: f64| if x.is_finite() { format!("{x:.6}") } else { String::new() };
    for r in rows {
        let mut rec: Vec<String> = r.condition.iter().map(|(_, v)| value_label(v)).collect();
        rec.extend([r.metric.clone(), num(r.estimate.mean), num(r.estimate.lo), num(r.estimate.hi), r.estimate.n.to_string()]);
        let _ = w.write_record(&rec);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The diversity `N` a condition value stands for (`inf` as a very large N), for the toy model.
fn diversity_n(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(n) => Some(*n as f64),
        toml::Value::String(s) if s == "inf" => Some(1e9),
        toml::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `report.html`.
pub fn html(spec: &ExperimentSpec, spec_text: &str, rows: &[SummaryRow], verdicts: &VerdictCounts, store: &Store, quick: bool) -> Result<String, LabError> {
    let (pending, done, failed) = store.counts()?;
    let mut h = String::new();
    let _ = write!(h, "<!doctype html><html><head><meta charset=\"utf-8\"><title>mesascope experiment: {}</title><style>{STYLE} .side{{display:flex;gap:2em;align-items:flex-start}} pre{{background:#f6f6f6;padding:1em;font-size:.8em;overflow:auto}}</style></head><body>", escape(&spec.name));
    let _ = write!(h, "<h1>Experiment: {}{}</h1><p>{}</p>", escape(&spec.name), if quick { " (quick)" } else { "" }, escape(&spec.description));
    let _ = write!(h, "<p>Runs: {done} done, {pending} pending, {failed} failed, over {} seeds per condition. Every point is a mean over seeds with its 95% t-interval.</p>", spec.seeds(quick).len());
    let Some((x_key, x_values)) = spec.grid.iter().next() else { return Ok(h) };
    let x_values = x_values.as_array().cloned().unwrap_or_default();
    let labels: Vec<String> = x_values.iter().map(value_label).collect();
    let x_of = |c: &Condition| c.iter().find(|(k, _)| k == x_key).and_then(|(_, v)| x_values.iter().position(|x| x == v)).map(|i| i as f64);
    let series_of = |c: &Condition| c.iter().filter(|(k, _)| k != x_key).map(|(k, v)| format!("{k}={}", value_label(v))).collect::<Vec<_>>().join(", ");
    let mut metrics: Vec<&str> = Vec::new();
    for r in rows {
        if !metrics.contains(&r.metric.as_str()) {
            metrics.push(&r.metric);
        }
    }
    h.push_str("<div class=\"side\"><div>");
    for metric in &metrics {
        let mut series: BTreeMap<String, Vec<(f64, Estimate)>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.metric == *metric) {
            if let Some(x) = x_of(&r.condition) {
                series.entry(series_of(&r.condition)).or_default().push((x, r.estimate));
            }
        }
        let mut series: Vec<(String, Vec<(f64, Estimate)>)> = series.into_iter().map(|(k, v)| (if k.is_empty() { metric.to_string() } else { k }, v)).collect();
        if *metric == "runtime_share" && x_key == "env.diversity" {
            if let Some(toy) = &spec.toy_model {
                let pts: Vec<(f64, Estimate)> = x_values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        let s = solve(toy.x, toy.cost, toy.scale, diversity_n(v)?).ok()?;
                        Some((i as f64, Estimate { mean: s.runtime_share, lo: f64::NAN, hi: f64::NAN, n: 0 }))
                    })
                    .collect();
                series.push((format!("toy model y*/T(y*) (x = {}, {:?} cost)", toy.x, toy.cost).to_lowercase(), pts));
            }
        }
        h.push_str(&lines(metric_title(metric), x_key, metric, &series, &XAxis::Categories(labels.clone())));
    }
    let _ = write!(h, "</div><div><h2>Spec</h2><pre>{}</pre></div></div>", escape(spec_text));

    h.push_str("<h2>Verdicts per condition</h2><table><tr><th>condition</th><th>verdicts over seeds</th></tr>");
    for (c, counts) in verdicts {
        let text = counts.iter().map(|(v, n)| format!("{v} ×{n}")).collect::<Vec<_>>().join("; ");
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(&crate::spec::condition_label(c)), escape(&text));
    }
    h.push_str("</table><h2>Table</h2><table><tr><th>condition</th><th>measurement</th><th>mean</th><th>95% CI</th><th>seeds</th></tr>");
    for r in rows {
        let e = r.estimate;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>[{:.3}, {:.3}]</td><td>{}</td></tr>",
            escape(&crate::spec::condition_label(&r.condition)),
            escape(metric_title(&r.metric)),
            e.mean,
            e.lo,
            e.hi,
            e.n
        );
    }
    h.push_str("</table><p class=\"na\">Each run's own audit (audit.html) is in runs/&lt;run id&gt;/; all numbers are in runs.sqlite (tables runs, results; view summary).</p></body></html>");
    Ok(h)
}

/// Writes `summary.csv` and `report.html` into `dir`.
pub fn write_all(spec: &ExperimentSpec, spec_text: &str, dir: &Path, store: &Store, quick: bool) -> Result<(), LabError> {
    let (rows, verdicts) = summarize(spec, store)?;
    mesascope_learn::run::write_atomic(&dir.join("summary.csv"), summary_csv(spec, &rows).as_bytes())?;
    mesascope_learn::run::write_atomic(&dir.join("report.html"), html(spec, spec_text, &rows, &verdicts, store, quick)?.as_bytes())?;
    Ok(())
}
