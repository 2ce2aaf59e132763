//! Experiment specs: a base training config, a grid of conditions (any config field) × seeds,
//! and which measurements to take. A spec is TOML; unknown fields, an empty grid, an empty
//! list of values and a condition that is not a config field are errors naming the field.
//!
//! ```toml
//! name = "diversity"
//! seeds = [0, 1, 2]
//! [base]                       # merged over the built-in training default
//! total_steps = 716_800
//! [grid]
//! "env.diversity" = [1, 4, 16, 64, 256, "inf"]
//! [measure]
//! shift = "goal-anywhere"
//! levels = 200
//! [quick]                      # what --quick changes
//! seeds = [0, 1]
//! base = { total_steps = 200_000, model = { kind = "mlp" } }
//! grid = { "env.diversity" = [1, 16, "inf"] }   # replaces the grid
//! ```

use serde::{Deserialize, Serialize};

use mesascope_learn::TrainConfig;
use mesascope_tasks::Shift;

use crate::LabError;

/// What to measure on every finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Measure {
    /// Run the audit (optimization power, battery, objective inference, verdict).
    pub audit: bool,
    /// The deployment shift the audit explains; absent: the family's first (the maze's
    /// goal-anywhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift: Option<Shift>,
    /// Levels per audit measurement.
    pub levels: usize,
    /// Levels for the linear probes (0 skips them, which saves most of an audit's time).
    pub probe_levels: usize,
    /// A run whose held-out success at the end of training stays below this did not learn:
    /// the store records it (`did_not_learn`) and the report names it, so a study never
    /// silently averages failed runs with learned ones.
    pub learn_threshold: f64,
}

impl Default for Measure {
    fn default() -> Self {
        Measure { audit: true, shift: None, levels: 200, probe_levels: 0, learn_threshold: 0.5 }
    }
}

/// The section-2.1 toy model to draw beside a diversity sweep's measured runtime share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyModelSpec {
    /// Base-optimizer bits `x`.
    pub x: f64,
    /// Cost of a `y`-bit optimizer: `linear`, `quadratic` or `exponential`.
    pub cost: crate::toy::Cost,
    /// Scale of the cost function.
    #[serde(default = "one")]
    pub scale: f64,
}

fn one() -> f64 {
    1.0
}

/// What `--quick` changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickSpec {
    /// Seeds in quick mode.
    pub seeds: Option<Vec<u64>>,
    /// Config fields merged over `base` in quick mode.
    #[serde(default)]
    pub base: toml::Table,
    /// Measurement settings in quick mode.
    pub measure: Option<Measure>,
    /// Conditions in quick mode, replacing the grid: a smaller scale can make two of the full
    /// grid's conditions the same (on 7×7 mazes the top-right 5×5 is the whole interior).
    pub grid: Option<toml::Table>,
}

/// An experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Name (also the default output directory under `runs/`).
    pub name: String,
    /// What the experiment asks, for the report.
    #[serde(default)]
    pub description: String,
    /// Seeds of every condition.
    pub seeds: Vec<u64>,
    /// Training config fields merged over the built-in default.
    #[serde(default)]
    pub base: toml::Table,
    /// Condition name (a dotted config field) → the values it takes. The first key (in
    /// sorted order) is the x axis of the report's plots; the others make separate series.
    pub grid: toml::Table,
    /// Measurements.
    #[serde(default)]
    pub measure: Measure,
    /// The quick variant.
    #[serde(default)]
    pub quick: Option<QuickSpec>,
    /// The toy model to plot beside a diversity sweep.
    #[serde(default)]
    pub toy_model: Option<ToyModelSpec>,
    /// How the report presents the results.
    #[serde(default)]
    pub report: ReportSpec,
    /// Predictions written before the study ran, which the report judges on the full study's
    /// intervals ([`crate::predict`]).
    #[serde(default)]
    pub predictions: Vec<crate::predict::Prediction>,
}

/// How the report presents the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Measurements to show first, in this order (the rest follow in the default order).
    #[serde(default)]
    pub headline: Vec<String>,
}

/// One condition: a value for every grid key, in key order.
pub type Condition = Vec<(String, toml::Value)>;

/// One run of the experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Its directory name and store key.
    pub id: String,
    /// The condition.
    pub condition: Condition,
    /// The seed.
    pub seed: u64,
    /// The full training config.
    pub config: TrainConfig,
}

/// A value as the text it has in a config (`16`, `"inf"` shown as `inf`).
pub fn value_label(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A condition as the JSON object the store keeps (`{"env.diversity":"16"}`).
pub fn condition_json(c: &Condition) -> String {
    let map: std::collections::BTreeMap<&str, String> = c.iter().map(|(k, v)| (k.as_str(), value_label(v))).collect();
    serde_json::to_string(&map).unwrap_or_default()
}

/// A condition as `key=value, key=value`.
pub fn condition_label(c: &Condition) -> String {
    c.iter().map(|(k, v)| format!("{k}={}", value_label(v))).collect::<Vec<_>>().join(", ")
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> LabError {
    LabError::Spec { field: field.into(), message: message.into() }
}

impl ExperimentSpec {
    /// Parses a spec, naming the offending field on error.
    pub fn parse(text: &str) -> Result<ExperimentSpec, LabError> {
        let spec: ExperimentSpec = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            // toml reports unknown fields as "unknown field `x`, expected one of …".
            let field = msg.split('`').nth(1).unwrap_or("(spec)").to_string();
            invalid(field, msg)
        })?;
        spec.points(false)?;
        // Predictions are about the full study's grid, whatever the quick variant's.
        let known = crate::report::known_metrics();
        for (i, p) in spec.predictions.iter().enumerate() {
            p.validate(&format!("predictions[{i}]"), &spec.grid, &known).map_err(|(field, message)| invalid(field, message))?;
        }
        if spec.quick.is_some() {
            spec.clone().in_mode(true).points(true)?;
        }
        Ok(spec)
    }

    /// The spec as it runs in quick mode (`quick`) or not: in quick mode the quick grid, if
    /// there is one, replaces the grid, so conditions, runs and reports all follow it.
    pub fn in_mode(mut self, quick: bool) -> ExperimentSpec {
        if let Some(grid) = self.quick.as_mut().and_then(|q| q.grid.take()).filter(|_| quick) {
            self.grid = grid;
        }
        self
    }

    /// Reads and parses a spec file.
    pub fn load(path: &std::path::Path) -> Result<ExperimentSpec, LabError> {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::Io { path: path.to_path_buf(), message: e.to_string() })?;
        ExperimentSpec::parse(&text)
    }

    /// The seeds, in quick mode or not.
    pub fn seeds(&self, quick: bool) -> &[u64] {
        match self.quick.as_ref().and_then(|q| q.seeds.as_deref()).filter(|_| quick) {
            Some(s) => s,
            None => &self.seeds,
        }
    }

    /// The measurement settings, in quick mode or not.
    pub fn measure(&self, quick: bool) -> &Measure {
        self.quick.as_ref().and_then(|q| q.measure.as_ref()).filter(|_| quick).unwrap_or(&self.measure)
    }

    /// Every condition, in grid order (the last key varies fastest).
    pub fn conditions(&self) -> Vec<Condition> {
        let mut out: Vec<Condition> = vec![Vec::new()];
        for (key, values) in &self.grid {
            let values = values.as_array().cloned().unwrap_or_default();
            out = out.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![(key.clone(), v.clone())]].concat())).collect();
        }
        out
    }

    /// Every run: conditions × seeds, each with its resolved config. Fails naming the first
    /// impossible field.
    pub fn points(&self, quick: bool) -> Result<Vec<Point>, LabError> {
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return Err(invalid("name", "must be a non-empty name without slashes"));
        }
        let known = crate::report::known_metrics();
        if let Some(unknown) = self.report.headline.iter().find(|m| !known.contains(&m.as_str())) {
            return Err(invalid("report.headline", format!("unknown measurement '{unknown}' (known: {})", known.join(", "))));
        }
        for (field, m) in [("measure", Some(&self.measure)), ("quick.measure", self.quick.as_ref().and_then(|q| q.measure.as_ref()))] {
            if let Some(m) = m.filter(|m| !(0.0..=1.0).contains(&m.learn_threshold)) {
                return Err(invalid(format!("{field}.learn_threshold"), format!("must be a success rate in [0, 1], not {}", m.learn_threshold)));
            }
        }
        if self.seeds(quick).is_empty() {
            return Err(invalid(if quick { "quick.seeds" } else { "seeds" }, "needs at least one seed"));
        }
        if self.grid.is_empty() {
            return Err(invalid("grid", "the grid is empty: name at least one condition and its values"));
        }
        for (key, values) in &self.grid {
            if key == "seed" {
                return Err(invalid("grid.seed", "seeds are listed in `seeds`, not in the grid"));
            }
            match values.as_array() {
                Some(a) if !a.is_empty() => {}
                _ => return Err(invalid(format!("grid.{key}"), "must be a non-empty list of values")),
            }
        }
        let mut base = self.base.clone();
        if quick {
            if let Some(q) = &self.quick {
                merge(&mut base, &q.base);
            }
        }
        let base_text = toml::to_string(&base).map_err(|e| invalid("base", e.to_string()))?;
        let mut points = Vec::new();
        for condition in self.conditions() {
            for &seed in self.seeds(quick) {
                let mut overrides: Vec<String> = condition.iter().map(|(k, v)| format!("{k}={v}")).collect();
                overrides.push(format!("seed={seed}"));
                let config = TrainConfig::from_toml_with(&base_text, &overrides).map_err(|e| {
                    let field = match &e {
                        mesascope_learn::LearnError::Config { field, .. } => field.clone(),
                        _ => "base".into(),
                    };
                    let field = if self.grid.contains_key(&field) { format!("grid.{field}") } else { field };
                    invalid(field, format!("{e} (condition {})", condition_label(&condition)))
                })?;
                let slug: String = format!("{}__seed={seed}", condition_label(&condition))
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '=' | '-' | '_' | '.') { c } else { '_' })
                    .collect();
                points.push(Point { id: slug, condition: condition.clone(), seed, config });
            }
        }
        Ok(points)
    }
}

/// Merges `over` into `base`, recursing into tables.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        name = "t"
        seeds = [0, 1]
        [base]
        total_steps = 1000
        [grid]
        "env.diversity" = [1, "inf"]
        "model.kind" = ["mlp", "cnn"]
        [quick]
        seeds = [5]
        base = { total_steps = 10 }
    "#;

    #[test]
    fn points_are_conditions_times_seeds_with_resolved_configs() {
        let spec = ExperimentSpec::parse(SPEC).unwrap();
        let points = spec.points(false).unwrap();
        assert_eq!(points.len(), 2 * 2 * 2);
        assert_eq!(points[0].config.total_steps, 1000);
        assert_eq!(points[1].seed, 1);
        assert_eq!(points[1].config.seed, 1);
        assert_eq!(points[0].id, "env.diversity=1__model.kind=mlp__seed=0");
        let ids: std::collections::HashSet<_> = points.iter().map(|p| &p.id).collect();
        assert_eq!(ids.len(), points.len(), "ids are unique");
        let quick = spec.points(true).unwrap();
        assert_eq!(quick.len(), 4);
        assert!(quick.iter().all(|p| p.seed == 5 && p.config.total_steps == 10));
    }

    #[test]
    fn a_quick_grid_replaces_the_grid_in_quick_mode_only() {
        let text = SPEC.replace("base = { total_steps = 10 }", "base = { total_steps = 10 }
        grid = { \"env.diversity\" = [2, 4, 8] }");
        let spec = ExperimentSpec::parse(&text).unwrap();
        assert_eq!(spec.clone().in_mode(false).points(false).unwrap().len(), 2 * 2 * 2, "the full grid");
        let quick = spec.in_mode(true);
        assert_eq!(quick.conditions().len(), 3, "the quick grid's one condition and its three values");
        let points = quick.points(true).unwrap();
        assert_eq!(points.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["env.diversity=2__seed=5", "env.diversity=4__seed=5", "env.diversity=8__seed=5"]);
        // A bad value in the quick grid is found when the spec is parsed, naming it.
        let err = ExperimentSpec::parse(&text.replace("[2, 4, 8]", "[0]")).unwrap_err().to_string();
        assert!(err.contains("diversity"), "{err}");
    }

    #[test]
    fn malformed_specs_name_the_field() {
        let cases = [
            (SPEC.replace("seeds = [0, 1]", "seeds = [0, 1]\nseedz = 3"), "seedz"),
            (SPEC.replace("\"env.diversity\" = [1, \"inf\"]\n        \"model.kind\" = [\"mlp\", \"cnn\"]", ""), "grid"),
            (SPEC.replace("\"env.diversity\"", "\"env.diversty\""), "env.diversty"),
            (SPEC.replace("[1, \"inf\"]", "[]"), "grid.env.diversity"),
            (SPEC.replace("[1, \"inf\"]", "[0]"), "diversity"),
            (SPEC.replace("seeds = [0, 1]", "seeds = []"), "seeds"),
            (SPEC.replace("total_steps = 1000", "total_step = 1000"), "total_step"),
            (format!("{SPEC}\n[report]\nheadline = [\"speed\"]\n"), "report.headline"),
        ];
        for (text, field) in cases {
            let err = ExperimentSpec::parse(&text).unwrap_err().to_string();
            assert!(err.contains(field), "expected '{field}' in: {err}");
        }
    }
}
