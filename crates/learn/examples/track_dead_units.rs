//! Trains like `mesascope train` and reports the dead ReLU units of every layer as training
//! goes, to see when (and whether) a layer dies:
//!
//! ```sh
//! cargo run --release -p mesascope-learn --example track_dead_units -- --out runs/probe \
//!     --every 10 --set seed=1 --stop-after 75
//! ```
//!
//! `--stop-after N` ends after N updates without changing the run's learning-rate schedule, so
//! the first N updates are those of the whole run.
//!
//! Each report line: update, environment steps, rollout success, held-out success when the
//! update was evaluated, and `layer dead/units` on 2,048 observations of the training
//! distribution (see the `dead_units` example for the definition).

use std::path::PathBuf;

use burn::module::Module;
use mesascope_learn::eval::sample_observations;
use mesascope_learn::run::Run;
use mesascope_learn::TrainConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut every, mut overrides, mut stop_after) = (None, 10usize, Vec::new(), usize::MAX);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(&format!("{a} needs a value")));
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(value())),
            "--every" => every = value().parse().unwrap_or_else(|_| fail("--every needs a whole number ≥ 1")),
            "--set" => overrides.push(value()),
            "--stop-after" => stop_after = value().parse().unwrap_or_else(|_| fail("--stop-after needs a whole number")),
            _ => fail(&format!("unknown argument {a} (known: --out DIR, --every N, --set key=value, --stop-after N)")),
        }
    }
    let out = out.unwrap_or_else(|| fail("--out DIR is required"));
    let cfg = TrainConfig::from_toml_with("", &overrides).unwrap_or_else(|e| fail(&e.to_string()));
    let device = mesascope_learn::device("cpu").unwrap_or_else(|e| fail(&e.to_string()));
    let obs = sample_observations(&cfg, 2048, 0xdead, &device).unwrap_or_else(|e| fail(&e.to_string()));
    let mut run = Run::create(&out, cfg).unwrap_or_else(|e| fail(&e.to_string()));
    let started = std::time::Instant::now();
    let report = |run: &Run, head: String| {
        let dead = run.trainer.model.valid().dead_units(obs.clone(), run.trainer.cfg.model.ticks);
        let dead: Vec<String> = dead.iter().map(|d| format!("{} {}/{}", d.layer, d.dead, d.units)).collect();
        println!("{head} dead: {}", dead.join(", "));
    };
    report(&run, "update 0 (initial weights)".into());
    while !run.trainer.finished() && run.trainer.update < stop_after {
        let m = run.step().unwrap_or_else(|e| fail(&e.to_string()));
        if m.update % every.max(1) == 0 || run.trainer.finished() || m.update == stop_after {
            let held_out = if m.eval_success.is_nan() { String::new() } else { format!(" held-out {:.3}", m.eval_success) };
            let head = format!("update {} step {} {:.0}s success {:.3}{held_out}", m.update, m.step, started.elapsed().as_secs_f64(), m.success_rate);
            report(&run, head);
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}
