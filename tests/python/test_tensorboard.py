"""TensorBoard's own reader reads `train(..., tensorboard=True)`'s event file (opt-in:
MESASCOPE_TORCH_TESTS=1 installs TensorBoard)."""

import csv

import pytest

import mesascope

pytestmark = pytest.mark.torch


def test_tensorboard_reads_cleanrls_scalar_names_with_the_metrics_values(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    settings = {"total_steps": 2048, "model.kind": "mlp", "model.hidden": 16, "env.size": 7, "ppo.num_envs": 16, "ppo.num_steps": 32, "eval.levels": 10, "eval.every_updates": 2}
    mesascope.train(tmp_path / "run", settings, tensorboard=True)
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/SPS", "losses/value_loss", "losses/approx_kl", "losses/entropy", "eval/held_out_success"} <= tags
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [e.step for e in events.Scalars("charts/SPS")] == [int(r["step"]) for r in rows]
    # An update in which no episode ended has no return: the CSV says NaN, the event file omits it.
    rows = [r for r in rows if r["episode_return"].lower() != "nan"]
    returns = events.Scalars("charts/episodic_return")
    assert [e.step for e in returns] == [int(r["step"]) for r in rows]
    assert [e.value for e in returns] == pytest.approx([float(r["episode_return"]) for r in rows], abs=1e-4)
    assert [e.step for e in events.Scalars("eval/held_out_success")] == [int(r["step"]) for r in rows if r["eval_success"] not in ("", "NaN", "nan")]


def test_tensorboard_reads_a_python_loops_event_file(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    writer = mesascope.EventWriter(tmp_path)
    for step in (128, 256):
        writer.scalars(step, {"charts/episodic_return": step / 1000, "charts/SPS": 5000.0, "losses/approx_kl": float("nan")})
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"charts/episodic_return", "charts/SPS"}
    assert [(e.step, e.value) for e in events.Scalars("charts/episodic_return")] == [(128, pytest.approx(0.128)), (256, pytest.approx(0.256))]
