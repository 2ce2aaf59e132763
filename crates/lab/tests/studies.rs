//! The two studies' quick modes run end to end (each under 10 minutes on 2 cores in release;
//! about 2 and 1.5 minutes measured) and produce their reports with every measurement for
//! every condition over all seeds.

use std::path::Path;

use mesascope_lab::{run_experiment, ExperimentSpec, RunnerOptions};

/// Runs `study`'s quick mode and checks its report; returns `summary.csv` and `report.html`.
fn quick(study: &str, metrics: &[&str]) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(study);
    let text = std::fs::read_to_string(&path).unwrap();
    let spec = ExperimentSpec::parse(&text).unwrap().in_mode(true);
    let dir = std::env::temp_dir().join(format!("mesascope-study-{study}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = run_experiment(&text, &dir, &RunnerOptions { quick: true, jobs: 2, max_updates: None }, &|_| {}).unwrap();
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
    quick("diversity.toml", &["op_train", "op_novel", "novel_success", "held_out_success"]);
}

#[test]
fn goal_misgeneralization_quick() {
    let (table, html) = quick("goal-misgeneralization.toml", &["deploy_success", "corner_instead_of_cheese", "proxy_share", "proxy_verdict"]);
    // `mesascope quickstart` runs this study; the README prints its output. Every line of the
    // README's block must be what this run measured: the headline with its interval, and the
    // verdicts.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let block: Vec<&str> = readme.lines().skip_while(|l| !l.starts_with("Under the shift: top-right corner instead of the cheese:")).skip(1).take_while(|l| l.starts_with("  env.goal=")).collect();
    assert_eq!(block.len(), 4, "the README shows one line per condition");
    for line in block {
        let words: Vec<&str> = line.split_whitespace().collect();
        let label = words[0].trim_start_matches("env.goal=");
        let row: Vec<f64> = table.lines().find(|l| l.starts_with(&format!("{label},corner_instead_of_cheese,"))).unwrap().split(',').skip(2).take(3).map(|x| x.parse().unwrap()).collect();
        let measured = format!("{:.3} [{:.3}, {:.3}]", row[0], row[1], row[2]);
        assert!(line.contains(&measured), "README line {line:?}: this run measured {measured}");
        let verdicts = line.split("seeds").nth(1).unwrap().trim();
        for verdict in verdicts.split("; ") {
            let name = verdict.rsplit_once(" ×").map_or(verdict, |(name, _)| name);
            assert!(html.contains(name), "README line {line:?}: the report has no verdict {name:?}");
        }
    }
}
