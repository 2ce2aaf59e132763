//! What a user relies on from training: it learns, it is reproducible, it resumes after a
//! kill, and it refuses broken checkpoints.

use std::path::PathBuf;

use burn::module::Module;
use mesascope_learn::eval::{evaluate, summarize, EvalOptions};
use mesascope_learn::run::{load_model, Run};
use mesascope_learn::{TrainConfig, UpdateMetrics};
use mesascope_tasks::{reset, step, Policy, UniformRandom};

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesascope-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A small, fast config: 5x5 mazes, an MLP, short rollouts.
fn small(extra: &[&str]) -> TrainConfig {
    let mut o: Vec<String> = [
        "env.size=5",
        "env.goal=\"anywhere\"",
        "model.kind=\"mlp\"",
        "model.hidden=64",
        "ppo.num_envs=16",
        "ppo.num_steps=32",
        "ppo.learning_rate=0.002",
        "eval.levels=10",
        "eval.every_updates=0",
        "checkpoint.every_updates=3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    o.extend(extra.iter().map(|s| s.to_string()));
    TrainConfig::from_toml_with("", &o).unwrap()
}

/// Metrics without the wall-clock column, which legitimately differs between runs.
fn comparable(m: &UpdateMetrics) -> String {
    let mut m = m.clone();
    m.steps_per_second = 0.0;
    format!("{m:?}")
}

fn train_all(run: &mut Run) -> Vec<String> {
    let mut out = Vec::new();
    while !run.trainer.finished() {
        out.push(comparable(&run.step().unwrap()));
    }
    out
}

#[test]
fn a_small_config_learns_well_above_the_random_policy() {
    // Eight fixed 5x5 levels and horizon 8 (their longest path is 6 steps), so the random
    // policy's success is low enough that "well above random" means something.
    let cfg = small(&["total_steps=40000", "seed=3", "env.horizon=8", "env.diversity=8"]);
    let dir = tmp_dir("learns");
    let mut run = Run::create(&dir, cfg.clone()).unwrap();
    let metrics = train_all(&mut run);
    assert_eq!(metrics.len(), cfg.num_updates());

    let levels = cfg.env.dist.training_levels().unwrap().unwrap().to_vec();
    let repeated: Vec<_> = levels.iter().cycle().take(10 * levels.len()).cloned().collect();
    let device = mesascope_learn::device("cpu").unwrap();
    let opts = EvalOptions { ticks: 1, greedy: false, seed: 5, record_trajectories: false };
    let (trained, _) = summarize(&evaluate(&run.trainer.model.valid(), &cfg.model, cfg.env.obs, &repeated, &device, &opts));

    let mut random = UniformRandom::new(0);
    let mut hits = 0;
    for l in &repeated {
        let mut s = reset(l);
        while !s.done() {
            let a = random.act(l, &s);
            hits += step(l, &mut s, a).features.has(mesascope_tasks::Feature::AtGoal) as usize;
        }
    }
    let random_rate = hits as f64 / repeated.len() as f64;
    eprintln!("trained success {trained:.2} vs random {random_rate:.2}");
    assert!(trained >= random_rate + 0.3 && trained >= 0.7, "trained success {trained:.2} vs random {random_rate:.2}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_same_seed_gives_identical_metrics() {
    for kind in ["mlp", "convgru"] {
        let k = format!("model.kind=\"{kind}\"");
        let cfg = small(&["total_steps=1024", &k, "model.channels=4", "ppo.bptt_len=8"]);
        let a = train_all(&mut Run::create(&tmp_dir(&format!("same-a-{kind}")), cfg.clone()).unwrap());
        let b = train_all(&mut Run::create(&tmp_dir(&format!("same-b-{kind}")), cfg).unwrap());
        assert_eq!(a, b, "{kind}");
    }
}

#[test]
fn a_killed_run_resumes_and_finishes_like_an_uninterrupted_one() {
    for kind in ["mlp", "convgru"] {
        let k = format!("model.kind=\"{kind}\"");
        let cfg = small(&["total_steps=4096", &k, "model.channels=4", "ppo.bptt_len=8"]);
        let whole_dir = tmp_dir(&format!("whole-{kind}"));
        let whole = train_all(&mut Run::create(&whole_dir, cfg.clone()).unwrap());

        let dir = tmp_dir(&format!("killed-{kind}"));
        let mut run = Run::create(&dir, cfg.clone()).unwrap();
        // Five updates, checkpoints after update 3; "killed" after update 5 (its rows are lost).
        for _ in 0..5 {
            run.step().unwrap();
        }
        drop(run);
        let mut resumed = Run::resume(&dir).unwrap();
        assert_eq!(resumed.trainer.update, 3);
        let rest = train_all(&mut resumed);
        assert_eq!(resumed.trainer.global_step, cfg.num_updates() as u64 * 16 * 32);
        assert_eq!(rest, whole[3..].to_vec(), "{kind}: resumed updates equal the uninterrupted ones");
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + cfg.num_updates(), "one metrics row per update, no duplicates");
        std::fs::remove_dir_all(dir).ok();
        std::fs::remove_dir_all(whole_dir).ok();
    }
}

#[test]
fn a_run_trained_on_a_gpu_loads_onto_the_cpu() {
    let cfg = small(&["total_steps=512"]);
    let dir = tmp_dir("trained-elsewhere");
    train_all(&mut Run::create(&dir, cfg.clone()).unwrap());
    let (_, here) = load_model(&dir).unwrap();
    let levels = cfg.env.dist.held_out_levels(mesascope_tasks::Shift::None, 10, 7).unwrap();
    let opts = EvalOptions { ticks: 0, greedy: false, seed: 7, record_trajectories: false };
    let cpu = mesascope_learn::device("cpu").unwrap();
    let returns = |model: &mesascope_learn::model::ActorCritic| evaluate(model, &cfg.model, cfg.env.obs, &levels, &cpu, &opts).iter().map(|r| r.ret).collect::<Vec<_>>();
    let expected = returns(&here);
    // Its config.toml as a GPU run writes it; this build need not have that GPU's feature.
    let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    for device in ["cuda", "wgpu"] {
        std::fs::write(dir.join("config.toml"), text.replace("device = \"cpu\"", &format!("device = \"{device}\""))).unwrap();
        let (loaded, model) = load_model(&dir).unwrap_or_else(|e| panic!("a {device} run: {e}"));
        assert_eq!(loaded.device, "cpu", "the config says where the model now is");
        assert_eq!(returns(&model), expected, "a {device} run's weights evaluate as the CPU run's do");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn broken_checkpoints_are_rejected_with_a_clear_error() {
    let cfg = small(&["total_steps=512"]);
    let dir = tmp_dir("broken");
    train_all(&mut Run::create(&dir, cfg).unwrap());
    let weights = dir.join("model.safetensors");
    let (loaded_cfg, _) = load_model(&dir).unwrap();
    assert_eq!(loaded_cfg.model.hidden, 64);

    // Wrong shape: the config says the model is wider than the weights are.
    let good_config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    std::fs::write(dir.join("config.toml"), good_config.replace("hidden = 64", "hidden = 32")).unwrap();
    let err = load_model(&dir).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(dir.join("config.toml"), &good_config).unwrap();

    // Truncated file.
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_model(&dir).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    // Not a run at all.
    assert!(load_model(&tmp_dir("nothing-here")).is_err());
    let err = Run::resume(&tmp_dir("nothing-here-either")).err().expect("not a run").to_string();
    assert!(err.contains("not a run directory"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
