//! The shipped studies run end to end at tiny points — their quick grids and measurements, with
//! 2 seeds, a few thousand training steps and small audits — and produce their reports with
//! every measurement for every condition over all seeds. The quick modes themselves are
//! commands (`mesascope run experiments/NAME.toml --quick`, and `mesascope quickstart`), whose
//! output the README prints from a real run; a test that ran them in full would take longer
//! than the rest of the suite together.

use std::path::Path;

use mesascope_lab::{run_experiment, ExperimentSpec, RunnerOptions};

/// `study`'s text with its quick mode made tiny: each `(from, to)` must occur in it.
fn tiny(study: &str, edits: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(study);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{study} no longer holds {from:?}: update this test's tiny point");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Runs `text`'s quick mode and checks its report; returns `summary.csv` and `report.html`.
fn quick(study: &str, text: &str, metrics: &[&str]) -> (String, String) {
    let spec = ExperimentSpec::parse(text).unwrap().in_mode(true);
    let dir = std::env::temp_dir().join(format!("mesascope-study-{study}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = run_experiment(text, &dir, &RunnerOptions { quick: true, jobs: 2, max_updates: None }, &|_| {}).unwrap();
    assert_eq!((o.done, o.pending, o.failed.len()), (spec.points(true).unwrap().len(), 0, 0), "{o:?}");
    let table = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let seeds = spec.seeds(true).len().to_string();
    for condition in spec.conditions() {
        let label = mesascope_lab::spec::value_label(&condition[0].1);
        for metric in metrics {
            let row = table.lines().find(|l| l.starts_with(&format!("{label},{metric},"))).unwrap_or_else(|| panic!("{study}: no {label},{metric} in\n{table}"));
            assert!(row.ends_with(&format!(",{seeds},0")), "{study}: every seed measured, none undefined: {row}");
        }
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Verdicts per condition") && html.matches("<svg").count() >= metrics.len(), "{study}: a plot per measurement");
    std::fs::remove_dir_all(dir).ok();
    (table, html)
}

#[test]
fn diversity_quick() {
    let text = tiny("diversity.toml", &[("seeds = [0, 1, 2]\nbase = { total_steps = 400_000", "seeds = [0, 1]\nbase = { total_steps = 4_096"), ("levels = 100, probe_levels = 0", "levels = 12, probe_levels = 0")]);
    quick("diversity.toml", &text, &["op_train", "op_novel", "novel_success", "held_out_success"]);
}

#[test]
fn goal_misgeneralization_quick() {
    let text = tiny("goal-misgeneralization.toml", &[("seeds = [0, 1, 2]\n# On 7x7", "seeds = [0, 1]\n# On 7x7"), ("total_steps = 400_000", "total_steps = 4_096"), ("levels = 40, probe_levels = 0", "levels = 12, probe_levels = 0")]);
    let (_, html) = quick("goal-misgeneralization.toml", &text, &["deploy_success", "corner_instead_of_cheese", "proxy_share", "proxy_verdict"]);
    // `mesascope quickstart` runs this study's quick mode and the README prints its output: a
    // line for each condition of the quick grid, in its order, each with a verdict the
    // report's verdict table can show.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let block: Vec<&str> = readme.lines().skip_while(|l| !l.starts_with("Under the shift: top-right corner instead of the cheese:")).skip(1).take_while(|l| l.starts_with("  env.goal=")).collect();
    let spec = ExperimentSpec::parse(&text).unwrap().in_mode(true);
    let labels: Vec<String> = spec.conditions().iter().map(|c| mesascope_lab::spec::value_label(&c[0].1)).collect();
    assert_eq!(block.iter().map(|l| l.split_whitespace().next().unwrap().trim_start_matches("env.goal=").to_string()).collect::<Vec<_>>(), labels, "the README shows one line per quick condition");
    assert!(html.contains("Verdicts per condition"));
    for line in block {
        assert!(line.contains(" over 3 seeds "), "the quickstart runs 3 seeds: {line}");
    }
}

#[test]
fn corridor_coin_randomization_quick() {
    let text = tiny("corridor-coin-randomization.toml", &[("total_steps = 200_000", "total_steps = 4_096"), ("eval = { levels = 100 }", "eval = { levels = 12 }"), ("levels = 100, probe_levels = 0", "levels = 12, probe_levels = 0")]);
    let (table, html) = quick("corridor-coin-randomization.toml", &text, &["end_instead_of_coin", "proxy_failure_share", "deploy_success", "held_out_success"]);
    // The exact axis: no training level tells the end from the coin at share 0.
    assert!(table.contains("0.0,proxy_failure_share,0.000000,"), "{table}");
    // The predictions are about the full grid: quick mode shows them unjudged.
    assert!(html.contains("quick mode does not judge them"));
    assert_eq!(ExperimentSpec::parse(&text).unwrap().predictions.len(), 5);
}

#[test]
fn monster_shield_monster_free_quick() {
    let text = tiny("monster-shield-monster-free.toml", &[("total_steps = 200_000", "total_steps = 4_096"), ("eval = { levels = 100 }", "eval = { levels = 12 }"), ("levels = 100, probe_levels = 0", "levels = 12, probe_levels = 0")]);
    quick("monster-shield-monster-free.toml", &text, &["proxy_failure_share", "deploy_success", "held_out_success", "shields_instead_of_apples"]);
    assert_eq!(ExperimentSpec::parse(&text).unwrap().predictions.len(), 3);
}
