//! The two studies' quick modes run end to end (each under 10 minutes on 2 cores in release;
//! about 2 and 1.5 minutes measured) and produce their reports with every measurement for
//! every condition over all seeds.

use std::path::Path;

use mesascope_lab::{run_experiment, ExperimentSpec, RunnerOptions};

fn quick(study: &str, metrics: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(study);
    let text = std::fs::read_to_string(&path).unwrap();
    let spec = ExperimentSpec::parse(&text).unwrap();
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
}

#[test]
fn diversity_quick() {
    quick("diversity.toml", &["op_train", "op_novel", "novel_success", "held_out_success"]);
}

#[test]
fn goal_misgeneralization_quick() {
    quick("goal-misgeneralization.toml", &["deploy_success", "corner_instead_of_cheese", "proxy_verdict"]);
}
