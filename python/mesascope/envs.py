"""Gymnasium environments over mesascope's Rust task layer.

``MazeEnv`` is one environment (``gymnasium.make("mesascope/Maze-v0", ...)``);
``MazeVectorEnv`` is M of them stepped together in Rust with the GIL released
(``gymnasium.make_vec("mesascope/Maze-v0", num_envs=M, ...)``), with Gymnasium's next-step
auto-reset (its default) or same-step auto-reset (``final_obs``/``final_info`` in the infos).

Task settings are the ``[env]`` fields of a training config (``size``, ``goal``,
``diversity``, ``level_seed``, ``start``, ``horizon``, ``step_cost``, ``lava``, ``loops``,
``lava_penalty``, ``coins``, ``keys``, ``obs``), with the same defaults and the same errors as
``mesascope train --set env.FIELD=VALUE``. ``split`` chooses where levels come from:
``"train"`` (the training distribution), ``"held-out"`` (novel levels of the training
family) or ``"deployment"`` (novel levels after ``shift``, e.g. ``"goal-anywhere"``).
Held-out and deployment levels are never training levels, whatever N, seed or shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import gymnasium as gym
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from . import _native

_DTYPES = {"uint8": np.uint8, "float32": np.float32}
_AUTORESET = {AutoresetMode.NEXT_STEP: "next-step", AutoresetMode.SAME_STEP: "same-step"}


def _observation_space(shape: tuple[int, int, int], dtype: str) -> spaces.Box:
    if dtype not in _DTYPES:
        raise _native.MesascopeError(f"unknown dtype '{dtype}' (known: uint8, float32)")
    return spaces.Box(low=0, high=1, shape=shape, dtype=_DTYPES[dtype])


class MazeEnv(gym.Env):
    """One maze environment: observations are one-hot channels ``(C, H, W)`` (wall, lava,
    agent, cheese, key, chest, coin, box), actions are 0..4 (up, down, left, right, noop),
    the reward is the task's base objective (cheese minus a step cost)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}

    def __init__(self, render_mode: str | None = None, split: str = "train", shift: str | None = None, dtype: str = "uint8", **env: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise _native.MesascopeError(f"unknown render_mode '{render_mode}' (known: ansi, rgb_array)")
        self._native = _native.Env(env, split, shift, dtype)
        self.render_mode = render_mode
        self.observation_space = _observation_space(self._native.obs_shape, dtype)
        self.action_space = spaces.Discrete(5)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts an episode. ``options={"level": L}`` plays the level ``L``: the id of a
        level in a finite training pool (``info["level_id"]`` of an earlier episode) or the
        path of a JSON level file (``level_json()`` writes one). The info holds the level's id."""
        super().reset(seed=seed)
        options = dict(options or {})
        level = options.pop("level", None)
        if options:
            raise _native.MesascopeError(f"unknown reset options {sorted(options)} (MazeEnv takes: level)")
        if level is not None and not isinstance(level, (str, bytes)) and not hasattr(level, "__fspath__"):
            raise _native.MesascopeError(f"reset option 'level' must be a level id or a file path, not {type(level).__name__}")
        if seed is None and not self._started:
            # The first episode without a seed draws one from Gymnasium's entropy-seeded RNG.
            seed = int(self.np_random.integers(2**63))
        self._started = True
        obs = self._native.reset(seed, None if level is None else str(level if not isinstance(level, bytes) else level.decode()))
        return obs, {"level_id": self._native.level_id}

    def step(self, action):
        obs, reward, terminated, truncated, success, catastrophe = self._native.step(int(action))
        info = {"success": success, "catastrophe": catastrophe, "level_id": self._native.level_id} if terminated or truncated else {}
        return obs, reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "ansi":
            return self._native.ascii()
        if self.render_mode == "rgb_array":
            return self._native.rgb()
        return None

    @property
    def level_fingerprint(self) -> int:
        """The current level's content fingerprint; its top bit is the split (1: held-out)."""
        return self._native.fingerprint

    @property
    def level_id(self) -> str:
        """The current level's id (its fingerprint as 16 hex digits), as reports print it."""
        return self._native.level_id

    def level_json(self) -> str:
        """The current level as JSON: save it to a file and pass the path to
        ``reset(options={"level": path})`` or ``mesascope replay --level`` to play it again."""
        return self._native.level_json()


class MazeVectorEnv(VectorEnv):
    """``num_envs`` maze environments stepped together in Rust (see the module docs).

    ``step`` returns fresh arrays; ``step_into`` writes into arrays the caller keeps, for a
    loop that allocates nothing. Env ``i`` of a vector env seeded with ``s`` plays the same
    levels as ``MazeEnv`` reset with seed ``s`` when ``i`` is 0 (each env has its own stream).
    """

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        split: str = "train",
        shift: str | None = None,
        dtype: str = "uint8",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **env: Any,
    ):
        mode = {"next-step": AutoresetMode.NEXT_STEP, "same-step": AutoresetMode.SAME_STEP}.get(autoreset_mode, autoreset_mode)
        if mode not in _AUTORESET:
            raise _native.MesascopeError(f"unsupported autoreset_mode {autoreset_mode!r} (known: AutoresetMode.NEXT_STEP or 'next-step', AutoresetMode.SAME_STEP or 'same-step')")
        if render_mode is not None and render_mode not in ("ansi", "rgb_array"):
            raise _native.MesascopeError(f"unknown render_mode '{render_mode}' (known: ansi, rgb_array)")
        self._native = _native.VecEnv(env, num_envs, split, shift, dtype, _AUTORESET[mode])
        self.metadata = {"autoreset_mode": mode, "render_modes": ["ansi", "rgb_array"], "render_fps": 8}
        self.render_mode = render_mode
        self.num_envs = num_envs
        self.single_observation_space = _observation_space(self._native.obs_shape, dtype)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.single_action_space = spaces.Discrete(5)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._obs_shape = (num_envs, *self._native.obs_shape)
        self._dtype = _DTYPES[dtype]
        self._same_step = mode == AutoresetMode.SAME_STEP
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options:
            raise _native.MesascopeError(f"unknown reset options {sorted(options)} (MazeVectorEnv takes none)")
        if seed is not None:
            if not isinstance(seed, (int, np.integer)):
                raise _native.MesascopeError("invalid seed: give one int; env i draws its levels from stream i of it")
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(int(seed))
        else:
            # Without a seed the next episodes come from the env's own RNG (seeded from
            # entropy on first use, or from the last seed given).
            seed = int(self.np_random.integers(2**63))
        obs = np.empty(self._obs_shape, dtype=self._dtype)
        self._native.reset(int(seed), obs)
        self._started = True
        return obs, {}

    def step(self, actions):
        obs = np.empty(self._obs_shape, dtype=self._dtype)
        rewards = np.empty(self.num_envs, dtype=np.float32)
        terminated = np.empty(self.num_envs, dtype=np.bool_)
        truncated = np.empty(self.num_envs, dtype=np.bool_)
        infos = self.step_into(actions, obs, rewards, terminated, truncated)
        return obs, rewards, terminated, truncated, infos

    def step_into(self, actions, obs: np.ndarray, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> dict[str, Any]:
        """``step`` writing into the caller's arrays (``obs`` of ``observation_space``'s
        shape and dtype, ``rewards`` float32, ``terminated``/``truncated`` bool, each of
        length ``num_envs``); returns the infos."""
        if not self._started:
            raise _native.MesascopeError("call reset() first: the vector env has no episodes yet")
        ended = self._native.step(np.asarray(actions, dtype=np.int64).reshape(-1), obs, rewards, terminated, truncated)
        if ended == 0:
            return {}
        mask, returns, lengths = self._native.episode_stats()
        infos: dict[str, Any] = {"episode": {"r": returns, "l": lengths}, "_episode": mask}
        if self._same_step:
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[:] = self._native.final_observations()
            catastrophe = self._native.catastrophes()
            infos["final_obs"] = final_obs
            infos["_final_obs"] = mask
            infos["final_info"] = {"success": self._native.successes(), "_success": mask, "catastrophe": catastrophe, "_catastrophe": mask}
            infos["_final_info"] = mask
        return infos

    def level_fingerprints(self) -> np.ndarray:
        """Each env's current level fingerprint; the top bit is the split (1: held-out)."""
        return self._native.level_fingerprints()

    def render(self):
        if self.render_mode == "ansi":
            return tuple(self._native.ascii(i) for i in range(self.num_envs))
        if self.render_mode == "rgb_array":
            return tuple(self._native.rgb(i) for i in range(self.num_envs))
        return None


def gym_id(family: str, version: str) -> str:
    """The Gymnasium id of a task family: ``("maze", "maze-v0")`` is ``mesascope/Maze-v0``,
    ``("keys-chests", "keys-chests-v0")`` would be ``mesascope/KeysChests-v0``."""
    stem = "".join(part.capitalize() for part in family.split("-"))
    return f"mesascope/{stem}-{version.rsplit('-', 1)[1]}"


def register_envs() -> None:
    """Registers one Gymnasium id per task family (``mesascope/Maze-v0``, …; single and vector
    entry points), each making that family's environments with its own defaults: the id's
    ``family`` keyword is the family, and a parameter the family does not take is a
    ``MesascopeError`` (a ``ValueError``) naming it."""
    for family, version, _ in _native.FAMILIES:
        env_id = gym_id(family, version)
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="mesascope.envs:MazeEnv", vector_entry_point="mesascope.envs:MazeVectorEnv", kwargs={"family": family})
