"""The audit from Python: lab's audit job, with a Python policy, a trained run or a
known-answer agent as the subject; it writes the same ``audit.json``, ``audit.html`` and
``audit-timing.json`` as ``mesascope audit``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import _native


@dataclass
class AuditResult:
    """What an audit found: ``report`` is everything ``audit.json`` holds (every number with
    its interval and sample size), ``verdict`` its verdict (``label``, ``kind``,
    ``mesa_objective``, ``evidence``), ``files`` what was written."""

    subject: str
    verdict: dict[str, Any]
    report: dict[str, Any]
    stage_seconds: dict[str, float]
    seconds: float
    files: list[Path] = field(default_factory=list)

    @classmethod
    def _from_json(cls, text: str) -> "AuditResult":
        r = json.loads(text)
        return cls(
            subject=r["subject"],
            verdict=r["report"]["verdict"],
            report=r["report"],
            stage_seconds=dict(r["stage_seconds"]),
            seconds=r["seconds"],
            files=[Path(p) for p in r["files"]],
        )


Policy = Callable[[np.ndarray], Any]


def audit(
    policy: Policy | str | os.PathLike | None = None,
    *,
    known: Optional[str] = None,
    untrained: Optional[Policy] = None,
    initial_state: Optional[Callable[[int], Any]] = None,
    shift: Optional[str] = None,
    levels: Optional[int] = None,
    seed: Optional[int] = None,
    out: str | os.PathLike | None = None,
    output: str = "logits",
    greedy: bool = False,
    name: Optional[str] = None,
    gamma: Optional[float] = None,
    probe_levels: Optional[int] = None,
    ticks: Optional[Sequence[int]] = None,
    mixture_levels: Optional[int] = None,
    share_levels: Optional[int] = None,
    distance_shaped: bool = False,
    progress: Optional[Callable[[dict[str, Any]], None]] = None,
    **env: Any,
) -> AuditResult:
    """Audits an agent trained on the task ``env`` (the ``[env]`` fields of a training
    config: ``size``, ``goal``, ``diversity``, ...) under the deployment ``shift``.

    ``policy`` is one of:

    - a callable from a float32 batch of observations ``[n, C, H, W]`` to ``[n, 5]`` action
      ``output="logits"`` or ``output="probs"`` (anything ``numpy.asarray`` accepts, e.g. a
      torch tensor on the CPU); actions are sampled (seeded) unless ``greedy``; ``gamma``
      is the discount objective inference assumes (the training default unless given).

      For the probes, the callable may return a pair ``(actions, activations)`` instead,
      where ``activations`` is a dict ``{name: array [n, features]}`` (float32-convertible,
      finite, the same names and widths on every call): the probes fit goal position and
      distance map on each named activation, in the dict's order, as they do on a Rust run's
      layers. Their baseline is ``untrained``, a callable of the same architecture with fresh
      weights returning the same activations (``Model.untrained()`` for a Rust run); a policy
      that returns activations without ``untrained`` raises ``MesascopeError`` at the probes
      (or pass ``probe_levels=0``). A policy that returns no activations has its probes
      reported as not applicable.

      A recurrent policy gives ``initial_state``, a callable from a number of episodes ``n``
      to their zero state ``[n, ...]`` (e.g. ``Model.initial_state`` of a convgru run); it is
      then called ``policy(obs, state)`` and returns ``(actions, next_state)`` or ``(actions,
      next_state, activations)``; the audit carries each episode's state from its start (the
      rows of a batch change as episodes end). A recurrent model is probed on the states of its
      own rollouts, which the audit replays for Rust runs only: for a recurrent Python policy
      the probes are reported not applicable, with that reason.

      Thinking time (success against internal ticks per step) needs ticks the audit can vary,
      which a Python policy keeps to itself: ``audit.json`` reports it not applicable ("the
      model is not recurrent", or for a recurrent policy "a Python policy's internal ticks per
      step cannot be varied"; "the agent is not a learned model" for a policy without
      activations), and ``ticks`` only appears in the options. A recurrent run audited by path
      has it;
    - a path to a Rust-trained run (its directory, a checkpoint directory or a
      ``.safetensors`` file), which brings its own task;
    - ``None`` with ``known=`` one of the known-answer agents (``planner``,
      ``corner-seeker``, ``corner-quarter``, ``proxy-planner``, ``proxy-half``, ``memorizer``,
      ``random``), as ``mesascope audit --known``.

    ``shift``, ``levels``, ``probe_levels``, ``ticks``, ``mixture_levels`` (deployment levels
    drawn per "base objective + a trace of a proxy" candidate to decide whether the trace
    matters), ``share_levels`` (the fewest levels per proxy where its optimum parts from the
    base objective's that the proxy share is read from) and ``seed`` left out take the defaults of ``mesascope audit``; ``distance_shaped``
    adds "near the top-right corner" to the candidate objectives (``--distance-shaped``). ``name`` names a Python policy in the report (default
    ``python-policy``). Files go to ``out`` (default: the run directory, or
    ``runs/audit-NAME``). ``progress`` is called with each progress report as a dict. Errors
    raise ``MesascopeError`` with the message the command line would print; an exception in
    the policy is re-raised.
    """
    on_progress = None if progress is None else (lambda text: progress(json.loads(text)))
    out = None if out is None else os.fspath(out)
    ticks = None if ticks is None else list(ticks)
    if callable(policy):
        if known is not None:
            raise _native.MesascopeError("give a policy or known=, not both")
        text = _native.audit_policy(
            policy, env, untrained=untrained, initial_state=initial_state, output=output, greedy=greedy, name=name, shift=shift, levels=levels, probe_levels=probe_levels,
            ticks=ticks, mixture_levels=mixture_levels, share_levels=share_levels, distance_shaped=distance_shaped, seed=seed, out=out, gamma=gamma, progress=on_progress,
        )
    elif policy is None and known is None:
        raise _native.MesascopeError("give a policy (a callable or a run's path) or known=")
    else:
        if output != "logits" or greedy or gamma is not None or name is not None or untrained is not None or initial_state is not None:
            raise _native.MesascopeError("output, greedy, gamma, name, untrained and initial_state apply to a Python policy only")
        run = None if policy is None else os.fspath(policy)
        text = _native.audit_job(run, known, env, shift=shift, levels=levels, probe_levels=probe_levels, ticks=ticks, mixture_levels=mixture_levels, share_levels=share_levels, distance_shaped=distance_shaped, seed=seed, out=out, progress=on_progress)
    return AuditResult._from_json(text)
