//! The same job run twice, in two directories, writes byte-identical result files: the
//! trained weights, `audit.json`, `deploy.json` and an experiment's `summary.csv`. Rerunning is
//! how a reader checks a result, and a file that differs in key order or timings cannot show
//! whether the numbers did. And any one episode replays from its level's id and seed, exactly
//! as it ran inside a batch.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mesascope_lab::types::{ImpactMeasure, OnVeto};
use mesascope_lab::{audit, deploy, eval, experiment, replay, show, split_report, train, Against, AuditJob, DeployJob, EvalJob, ExperimentJob, Progress, ReplayJob, ShowJob, SplitReportJob, Subject, TrainJob};
use mesascope_learn::eval::{evaluate, EvalOptions};
use mesascope_learn::run::load_model;
use mesascope_tasks::{Diversity, Shift};

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
    let d = DeployJob { agent: Subject::Run(run.clone()), shift: Some(Shift::GoalAnywhere), guards: vec!["ood".into(), "impact".into()], on_veto: OnVeto::Defer, levels: 10, impact_measure: ImpactMeasure::RelativeReachability, ..DeployJob::default() };
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

#[test]
fn an_episode_replays_from_its_level_id_alone_as_it_ran_in_a_batch() {
    let root = std::env::temp_dir().join(format!("mesascope-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = root.join("run");
    let overrides: Vec<String> = TINY.iter().map(|s| s.to_string()).chain(["env.diversity=6".to_string()]).collect();
    train(&TrainJob { overrides, out: run.clone(), ..TrainJob::default() }, &|_: &Progress| {}).unwrap();
    let (cfg, model) = load_model(&run).unwrap();

    // The run names its six training levels by id, in pool order.
    let pool = cfg.env.dist.training_levels().unwrap().unwrap();
    let listed = std::fs::read_to_string(run.join("training-levels.csv")).unwrap();
    let expected: Vec<String> = std::iter::once("index,level_id".to_string()).chain(pool.iter().enumerate().map(|(i, l)| format!("{i},{}", l.id()))).collect();
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);

    // Thirty held-out episodes in one batch, as eval plays them; eval's per-episode file names
    // their levels.
    let levels = cfg.env.dist.held_out_levels(Shift::GoalAnywhere, 30, 7).unwrap();
    let opts = EvalOptions { ticks: cfg.model.ticks, greedy: false, seed: 7, record_trajectories: true };
    let batch = evaluate(&model, &cfg.model, cfg.env.obs, &levels, &mesascope_learn::device(&cfg.device).unwrap(), &opts);
    let csv = root.join("episodes.csv");
    let e = eval(&EvalJob { agent: run.clone(), shift: Shift::GoalAnywhere, levels: 30, seed: 7, greedy: false, ticks: None, episodes: Some(csv.clone()) }).unwrap();
    let rows: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().skip(1).map(String::from).collect();
    assert_eq!(rows.len(), 30);
    for (row, ep) in rows.iter().zip(&batch) {
        assert_eq!(row.split(',').nth(1).unwrap(), ep.level_id.to_string());
        assert_eq!(row.split(',').nth(4).unwrap(), ep.success.to_string(), "eval plays the episodes the batch did");
    }
    assert_eq!((e.success.mean * 30.0).round() as usize, batch.iter().filter(|r| r.success).count());
    // The tiny agent samples: the episodes differ, so the replay below checks the stream.
    assert!(batch.iter().map(|r| r.actions.len()).collect::<std::collections::HashSet<_>>().len() > 1);

    for k in [0, 13, 29] {
        let alone = replay(&ReplayJob { shift: Shift::GoalAnywhere, seed: Some(7), json: Some(root.join("replay.json")), ..ReplayJob::new(&run, batch[k].level_id.to_string()) }).unwrap();
        assert_eq!(alone.level, levels[k]);
        assert_eq!(alone.locator.unwrap().index, k);
        assert_eq!((&alone.episode.actions, &alone.episode.trajectory, alone.episode.ret), (&batch[k].actions, &batch[k].trajectory, batch[k].ret), "episode {k}");
        // The file it wrote replays the same episode (its seed travels with it).
        let again = replay(&ReplayJob::new(&run, root.join("replay.json").display().to_string())).unwrap();
        assert_eq!(again.episode, alone.episode);
    }
    // Inside another batch (reversed), each episode is still the same.
    let reversed: Vec<_> = levels.iter().rev().cloned().collect();
    let other = evaluate(&model, &cfg.model, cfg.env.obs, &reversed, &mesascope_learn::device(&cfg.device).unwrap(), &opts);
    for (a, b) in other.iter().rev().zip(&batch) {
        assert_eq!((&a.actions, a.level_id), (&b.actions, b.level_id));
    }
    // The video shows those same episodes: the agent after the shift is the batch's episode.
    let video = show(&ShowJob { levels: 2, ..ShowJob::new(&run, root.join("episodes.gif")) }).unwrap();
    assert_eq!(video.episodes.len(), 6);
    for row in 0..2 {
        let shifted = &video.episodes[3 * row + 1];
        assert_eq!((shifted.level_id, &shifted.episode.actions), (batch[row].level_id, &batch[row].actions));
        assert!(video.episodes[3 * row + 2].episode.success, "the planner reaches the cheese");
    }
    assert_eq!(video.frames, video.episodes.iter().map(|e| e.episode.length as usize).max().unwrap() + 1);
    assert!(std::fs::read(root.join("episodes.gif")).unwrap().starts_with(b"GIF89a"));
    assert!(show(&ShowJob::new(&run, root.join("episodes.png"))).unwrap_err().to_string().contains("use a .gif name"));
    // A training level is found in the pool.
    let trained = replay(&ReplayJob::new(&run, pool[4].id().to_string())).unwrap();
    assert!(trained.found.contains("training level 4"), "{}", trained.found);

    // Bad levels are named, never a panic.
    let err = |job: ReplayJob| replay(&job).unwrap_err().to_string();
    assert!(err(ReplayJob::new(&run, "zz-top")).contains("not a level id"));
    assert!(err(ReplayJob { search: 50, ..ReplayJob::new(&run, "0123456789abcdef") }).contains("is not among the run's 6 training levels nor the first 50 held-out levels"));
    std::fs::write(root.join("locator.json"), r#"{"locator": {"family": "maze", "version": 1, "split": "held-out", "stream": 5}}"#).unwrap();
    assert!(err(ReplayJob::new(&run, root.join("locator.json").display().to_string())).contains("not a level locator"));
    std::fs::write(root.join("level.json"), r#"{"width": 1, "tiles": []}"#).unwrap();
    assert!(err(ReplayJob::new(&run, root.join("level.json").display().to_string())).contains("level.json: not a level"));
    std::fs::write(root.join("level.json"), r#"{"width": 1}"#).unwrap();
    assert!(err(ReplayJob::new(&run, root.join("level.json").display().to_string())).contains("holds no level"));
    std::fs::create_dir_all(root.join("empty")).unwrap();
    assert!(!err(ReplayJob::new(root.join("empty"), pool[0].id().to_string())).is_empty());

    // The split report: no held-out level is a training level; on 7x7 mazes most held-out
    // levels share a training level's layout, and another level seed's pool shares ids.
    let dist = mesascope_tasks::TrainingDistribution { diversity: Diversity::Finite(200), ..cfg.env.dist };
    let held = split_report(&SplitReportJob { dist, against: Against::HeldOut(Shift::None), levels: 200, seed: 7 }).unwrap().overlap;
    assert_eq!(held.shared_ids, 0);
    assert!(held.shared_layouts * 2 > held.second, "{held:?}");
    assert!(split_report(&SplitReportJob { dist, against: Against::TrainingSeed(1), levels: 200, seed: 7 }).unwrap().overlap.shared_ids > 0);
    std::fs::remove_dir_all(root).ok();
}
