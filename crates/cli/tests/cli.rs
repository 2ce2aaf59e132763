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
        (&["tasks", "render", "--size", "8"], "invalid size"),
        (&["tasks", "render", "--size", "3"], "invalid size"),
        (&["tasks", "render", "--size", "9", "--goal", "top-right-9"], "invalid goal"),
        (&["tasks", "render", "--goal", "top-left-2"], "invalid goal"),
        (&["tasks", "render", "--diversity", "0"], "invalid diversity"),
        (&["tasks", "render", "--diversity", "many"], "invalid diversity"),
        (&["tasks", "render", "--family", "sokoban"], "unknown family 'sokoban'"),
        (&["tasks", "render", "--split", "held-out", "--shift", "lava-everywhere"], "unknown shift 'lava-everywhere'"),
        (&["tasks", "render", "--diversity", "4", "--index", "4"], "--index"),
        (&["demo", "--size", "5", "--diversity", "1000"], "invalid diversity"),
        (&["tasks", "render", "--out", "maze.gif"], "unknown image format"),
        (&["demo", "--shift", "nope"], "unknown shift 'nope'"),
        (&["demo", "--envs", "0"], "num_envs"),
        (&["bench", "env", "--obs", "partial-4"], "invalid obs"),
        (&["bench", "env", "--dtype", "f16", "--seconds", "0.01"], "unknown element type"),
    ];
    for (args, expected) in cases {
        let o = mesascope(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?} should exit 2; stderr: {err}");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

#[test]
fn list_names_every_family_and_shift() {
    let out = stdout(&mesascope(&["tasks", "list"]));
    for name in ["maze", "none", "goal-anywhere", "partial-V", "at-top-right-corner", "cheese"] {
        assert!(out.contains(name), "missing {name} in:\n{out}");
    }
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
