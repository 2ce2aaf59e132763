//! Dead ReLU units per layer of trained models, on real maze observations of each run's
//! training distribution (seen by a uniformly random policy, the same for every model):
//!
//! ```sh
//! cargo run --release -p mesascope-learn --example dead_units -- runs/default runs/seed1 [--obs 2048]
//! ```
//!
//! A unit (a convolution channel, a dense neuron) is dead when it outputs 0 on every one of
//! the observations: no gradient reaches it through them, so it does not come back. A layer
//! with all its units dead cuts the policy off from its input.

use std::path::PathBuf;

use mesascope_learn::eval::sample_observations;
use mesascope_learn::run::load_model;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 2048;
    if let Some(i) = args.iter().position(|a| a == "--obs") {
        n = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| fail("--obs needs a whole number"));
        args.drain(i..i + 2);
    }
    if args.is_empty() {
        fail("usage: dead_units RUN_DIR... [--obs N]");
    }
    let device = mesascope_learn::device("cpu").unwrap_or_else(|e| fail(&e.to_string()));
    for dir in args {
        let (cfg, model) = load_model(&PathBuf::from(&dir)).unwrap_or_else(|e| fail(&e.to_string()));
        // Seed 0xdead: the same observations for every run of the same distribution.
        let obs = sample_observations(&cfg, n, 0xdead, &device).unwrap_or_else(|e| fail(&e.to_string()));
        let layers: Vec<String> = model.dead_units(obs, cfg.model.ticks).iter().map(|d| format!("{} {}/{}", d.layer, d.dead, d.units)).collect();
        println!("{dir}: dead units on {n} observations: {}", layers.join(", "));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}
