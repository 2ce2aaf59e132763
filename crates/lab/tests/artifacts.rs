//! The same job run twice, in two directories, writes byte-identical result files: the
//! trained weights, `audit.json`, `deploy.json` and an experiment's `summary.csv`. Rerunning is
//! how a reader checks a result, and a file that differs in key order or timings cannot show
//! whether the numbers did.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mesascope_lab::types::{ImpactMeasure, OnVeto};
use mesascope_lab::{audit, deploy, experiment, train, AuditJob, DeployJob, ExperimentJob, Progress, Subject, TrainJob};
use mesascope_tasks::Shift;

/// A few thousand steps of a small MLP on 7×7 mazes: 16 updates of 128 steps.
const TINY: [&str; 7] = ["env.size=7", "model.kind=\"mlp\"", "model.hidden=16", "ppo.num_envs=8", "ppo.num_steps=16", "total_steps=2048", "eval.levels=10"];

const SPEC: &str = r#"
name = "tiny"
seeds = [0, 1]
[base]
total_steps = 1024
env = { size = 7 }
model = { kind = "mlp", hidden = 16 }
ppo = { num_envs = 8, num_steps = 16 }
eval = { levels = 10 }
[grid]
"env.diversity" = [4]
[measure]
levels = 12
"#;

/// Trains, audits and deploys one agent and runs a small experiment under `dir`; returns the
/// files every rerun must reproduce, relative to `dir`, and the training's progress reports.
fn produce(dir: &Path) -> (Vec<PathBuf>, Vec<Progress>) {
    let _ = std::fs::remove_dir_all(dir);
    let run = dir.join("run");
    let reports = Mutex::new(Vec::new());
    let t = train(&TrainJob { overrides: TINY.map(String::from).to_vec(), out: run.clone(), ..TrainJob::default() }, &|p: &Progress| reports.lock().unwrap().push(p.clone())).unwrap();
    assert!(t.finished && t.held_out_success.is_some(), "{t:?}");
    let a = audit(&AuditJob { subject: Subject::Run(run.clone()), levels: 12, probe_levels: 8, ticks: vec![0], ..AuditJob::default() }, &|_: &Progress| {}).unwrap();
    assert!(a.files.contains(&run.join("audit-timing.json")), "timings go to their own file: {:?}", a.files);
    let d = DeployJob { agent: Subject::Run(run.clone()), shift: Shift::GoalAnywhere, guards: vec!["ood".into(), "impact".into()], on_veto: OnVeto::Defer, levels: 10, impact_measure: ImpactMeasure::RelativeReachability, ..DeployJob::default() };
    deploy(&d, &|_: &Progress| {}).unwrap();
    let e = experiment(&ExperimentJob { spec: SPEC.into(), out: Some(dir.join("exp")), jobs: Some(2), ..ExperimentJob::default() }, &|_: &Progress| {}).unwrap();
    assert_eq!(e.outcome.done, 2);
    let files = ["run/model.safetensors", "run/audit.json", "run/deploy.json", "exp/summary.csv", "exp/runs/env.diversity=4__seed=1/model.safetensors", "exp/runs/env.diversity=4__seed=1/audit.json"];
    (files.map(PathBuf::from).to_vec(), reports.into_inner().unwrap())
}

#[test]
fn the_same_jobs_write_the_same_bytes() {
    let root = std::env::temp_dir().join(format!("mesascope-artifacts-{}", std::process::id()));
    let (files, reports) = produce(&root.join("a"));
    produce(&root.join("b"));
    for f in &files {
        let (a, b) = (std::fs::read(root.join("a").join(f)).unwrap(), std::fs::read(root.join("b").join(f)).unwrap());
        // The reports name their subject by its path, the one thing that differs by design.
        let a = match f.extension().and_then(|e| e.to_str()) {
            Some("json") => String::from_utf8(a).unwrap().replace(&root.join("a").display().to_string(), &root.join("b").display().to_string()).into_bytes(),
            _ => a,
        };
        assert!(a == b, "{} differs between two identical runs", f.display());
    }
    // Training reports its start, then every update, in order, up to the last step.
    assert!(matches!(&reports[0], Progress::Started { total: 2048, done: 0, unit: "steps", .. }), "{:?}", reports[0]);
    let steps: Vec<u64> = reports[1..].iter().map(|p| if let Progress::Update { step, .. } = p { *step } else { panic!("{p:?}") }).collect();
    assert_eq!(steps, (1..=16).map(|u| u * 128).collect::<Vec<_>>());
    std::fs::remove_dir_all(root).ok();
}
