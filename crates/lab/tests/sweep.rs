//! A sweep killed mid-way and rerun loses no finished run, repeats no finished work, and ends
//! with the same table as an uninterrupted sweep (whatever the number of parallel jobs).

use std::path::PathBuf;

use std::sync::atomic::{AtomicU64, Ordering};

use mesascope_lab::{run_experiment, Event, RunnerOptions};

const SPEC: &str = r#"
name = "tiny"
description = "a sweep small enough for a test"
seeds = [0, 1]
[base]
total_steps = 512
env = { size = 7 }
model = { kind = "mlp", hidden = 16 }
ppo = { num_envs = 8, num_steps = 16 }
eval = { levels = 10 }
checkpoint = { every_updates = 1 }
[grid]
"env.diversity" = [1, "inf"]
[measure]
levels = 12
"#;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mesascope-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_killed_sweep_resumes_to_the_same_table() {
    let whole = dir("whole");
    let o = run_experiment(SPEC, &whole, &RunnerOptions { quick: false, jobs: 2, max_updates: None }, &|_| {}).unwrap();
    assert_eq!((o.done, o.pending, o.failed.len()), (4, 0, 0));
    let table = std::fs::read_to_string(whole.join("summary.csv")).unwrap();
    assert!(table.starts_with("env.diversity,metric,mean,lo,hi,n,undefined"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("inf,runtime_share,")), "{table}");
    // Every run is flagged as learned or not; 512 steps teach nothing, and the page says so.
    let flags: Vec<&str> = table.lines().filter(|l| l.contains(",did_not_learn,")).collect();
    assert_eq!(flags.len(), 2, "{table}");
    if flags.iter().any(|l| !l.contains(",did_not_learn,0.000000,")) {
        assert!(std::fs::read_to_string(whole.join("report.html")).unwrap().contains("Did not learn"));
    }
    assert!(std::fs::read_to_string(whole.join("report.html")).unwrap().contains("<svg"));

    // Interrupt after 6 updates: the first run (4 updates) finishes, the second stops mid-way
    // with a checkpoint.
    let killed = dir("killed");
    let o = run_experiment(SPEC, &killed, &RunnerOptions { quick: false, jobs: 1, max_updates: Some(6) }, &|_| {}).unwrap();
    assert_eq!(o.done, 1);
    assert!(o.pending >= 1);
    let first = killed.join("runs/env.diversity=1__seed=0");
    let finished_at = std::fs::metadata(first.join("audit.json")).unwrap().modified().unwrap();
    assert!(killed.join("runs/env.diversity=1__seed=1/checkpoints/latest").exists(), "the interrupted run kept its checkpoint");

    // The rerun reports the 6 updates' steps (128 each) as found done, apart from the steps it
    // trains, so its rate and ETA count only its own work.
    let (trained, resumed) = (AtomicU64::new(0), AtomicU64::new(0));
    let count = |e: Event| match e {
        Event::Steps(n) => _ = trained.fetch_add(n, Ordering::SeqCst),
        Event::Resumed(n) => _ = resumed.fetch_add(n, Ordering::SeqCst),
        _ => {}
    };
    let o = run_experiment(SPEC, &killed, &RunnerOptions { quick: false, jobs: 1, max_updates: None }, &count).unwrap();
    assert_eq!((o.done, o.pending, o.failed.len()), (4, 0, 0));
    assert_eq!((resumed.into_inner(), trained.into_inner()), (6 * 128, 4 * 512 - 6 * 128));
    assert_eq!(std::fs::metadata(first.join("audit.json")).unwrap().modified().unwrap(), finished_at, "finished runs are not redone");
    assert_eq!(std::fs::read_to_string(killed.join("summary.csv")).unwrap(), table, "same final table");

    // A different spec in the same directory is refused rather than mixed in.
    let err = run_experiment(&SPEC.replace("seeds = [0, 1]", "seeds = [0, 2]"), &killed, &RunnerOptions { quick: false, jobs: 1, max_updates: None }, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("different experiment spec"), "{err}");
    std::fs::remove_dir_all(whole).ok();
    std::fs::remove_dir_all(killed).ok();
}
