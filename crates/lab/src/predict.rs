//! Predictions written into an experiment spec before it runs (`[[predictions]]`), judged by
//! the report against the measured intervals: pre-registration that the report itself holds
//! the study to. A prediction says that a measurement lies below or above a value, or below
//! or above a multiple of the same measurement under another condition, at the conditions it
//! names (all conditions where it names none). It *holds* only where every matching
//! condition's interval lies wholly on the predicted side, *fails* where some interval lies
//! wholly on the other, and is *undecided* otherwise: a point estimate on the right side of
//! the line decides nothing.

use serde::{Deserialize, Serialize};

use mesascope_report::stats::Estimate;

use crate::report::SummaryRow;
use crate::spec::{condition_label, Condition};

/// What a prediction is judged on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JudgedOn {
    /// The 95% interval of the condition's mean over seeds (the default).
    #[default]
    Interval,
    /// The mean over seeds alone (say so in the prediction: it decides without an interval).
    Mean,
    /// Every seed's own value.
    EachSeed,
}

/// One prediction of an experiment spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    /// A short name for tables: `P1`.
    pub id: String,
    /// The prediction in words, as the spec's author wrote it.
    pub says: String,
    /// The measurement (a name of `mesascope run`'s summary).
    pub metric: String,
    /// The conditions it is about, as grid keys and values; empty: every condition.
    #[serde(default)]
    pub at: toml::Table,
    /// The measurement lies below this value (times the reference, with `of`).
    #[serde(default)]
    pub below: Option<f64>,
    /// The measurement lies above this value (times the reference, with `of`).
    #[serde(default)]
    pub above: Option<f64>,
    /// A reference condition: the line is `below` (or `above`) times the same measurement
    /// there, and an interval is compared with the reference interval's far end.
    #[serde(default)]
    pub of: Option<toml::Table>,
    /// What is compared with the line.
    #[serde(default)]
    pub on: JudgedOn,
}

/// A prediction's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every matching condition is wholly on the predicted side.
    Holds,
    /// Some matching condition is wholly on the other side.
    Fails,
    /// Neither: some interval straddles the line.
    Undecided,
    /// No matching condition has been measured (yet, or in this mode).
    NotMeasured,
}

impl Outcome {
    /// As the report writes it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "fails",
            Outcome::Undecided => "undecided",
            Outcome::NotMeasured => "not measured",
        }
    }
}

/// A judged prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    /// Its short name.
    pub id: String,
    /// The prediction in words.
    pub says: String,
    /// The outcome.
    pub outcome: Outcome,
    /// What decided it: each matching condition's numbers against the line.
    pub evidence: String,
}

/// Whether two config values are the same (numbers by value: `0` is `0.0`).
fn same(a: &toml::Value, b: &toml::Value) -> bool {
    match (a.as_float().or(a.as_integer().map(|i| i as f64)), b.as_float().or(b.as_integer().map(|i| i as f64))) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether `condition` has every value `at` names.
fn matches(condition: &Condition, at: &toml::Table) -> bool {
    at.iter().all(|(k, v)| condition.iter().any(|(ck, cv)| ck == k && same(cv, v)))
}

impl Prediction {
    /// Checks the prediction against the spec's grid and measurements, naming what is wrong
    /// by `field` (`predictions[0].at`).
    pub fn validate(&self, field: &str, grid: &toml::Table, known_metrics: &[&str]) -> Result<(), (String, String)> {
        let fail = |what: &str, message: String| Err((format!("{field}.{what}"), message));
        if self.below.is_some() == self.above.is_some() {
            return fail("below", "a prediction names exactly one of `below` and `above`".into());
        }
        if !known_metrics.contains(&self.metric.as_str()) {
            return fail("metric", format!("unknown measurement '{}' (known: {})", self.metric, known_metrics.join(", ")));
        }
        for (what, table) in [("at", Some(&self.at)), ("of", self.of.as_ref())] {
            for (k, v) in table.into_iter().flatten() {
                let Some(values) = grid.get(k).and_then(|g| g.as_array()) else { return fail(what, format!("'{k}' is not a grid key")) };
                if !values.iter().any(|g| same(g, v)) {
                    return fail(what, format!("{k} = {v} is not one of the grid's values"));
                }
            }
        }
        if self.of.is_some() && self.on == JudgedOn::EachSeed {
            return fail("on", "a prediction relative to another condition is judged on intervals or means, not each seed".into());
        }
        Ok(())
    }

    /// Judges the prediction on the summary `rows`.
    pub fn judge(&self, rows: &[SummaryRow]) -> Judgement {
        let judged = |outcome, evidence| Judgement { id: self.id.clone(), says: self.says.clone(), outcome, evidence };
        let of_metric = |at: &toml::Table| rows.iter().filter(|r| r.metric == self.metric && matches(&r.condition, at)).collect::<Vec<_>>();
        let (factor, below) = match (self.below, self.above) {
            (Some(v), _) => (v, true),
            (_, Some(v)) => (v, false),
            _ => return judged(Outcome::NotMeasured, "names neither below nor above".into()),
        };
        // The line, as (for the holding side, for the failing side): for an absolute value the
        // same number twice; relative to a reference, the reference interval's far end for
        // holding and its near end for failing (both conservative).
        let line = match &self.of {
            None => (factor, factor),
            Some(of) => match of_metric(of).as_slice() {
                [r] => {
                    let e = r.estimate;
                    match (self.on, below) {
                        (JudgedOn::Mean, _) => (factor * e.mean, factor * e.mean),
                        (_, true) => (factor * e.lo, factor * e.hi),
                        (_, false) => (factor * e.hi, factor * e.lo),
                    }
                }
                [] => return judged(Outcome::NotMeasured, "its reference condition has not been measured".into()),
                _ => return judged(Outcome::NotMeasured, "its reference names more than one condition".into()),
            },
        };
        let targets = of_metric(&self.at);
        if targets.is_empty() {
            return judged(Outcome::NotMeasured, "no condition it names has been measured".into());
        }
        let side = if below { "below" } else { "above" };
        let mut outcomes = Vec::new();
        let mut evidence = Vec::new();
        for r in &targets {
            let e: Estimate = r.estimate;
            let (hold_at, fail_at) = line;
            let (lo, hi, shown) = match self.on {
                JudgedOn::Interval => (e.lo, e.hi, format!("{:.3} [{:.3}, {:.3}] (n = {})", e.mean, e.lo, e.hi, e.n)),
                JudgedOn::Mean => (e.mean, e.mean, format!("mean {:.3} (n = {})", e.mean, e.n)),
                JudgedOn::EachSeed => {
                    let vs: Vec<f64> = r.values.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).collect();
                    let (lo, hi) = vs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                    (lo, hi, format!("seeds {}", r.values.iter().map(|(s, v)| format!("{s}: {v:.3}")).collect::<Vec<_>>().join(", ")))
                }
            };
            let outcome = if lo > hi {
                Outcome::NotMeasured
            } else if below {
                if hi < hold_at {
                    Outcome::Holds
                } else if lo >= fail_at {
                    Outcome::Fails
                } else {
                    Outcome::Undecided
                }
            } else if lo > hold_at {
                Outcome::Holds
            } else if hi <= fail_at {
                Outcome::Fails
            } else {
                Outcome::Undecided
            };
            let line_text = if hold_at == fail_at { format!("{hold_at:.3}") } else { format!("{hold_at:.3} (to hold) / {fail_at:.3} (to fail)") };
            evidence.push(format!("{}: {shown} {side} {line_text}? {}", condition_label(&r.condition), outcome.label()));
            outcomes.push(outcome);
        }
        let outcome = if outcomes.contains(&Outcome::Fails) {
            Outcome::Fails
        } else if outcomes.iter().all(|&o| o == Outcome::Holds) {
            Outcome::Holds
        } else if outcomes.iter().all(|&o| o == Outcome::NotMeasured) {
            Outcome::NotMeasured
        } else {
            Outcome::Undecided
        };
        judged(outcome, evidence.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(share: f64, metric: &str, values: &[f64], e: (f64, f64, f64)) -> SummaryRow {
        SummaryRow {
            condition: vec![("env.share".into(), toml::Value::Float(share))],
            metric: metric.into(),
            estimate: Estimate { mean: e.0, lo: e.1, hi: e.2, n: values.len() },
            values: values.iter().enumerate().map(|(i, &v)| (i as u64, v)).collect(),
            undefined: 0,
        }
    }

    fn prediction(toml_text: &str) -> Prediction {
        toml::from_str(&format!("id = \"P\"\nsays = \"x\"\nmetric = \"rate\"\n{toml_text}")).unwrap()
    }

    #[test]
    fn a_prediction_holds_only_where_the_interval_decides() {
        let rows = [row(0.0, "rate", &[0.5, 0.6, 0.4], (0.5, 0.25, 0.75)), row(0.02, "rate", &[0.1, 0.2, 0.15], (0.15, 0.03, 0.27)), row(0.1, "rate", &[0.0, 0.05, 0.1], (0.05, -0.07, 0.17))];
        let judge = |t: &str| prediction(t).judge(&rows).outcome;
        assert_eq!(judge("at = { \"env.share\" = 0.1 }\nbelow = 0.2"), Outcome::Holds);
        assert_eq!(judge("at = { \"env.share\" = 0.1 }\nbelow = 0.1"), Outcome::Undecided, "the interval straddles the line");
        assert_eq!(judge("at = { \"env.share\" = 0.1 }\nbelow = 0.1\non = \"mean\""), Outcome::Holds);
        assert_eq!(judge("at = { \"env.share\" = 0 }\nbelow = 0.2"), Outcome::Fails, "an integer 0 names the condition 0.0");
        // Relative: below half of share 0's rate. To hold, the upper end must be below half
        // of the reference's lower end (0.125); to fail, the lower end above half its upper end.
        assert_eq!(judge("at = { \"env.share\" = 0.02 }\nbelow = 0.5\nof = { \"env.share\" = 0.0 }"), Outcome::Undecided);
        assert_eq!(judge("at = { \"env.share\" = 0.1 }\nbelow = 0.75\nof = { \"env.share\" = 0.0 }"), Outcome::Holds);
        // Each seed; every condition where `at` names none.
        assert_eq!(judge("at = { \"env.share\" = 0.0 }\nabove = 0.3\non = \"each-seed\""), Outcome::Holds);
        assert_eq!(judge("above = 0.3\non = \"each-seed\""), Outcome::Fails);
        assert_eq!(judge("above = -1.0"), Outcome::Holds);
        let j = prediction("at = { \"env.share\" = 0.1 }\nbelow = 0.1").judge(&rows);
        assert!(j.evidence.contains("env.share=0.1: 0.050 [-0.070, 0.170] (n = 3) below 0.100? undecided"), "{}", j.evidence);
        assert_eq!(prediction("below = 1.0").judge(&rows[..0]).outcome, Outcome::NotMeasured);
    }

    #[test]
    fn bad_predictions_name_the_field() {
        let grid: toml::Table = toml::from_str("\"env.share\" = [0.0, 0.1]").unwrap();
        let check = |t: &str| prediction(t).validate("predictions[0]", &grid, &["rate"]).unwrap_err();
        assert_eq!(check("below = 1.0\nabove = 0.0").0, "predictions[0].below");
        assert!(check("at = { \"env.other\" = 1 }\nbelow = 1.0").1.contains("'env.other' is not a grid key"));
        assert!(check("at = { \"env.share\" = 0.5 }\nbelow = 1.0").1.contains("not one of the grid's values"));
        assert!(check("of = { \"env.share\" = 0.0 }\nbelow = 1.0\non = \"each-seed\"").0.ends_with(".on"));
        let unknown = prediction("below = 1.0").validate("p", &grid, &["other"]).unwrap_err();
        assert!(unknown.1.contains("unknown measurement 'rate'"), "{unknown:?}");
    }
}
