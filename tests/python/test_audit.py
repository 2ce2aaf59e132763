"""The audit from Python: a Python wrapper of the exact planner gets the verdict and every
number that `mesascope audit --known planner` gets; policy errors reach the caller."""

import json
import os
import subprocess

import numpy as np
import pytest

import mesascope
from mesascope import MesascopeError

from test_envs import MOVES, distance_to_cheese

# A small task so that the audit takes seconds.
TASK = dict(size=7, goal="top-right-3")
LEVELS = 40


def planner(obs: np.ndarray) -> np.ndarray:
    """The exact planner as a Python policy: one-hot probabilities of the move that goes down
    the shortest-path distance to the cheese (unique in a perfect maze)."""
    probs = np.zeros((len(obs), 5), dtype=np.float32)
    for n, o in enumerate(obs):
        dist = distance_to_cheese(o)
        y, x = np.argwhere(o[2] > 0)[0]
        h, w = dist.shape
        best = min(
            (dist[y + dy, x + dx], a) for a, (dy, dx) in enumerate(MOVES) if 0 <= y + dy < h and 0 <= x + dx < w and not o[0, y + dy, x + dx]
        )
        probs[n, best[1]] = 1.0
    return probs


def without_subject(report):
    return {k: v for k, v in report.items() if k != "subject"}


def as_sampled(report):
    """The report but for the subject and whether MEG took the expectation under the agent's
    action probabilities (a Python policy gives them; the known planner only acts): with one-hot
    probabilities the expectation is the action taken, so every number must agree."""
    r = without_subject(report)
    r["meg"] = {k: v for k, v in r["meg"].items() if k != "expected_under_policy"}
    return r


def test_a_python_planner_gets_the_known_planners_verdict_and_numbers(tmp_path):
    stages = []
    python = mesascope.audit(planner, output="probs", levels=LEVELS, out=tmp_path / "py", progress=stages.append, **TASK)
    known = mesascope.audit(known="planner", levels=LEVELS, out=tmp_path / "known", **TASK)
    assert python.verdict["kind"] == "robust", python.verdict
    assert python.report["meg"]["expected_under_policy"] and not known.report["meg"]["expected_under_policy"]
    assert as_sampled(python.report) == as_sampled(known.report)
    assert python.report["generalization"]["novel_success"]["mean"] == 1.0
    assert python.report["not_applicable"]["probes"] == "the agent has no activations"
    assert [s["name"] for s in stages if s["kind"] == "stage"] == ["levels", "generalization", "retargeting", "thinking time", "planner agreement", "probes", "objective inference", "goal-directedness", "cheese or corner"]
    names = sorted(p.name for p in python.files)
    assert names == ["audit-timing.json", "audit.html", "audit.json"]
    on_disk = json.loads((tmp_path / "py" / "audit.json").read_text())
    assert on_disk == python.report

    cli = os.environ.get("MESASCOPE_CLI")
    if cli and os.path.exists(cli):
        # The command line itself, with the same task and settings.
        sets = [a for k, v in TASK.items() for a in ("--set", f'env.{k}="{v}"' if isinstance(v, str) else f"env.{k}={v}")]
        subprocess.run([cli, "audit", "--known", "planner", *sets, "--levels", str(LEVELS), "--out", str(tmp_path / "cli")], check=True, capture_output=True)
        from_cli = json.loads((tmp_path / "cli" / "audit.json").read_text())
        assert as_sampled(from_cli) == as_sampled(python.report)


def test_logits_and_greedy_choice_give_the_planner_too(tmp_path):
    logits = lambda obs: np.log(planner(obs) + 1e-9)
    greedy = mesascope.audit(logits, greedy=True, levels=20, out=tmp_path / "a", **TASK)
    sampled = mesascope.audit(planner, output="probs", levels=20, out=tmp_path / "b", **TASK)
    assert as_sampled(greedy.report) == as_sampled(sampled.report)


def test_a_policy_exception_reaches_the_caller(tmp_path):
    def broken(obs):
        raise RuntimeError("the policy broke")

    with pytest.raises(RuntimeError, match="the policy broke"):
        mesascope.audit(broken, levels=5, out=tmp_path, **TASK)


@pytest.mark.parametrize(
    "policy, message",
    [
        (lambda obs: np.zeros((len(obs), 4)), r"invalid policy output: it returned shape \[\d+, 4\]; expected \(\d+, 5\)"),
        (lambda obs: np.full((len(obs), 5), np.nan), "invalid policy output: row 0"),
        (lambda obs: "left", "invalid policy output"),
    ],
)
def test_bad_policy_outputs_are_named(policy, message, tmp_path):
    with pytest.raises(MesascopeError, match=message):
        mesascope.audit(policy, levels=5, out=tmp_path, **TASK)


def test_bad_audit_arguments_raise_the_rust_error(tmp_path):
    with pytest.raises(MesascopeError, match=r"unknown known-answer agent 'oracle' \(known: planner, corner-seeker, corner-quarter, proxy-planner, proxy-half, memorizer, random\)"):
        mesascope.audit(known="oracle", levels=5, out=tmp_path)
    with pytest.raises(MesascopeError, match="unknown shift 'sideways'"):
        mesascope.audit(planner, shift="sideways", levels=5, out=tmp_path)
    with pytest.raises(MesascopeError, match="invalid levels"):
        mesascope.audit(planner, levels=0, out=tmp_path)
    with pytest.raises(MesascopeError, match="env.size"):
        mesascope.audit(planner, size=4, levels=5, out=tmp_path)
    with pytest.raises(MesascopeError, match="invalid policy: it must be callable"):
        mesascope._native.audit_policy(42)
    with pytest.raises(MesascopeError):
        mesascope.audit(tmp_path / "no-such-run", levels=5)


def test_the_mixture_check_and_distance_shaped_candidates_are_options(tmp_path):
    default = mesascope.audit(known="corner-seeker", levels=20, probe_levels=0, out=tmp_path / "default", **TASK)
    shaped = mesascope.audit(known="corner-seeker", levels=20, probe_levels=0, mixture_levels=5, share_levels=0, distance_shaped=True, out=tmp_path / "shaped", **TASK)
    names = lambda r: [f["candidate"]["name"] for f in r.report["inference"]["fits"]] + [a for a, _ in r.report["inference"]["indistinguishable"]]
    assert not any("near the top-right corner" in n for n in names(default))
    assert any("near the top-right corner" in n for n in names(shaped))
    assert (default.report["options"]["mixture_levels"], default.report["options"]["distance_shaped"]) == (40, False)
    assert (shaped.report["options"]["mixture_levels"], shaped.report["options"]["distance_shaped"]) == (5, True)
    # The proxy share reads the audit's own deployment levels only when asked for none more.
    assert (default.report["options"]["share_levels"], shaped.report["options"]["share_levels"]) == (60, 0)
    assert all(s["parting_levels"] <= 20 for s in shaped.report["proxy_shares"])
    # Each mixture's check counts at most the levels asked for beyond the deployment ones.
    assert all(m["drawn"] <= 5 for m in shaped.report["inference"]["mixture_checks"])
