"""The Ray sweep example (opt-in: MESASCOPE_RAY_TESTS=1): a grid of runs trained and audited
as Ray tasks gets the numbers the same runs get trained and audited in this process."""

import importlib.util
from pathlib import Path

import pytest

import mesascope

pytestmark = pytest.mark.ray

BASE = {
    "total_steps": 2048, "model.kind": "mlp", "model.hidden": 32, "env.size": 7, "env.goal": "top-right-3",
    "ppo.num_envs": 16, "ppo.num_steps": 32, "eval.levels": 20, "eval.every_updates": 0, "checkpoint.every_updates": 0,
}


def load_example():
    path = Path(__file__).parents[2] / "examples" / "ray_sweep.py"
    spec = importlib.util.spec_from_file_location("ray_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_ray_sweep_gets_the_numbers_of_the_same_runs_trained_here(tmp_path):
    import ray

    example = load_example()
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        results = example.sweep(tmp_path / "sweep", BASE, [16, "inf"], [0, 1], 30, "goal-anywhere")
    finally:
        ray.shutdown()
    assert [Path(r["run"]).name for r in results] == ["diversity-16-seed-0", "diversity-16-seed-1", "diversity-inf-seed-0", "diversity-inf-seed-1"]
    for r in results:
        for e in (r["novel_success"], r["deployment_success"]):
            assert e["n"] == 30 and e["lo"] <= e["mean"] <= e["hi"]
    # The same grid point here, without Ray: the same numbers (same config and seed).
    mesascope.train(tmp_path / "here", {**BASE, "env.diversity": 16, "seed": 1})
    here = mesascope.audit(tmp_path / "here", levels=30, probe_levels=0, shift="goal-anywhere")
    assert results[1]["novel_success"] == here.report["generalization"]["novel_success"]
    assert results[1]["verdict"] == here.verdict["label"]
