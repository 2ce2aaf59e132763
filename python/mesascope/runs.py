"""Rust-trained runs from Python: train one, read its weights into numpy, use its model as a
policy (``Model``), and deploy it or a Python policy with guards, through the same lab jobs as
the command line (``mesascope train``, ``mesascope deploy``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from . import _native

# A Rust-trained model as a policy: Model(path) loads a run directory, checkpoint directory or
# .safetensors file; model(obs) maps a float32 batch [n, C, H, W] to action logits [n, 5], and
# model(obs, activations=True) to the pair of them and {name: [n, features]}, the activations
# the audit's probes read. A recurrent (convgru) model takes and returns its state:
# model(obs, state) -> (logits, next_state), state = model.initial_state(n) at the episodes'
# start (model.recurrent says which). model.untrained() is the same architecture with the fresh
# weights the audit's probes compare against; model.config is its TOML. The forward pass
# releases the GIL.
Model = _native.Model

# A TensorBoard event file for a Python training loop: EventWriter(dir) creates
# dir/events.out.tfevents.*; writer.scalars(step, {"charts/episodic_return": r, ...}) appends
# and flushes, as `mesascope train --tensorboard` does (no TensorBoard install needed).
EventWriter = _native.EventWriter


@dataclass
class TrainResult:
    """What training did: the run directory, whether it finished, steps trained, the last
    held-out success and return (if evaluated), seconds, files written."""

    dir: Path
    finished: bool
    steps: int
    held_out_success: Optional[float]
    held_out_return: Optional[float]
    seconds: float
    files: list[Path] = field(default_factory=list)


@dataclass
class DeployResult:
    """What deployment found: ``report`` is everything ``deploy.json`` holds."""

    report: dict[str, Any]
    seconds: float
    files: list[Path] = field(default_factory=list)


def _progress(progress):
    return None if progress is None else (lambda text: progress(json.loads(text)))


def train(
    out: str | os.PathLike,
    settings: Optional[Mapping[str, Any]] = None,
    *,
    config: str | os.PathLike | None = None,
    stop_after: Optional[int] = None,
    tensorboard: bool = False,
    progress: Optional[Callable[[dict[str, Any]], None]] = None,
) -> TrainResult:
    """Trains a run into ``out`` (which must not hold a run) with PPO in Rust, as
    ``mesascope train``: the built-in default config (or the TOML file ``config``) with
    ``settings`` applied, e.g. ``{"env.diversity": 16, "ppo.learning_rate": 1e-3}``; with
    ``tensorboard``, also TensorBoard event files under CleanRL's scalar names."""
    r = json.loads(_native.train(os.fspath(out), dict(settings or {}), config=None if config is None else os.fspath(config), stop_after=stop_after, tensorboard=tensorboard, progress=_progress(progress)))
    return TrainResult(Path(r["dir"]), r["finished"], r["steps"], r["held_out_success"], r["held_out_return"], r["seconds"], [Path(p) for p in r["files"]])


def replay(
    run: str | os.PathLike,
    level: str | os.PathLike,
    *,
    shift: Optional[str] = None,
    seed: Optional[int] = None,
    level_seed: Optional[int] = None,
    search: int = 10_000,
    greedy: bool = False,
    ticks: Optional[int] = None,
) -> dict[str, Any]:
    """Replays one episode of a Rust-trained run, as ``mesascope replay``: ``level`` is a level
    id (as ``eval --episodes``, audit.json and ``info["level_id"]`` give it, looked up among
    the run's training levels and its held-out levels under ``shift`` drawn from
    ``level_seed``) or a JSON level file; the actions are drawn from ``seed`` (default: the
    file's, else 7). Every episode samples from a stream of (seed, level id), so this is the
    episode bit for bit. Returns ``level_id``, ``found``, ``locator``, ``seed``, ``level`` and
    ``episode`` (``actions``, ``trajectory``, ``ret``, ``success``, …)."""
    return json.loads(_native.replay(os.fspath(run), os.fspath(level), shift=shift, seed=seed, level_seed=level_seed, search=search, greedy=greedy, ticks=ticks))


def show(
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    shift: Optional[str] = None,
    levels: int = 2,
    seed: Optional[int] = None,
) -> dict[str, Any]:
    """A run's episodes as an animated GIF ``out``, as ``mesascope show``: for each of
    ``levels`` rows, the agent on a training-distribution level, the agent after ``shift``
    (default goal-anywhere) and the exact planner on that same level. Returns the
    ``episodes`` (title, ``level_id``, the episode), ``frames`` and the ``gif`` path."""
    return json.loads(_native.show(os.fspath(run), os.fspath(out), shift=shift, levels=levels, seed=seed))


def vector_field(
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    level: str | os.PathLike | None = None,
    shift: Optional[str] = None,
    seed: Optional[int] = None,
    against: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """A run's policy at every square of one level (default: the first goal-anywhere held-out
    level of seed 7), beside the exact planner's (or ``against``'s) and their difference, drawn
    into the SVG ``out``, as ``mesascope vector-field``. Returns ``level_id``, ``level`` and the
    fields (``agent``, ``planner``, ``against``: ``cells`` and per-cell action ``probs``)."""
    return json.loads(_native.vector_field(
        os.fspath(run), os.fspath(out), level=None if level is None else os.fspath(level), shift=shift, seed=seed,
        against=None if against is None else os.fspath(against),
    ))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A run's weights as float32 arrays by name, as its safetensors file stores them (burn's
    layout: a linear layer is ``y = x @ weight + bias``, weight ``[in, out]``)."""
    return _native.load_weights(os.fspath(path))


def deploy(
    agent: str | os.PathLike | Callable[[np.ndarray], Any],
    *,
    ensemble: Sequence[str | os.PathLike | Callable[[np.ndarray], Any]] = (),
    shift: Optional[str] = None,
    guards: Optional[Sequence[str]] = None,
    on_veto: Optional[str] = None,
    levels: Optional[int] = None,
    false_alarm: Optional[float] = None,
    impact_budget: Optional[float] = None,
    seed: Optional[int] = None,
    out: str | os.PathLike | None = None,
    layer: Optional[str] = None,
    name: Optional[str] = None,
    gamma: Optional[float] = None,
    initial_state: Optional[Callable[[int], Any]] = None,
    progress: Optional[Callable[[dict[str, Any]], None]] = None,
    **env: Any,
) -> DeployResult:
    """Deploys ``agent`` under ``shift`` without guards and with each of ``guards`` (``ood``,
    ``ensemble`` with the members in ``ensemble``, ``impact``), as ``mesascope deploy``,
    writing ``deploy.json`` and ``deploy.html``. Options left ``None`` keep the command
    line's defaults.

    ``agent`` is a Rust-trained run (its path), which brings its own task, or a Python
    policy trained on the task ``env`` (the ``[env]`` fields, as for ``audit``; ``gamma`` is
    the discount the impact measure and value calibration use, the training default unless
    given): a callable from a float32 batch ``[n, C, H, W]`` to action logits ``[n, 5]``, or
    to the pair of them and ``{name: activations [n, features]}`` (the contract of
    ``audit``). The guards then need:

    - ``impact``: nothing but the task;
    - ``ood``: the activation ``layer`` (default: the last one the policy names); a policy
      that returns no activations raises ``MesascopeError`` naming the missing activation
      (leave ``ood`` out of ``guards`` to deploy it with the others);
    - ``ensemble``: the members in ``ensemble``, runs (paths) or further Python policies.

    A recurrent policy gives ``initial_state``, a callable from a number of episodes ``n``
    to their zero state ``[n, ...]`` (e.g. ``Model.initial_state`` of a convgru run); it is
    then called ``policy(obs, state)`` and returns ``(logits, next_state)`` or ``(logits,
    next_state, activations)``, and the chain carries each episode's state from its start.
    Ensemble members given as Python policies are feed-forward.

    A Python policy makes no value predictions: its entry in ``value_ece`` is ``None``.
    ``name`` names a Python policy in the report (default ``python-policy``); its files go to
    ``runs/deploy-NAME`` unless ``out``.
    """
    text = _native.deploy(
        agent if callable(agent) else os.fspath(agent), env, name=name, initial_state=initial_state, layer=layer, gamma=gamma,
        members=[m for m in ensemble if callable(m)] or None, ensemble=[os.fspath(m) for m in ensemble if not callable(m)],
        shift=shift, guards=None if guards is None else list(guards), on_veto=on_veto, levels=levels, false_alarm=false_alarm,
        impact_budget=impact_budget, seed=seed, out=None if out is None else os.fspath(out), progress=_progress(progress),
    )
    r = json.loads(text)
    return DeployResult(r["report"], r["seconds"], [Path(p) for p in r["files"]])
