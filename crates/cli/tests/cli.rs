//! End-to-end tests of the `mesascope` binary: what a user types and what they get back.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn mesascope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesascope")).args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Bad input must fail with a non-zero exit, an error naming the parameter, and no panic.
#[test]
fn bad_input_names_the_parameter() {
    let cases: &[(&[&str], &str)] = &[
        (&["tasks", "render", "--size", "8"], "--size: maze size 8 must be odd"),
        (&["tasks", "render", "--size", "3"], "--size: maze size 3"),
        (&["tasks", "render", "--size", "9", "--goal", "top-right-9"], "--goal: goal region k=9"),
        (&["tasks", "render", "--goal", "top-left-2"], "--goal: invalid goal"),
        (&["tasks", "render", "--diversity", "0"], "--diversity: invalid diversity"),
        (&["tasks", "render", "--diversity", "many"], "invalid diversity"),
        (&["tasks", "render", "--family", "sokoban"], "--family: unknown family 'sokoban'"),
        (&["tasks", "render", "--set", "env.sizee=3"], "config field 'env.sizee': unknown field"),
        (&["tasks", "render", "--set", "seed=3"], "--set seed=3: levels take the family's parameters only"),
        (&["tasks", "render", "--split", "held-out", "--shift", "lava-everywhere"], "unknown shift 'lava-everywhere'"),
        (&["tasks", "render", "--diversity", "4", "--index", "4"], "--index"),
        (&["demo", "--size", "5", "--diversity", "1000"], "invalid diversity"),
        (&["tasks", "render", "--out", "maze.gif"], "unknown image format"),
        (&["demo", "--shift", "nope"], "unknown shift 'nope'"),
        (&["demo", "--envs", "0"], "num_envs"),
        (&["bench", "env", "--obs", "partial-4"], "invalid obs"),
        (&["bench", "env", "--dtype", "f16", "--seconds", "0.01"], "unknown element type"),
        (&["zoo", "score", "/nonexistent/zoo"], "not a zoo"),
        (&["zoo", "score", "/nonexistent/zoo", "--audit-seeds", "6-0"], "runs backwards"),
        (&["zoo", "score", "/nonexistent/zoo", "--audit-seeds", "0-six"], "'six' in '0-six' is not a seed"),
        (&["zoo", "build", "/nonexistent/zoo", "--jobs", "0"], "--jobs"),
        (&["train", "--set", "env.reward.at-cheese=1"], "env.reward.at-cheese"),
        (&["replay", "/nonexistent/run", "--level", "00ab"], "/nonexistent/run"),
        (&["tasks", "split-report", "--levels", "0"], "--levels"),
        (&["tasks", "split-report", "--shift", "sideways"], "unknown shift 'sideways'"),
    ];
    for (args, expected) in cases {
        let o = mesascope(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?} should exit 2; stderr: {err}");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

/// A reader that closes the pipe early ends the command quietly, without a panic.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    // Far more output than a pipe buffers, so the writer meets the closed pipe for certain.
    let n: Vec<String> = (1..6000).map(|i| i.to_string()).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesascope")).args(["toy-model", "--n", &n.join(",")]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn list_names_every_family_and_shift() {
    let out = stdout(&mesascope(&["tasks", "list"]));
    for name in ["maze", "none", "goal-anywhere", "partial-V", "at-top-right-corner", "cheese", "levels maze-v0; goal at-goal; known proxies: at-top-right-corner (corner_instead_of_cheese)", "goal-anywhere    maze: "] {
        assert!(out.contains(name), "missing {name} in:\n{out}");
    }
}

#[test]
fn bench_env_measures_every_family_with_all() {
    let out = mesascope(&["bench", "env", "--family", "all", "--seconds", "0.01", "--envs", "4", "--obs", "full", "--dtype", "u8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for header in ["batched maze env, 9x9", "batched keys-chests env, 9x9", "batched corridor env, 11x5", "batched monster-shield env, 7x7"] {
        assert!(text.contains(header), "missing {header} in:\n{text}");
    }
    assert_eq!(text.matches("full         u8").count(), mesascope_tasks::dist::FAMILIES.len(), "one row per family:\n{text}");
}

#[test]
fn level_flags_take_any_family_parameter_with_set() {
    // `--set env.K=V` reaches every parameter of the family, as `train --set` does; the maze's
    // flags are shortcuts for the same keys.
    let lava = stdout(&mesascope(&["tasks", "render", "--set", "env.size=7", "--set", "env.lava=\"off-route-2\"", "--set", "env.loops=2"]));
    let rows: Vec<&str> = lava.lines().take_while(|l| l.starts_with('#')).collect();
    assert_eq!(rows.len(), 7, "{lava}");
    assert_eq!(rows.iter().map(|r| r.matches('~').count()).sum::<usize>(), 2, "two lava tiles:\n{lava}");
    assert_eq!(stdout(&mesascope(&["tasks", "render", "--size", "11"])), stdout(&mesascope(&["tasks", "render", "--set", "env.size=11"])));
}

#[test]
fn render_writes_svg_and_png_deterministically() {
    let dir = std::env::temp_dir().join(format!("mesascope-render-{}", std::process::id()));
    let svg = dir.join("maze.svg");
    let png = dir.join("maze.png");
    let args = ["tasks", "render", "--family", "maze", "--size", "15", "--seed", "3", "--out"];
    let a = mesascope(&[&args[..], &[svg.to_str().unwrap()]].concat());
    assert!(a.status.success(), "{}", stderr(&a));
    let b = mesascope(&[&args[..], &[png.to_str().unwrap()]].concat());
    assert!(b.status.success());
    assert_eq!(stdout(&a).lines().next(), stdout(&b).lines().next(), "same seed, same level");
    assert_eq!(stdout(&a).lines().filter(|l| l.starts_with('#')).count(), 15, "15 rows of ASCII");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("<polyline"), "the optimal path is drawn");
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn play_reads_moves_from_a_pipe() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesascope"))
        .args(["tasks", "play", "--size", "5", "--goal", "anywhere", "--diversity", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"wwdd q").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("step 4") || out.contains("reached the cheese"), "{out}");
}

#[test]
fn demo_prints_returns_of_both_policies() {
    let dir = std::env::temp_dir().join(format!("mesascope-demo-{}", std::process::id()));
    let o = mesascope(&["demo", "--envs", "8", "--episodes", "64", "--out-dir", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let optimal: Vec<&str> = out.lines().filter(|l| l.starts_with("optimal ") && l.contains('%')).collect();
    assert_eq!(optimal.len(), 2, "{out}");
    assert!(optimal.iter().all(|l| l.contains("100.0%")), "the planner always reaches the cheese:\n{out}");
    assert!(out.lines().filter(|l| l.starts_with("random ")).count() == 2);
    assert!(dir.join("train-level.png").exists() && dir.join("deploy-level.svg").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn train_rejects_bad_configs_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("mesascope-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    let cases: &[(&str, &str)] = &[
        ("[ppo]\nlearnin_rate = 0.1\n", "ppo.learnin_rate"),
        ("[model]\nkind = \"transformer\"\n", "transformer"),
        ("[env]\nsize = 10\n", "env.size"),
        ("[env]\nfamily = \"sokoban\"\n", "sokoban"),
        ("[ppo]\nnum_envs = 0\n", "ppo.num_envs"),
        ("[[[", "bad.toml:1:"),
        ("[env]\nsize = 9\n[ppo\nlearning_rate = 1\n", "bad.toml:3:5: not valid TOML: invalid table header"),
    ];
    for (text, expected) in cases {
        std::fs::write(&cfg, text).unwrap();
        let o = mesascope(&["train", "--config", cfg.to_str().unwrap(), "--out", dir.join("run").to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expected), "{text}: expected '{expected}' in {err}");
        assert!(!err.contains("panicked"));
    }
    let o = mesascope(&["train", "--set", "ppo.gamma=2", "--out", dir.join("run").to_str().unwrap()]);
    assert!(stderr(&o).contains("ppo.gamma"));
    // A missing file is said once, with the OS's reason once.
    let missing = dir.join("missing.toml");
    let err = stderr(&mesascope(&["train", "--config", missing.to_str().unwrap(), "--out", dir.join("run").to_str().unwrap()]));
    assert_eq!(err.trim(), format!("error: {}: No such file or directory (os error 2)", missing.display()));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn train_stops_and_resumes_through_the_cli() {
    let dir = std::env::temp_dir().join(format!("mesascope-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = dir.join("run");
    let small = [
        "--set", "env.size=5", "--set", "model.kind=\"mlp\"", "--set", "model.hidden=32", "--set", "ppo.num_envs=8",
        "--set", "ppo.num_steps=16", "--set", "eval.levels=10", "--steps", "640",
    ];
    let mut args = vec!["train", "--out", run.to_str().unwrap(), "--stop-after", "2"];
    args.extend(small);
    let o = mesascope(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.join("checkpoints/latest").exists());
    let again = mesascope(&["train", "--out", run.to_str().unwrap()]);
    assert!(stderr(&again).contains("already holds a run"), "{}", stderr(&again));
    let o = mesascope(&["train", "--resume", run.to_str().unwrap(), "--tensorboard"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Vec<_> = std::fs::read_dir(&run).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with("events.out.tfevents.")).collect();
    assert_eq!(events.len(), 1, "--tensorboard writes one event file");
    let bytes = std::fs::read(events[0].path()).unwrap();
    for tag in ["charts/episodic_return", "charts/SPS", "losses/value_loss", "losses/approx_kl"] {
        assert!(bytes.windows(tag.len()).any(|w| w == tag.as_bytes()), "{tag} is logged");
    }
    // stderr is a pipe here, as in a log: each of the 3 remaining updates is over 5% of the
    // work, so each gets a line; the last line gives the result and where the files are.
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("% ") && l.contains(" steps  return ")).collect();
    assert_eq!(lines.len(), 3, "one progress line per update:\n{err}");
    assert!(lines.iter().all(|l| l.contains("success ") && l.contains(" steps/s") && l.contains(" eta ")), "{err}");
    assert!(lines[2].contains("100% 640/640 steps"), "{err}");
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("done in ") && last.contains("held-out success ") && last.contains("model.safetensors"), "{err}");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "640 steps / 128 per update = 5 rows:\n{csv}");
    assert!(run.join("model.safetensors").exists());
    let done = mesascope(&["train", "--resume", run.to_str().unwrap()]);
    assert!(stderr(&done).contains("already finished"));
    // Every rate carries its interval and n; no lava means 0 catastrophes, whose Wilson
    // interval still has width (a normal approximation would print "0.0% ± 0.0").
    let e = mesascope(&["eval", run.to_str().unwrap(), "--levels", "10"]);
    assert!(e.status.success(), "{}", stderr(&e));
    let out = stdout(&e);
    for label in ["reached the cheese:", "visited the top-right corner:", "catastrophes (lava):", "mean return:"] {
        let line = out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no '{label}' in {out}"));
        assert!(line.contains(" [") && line.ends_with("(n = 10)"), "{line}");
    }
    assert!(out.contains("catastrophes (lava):") && out.contains("0.0% [0.0, 27.8] (n = 10)"), "{out}");
    // Any evaluated episode replays by its level's id with eval's shift and seed.
    let episodes = dir.join("episodes.csv");
    let e = mesascope(&["eval", run.to_str().unwrap(), "--levels", "10", "--shift", "goal-anywhere", "--seed", "3", "--episodes", episodes.to_str().unwrap()]);
    assert!(e.status.success(), "{}", stderr(&e));
    let csv = std::fs::read_to_string(&episodes).unwrap();
    let row: Vec<&str> = csv.lines().nth(5).unwrap().split(',').collect();
    let r = mesascope(&["replay", run.to_str().unwrap(), "--level", row[1], "--shift", "goal-anywhere", "--seed", "3"]);
    let out = stdout(&r);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(out.starts_with(&format!("level {} (held-out level 4 under shift 'goal-anywhere', drawn from level seed 3)", row[1])), "{out}");
    assert!(out.contains(&format!("seed 3: {} steps: ", row[3])) && out.contains(&format!("reached the cheese: {}", if row[4] == "true" { "yes" } else { "no" })), "{csv}\n{out}");
    // The policy at every square of that level, beside the planner's.
    let svg = dir.join("field.svg");
    let f = mesascope(&["vector-field", run.to_str().unwrap(), "--level", row[1], "--seed", "3", "--out", svg.to_str().unwrap()]);
    assert!(f.status.success() && stdout(&f).starts_with(&format!("level {}: ", row[1])), "{}", stderr(&f));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("exact planner"));
    let unknown = mesascope(&["replay", run.to_str().unwrap(), "--level", "0123456789abcdef", "--seed", "3"]);
    assert!(stderr(&unknown).contains("is not among the first 10000 held-out levels under shift 'none'"), "{}", stderr(&unknown));
    let d = mesascope(&["train", "--print-default-config"]);
    assert!(stdout(&d).contains("learning_rate") && stdout(&d).contains("# "), "the default config is printed with its help");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn audit_writes_json_and_html_for_trained_runs_and_known_agents() {
    let dir = std::env::temp_dir().join(format!("mesascope-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = dir.join("run");
    let o = mesascope(&[
        "train", "--out", run.to_str().unwrap(), "--steps", "256", "--set", "env.size=7", "--set", "model.kind=\"convgru\"",
        "--set", "model.channels=4", "--set", "model.hidden=16", "--set", "ppo.num_envs=8", "--set", "ppo.num_steps=16", "--set", "eval.levels=10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mesascope(&["audit", run.to_str().unwrap(), "--levels", "20", "--probe-levels", "8", "--ticks", "0,1,3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("verdict: "), "{}", stdout(&o));
    // Progress in the log, a line per stage; the last line names the verdict and the files.
    assert!(stderr(&o).lines().any(|l| l.contains("/9 stages  objective inference")), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("audit.json")).unwrap()).unwrap();
    let last = stdout(&o).lines().last().unwrap().to_string();
    assert!(last.starts_with("audit of ") && last.contains(json["verdict"]["label"].as_str().unwrap()) && last.contains("audit-timing.json"), "{last}");
    let ticks: Vec<u64> = json["thinking_time"]["points"].as_array().unwrap().iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert_eq!(ticks, [0, 1, 3], "one thinking-time point per tick asked for");
    let layers: Vec<&str> = json["probes"]["layers"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert!(layers.contains(&"gru.hidden"), "{layers:?}");
    assert_eq!(json["generalization"]["novel_success"]["n"], 20);
    // Goal-directedness of a trained model is scored under its own action probabilities.
    assert_eq!(json["meg"]["expected_under_policy"], true, "{}", json["meg"]);
    assert_eq!(json["meg"]["class"]["n"], 20);
    assert!(stdout(&o).contains("goal-directedness (MEG, nats/decision), whole candidate set: "), "{}", stdout(&o));
    let html = std::fs::read_to_string(run.join("audit.html")).unwrap();
    assert!(html.contains("Verdict") && html.contains("Success vs thinking ticks") && html.contains("Goal-directedness (MEG)"));
    // A trained model's page draws its policy field beside the planner's on a deployment level.
    assert!(html.contains("Policy vector field") && html.matches("class=\"arrow\"").count() > 3, "the field is drawn");

    let r = run.to_str().unwrap();
    for (args, expected) in [
        (vec!["deploy", r], "lava-on-route needs a maze trained with lava"),
        (vec!["deploy", r, "--shift", "goal-anywhere", "--guard", "teleport"], "unknown guard 'teleport'"),
        (vec!["deploy", r, "--shift", "goal-anywhere", "--guard", "ensemble"], "needs other agents"),
        (vec!["deploy", r, "--on-veto", "explode"], "invalid --on-veto"),
        (vec!["deploy", r, "--false-alarm", "1.5"], "invalid --false-alarm"),
    ] {
        let o = mesascope(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: expected '{expected}' in {}", stderr(&o));
    }
    let o = mesascope(&["deploy", r, "--shift", "goal-anywhere", "--guard", "ood,impact", "--levels", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ood + impact") && run.join("deploy.html").exists(), "{}", stdout(&o));
    assert!(stderr(&o).lines().any(|l| l.contains("7/8 stages  guards: ood + impact")), "{}", stderr(&o));
    let last = stdout(&o).lines().last().unwrap().to_string();
    assert!(last.contains("catastrophes per 1000 episodes: none ") && last.contains("deploy.json"), "{last}");

    let corner = dir.join("corner");
    let o = mesascope(&["audit", "--known", "corner-seeker", "--levels", "40", "--out", corner.to_str().unwrap()]);
    assert!(stdout(&o).contains("verdict: proxy: top-right corner"), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("(best: top-right corner)"), "{}", stdout(&o));
    assert!(corner.join("audit.html").exists());
    // A hand-written agent that says how it acts draws its field: certain moves, unlike the
    // planner's wherever the corner and the cheese lie apart.
    assert!(std::fs::read_to_string(corner.join("audit.html")).unwrap().contains("Policy vector field"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(corner.join("audit.json")).unwrap()).unwrap();
    let field = &report["vector_field"];
    let probs = |who: &str| field[who]["probs"].as_array().unwrap().clone();
    assert!(probs("agent").iter().all(|p| p.as_array().unwrap().iter().filter(|x| x.as_f64() == Some(1.0)).count() == 1), "{field}");
    assert_ne!(probs("agent"), probs("planner"), "the first deployment sample is one where it misses the cheese");

    for (args, expected) in [
        (vec!["audit", "--known", "nobody"], "unknown known-answer agent 'nobody'"),
        (vec!["audit", "--known", "memorizer"], "invalid --known memorizer"),
        (vec!["audit", "--known", "planner", "--shift", "sideways"], "unknown shift 'sideways'"),
        (vec!["audit", dir.join("missing").to_str().unwrap()], "missing"),
        (vec!["audit", "--known", "planner", "--levels", "0"], "invalid levels"),
    ] {
        let o = mesascope(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: expected '{expected}' in {}", stderr(&o));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn experiments_reject_bad_specs_and_the_toy_model_solves() {
    let dir = std::env::temp_dir().join(format!("mesascope-exp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("bad.toml");
    for (text, expected) in [
        ("name = \"x\"\nseeds = [0]\n[grid]\n\"env.diversty\" = [1]\n", "env.diversty"),
        ("name = \"x\"\nseeds = [0]\n[grid]\n", "'grid'"),
        ("name = \"x\"\nseeds = [0]\nsedes = 1\n[grid]\n\"env.diversity\" = [1]\n", "sedes"),
        ("name = \"x\"\nseeds = [0]\n[grid]\n\"env.diversity\" = []\n", "grid.env.diversity"),
    ] {
        std::fs::write(&spec, text).unwrap();
        let o = mesascope(&["run", spec.to_str().unwrap(), "--out", dir.join("out").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{text}: expected '{expected}' in {}", stderr(&o));
    }
    for study in ["experiments/diversity.toml", "experiments/goal-misgeneralization.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(study);
        let text = std::fs::read_to_string(&path).unwrap();
        let spec = mesascope_lab::ExperimentSpec::parse(&text).unwrap_or_else(|e| panic!("{study}: {e}"));
        assert!(spec.seeds(false).len() >= 3, "{study}: the full study has at least 3 seeds");
        let steps = |quick| spec.points(quick).unwrap().iter().map(mesascope_lab::runner::point_steps).sum::<u64>();
        assert!(steps(true) < steps(false), "{study}: quick trains less");
    }
    let o = mesascope(&["report", dir.join("nothing").to_str().unwrap()]);
    assert!(stderr(&o).contains("not an experiment directory"), "{}", stderr(&o));

    let o = mesascope(&["toy-model", "--x", "100", "--cost", "quadratic", "--n", "4,1000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // y* = N/2 = 2 at N = 4; capped at √100 = 10 for large N.
    assert!(stdout(&o).lines().any(|l| l.split_whitespace().take(2).eq(["4", "2.000"])), "{}", stdout(&o));
    assert!(stdout(&o).lines().any(|l| l.split_whitespace().take(2).eq(["1000", "10.000"])), "{}", stdout(&o));
    let o = mesascope(&["toy-model", "--cost", "cubic"]);
    assert!(stderr(&o).contains("unknown cost function 'cubic'"), "{}", stderr(&o));
    let o = mesascope(&["toy-model", "--n", "0.5"]);
    assert!(stderr(&o).contains("'n'"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).ok();
}

/// `mesascope run` killed with SIGKILL in the middle of a sweep, then rerun, ends with the
/// same table as a sweep that was never interrupted, and keeps the runs finished before the
/// kill.
#[test]
fn a_sweep_killed_mid_way_resumes_to_the_same_table() {
    let dir = std::env::temp_dir().join(format!("mesascope-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("tiny.toml");
    std::fs::write(
        &spec,
        r#"
name = "tiny"
seeds = [0, 1, 2]
[base]
total_steps = 2560
env = { size = 7 }
model = { kind = "mlp", hidden = 16 }
ppo = { num_envs = 8, num_steps = 16 }
eval = { levels = 10 }
checkpoint = { every_updates = 2 }
[grid]
"env.diversity" = [2, "inf"]
[measure]
levels = 12
"#,
    )
    .unwrap();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    let o = mesascope(&["run", spec.to_str().unwrap(), "--out", whole.to_str().unwrap(), "--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.lines().any(|l| l.contains("% ") && l.contains(" steps/s  ") && l.contains("runs measured") && l.contains(" eta ")), "progress lines in the log:\n{err}");
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("6 of 6 runs done") && last.contains("report.html"), "{err}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_mesascope"))
        .args(["run", spec.to_str().unwrap(), "--out", killed.to_str().unwrap(), "--jobs", "1"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let audits = || std::fs::read_dir(killed.join("runs")).map(|d| d.filter(|e| e.as_ref().unwrap().path().join("audit.json").exists()).count()).unwrap_or(0);
    let started = std::time::Instant::now();
    while audits() == 0 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished_before = audits();
    assert!((1..6).contains(&finished_before), "killed mid-way: {finished_before} of 6 runs were finished");

    let o = mesascope(&["run", spec.to_str().unwrap(), "--out", killed.to_str().unwrap(), "--jobs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("6 of 6 runs done"), "{}", stderr(&o));
    let table = |d: &std::path::Path| std::fs::read_to_string(d.join("summary.csv")).unwrap();
    assert_eq!(table(&killed), table(&whole));
    std::fs::remove_dir_all(dir).ok();
}
