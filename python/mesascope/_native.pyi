"""Type stubs of the compiled module ``mesascope._native`` (see crates/py)."""

from os import PathLike
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ACTIONS: list[str]
CHANNELS: list[str]
FAMILIES: list[tuple[str, str, str]]

class MesascopeError(ValueError): ...

def env_config(env: Optional[dict[str, Any]] = None) -> str: ...

class Env:
    def __init__(self, env: Optional[dict[str, Any]] = None, split: str = "train", shift: Optional[str] = None, dtype: str = "uint8") -> None: ...
    @property
    def obs_shape(self) -> tuple[int, int, int]: ...
    @property
    def horizon(self) -> int: ...
    @property
    def fingerprint(self) -> int: ...
    @property
    def level_id(self) -> str: ...
    def level_json(self) -> str: ...
    def reset(self, seed: Optional[int] = None, level: Optional[str] = None) -> np.ndarray: ...
    def step(self, action_index: int) -> tuple[np.ndarray, float, bool, bool, bool, bool]: ...
    def ascii(self) -> str: ...
    def rgb(self) -> np.ndarray: ...

class VecEnv:
    def __init__(
        self,
        env: Optional[dict[str, Any]] = None,
        num_envs: int = 1,
        split: str = "train",
        shift: Optional[str] = None,
        dtype: str = "uint8",
        autoreset: str = "next-step",
    ) -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def obs_shape(self) -> tuple[int, int, int]: ...
    def reset(self, seed: int, obs: np.ndarray) -> None: ...
    def step(self, actions: np.ndarray, obs: np.ndarray, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> int: ...
    def episode_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def catastrophes(self) -> np.ndarray: ...
    def successes(self) -> np.ndarray: ...
    def final_observations(self) -> list[Optional[np.ndarray]]: ...
    def level_fingerprints(self) -> np.ndarray: ...
    def ascii(self, i: int) -> str: ...
    def rgb(self, i: int) -> np.ndarray: ...

def rollout(actions: np.ndarray, env: Optional[dict[str, Any]] = None, seed: int = 0, split: str = "train", shift: Optional[str] = None) -> dict[str, np.ndarray]: ...
def audit_policy(
    policy: Callable[[np.ndarray], Any],
    env: Optional[dict[str, Any]] = None,
    *,
    untrained: Optional[Callable[[np.ndarray], Any]] = None,
    initial_state: Optional[Callable[[int], Any]] = None,
    output: str = "logits",
    greedy: bool = False,
    name: Optional[str] = None,
    shift: Optional[str] = None,
    levels: Optional[int] = None,
    probe_levels: Optional[int] = None,
    ticks: Optional[list[int]] = None,
    mixture_levels: Optional[int] = None,
    distance_shaped: bool = False,
    seed: Optional[int] = None,
    out: Optional[str | PathLike[str]] = None,
    gamma: Optional[float] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> str: ...
def audit_job(
    run: Optional[str | PathLike[str]] = None,
    known: Optional[str] = None,
    env: Optional[dict[str, Any]] = None,
    *,
    shift: Optional[str] = None,
    levels: Optional[int] = None,
    probe_levels: Optional[int] = None,
    ticks: Optional[list[int]] = None,
    mixture_levels: Optional[int] = None,
    distance_shaped: bool = False,
    seed: Optional[int] = None,
    out: Optional[str | PathLike[str]] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> str: ...

class Model:
    def __init__(self, path: str | PathLike[str]) -> None: ...
    @property
    def config(self) -> str: ...
    @property
    def obs_shape(self) -> tuple[int, int, int]: ...
    @property
    def recurrent(self) -> bool: ...
    def initial_state(self, n: int) -> np.ndarray: ...
    def untrained(self) -> Model: ...
    # Feed-forward: model(obs) -> logits, model(obs, activations=True) -> (logits, activations).
    # Recurrent: model(obs, state) -> (logits, next_state), with activations=True
    # (logits, next_state, activations).
    def __call__(self, obs: np.ndarray, state: Optional[np.ndarray] = None, *, activations: bool = False) -> Any: ...

def train(
    out: str | PathLike[str],
    settings: Optional[dict[str, Any]] = None,
    *,
    config: Optional[str | PathLike[str]] = None,
    stop_after: Optional[int] = None,
    tensorboard: bool = False,
    progress: Optional[Callable[[str], None]] = None,
) -> str: ...
def load_weights(path: str | PathLike[str]) -> dict[str, np.ndarray]: ...
def replay(run: str, level: str, *, shift: Optional[str] = None, seed: Optional[int] = None, level_seed: Optional[int] = None, search: int = 10000, greedy: bool = False, ticks: Optional[int] = None) -> str: ...
def show(run: str, out: str, *, shift: Optional[str] = None, levels: int = 2, seed: Optional[int] = None) -> str: ...
def vector_field(run: str, out: str, *, level: Optional[str] = None, shift: Optional[str] = None, seed: Optional[int] = None, against: Optional[str] = None) -> str: ...
def deploy(
    agent: str | PathLike[str] | Callable[..., Any],
    env: Optional[dict[str, Any]] = None,
    *,
    name: Optional[str] = None,
    initial_state: Optional[Callable[[int], Any]] = None,
    members: Optional[list[Callable[..., Any]]] = None,
    ensemble: Optional[list[str | PathLike[str]]] = None,
    layer: Optional[str] = None,
    gamma: Optional[float] = None,
    shift: Optional[str] = None,
    guards: Optional[list[str]] = None,
    on_veto: Optional[str] = None,
    levels: Optional[int] = None,
    false_alarm: Optional[float] = None,
    impact_budget: Optional[float] = None,
    seed: Optional[int] = None,
    out: Optional[str | PathLike[str]] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> str: ...

class EventWriter:
    def __init__(self, dir: str | PathLike[str]) -> None: ...
    @property
    def path(self) -> Path: ...
    def scalars(self, step: int, scalars: dict[str, float]) -> None: ...
